"""Evaluation of a Solver against gold answers: greedy accuracy, avg@k (± standard error), maj@k.

Gold answers are used here and only here. `score_problem` and `summarize` are pure so
the metrics can be checked by hand; `evaluate` runs the backend and writes nothing.

Scoring reads answers with the verifier's scoring extraction and compares them with the
gold answer role by role (`ttcs.verify.extract_for_scoring`, `ttcs.verify.matches_gold`);
verifiers without those methods fall back to `extract` and `equivalent`. The maj@k vote is
taken over the same answers, so avg@k, maj@k and greedy read a completion the same way.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

from ttcs.context import RunContext
from ttcs.generation import GenerationBackend, Sampling
from ttcs.scoring import scoring_verifier
from ttcs.seeds import seed_for
from ttcs.verify import extract_for_scoring, matches_gold
from ttcs.voting import majority_vote

logger = logging.getLogger(__name__)


@dataclass
class ProblemResult:
    """Everything evaluation saw for one problem; one line of ``eval/iter_XX.jsonl``."""

    id: str
    question: str
    gold: str | None
    completions: list[str]
    answers: list[str | None]
    correct: list[bool]
    vote: str | None
    vote_share: float
    vote_correct: bool
    greedy_completion: str | None = None
    greedy_answer: str | None = None
    greedy_correct: bool | None = None
    meta: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def is_correct(answer: str | None, gold: str | None, verifier) -> bool:
    """An answer counts only when it exists and is correct for the gold answer (`ttcs.verify.matches_gold`)."""
    return matches_gold(verifier, gold, answer)


def score_problem(problem, completions: Sequence[str], verifier, greedy_completion: str | None = None) -> ProblemResult:
    """Extract, vote and score the k sampled completions (and the greedy one) of one problem."""
    answers = [extract_for_scoring(verifier, c) for c in completions]
    correct = [is_correct(a, problem.answer, verifier) for a in answers]
    vote = majority_vote(answers, verifier)
    result = ProblemResult(
        id=problem.id,
        question=problem.question,
        gold=problem.answer,
        completions=list(completions),
        answers=answers,
        correct=correct,
        vote=vote.label,
        vote_share=vote.share,
        vote_correct=is_correct(vote.label, problem.answer, verifier),
        meta=dict(getattr(problem, "meta", {}) or {}),
    )
    if greedy_completion is not None:
        result.greedy_completion = greedy_completion
        result.greedy_answer = extract_for_scoring(verifier, greedy_completion)
        result.greedy_correct = is_correct(result.greedy_answer, problem.answer, verifier)
    return result


def summarize(results: Sequence[ProblemResult]) -> dict:
    """Aggregate metrics in percent: avg_at_k with its standard error over problems, maj_at_k, greedy.

    The standard error is that of the mean of per-problem accuracies (sample std / sqrt(n)),
    the usual error bar of an avg@k number.
    """
    n = len(results)
    if n == 0:
        return {"avg_at_k": None, "avg_at_k_stderr": None, "maj_at_k": None, "greedy": None, "k": 0, "n": 0}
    per_problem = [sum(r.correct) / len(r.correct) if r.correct else 0.0 for r in results]
    mean = sum(per_problem) / n
    var = sum((p - mean) ** 2 for p in per_problem) / (n - 1) if n > 1 else 0.0
    greedy = [r.greedy_correct for r in results if r.greedy_correct is not None]
    answered = [a is not None for r in results for a in r.answers]
    return {
        "avg_at_k": 100 * mean,
        "avg_at_k_stderr": 100 * math.sqrt(var / n),
        "maj_at_k": 100 * sum(r.vote_correct for r in results) / n,
        "greedy": 100 * sum(greedy) / len(greedy) if greedy else None,
        "answered": 100 * sum(answered) / len(answered) if answered else 0.0,
        "k": max(len(r.completions) for r in results),
        "n": n,
    }


def evaluate(
    problems,
    prompts: list[str],
    backend: GenerationBackend,
    verifier,
    *,
    k: int = 4,
    temperature: float = 0.6,
    top_p: float = 0.95,
    max_new_tokens: int = 256,
    greedy: bool = True,
    seed: int = 0,
    reply: Callable[[str], str] = str,
) -> tuple[dict, list[ProblemResult]]:
    """Sample k completions per problem (and one greedy), score them; return (summary, per-problem results).

    ``reply`` turns a sampled completion into the Solver's whole reply (the recipe's
    ``solver_reply``: the Solver prefill the prompts end with, then the completion), so
    answers are read (and stored) as the Solver's whole reply; the default keeps it as sampled.
    """
    if len(problems) != len(prompts):
        raise ValueError(f"{len(problems)} problems but {len(prompts)} prompts")
    sampled = backend.generate(
        prompts,
        Sampling(n=k, temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens, seed=seed),
        desc=f"eval avg@{k}",
    )
    greedy_out = (
        backend.generate(
            prompts, Sampling(n=1, temperature=0.0, max_new_tokens=max_new_tokens, seed=seed), desc="eval greedy"
        )
        if greedy
        else [[None]] * len(problems)
    )
    replies = [[reply(c) for c in group] for group in sampled]
    greedy_replies = [None if g[0] is None else reply(g[0]) for g in greedy_out]
    results = [score_problem(p, s, verifier, g) for p, s, g in zip(problems, replies, greedy_replies, strict=True)]
    return summarize(results), results


def eval_phase(ctx: RunContext, iteration: int) -> dict:
    """Evaluate the Solver of `iteration` on the test problems; write eval/iter_XX.jsonl."""
    e = ctx.cfg.eval
    t0 = time.time()
    summary, results = evaluate(
        ctx.problems,
        ctx.prompts(ctx.problems),
        ctx.backend("solver", iteration),
        scoring_verifier(ctx.verifier, ctx.cfg.data.numeric_answer),
        k=e.k,
        temperature=e.temperature,
        top_p=e.top_p,
        max_new_tokens=e.max_new_tokens,
        greedy=e.greedy,
        seed=seed_for(ctx.cfg.seed, "eval", iteration),
        reply=ctx.recipe.solver_reply,
    )
    ctx.rundir.write_jsonl(ctx.rundir.eval_path(iteration), [r.as_dict() for r in results])
    summary["seconds"] = round(time.time() - t0, 1)
    ctx.rundir.log_metrics("eval", iteration=iteration, **summary)
    logger.info(
        "iteration %d eval: avg@%d %.1f ± %.1f, maj@%d %.1f, greedy %s (%.0fs)",
        iteration,
        summary["k"],
        summary["avg_at_k"],
        summary["avg_at_k_stderr"],
        summary["k"],
        summary["maj_at_k"],
        "n/a" if summary["greedy"] is None else f"{summary['greedy']:.1f}",
        summary["seconds"],
    )
    return summary
