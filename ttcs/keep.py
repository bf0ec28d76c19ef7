"""Which iteration's Solver to keep, without labels.

After each iteration the run names the checkpoint to report from what a test-time run may see:
the evaluation's samples on the test questions (their answers, never their gold), and the
monitor's alarms (`ttcs.monitor`). The criterion, ``consensus``:

1. the candidates are the evaluated iterations before the first iteration whose phases raised an
   alarm (each iteration trains on from the one before, so every later checkpoint descends from
   the one that went wrong); the base model, iteration 0, is always one;
2. pool the candidates' samples of a question and take their majority (the run's consensus: many
   checkpoints vote, so one that drifted to a wrong answer is outvoted). Only candidates vote: the
   excluded iterations are the ones most likely locked onto a wrong answer, and their unanimous
   samples would outvote the base model they left;
3. score each candidate by the share of its samples that agree with that consensus (the avg@k it
   would have if the consensus were the gold answer) and keep the best (the earliest wins a tie).

``results.json`` records the choice with every iteration's score and why (``keep``); ``ttcs-table
--checkpoints`` shows the last, the kept and the best iteration by gold side by side. How often
it picks well (its regret against the best iteration and against the last) is measured in
``docs/health.md``.

Example:
    >>> from ttcs.verify import get_verifier
    >>> evals = {0: [{"id": "q", "answers": ["2", "2", "3", "2"]}],
    ...          1: [{"id": "q", "answers": ["2", "2", "2", "2"]}],
    ...          2: [{"id": "q", "answers": ["3", "3", "3", "2"]}]}
    >>> keep = choose_iteration(evals, get_verifier("math"), alarmed={2})  # iteration 2 and later are excluded
    >>> keep["iteration"], keep["scores"]  # the majority of iterations 0 and 1: "2"
    (1, {'0': 0.75, '1': 1.0})
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from ttcs.verify import Verifier
from ttcs.voting import majority_vote

CRITERION = "consensus"


def consensus_scores(evals: Mapping[int, Sequence[Mapping]], verifier: Verifier) -> dict[int, float]:
    """Each iteration's share of samples agreeing with the majority of all the given iterations' samples of their
    question (`choose_iteration` gives it the candidates only).

    Args:
        evals: iteration -> its evaluation rows (``eval/iter_XX.jsonl``: ``id`` and ``answers``, None for none).
        verifier: decides equivalence (the vote's).
    """
    pooled: dict[str, list[str | None]] = {}
    for rows in evals.values():
        for row in rows:
            pooled.setdefault(row["id"], []).extend(row["answers"])
    consensus = {q: majority_vote(answers, verifier).label for q, answers in pooled.items()}
    scores = {}
    for t, rows in sorted(evals.items()):
        agree = total = 0
        for row in rows:
            label = consensus[row["id"]]
            for answer in row["answers"]:
                total += 1
                agree += label is not None and answer is not None and verifier.equivalent(label, answer)
        scores[t] = agree / total if total else 0.0
    return scores


def choose_iteration(
    evals: Mapping[int, Sequence[Mapping]], verifier: Verifier, alarmed: Collection[int] = ()
) -> dict | None:
    """The iteration to keep (``consensus``, module doc) among the evaluated ones; None when none was evaluated.

    Returns:
        ``{"iteration", "criterion", "scores", "excluded", "why"}``: ``scores`` of the candidates, keyed by the
        iteration as a string (as JSON has it); the first of the `alarmed` iterations and every later one are
        excluded (never iteration 0), neither scored nor voting.
    """
    if not evals:
        return None
    first_alarm = min((t for t in alarmed if t != 0), default=None)
    excluded = sorted(t for t in evals if first_alarm is not None and t >= first_alarm)
    scores = consensus_scores({t: rows for t, rows in evals.items() if t not in excluded}, verifier)
    best = max(scores, key=lambda t: (scores[t], -t))
    last = max(scores)
    why = (
        f"iteration {best}'s samples agree most with the majority of the {len(scores)} candidate iteration"
        f"{'s' if len(scores) > 1 else ''} ({scores[best]:.3f}; the last candidate, {last}: {scores[last]:.3f})"
    )
    if excluded:
        why += (
            f"; iteration{'s' if len(excluded) > 1 else ''} {', '.join(map(str, excluded))} excluded "
            f"(a health alarm in iteration {first_alarm}; they do not vote)"
        )
    return {
        "iteration": best,
        "criterion": CRITERION,
        "scores": {str(t): s for t, s in scores.items()},
        "excluded": excluded,
        "why": why,
    }
