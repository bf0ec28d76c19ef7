"""The Synthesizer: writes variants of the test questions at the Solver's capability frontier.

The Synthesizer phase of the loop (step 1 of the TTCS method; see docs/fidelity.md):

`synthesizer_phase` runs a few GRPO steps on the Synthesizer. Each reference question is
put in the Synthesizer prompt (``conf/prompts/synthesizer.txt``), G variants are
sampled, and each variant is rewarded by `ttcs.rewards.synthesizer.synthesizer_rewards`
from the current Solver's self-consistency on it (`ttcs.variants.score_variants`): the
Solver samples for the whole batch of variants go through the generation backend in one
call. Every variant, with every reward term and the Solver's answers, is appended to
``curriculum/iter_XX.jsonl`` as soon as it is scored. The next phase, which samples the
curriculum from the updated Synthesizer, is `ttcs.curriculum.curriculum_phase`.
"""

from __future__ import annotations

import logging
import random
import time

from omegaconf import OmegaConf
from transformers import TrainerCallback

from ttcs import dist
from ttcs.context import RunContext
from ttcs.curriculum import variant_record
from ttcs.grpo import build_grpo_config, build_lora_config, finish_training, rollout_kwargs
from ttcs.prompts import load_template
from ttcs.seeds import seed_for
from ttcs.variants import score_variants, synthesizer_prompt

logger = logging.getLogger(__name__)


def get_synthesizer_reward(ctx: RunContext, iteration: int, backend, stats: list, claimer=None):
    """TRL reward function for the Synthesizer: scores the batch and appends every variant to disk.

    TRL calls it on each process with that process's slice of the batch. The repetition
    penalty compares the variants of the whole batch, so every process gathers the whole
    batch, scores it (the Solver's samples split over the processes by the backend), writes it
    once (main process) and returns the rewards of its own slice. ``claimer``: the backend of
    the recipe's claim stage (``ctx.recipe.claimer``), None for none.
    """
    path = ctx.rundir.curriculum_path(iteration)
    calls = {"n": 0}

    def synthesizer_reward(prompts, completions, reference_id, reference, **_) -> list[float]:
        calls["n"] += 1
        rows, offset = dist.gather_slices(list(zip(completions, reference_id, reference, prompts, strict=True)))
        texts, rids, refs = [r[0] for r in rows], [r[1] for r in rows], [r[2] or None for r in rows]
        t0 = time.time()
        scored = score_variants(ctx, backend, texts, refs, seed=seed_for(ctx.cfg.seed, "synthesizer_reward", step=calls["n"]),
                                prompts=[r[3] for r in rows], claimer=claimer)
        for rid, ref, sc in zip(rids, refs, scored, strict=True):
            ctx.rundir.append_jsonl(path, variant_record(reference_id=rid, reference_question=ref, **sc,
                                                         phase="synthesizer", step=calls["n"]))
        totals = [sc["reward"].total for sc in scored]
        caps = [sc["reward"].capability for sc in scored if sc["parsed"].ok]
        stats.append({"step": calls["n"], "reward_mean": sum(totals) / len(totals),
                      "parsed_share": sum(sc["parsed"].ok for sc in scored) / len(scored),
                      "capability_mean": sum(caps) / len(caps) if caps else 0.0,
                      "reward_seconds": round(time.time() - t0, 1)})
        return totals[offset:offset + len(completions)]

    return synthesizer_reward


def _reference_rows(ctx: RunContext, count: int, seed: int, reference_free: bool) -> list[dict]:
    """`count` reference questions drawn without replacement (cycling when the test set is smaller)."""
    rng = random.Random(seed)
    rows: list[dict] = []
    while len(rows) < count:
        order = list(ctx.problems)
        rng.shuffle(order)
        rows += [{"reference_id": "none" if reference_free else p.id, "reference": "" if reference_free else p.question}
                 for p in order]
    return rows[:count]


