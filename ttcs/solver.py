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

from omegaconf import OmegaConf
from transformers import TrainerCallback

from ttcs.context import RunContext
from ttcs.frontier import measure_with_backend, select_frontier
from ttcs.grpo import build_grpo_config, build_lora_config, finish_training, rollout_kwargs
from ttcs.rewards.solver import get_majority_reward
from ttcs.rundir import RunDir, read_jsonl
from ttcs.seeds import seed_for
from ttcs.types import GroupVote, Problem
from ttcs.verify import matches_gold

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
    return Problem(id=str(rec["id"]), question=rec["question"], answer=rec.get("answer"),
                   source=rec.get("source", "synthetic"), choices=tuple(choices) if choices else None,
                   meta=rec.get("meta") or {})


# ----------------------------------------------------------------------------- diagnostics


def pseudo_label_accuracy(records: Sequence[GroupVote], gold: Mapping[str, str], verifier) -> float | None:
    """Share of votes whose label is correct for the gold answer (`ttcs.verify.matches_gold`), over questions that have one.

    Gold answers are used for this log line only; they never reach the reward.
    """
    scored = [r for r in records if gold.get(r.problem_id) is not None]
    if not scored:
        return None
    right = sum(matches_gold(verifier, gold[r.problem_id], r.label) for r in scored)
    return right / len(scored)


class SolverMetricsCallback(TrainerCallback):
    """Writes one ``metrics.jsonl`` line per optimizer step: reward, kept share, pseudo-label accuracy, loss, time.

    With ``updates_per_step`` > 1 one generation feeds several optimizer steps (TRL shuffles its
    completions into the mini-batches): each of those rows carries the votes of that generation,
    numbered by ``generation``, so every row is complete and a generation is counted once per number.
    """

    def __init__(self, rundir: RunDir, iteration: int, records: list[GroupVote], gold: Mapping[str, str], verifier):
        self.rundir, self.iteration, self.records = rundir, iteration, records
        self.gold, self.verifier = gold, verifier
        self._seen = 0
        self._generation, self._summary = 0, step_summary([], gold, verifier)
        self._length = None  # TRL logs the completion length only on the step that generated
        self._last = time.time()
        self.step_seconds: list[float] = []

    def on_train_begin(self, args, state, control, **kwargs):
        self._last = time.time()

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or "loss" not in logs:
            return  # the end-of-training summary, not a step
        now = time.time()
        self.step_seconds.append(now - self._last)
        self._last = now
        new, self._seen = self.records[self._seen:], len(self.records)
        if not state.is_world_process_zero:
            return
        if new:  # a generation happened since the last optimizer step
            self._generation += 1
            self._summary = step_summary(new, self.gold, self.verifier)
        self._length = logs.get("completions/mean_length", self._length)
        self.rundir.log_metrics(
            "solver", iteration=self.iteration, step=state.global_step, generation=self._generation,
            loss=logs.get("loss"), **self._summary,
            completion_length=self._length, entropy=logs.get("entropy"),
            grad_norm=logs.get("grad_norm"), learning_rate=logs.get("learning_rate"),
            seconds=round(self.step_seconds[-1], 2))


def step_summary(records: Sequence[GroupVote], gold: Mapping[str, str], verifier) -> dict:
    """Reward mean (before the band), kept share and pseudo-label accuracy of some group votes."""
    if not records:
        return {"groups": 0, "reward_mean": None, "kept_share": None, "pseudo_label_accuracy": None}
    return {"groups": len(records),
            "reward_mean": sum(r.mean_reward for r in records) / len(records),
            "kept_share": sum(r.kept for r in records) / len(records),
            "pseudo_label_accuracy": pseudo_label_accuracy(records, gold, verifier)}


# ----------------------------------------------------------------------------- the phase


def _warn_if_special_tokens_added(tokenizer) -> None:
    """TRL tokenizes string prompts with special tokens; evaluation does not (the template has them)."""
    probe = "Question: 1 + 1"
    if tokenizer(text=probe)["input_ids"] != tokenizer(probe, add_special_tokens=False)["input_ids"]:
        logger.warning("this tokenizer adds special tokens (e.g. BOS) to plain text: TRL's training prompts get one "
                       "more than the evaluation prompts, which already carry the chat template's")


