"""The Synthesizer: writes variants of the test questions at the Solver's capability frontier.

The Synthesizer phase of the loop (step 1 of the TTCS method; see docs/fidelity.md):

`synthesizer_phase` runs a few GRPO steps on the Synthesizer. Each reference question is
put in the Synthesizer prompt (``conf/prompts/synthesizer.txt``), G variants are
sampled, and each variant is rewarded by `ttcs.rewards.synthesizer.synthesizer_rewards`
from the current Solver's self-consistency on it (`ttcs.variants.score_variants`): the
Solver samples for the whole batch of variants go through the generation backend in one
call. Every variant, with every reward term and the Solver's answers, is appended to
``curriculum/iter_XX.jsonl`` as soon as it is scored, with the generation it belongs to
(``step``); the reward function logs the batch's reward mean, parsed share, capability mean,
scoring time and label-free health signals (`ttcs.health.synthesizer_signals`: the rewards' spread,
the shares paid nothing, by reason) through TRL's ``log_metric`` (`ttcs.metrics.MetricsCallback`
writes the rows), and the phase's summary is computed from those records afterwards. The next phase, which samples the
curriculum from the updated Synthesizer, is `ttcs.curriculum.curriculum_phase`.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Mapping, Sequence

from ttcs import dist
from ttcs.context import RunContext
from ttcs.curriculum import variant_record
from ttcs.grpo import build_grpo_config, build_lora_config, finish_training, rollout_kwargs
from ttcs.health import SYNTHESIZER_SIGNALS, synthesizer_health, synthesizer_signals
from ttcs.metrics import MetricsCallback, generation_of, updates_per_generation
from ttcs.prompts import load_template
from ttcs.resident import heap_trim_callback
from ttcs.rundir import read_jsonl
from ttcs.seeds import seed_for
from ttcs.terminal import quiet_progress
from ttcs.variants import score_variants, synthesizer_prompt

logger = logging.getLogger(__name__)


# What the Synthesizer's reward logs per generation (`batch_metrics` and the scoring time), as metrics.jsonl keys.
REWARD_METRICS = {
    "reward_mean": None,
    "parsed_share": None,
    "capability_mean": None,
    "reward_seconds": lambda v: round(v, 1),
    # the label-free health signals of the batch (`ttcs.health.synthesizer_signals`)
    **dict.fromkeys(SYNTHESIZER_SIGNALS),
}


def batch_metrics(records: Sequence[Mapping]) -> dict:
    """Reward mean, parsed share and capability mean (over the parsed variants) of one batch's variant records."""
    totals = [r["reward"]["total"] for r in records]
    caps = [r["reward"]["capability"] for r in records if r["parse_error"] is None]
    return {
        "reward_mean": sum(totals) / len(totals),
        "parsed_share": sum(r["parse_error"] is None for r in records) / len(records),
        "capability_mean": sum(caps) / len(caps) if caps else 0.0,
    }


def phase_summary(records: Sequence[Mapping]) -> dict:
    """The mean over the phase's generations of `batch_metrics`, from its lines of ``curriculum/iter_XX.jsonl``."""
    batches: dict[int, list[Mapping]] = {}
    for r in records:
        if r.get("phase") == "synthesizer":
            batches.setdefault(r["step"], []).append(r)
    per_step = [batch_metrics(batch) for batch in batches.values()]
    n = max(1, len(per_step))
    return {key: sum(m[key] for m in per_step) / n for key in ("reward_mean", "parsed_share", "capability_mean")}