def synthesizer_phase(ctx: RunContext, iteration: int) -> dict:
    """GRPO on the Synthesizer against the current Solver; saves checkpoints/synthesizer/iter_XX."""
    from datasets import Dataset
    from trl import GRPOTrainer

    cfg = ctx.cfg
    if cfg.method.frozen_synthesizer:
        logger.info("frozen Synthesizer (ablation): no Synthesizer training")
        return {"frozen": True}
    node = OmegaConf.to_container(cfg.train.synthesizer, resolve=True)
    template = load_template(cfg.method.synthesizer_template)
    reference_free = "{reference}" not in template
    rows = _reference_rows(ctx, node["steps"] * node["batch_questions"], seed_for(cfg.seed, "reference_rows", iteration), reference_free)
    for row in rows:
        row["prompt"] = synthesizer_prompt(ctx.tokenizer, template, row["reference"] or None,
                                           chat_template=cfg.model.chat_template, prefill=node["prefill"])
    stats: list[dict] = []
    # A recipe's claim stage samples from the Synthesizer being trained (hf: the live policy object; vLLM: the
    # phase's starting weights)
    claimer = ctx.recipe.claimer(lambda: ctx.backend("synthesizer", iteration - 1))
    reward_fn = get_synthesizer_reward(ctx, iteration, ctx.backend("solver", iteration - 1), stats, claimer=claimer)
    args = build_grpo_config(node, output_dir=ctx.rundir.trl_dir("synthesizer", iteration),
                             seed=seed_for(cfg.seed, "synthesizer_grpo", iteration), train_size=len(rows))
    logger.info("synthesizer iteration %d: %d steps of %d references x %d variants, Solver n=%d", iteration,
                args.max_steps, node["batch_questions"], node["group_size"], node["solver_samples"])
    with ctx.training("synthesizer") as rollout:
        trainer = GRPOTrainer(model=ctx.model("synthesizer", iteration - 1), reward_funcs=reward_fn, args=args,
                              train_dataset=Dataset.from_list(rows), processing_class=ctx.tokenizer,
                              callbacks=[SynthesizerMetricsCallback(ctx.rundir, iteration, stats)],
                              peft_config=build_lora_config(node.get("lora")), **rollout_kwargs(rollout))
        t0 = time.time()
        trainer.train()
        seconds = time.time() - t0
        _, path, steps = finish_training(trainer, ctx, "synthesizer", iteration)
    n = max(1, len(stats))
    return {"steps": steps, "train_seconds": round(seconds, 1), "seconds_per_step": round(seconds / max(steps, 1), 1),
            "reward_mean": sum(x["reward_mean"] for x in stats) / n,
            "parsed_share": sum(x["parsed_share"] for x in stats) / n,
            "capability_mean": sum(x["capability_mean"] for x in stats) / n, "checkpoint": str(path)}


class SynthesizerMetricsCallback(TrainerCallback):
    """One ``metrics.jsonl`` line per Synthesizer optimizer step: reward terms from the reward fn, loss from TRL.

    With ``updates_per_step`` > 1 the reward terms of one generation serve several optimizer
    steps; ``generation`` numbers them, so a generation's terms are counted once per number.
    """

    def __init__(self, rundir, iteration: int, stats: list[dict]):
        self.rundir, self.iteration, self.stats = rundir, iteration, stats
        self._last = time.time()
        self._length = None  # TRL logs the completion length only on the step that generated

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or "loss" not in logs or not state.is_world_process_zero:
            return
        now = time.time()
        seconds, self._last = now - self._last, now
        latest = self.stats[-1] if self.stats else {}
        self._length = logs.get("completions/mean_length", self._length)
        self.rundir.log_metrics("synthesizer", iteration=self.iteration, step=state.global_step,
                                generation=latest.get("step", 0), loss=logs.get("loss"), kl=logs.get("kl"),
                                completion_length=self._length,
                                **{k: v for k, v in latest.items() if k != "step"},
                                seconds=round(seconds, 2))