class _DroppedGroupsAreIntended(logging.Filter):
    """TRL warns, with the whole row, whenever a completion's rewards are all None: for the band that is the point."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "All reward functions returned None" not in record.getMessage()


def frontier_problems(ctx: RunContext, iteration: int, problems: list[Problem],
                      solver: Mapping) -> tuple[list[Problem], dict]:
    """Dynamic sampling (`ttcs.frontier`): the questions of every step, in order, filled with in-band ones."""
    ds, batch = solver["dynamic_sampling"], min(int(solver["batch_questions"]), len(problems))
    sampling = {"temperature": float(solver["temperature"]), "top_p": float(solver.get("top_p", 1.0)),
                "max_new_tokens": int(solver["max_completion_length"])}
    measure = measure_with_backend(ctx, ctx.backend("solver", iteration - 1), problems,
                                   group_size=int(solver["group_size"]), sampling=sampling,
                                   seed=int(ctx.cfg.seed), iteration=iteration)
    t0 = time.time()
    plan = select_frontier(len(problems), measure, steps=int(solver["steps"]), batch=batch,
                           oversample=float(ds["oversample"]), max_draws=int(ds["max_draws"]),
                           band=solver["band"], seed=seed_for(ctx.cfg.seed, "frontier_select", iteration))
    for row in plan.steps:
        ctx.rundir.log_metrics("dynamic_sampling", iteration=iteration, **row)
    n = len(plan.steps)
    summary = {"first_draw_in_band": sum(r["first_draw_in_band"] for r in plan.steps) / n,
               "filled_share": sum(r["filled_share"] for r in plan.steps) / n,
               "refills": sum(r["refills"] for r in plan.steps), "seconds": round(time.time() - t0, 1)}
    logger.info("dynamic sampling: %.0f%% of first-draw candidates in the band, steps %.0f%% filled after %d refills",
                100 * summary["first_draw_in_band"], 100 * summary["filled_share"], summary["refills"])
    return [problems[i] for i in plan.order], summary


def solver_phase(ctx: RunContext, iteration: int) -> dict:
    """Train the Solver of `iteration - 1` by GRPO on self-consistency pseudo-labels; save it as `iteration`.

    Returns:
        A summary for ``state.json``: pseudo_label_accuracy (None without gold answers),
        steps, seconds_per_step, kept_share, reward_mean, train_size, checkpoint.
    """
    from datasets import Dataset
    from trl import GRPOTrainer

    solver = OmegaConf.to_container(ctx.cfg.train.solver, resolve=True)
    problems = training_problems(ctx, iteration)
    _warn_if_special_tokens_added(ctx.tokenizer)
    planned, frontier = problems, None
    band = solver.get("band")
    oracle = ctx.cfg.method.get("solver_reward", "vote") == "gold"
    if oracle:
        logger.info("method %s: the Solver is rewarded by the GOLD answers (a positive control that uses labels; "
                    "no band, no dynamic sampling)", ctx.cfg.method.name)
    elif (solver.get("dynamic_sampling") or {}).get("enabled") and band is not None:
        planned, frontier = frontier_problems(ctx, iteration, problems, solver)
    dataset = Dataset.from_dict({"prompt": ctx.prompts(planned), "problem_id": [p.id for p in planned]})
    records: list[GroupVote] = []
    gold = {p.id: p.answer for p in ctx.problems if p.answer is not None}
    reward = get_majority_reward(ctx.verifier, band=None if oracle else band, group_size=int(solver["group_size"]),
                                 stats=records, read_answer=ctx.read_answer, gold=gold if oracle else None)
    args = build_grpo_config(solver, output_dir=ctx.rundir.trl_dir("solver", iteration),
                             seed=seed_for(ctx.cfg.seed, "solver_grpo", iteration), train_size=len(problems))
    if frontier is not None:
        args.shuffle_dataset = False  # the plan's order is the step order
    callback = SolverMetricsCallback(ctx.rundir, iteration, records, gold, ctx.verifier)
    logger.info("solver iteration %d: %d questions, %d steps of %d questions x %d samples", iteration,
                len(problems), args.max_steps, args.generation_batch_size // args.num_generations, args.num_generations)
    quiet = _DroppedGroupsAreIntended()
    logging.getLogger("trl.trainer.grpo_trainer").addFilter(quiet)
    try:
        with ctx.training("solver") as rollout:
            trainer = GRPOTrainer(model=ctx.model("solver", iteration - 1), reward_funcs=reward, args=args,
                                  train_dataset=dataset, processing_class=ctx.tokenizer, callbacks=[callback],
                                  peft_config=build_lora_config(solver.get("lora")), **rollout_kwargs(rollout))
            t0 = time.time()
            trainer.train()
            seconds = time.time() - t0
            _, path, steps = finish_training(trainer, ctx, "solver", iteration)
    finally:
        logging.getLogger("trl.trainer.grpo_trainer").removeFilter(quiet)
    summary = step_summary(records, gold, ctx.verifier)
    synthetic = {p.id for p in problems if p.source == "synthetic"}
    return {"pseudo_label_accuracy": summary["pseudo_label_accuracy"], "kept_share": summary["kept_share"],
            "reward_mean": summary["reward_mean"], "steps": steps, "train_seconds": round(seconds, 1),
            "seconds_per_step": round(seconds / max(steps, 1), 2), "train_size": len(problems),
            "distinct_questions": len({r.problem_id for r in records}),
            "distinct_variants": len({r.problem_id for r in records} & synthetic),
            "dynamic_sampling": frontier, "checkpoint": str(path)}
