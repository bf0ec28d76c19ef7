"""The Solver phase: GRPO on the training questions, rewarded by agreement with its own majority vote.

Step 3 of the TTCS method (docs/fidelity.md). `solver_phase(ctx, iteration)` is called by
`ttcs.loop` for the phase ``solver``; it reads top to bottom: training questions →
prompts (formatted exactly as in evaluation) → reward (`ttcs.rewards.solver`) → TRL's
`GRPOTrainer` → train → save the checkpoint → a summary for ``state.json``.

The training questions are the test questions (method ``ttrl``), or, when the method has a
``curriculum`` phase, the mixed set it wrote to ``curriculum/iter_XX_train.jsonl``. Gold
answers are never shown to the trainer: they only score the pseudo-labels in the logs.

Hyper-parameters come from the Hydra node ``train.solver`` (``conf/train/*.yaml``); the
`GRPOConfig` is built from it here, at the boundary, with ``train.solver.grpo`` as a
free-form dict of extra `GRPOConfig` fields. Run it with ``ttcs method=ttrl``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence

from ttcs.context import RunContext
from ttcs.frontier import measure_with_backend, select_frontier
from ttcs.grpo import build_grpo_config, build_lora_config, finish_training, rollout_kwargs
from ttcs.health import iteration_health
from ttcs.metrics import MetricsCallback, updates_per_generation
from ttcs.resident import heap_trim_callback
from ttcs.rewards.solver import get_majority_reward, phase_start_labels, vote_summary, votes_from_rows
from ttcs.rundir import read_jsonl
from ttcs.schema.train import SolverConfig
from ttcs.seeds import seed_for
from ttcs.terminal import quiet_progress
from ttcs.types import GroupVote, Problem

logger = logging.getLogger(__name__)

# ----------------------------------------------------------------------------- inputs


def training_problems(ctx: RunContext, iteration: int) -> list[Problem]:
    """The questions the Solver trains on in `iteration`: the curriculum's mixed set, or the test set."""
    if "curriculum" not in ctx.cfg.method.phases:
        return list(ctx.problems)
    path = ctx.rundir.curriculum_train_path(iteration)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: the curriculum phase of iteration {iteration} writes it")
    problems = [_problem(rec) for rec in read_jsonl(path)]
    if not problems:
        raise ValueError(f"{path} holds no questions")
    return problems


def _problem(rec: Mapping) -> Problem:
    choices = rec.get("choices")
    return Problem(
        id=str(rec["id"]),
        question=rec["question"],
        answer=rec.get("answer"),
        source=rec.get("source", "synthetic"),
        choices=tuple(choices) if choices else None,
        meta=rec.get("meta") or {},
    )


# ----------------------------------------------------------------------------- metrics

# What the Solver's reward logs per generation (`ttcs.rewards.solver.vote_summary`), as metrics.jsonl keys.
REWARD_METRICS = {
    "groups": int,
    "reward_mean": None,
    "kept_share": None,
    "vote_share": None,
    "pseudo_label_accuracy": None,
    # the label-free health signals (`ttcs.health`)
    "vote_share_std": None,
    "distinct_answers": None,
    "unanswered_share": None,
    "no_advantage_share": None,
    "label_flip_rate": None,
}


def phase_summary(votes: Sequence[GroupVote], gold: Mapping[str, str], verifier, problems: Sequence[Problem]) -> dict:
    """The ``state.json`` summary of the phase's votes (every line of ``solver/iter_XX_votes.jsonl``)."""
    summary = vote_summary(votes, gold, verifier)
    synthetic = {p.id for p in problems if p.source == "synthetic"}
    return {
        "pseudo_label_accuracy": summary["pseudo_label_accuracy"],
        "kept_share": summary["kept_share"],
        "reward_mean": summary["reward_mean"],
        "distinct_questions": len({r.problem_id for r in votes}),
        "distinct_variants": len({r.problem_id for r in votes} & synthetic),
    }


# ----------------------------------------------------------------------------- the phase


def _warn_if_special_tokens_added(tokenizer) -> None:
    """TRL tokenizes string prompts with special tokens; evaluation does not (the template has them)."""
    probe = "Question: 1 + 1"
    if tokenizer(text=probe)["input_ids"] != tokenizer(probe, add_special_tokens=False)["input_ids"]:
        logger.warning(
            "this tokenizer adds special tokens (e.g. BOS) to plain text: TRL's training prompts get one "
            "more than the evaluation prompts, which already carry the chat template's"
        )


