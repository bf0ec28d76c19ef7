"""The Synthesizer's reward: format, capability, copy penalty and repetition penalty, combined.

The Synthesizer reads one test question (the *reference*) and writes a variant: a
``<question>...</question>`` block and a final ``\\boxed{...}`` answer. One variant's
reward (step 1 of the TTCS method; docs/fidelity.md compares it with the authors' code) is

    0                                  if the output cannot be parsed (format reward), else
    r = (4 s (1 - s))^gamma            s = the Solver's self-consistency on the variant
    r = r * (1 - similarity)           if the variant is a near copy of its reference
    r = max(0, r - share)              share = the batch share of the variant's BLEU cluster

Each term is a pure function of plain values in a module of its own:

* format (`parse_variant`): `ttcs.rewards.format`;
* capability (`self_consistency`, `capability_reward`): `ttcs.rewards.capability`;
* copy penalty (`copy_check`): `ttcs.rewards.copying`, shared with
  the curriculum filter's near-duplicate tests;
* repetition penalty (`repetition_clusters`, `repetition_penalty`): `ttcs.rewards.repetition`;
* claim check: each variant's verdict comes from the recipe (`ttcs.recipes`, ``claim_verdict``).

This module is the combiner: `synthesizer_rewards` applies them to a batch and returns every
term (`ttcs.types.RewardBreakdown`), so that each variant's reward can be written to disk.

Example:
    >>> out = "<question>What is 2 + 3?</question> The answer is \\\\boxed{5}."
    >>> parse_variant(out).answer
    '5'
    >>> round(capability_reward(0.5), 3), capability_reward(1.0)
    (1.0, 0.0)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ttcs.rewards.capability import capability_reward
from ttcs.rewards.copying import CopyProbe, copy_check
from ttcs.rewards.format import parse_variant
from ttcs.rewards.repetition import cluster_shares
from ttcs.types import ParsedVariant, RewardBreakdown


def synthesizer_rewards(
    texts: Sequence[str],
    references: Sequence[str | None],
    consistencies: Sequence[float | None],
    *,
    gamma: float = 1.2,
    copy_penalty: bool = True,
    repetition_penalty: bool = True,
    threshold: float = 0.5,
    parse: Callable[[str], ParsedVariant] = parse_variant,
    claims: Sequence[bool | None] | None = None,
) -> list[RewardBreakdown]:
    """The reward of every variant of one batch, with each term.

    0 for an unparseable output; else the capability reward, times (1 - similarity) for a
    near copy of its reference, minus its cluster's share of the batch, clipped at 0.
    Repetition clusters the parsed questions; the share's denominator is the whole batch,
    unparseable outputs included. A variant whose claim check failed gets 0.

    Args:
        texts: raw Synthesizer outputs of the batch.
        references: each output's reference question (None = no reference, e.g. r_zero).
        consistencies: the Solver's self-consistency on each parsed variant; None for the
            unparseable ones (the Solver is not run on them).
        gamma: exponent of `capability_reward`.
        copy_penalty: apply the copy penalty (False = ablation; the term is then None).
        repetition_penalty: apply the repetition penalty (False = ablation; term None).
        threshold: BLEU-distance threshold of `repetition_clusters`.
        parse: reads an output as a variant: the recipe's ``parse`` (default: the strict `parse_variant`).
        claims: each output's claim verdict (the recipe's ``claim_verdict``; None = not checked); None for
            none checked.

    Returns:
        One `RewardBreakdown` per text, in order.

    Example:
        >>> outs = ["<question>A train goes 60 km/h for 2 h. Distance?</question> \\\\boxed{120}", "oops"]
        >>> [r.total for r in synthesizer_rewards(outs, ["What is 2 + 3?"] * 2, [0.5, None],
        ...                                       repetition_penalty=False)]
        [1.0, 0.0]
    """
    claims = [None] * len(texts) if claims is None else list(claims)
    if not len(texts) == len(references) == len(consistencies) == len(claims):
        raise ValueError("texts, references, consistencies and claims must have the same length")
    parsed = [parse(t) for t in texts]
    ok = [i for i, p in enumerate(parsed) if p.ok]
    shares: dict[int, float] = {}
    if repetition_penalty and ok:
        questions = [parsed[i].question or "" for i in ok]
        shares = dict(zip(ok, cluster_shares(questions, threshold, len(texts)), strict=True))
    return [
        _one_reward(p, ref, s, shares.get(i), gamma=gamma, copy_penalty=copy_penalty, claim=claim)
        for i, (p, ref, s, claim) in enumerate(zip(parsed, references, consistencies, claims, strict=True))
    ]


def _one_reward(
    parsed: ParsedVariant,
    reference: str | None,
    consistency: float | None,
    share: float | None,
    *,
    gamma: float,
    copy_penalty: bool,
    claim: bool | None = None,
) -> RewardBreakdown:
    if not parsed.ok:
        return RewardBreakdown(0.0, None, 0.0, None, None, None, 0.0)
    if consistency is None:
        raise ValueError(f"parsed variant {(parsed.question or '')[:60]!r} has no Solver consistency")
    capability = capability_reward(consistency, gamma)
    r, is_copy, similarity, rule = capability, None, None, None
    if copy_penalty and reference is not None:
        is_copy, similarity, rule = copy_check(CopyProbe.of(parsed.question or ""), CopyProbe.of(reference))
        r = r * (1.0 - similarity) if is_copy else r
    if share is not None:
        r -= share
    total = 0.0 if claim is False else max(0.0, r)
    return RewardBreakdown(1.0, consistency, capability, similarity, is_copy, share, total, rule, claim)
