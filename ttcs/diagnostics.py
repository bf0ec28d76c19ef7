"""Diagnostics of the Synthesizer's variants for ``report.md``: are they well posed, are their answers right?

Report-only: nothing here enters a reward or a filter. `is_well_posed` asks whether the
Solver's vote reaches a variant's claimed answer; `top_quartile_well_posed` measures that on
the best-rewarded quarter; `arithmetic_check` compares claims and votes with the true value
of arithmetic questions (`ttcs.arith`). `ttcs.report` is their one user.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ttcs.arith import expression_value, format_rational
from ttcs.curriculum import record_answer, record_question
from ttcs.recipes.small_model import claim_verdict
from ttcs.voting import majority_vote


def is_well_posed(record: Mapping[str, Any], verifier) -> bool:
    """A variant record has a question, a claimed answer, and the Solver's majority reaches that answer.

    "Reaches" is `ttcs.recipes.small_model.claim_verdict`'s ``agrees``: the claim is the answer
    of the one largest cluster of the Solver's samples, with at least two samples in it, and
    the question does not state it as a result (`ttcs.recipes.small_model.gives_away`).
    With ``recipe.claim_check: agrees`` the reward pays only such variants; otherwise
    this is a diagnostic. A variant the Solver's vote does not confirm is either too hard or
    ill-posed (no single answer).
    """
    question = record_question(record)
    if question is None:
        return False
    answers = list(record.get("solver_answers") or [])
    return bool(claim_verdict(record_answer(record), answers, verifier, "agrees", question=question))


def top_quartile_well_posed(records: Sequence[Mapping[str, Any]], verifier) -> tuple[float | None, int]:
    """Share of well-posed variants (`is_well_posed`) among the top quarter of the parsed ones by reward.

    Returns ``(share, count)``; the count is ceil(n / 4) of the n parsed records, ties broken by order.
    """
    top = top_quartile(records)
    if not top:
        return None, 0
    return sum(is_well_posed(r, verifier) for r in top) / len(top), len(top)


def arithmetic_check(records: Sequence[Mapping[str, Any]], verifier) -> dict[str, int]:
    """Check variants of arithmetic questions against the truth instead of a model's agreement.

    `is_well_posed` compares the Synthesizer's claim with the Solver's vote, and when both are
    copies of one small model they can agree on text that asks nothing. Here the truth is the
    value of the one arithmetic expression a question states (`ttcs.arith.expression_value`;
    word problems and equations are not read). Returns counts over ``records``: ``count``,
    ``readable`` (the question states one expression), ``claim_right`` (its claimed answer is
    the value), ``vote_right`` (the Solver's majority is the value) and ``well_posed_right``
    (`is_well_posed` and the claim is the value).
    """
    out = dict.fromkeys(("count", "readable", "claim_right", "vote_right", "well_posed_right"), 0)
    for record in records:
        out["count"] += 1
        question = record_question(record)
        value = expression_value(question) if question else None
        if value is None:
            continue
        truth = format_rational(value)
        out["readable"] += 1
        claimed = record_answer(record)
        claim_right = claimed is not None and bool(verifier.equivalent(truth, claimed))
        label = majority_vote(list(record.get("solver_answers") or []), verifier).label
        out["claim_right"] += claim_right
        out["vote_right"] += label is not None and bool(verifier.equivalent(truth, label))
        out["well_posed_right"] += claim_right and is_well_posed(record, verifier)
    return out


def top_quartile(records: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The top quarter of the parsed records by reward: ceil(n / 4) of n, ties broken by order."""
    parsed = [r for r in records if record_question(r) is not None]
    ranked = sorted(parsed, key=lambda r: -((r.get("reward") or {}).get("total") or 0.0))
    return ranked[: -(-len(ranked) // 4)]