def get_synthesizer_reward(ctx: RunContext, iteration: int, backend, claimer=None, updates_per_generation: int = 1):
    """TRL reward function for the Synthesizer: scores the batch and appends every variant to disk.

    TRL calls it on each process with that process's slice of the batch. The repetition
    penalty compares the variants of the whole batch, so every process gathers the whole
    batch, scores it (the Solver's samples split over the processes by the backend), writes it
    once (main process) and returns the rewards of its own slice. ``claimer``: the backend of
    the recipe's claim stage (``ctx.recipe.claimer``), None for none.

    The generation it scores (``step`` of its records, and the seed of the Solver's samples) is
    `ttcs.metrics.generation_of` TRL's ``trainer_state``; ``updates_per_generation``: optimizer
    steps per generation. Its metrics go to TRL's ``log_metric`` (`REWARD_METRICS`).
    """
    path = ctx.rundir.curriculum_path(iteration)

    def synthesizer_reward(
        prompts, completions, reference_id, reference, trainer_state=None, log_metric=None, **_
    ) -> list[float]:
        step = generation_of(trainer_state, updates_per_generation)
        rows, offset = dist.gather_slices(list(zip(completions, reference_id, reference, prompts, strict=True)))
        texts, rids, refs = [r[0] for r in rows], [r[1] for r in rows], [r[2] or None for r in rows]
        t0 = time.time()
        scored = score_variants(
            ctx,
            backend,
            texts,
            refs,
            seed=seed_for(ctx.cfg.seed, "synthesizer_reward", step=step),
            prompts=[r[3] for r in rows],
            claimer=claimer,
        )
        records = [
            variant_record(reference_id=rid, reference_question=ref, **sc, phase="synthesizer", step=step)
            for rid, ref, sc in zip(rids, refs, scored, strict=True)
        ]
        for record in records:
            ctx.rundir.append_jsonl(path, record)
        if log_metric is not None:
            for name, value in {**batch_metrics(records), **synthesizer_signals(records)}.items():
                if value is not None:
                    log_metric(name, value)
            log_metric("reward_seconds", round(time.time() - t0, 1))
        totals = [sc["reward"].total for sc in scored]
        return totals[offset : offset + len(completions)]

    return synthesizer_reward


def _reference_rows(ctx: RunContext, count: int, seed: int, reference_free: bool) -> list[dict]:
    """`count` reference questions drawn without replacement (cycling when the test set is smaller)."""
    rng = random.Random(seed)
    rows: list[dict] = []
    while len(rows) < count:
        order = list(ctx.problems)
        rng.shuffle(order)
        rows += [
            {"reference_id": "none" if reference_free else p.id, "reference": "" if reference_free else p.question}
            for p in order
        ]
    return rows[:count]


def synthesizer_phase(ctx: RunContext, iteration: int) -> dict:
    """GRPO on the Synthesizer against the current Solver; saves checkpoints/synthesizer/iter_XX."""
    from datasets import Dataset
    from trl import GRPOTrainer

    cfg = ctx.cfg
    if cfg.method.frozen_synthesizer:
        logger.info("frozen Synthesizer (ablation): no Synthesizer training")
        return {"frozen": True}
    node = cfg.train.synthesizer
    template = load_template(cfg.method.synthesizer_template)
    reference_free = "{reference}" not in template
    rows = _reference_rows(
        ctx, node.steps * node.batch_questions, seed_for(cfg.seed, "reference_rows", iteration), reference_free
    )
    for row in rows:
        row["prompt"] = synthesizer_prompt(
            ctx.tokenizer,
            template,
            row["reference"] or None,
            chat_template=cfg.model.chat_template,
            prefill=node.prefill,
        )
    # A recipe's claim stage samples from the Synthesizer being trained (hf: the live policy object; vLLM: the
    # phase's starting weights)
    claimer = ctx.recipe.claimer(lambda: ctx.backend("synthesizer", iteration - 1))
    solver = ctx.backend("solver", iteration - 1)
    args = build_grpo_config(
        node,
        output_dir=ctx.rundir.trl_dir("synthesizer", iteration),
        seed=seed_for(cfg.seed, "synthesizer_grpo", iteration),
        train_size=len(rows),
    )
    reward_fn = get_synthesizer_reward(
        ctx, iteration, solver, claimer=claimer, updates_per_generation=updates_per_generation(args)
    )
    logger.info(
        "synthesizer iteration %d: %d steps of %d references x %d variants, Solver n=%d",
        iteration,
        args.max_steps,
        node.batch_questions,
        node.group_size,
        node.solver_samples,
    )
    with ctx.training("synthesizer") as rollout:
        trainer = GRPOTrainer(
            model=ctx.model("synthesizer", iteration - 1),
            reward_funcs=reward_fn,
            args=args,
            train_dataset=Dataset.from_list(rows),
            processing_class=ctx.tokenizer,
            callbacks=[MetricsCallback(ctx.rundir, "synthesizer", iteration, REWARD_METRICS), heap_trim_callback()],
            peft_config=build_lora_config(node.lora),
            **rollout_kwargs(rollout),
        )
        quiet_progress(trainer)
        t0 = time.time()
        trainer.train()
        seconds = time.time() - t0
        _, path, steps = finish_training(trainer, ctx, "synthesizer", iteration)
    records = read_jsonl(ctx.rundir.curriculum_path(iteration))
    summary = phase_summary(records)
    return {
        "steps": steps,
        "train_seconds": round(seconds, 1),
        "seconds_per_step": round(seconds / max(steps, 1), 1),
        **summary,
        "checkpoint": str(path),
        "health": synthesizer_health(records),
    }