class _DroppedGroupsAreIntended(logging.Filter):
    """TRL warns, with the whole row, whenever a completion's rewards are all None: for the band that is the point."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "All reward functions returned None" not in record.getMessage()


def frontier_problems(
    ctx: RunContext, iteration: int, problems: list[Problem], solver: SolverConfig
) -> tuple[list[Problem], dict]:
    """Dynamic sampling (`ttcs.frontier`): the questions of every step, in order, filled with in-band ones."""
    ds, batch = solver.dynamic_sampling, min(solver.batch_questions, len(problems))
    sampling = {
        "temperature": float(solver.temperature),
        "top_p": float(solver.top_p),
        "max_new_tokens": solver.max_completion_length,
    }
    measure = measure_with_backend(
        ctx,
        ctx.backend("solver", iteration - 1),
        problems,
        group_size=solver.group_size,
        sampling=sampling,
        seed=int(ctx.cfg.seed),
        iteration=iteration,
    )
    t0 = time.time()
    plan = select_frontier(
        len(problems),
        measure,
        steps=solver.steps,
        batch=batch,
        oversample=float(ds.oversample),
        max_draws=ds.max_draws,
        band=solver.band if solver.band is not None else (0.0, 1.0),
        seed=seed_for(ctx.cfg.seed, "frontier_select", iteration),
    )
    for row in plan.steps:
        ctx.rundir.log_metrics("dynamic_sampling", iteration=iteration, **row)
    n = len(plan.steps)
    summary = {
        "first_draw_in_band": sum(r["first_draw_in_band"] for r in plan.steps) / n,
        "filled_share": sum(r["filled_share"] for r in plan.steps) / n,
        "refills": sum(r["refills"] for r in plan.steps),
        "seconds": round(time.time() - t0, 1),
    }
    logger.info(
        "dynamic sampling: %.0f%% of first-draw candidates in the band, steps %.0f%% filled after %d refills",
        100 * summary["first_draw_in_band"],
        100 * summary["filled_share"],
        summary["refills"],
    )
    return [problems[i] for i in plan.order], summary


def solver_phase(ctx: RunContext, iteration: int) -> dict:
    """Train the Solver of `iteration - 1` by GRPO on self-consistency pseudo-labels; save it as `iteration`.

    Returns:
        A summary for ``state.json``: pseudo_label_accuracy (None without gold answers),
        steps, seconds_per_step, kept_share, reward_mean, train_size, checkpoint, and ``health``: the label-free
        `ttcs.health.iteration_health` of the phase's votes (flip rate against the labels it started from,
        `ttcs.rewards.solver.phase_start_labels`: the previous iteration's last votes and evaluation).
    """
    from datasets import Dataset
    from trl import GRPOTrainer

    solver = ctx.cfg.train.solver
    problems = training_problems(ctx, iteration)
    _warn_if_special_tokens_added(ctx.tokenizer)
    planned, frontier = problems, None
    band = solver.band
    solver_reward = ctx.cfg.method.solver_reward
    oracle = solver_reward == "gold"
    if oracle:
        logger.info(
            "method %s: the Solver is rewarded by the GOLD answers (a positive control that uses labels; "
            "no band, no dynamic sampling)",
            ctx.cfg.method.name,
        )
    elif solver_reward == "wrong_vote":
        logger.warning(
            "method %s: on %.0f%% of the questions the Solver is rewarded for a WRONG answer (a collapse on purpose, "
            "for measuring the health monitor)",
            ctx.cfg.method.name,
            100 * ctx.cfg.method.wrong_share,
        )
    if not oracle and solver.dynamic_sampling.enabled and band is not None:
        planned, frontier = frontier_problems(ctx, iteration, problems, solver)
    dataset = Dataset.from_dict({"prompt": ctx.prompts(planned), "problem_id": [p.id for p in planned]})
    gold = {p.id: p.answer for p in ctx.problems if p.answer is not None}
    args = build_grpo_config(
        solver,
        output_dir=ctx.rundir.trl_dir("solver", iteration),
        seed=seed_for(ctx.cfg.seed, "solver_grpo", iteration),
        train_size=len(problems),
    )
    if frontier is not None:
        args.shuffle_dataset = False  # the plan's order is the step order
    votes_path = ctx.rundir.votes_path(iteration)
    previous_labels = phase_start_labels(ctx.rundir, iteration)
    reward = get_majority_reward(
        ctx.verifier,
        band=None if oracle else band,
        group_size=solver.group_size,
        read_answer=ctx.read_answer,
        gold=gold,
        solver_reward=solver_reward,
        wrong_share=ctx.cfg.method.wrong_share,
        record_vote=lambda row: ctx.rundir.append_jsonl(votes_path, row),
        updates_per_generation=updates_per_generation(args),
        previous_labels=previous_labels,
    )
    callback = MetricsCallback(ctx.rundir, "solver", iteration, REWARD_METRICS)
    logger.info(
        "solver iteration %d: %d questions, %d steps of %d questions x %d samples",
        iteration,
        len(problems),
        args.max_steps,
        args.generation_batch_size // args.num_generations,
        args.num_generations,
    )
    quiet = _DroppedGroupsAreIntended()
    logging.getLogger("trl.trainer.grpo_trainer").addFilter(quiet)
    try:
        with ctx.training("solver") as rollout:
            trainer = GRPOTrainer(
                model=ctx.model("solver", iteration - 1),
                reward_funcs=reward,
                args=args,
                train_dataset=dataset,
                processing_class=ctx.tokenizer,
                callbacks=[callback, heap_trim_callback()],
                peft_config=build_lora_config(solver.lora),
                **rollout_kwargs(rollout),
            )
            quiet_progress(trainer)
            t0 = time.time()
            trainer.train()
            seconds = time.time() - t0
            _, path, steps = finish_training(trainer, ctx, "solver", iteration)
    finally:
        logging.getLogger("trl.trainer.grpo_trainer").removeFilter(quiet)
    votes = votes_from_rows(read_jsonl(votes_path))
    summary = phase_summary(votes, gold, ctx.verifier, problems)
    return {
        "pseudo_label_accuracy": summary["pseudo_label_accuracy"],
        "kept_share": summary["kept_share"],
        "reward_mean": summary["reward_mean"],
        "steps": steps,
        "train_seconds": round(seconds, 1),
        "seconds_per_step": round(seconds / max(steps, 1), 2),
        "train_size": len(problems),
        "distinct_questions": summary["distinct_questions"],
        "distinct_variants": summary["distinct_variants"],
        "dynamic_sampling": frontier,
        "health": iteration_health(votes, previous_labels, ctx.verifier.equivalent),
        "checkpoint": str(path),
    }
