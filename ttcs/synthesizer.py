"""The Synthesizer: writes variants of the test questions at the Solver's capability frontier.

Two phases of the loop live here (steps 1 and 2 of the TTCS method; see docs/fidelity.md):

* `synthesizer_phase` — a few GRPO steps on the Synthesizer. Each reference question is
  put in the Synthesizer prompt (``conf/prompts/synthesizer.txt``), G variants are
  sampled, and each variant is rewarded by `ttcs.rewards.synthesizer.synthesizer_rewards`
  from the current Solver's self-consistency on it: the Solver samples for the whole
  batch of variants go through the generation backend in one call. Every variant, with
  every reward term and the Solver's answers, is appended to ``curriculum/iter_XX.jsonl``
  as soon as it is scored.
* `curriculum_phase` — sample variants from the updated Synthesizer, score them the same
  way, drop unparseable ones, duplicates and copies of test questions, mix them with the
  test questions, and write the Solver's training set to ``curriculum/iter_XX_train.jsonl``.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Sequence

from omegaconf import OmegaConf
from transformers import TrainerCallback

from ttcs import dist
from ttcs.curriculum import dedupe_variants, mix_curriculum, variant_record
from ttcs.data import Problem
from ttcs.generation import Sampling
from ttcs.grpo import build_grpo_config, build_lora_config, finish_training, rollout_kwargs
from ttcs.prompts import load_template, render
from ttcs.rewards.synthesizer import (
    ParsedVariant,
    claim_verdict,
    parse_variant,
    self_consistency,
    synthesizer_rewards,
)
from ttcs.rundir import read_jsonl
from ttcs.seeds import seed_for
from ttcs.voting import vote_answer

logger = logging.getLogger(__name__)


def synthesizer_prompt(tokenizer, template: str, reference: str | None, *, chat_template="auto",
                       prefill: str = "") -> str:
    """The rendered Synthesizer prompt for one reference question (None for the reference-free template).

    `prefill` starts the Synthesizer's answer for it (e.g. ``"<question>\\n"``): small models
    then only have to write the problem; the prefill is put back in front of each output
    before parsing.
    """
    text = template.format(reference=reference.strip()) if reference is not None else template
    return render(tokenizer, text.strip(), chat_template=chat_template) + prefill


def solver_consistency(ctx, backend, questions: Sequence[str], *, seed: int) -> list[tuple[list[str | None], float]]:
    """The Solver's answers and self-consistency s on each question, in ONE backend call.

    Sampling follows ``train.synthesizer.solver_*``; answers are read under
    ``train.answer_policy`` (`ttcs.voting.vote_answer`) and s counts unanswered samples
    as a cluster of their own (`ttcs.rewards.synthesizer.self_consistency`).
    """
    if not questions:
        return []
    s = ctx.cfg.train.synthesizer
    problems = [Problem(id=f"variant-{i}", question=q, answer=None, source="synthetic") for i, q in enumerate(questions)]
    sampling = Sampling(n=s.solver_samples, temperature=s.solver_temperature, top_p=s.solver_top_p,
                        top_k=s.solver_top_k, max_new_tokens=s.solver_max_new_tokens, seed=seed)
    outputs = backend.generate(ctx.prompts(problems), sampling, desc="Solver on variants")
    scored = []
    for completions in outputs:
        answers = [ctx.vote_answer(c) for c in completions]
        scored.append((answers, self_consistency(answers, ctx.verifier)))
    return scored


def claim_prompts(prompts: Sequence[str], texts: Sequence[str], questions: Sequence[str], *, prefill: str,
                  claim_prefill: str) -> list[str]:
    """The Synthesizer's own context for stating the answer of each variant it wrote without one.

    Each is the Synthesizer prompt (without its prefill), the output up to the end of the
    parsed question, the closing ``</question>`` and ``claim_prefill``: the model continues
    as if it had closed the block and begun its answer. ``texts`` start with the prefill.

    Example:
        >>> claim_prompts(["P<question>\\n"], ["<question>\\nWhat is 2 + 5?\\n\\njunk"], ["What is 2 + 5?"],
        ...               prefill="<question>\\n", claim_prefill="The answer is ")
        ['P<question>\\nWhat is 2 + 5?\\n</question>\\nThe answer is ']
    """
    out = []
    for prompt, text, question in zip(prompts, texts, questions, strict=True):
        head = prompt[: len(prompt) - len(prefill)] if prefill and prompt.endswith(prefill) else prompt
        end = text.rfind(question)
        upto = text[: end + len(question)] if end >= 0 else prefill + question
        out.append(f"{head}{upto}\n</question>\n{claim_prefill}")
    return out


def state_claims(ctx, backend, prompts: Sequence[str], texts: Sequence[str], questions: Sequence[str],
                 *, seed: int) -> list[str | None]:
    """The claim stage (``train.synthesizer.claim_prefill``): the Synthesizer answers its own variants.

    For models too small to write a boxed answer after the question (the lenient format):
    each variant's context is continued greedily from ``claim_prefill`` for
    ``claim_max_new_tokens`` tokens and read like a Solver answer (``train.answer_policy``).
    The claimed answer enters the reward only through ``train.synthesizer.claim_check``
    (`ttcs.rewards.synthesizer.claim_verdict`); it is also the diagnostic of
    `ttcs.curriculum.is_well_posed`.
    """
    s = ctx.cfg.train.synthesizer
    if not questions:
        return []
    contexts = claim_prompts(prompts, texts, questions, prefill=s.prefill, claim_prefill=s.claim_prefill)
    outputs = backend.generate(contexts, Sampling(n=1, temperature=0.0, max_new_tokens=s.get("claim_max_new_tokens", 8),
                                                  seed=seed), desc="Synthesizer claims")
    return [vote_answer(s.claim_prefill + group[0], ctx.verifier, ctx.cfg.train.answer_policy) for group in outputs]


def score_variants(ctx, backend, texts: Sequence[str], references: Sequence[str | None], *, seed: int,
                   prompts: Sequence[str] | None = None, claimer=None) -> list[dict]:
    """Parse, Solver-score and reward a batch of Synthesizer outputs; one record per output.

    With ``train.synthesizer.claim_prefill`` set and a ``claimer`` (the Synthesizer's
    backend) and the outputs' ``prompts`` given, variants parsed without a claimed answer get
    one from `state_claims`; their records say ``claimed_by: "claim_stage"``. The claimed
    answers then go through ``train.synthesizer.claim_check``
    (`ttcs.rewards.synthesizer.claim_verdict`) before the reward is computed.
    """
    m, s = ctx.cfg.method, ctx.cfg.train.synthesizer
    gate = bool(s.get("problem_gate", True))
    texts = [s.prefill + t for t in texts]  # the prompt ended with the prefill: the output continues it
    parsed = [parse_variant(t, lenient=s.lenient_format, require_problem=gate) for t in texts]
    ok = [i for i, p in enumerate(parsed) if p.ok]
    scored = dict(zip(ok, solver_consistency(ctx, backend, [parsed[i].question for i in ok], seed=seed), strict=True))
    consistencies = [scored[i][1] if i in scored else None for i in range(len(texts))]
    claimed: dict[int, str | None] = {}
    if s.get("claim_prefill") and claimer is not None and prompts is not None:
        missing = [i for i in ok if parsed[i].answer is None]
        claims = state_claims(ctx, claimer, [prompts[i] for i in missing], [texts[i] for i in missing],
                              [parsed[i].question for i in missing], seed=seed)
        claimed = dict(zip(missing, claims, strict=True))
    check = s.get("claim_check", "off")
    verdicts = [claim_verdict(claimed[i] if i in claimed else parsed[i].answer, scored[i][0], ctx.verifier, check,
                              question=parsed[i].question) if i in scored else None for i in range(len(texts))]
    rewards = synthesizer_rewards(list(texts), list(references), consistencies, gamma=m.gamma,
                                  copy_penalty=m.copy_penalty, repetition_penalty=m.repetition_penalty,
                                  threshold=m.repetition_threshold, lenient=s.lenient_format, require_problem=gate,
                                  claims=verdicts)
    records = []
    for i in range(len(texts)):
        record = dict(parsed=parsed[i], solver_answers=scored.get(i, ([], None))[0], consistency=consistencies[i],
                      reward=rewards[i], output=texts[i])
        if i in claimed:
            record["parsed"] = ParsedVariant(parsed[i].question, claimed[i])
            record["claimed_by"] = "claim_stage"
        records.append(record)
    return records


def get_synthesizer_reward(ctx, iteration: int, backend, stats: list, claimer=None):
    """TRL reward function for the Synthesizer: scores the batch and appends every variant to disk.

    TRL calls it on each process with that process's slice of the batch. The repetition
    penalty compares the variants of the whole batch, so every process gathers the whole
    batch, scores it (the Solver's samples split over the processes by the backend), writes it
    once (main process) and returns the rewards of its own slice. ``claimer``: the backend of
    the claim stage (`state_claims`), None for none.
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


def _reference_rows(ctx, count: int, seed: int, reference_free: bool) -> list[dict]:
    """`count` reference questions drawn without replacement (cycling when the test set is smaller)."""
    rng = random.Random(seed)
    rows: list[dict] = []
    while len(rows) < count:
        order = list(ctx.problems)
        rng.shuffle(order)
        rows += [{"reference_id": "none" if reference_free else p.id, "reference": "" if reference_free else p.question}
                 for p in order]
    return rows[:count]


def synthesizer_phase(ctx, iteration: int) -> dict:
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
    # The claim stage samples from the Synthesizer being trained (hf: the live policy object; vLLM: the
    # phase's starting weights)
    claimer = ctx.backend("synthesizer", iteration - 1) if cfg.train.synthesizer.get("claim_prefill") else None
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


def _curriculum_outputs(ctx, iteration: int, template: str, reference_free: bool) -> tuple[list[str], list[dict]]:
    c = ctx.cfg.train.curriculum
    backend = ctx.backend("synthesizer", iteration)
    if reference_free:
        refs = [{"reference_id": "none", "reference": None}]
        n = c.total or c.variants_per_question * len(ctx.problems)
    else:
        refs = [{"reference_id": p.id, "reference": p.question} for p in ctx.problems]
        n = max(1, -(-c.total // len(refs))) if c.total else c.variants_per_question
        if c.total and c.total < len(refs):  # fewer variants than questions: a seeded subset of references
            refs = random.Random(seed_for(ctx.cfg.seed, "curriculum_references", iteration)).sample(refs, c.total)
    prompts = [synthesizer_prompt(ctx.tokenizer, template, r["reference"], chat_template=ctx.cfg.model.chat_template,
                                  prefill=ctx.cfg.train.synthesizer.prefill) for r in refs]
    outs = backend.generate(prompts, Sampling(n=n, temperature=c.temperature, top_p=c.top_p, top_k=c.top_k,
                                              max_new_tokens=c.max_new_tokens, seed=seed_for(ctx.cfg.seed, "curriculum_sampling", iteration)),
                            desc="sampling curriculum")
    texts, meta = [], []
    for r, prompt, group in zip(refs, prompts, outs, strict=True):
        texts += group
        meta += [{**r, "prompt": prompt}] * len(group)
    return texts, meta


def curriculum_phase(ctx, iteration: int) -> dict:
    """Sample variants from the updated Synthesizer, filter and mix them; write the Solver's training set.

    The filter drops variants that do not parse, fail the claim check
    (``train.synthesizer.claim_check``), repeat one another or copy a test question
    (`ttcs.curriculum.dedupe_variants`); ``dropped`` in the metrics counts each reason.
    """
    cfg, c = ctx.cfg, ctx.cfg.train.curriculum
    template = load_template(cfg.method.synthesizer_template)
    reference_free = "{reference}" not in template
    texts, meta = _curriculum_outputs(ctx, iteration, template, reference_free)
    claimer = ctx.backend("synthesizer", iteration) if cfg.train.synthesizer.get("claim_prefill") else None
    scored = score_variants(ctx, ctx.backend("solver", iteration - 1), texts, [m["reference"] for m in meta],
                            seed=seed_for(cfg.seed, "curriculum_scoring", iteration), prompts=[m["prompt"] for m in meta], claimer=claimer)
    records = [variant_record(reference_id=m["reference_id"], reference_question=m["reference"], **sc,
                              phase="curriculum") for m, sc in zip(meta, scored, strict=True)]
    for rec in records:
        ctx.rundir.append_jsonl(ctx.rundir.curriculum_path(iteration), rec)
    # A variant whose claimed answer failed train.synthesizer.claim_check never reaches the Solver
    confirmed = [r for r in records if (r.get("reward") or {}).get("claim") is not False]
    kept, stats = dedupe_variants(confirmed, [p.question for p in ctx.problems], near_threshold=c.near_threshold,
                                  require_answer=not cfg.train.synthesizer.lenient_format, mode=c.dedupe)
    stats["claim_unconfirmed"] = len(records) - len(confirmed)
    mixed = mix_curriculum(ctx.problems, kept, ratio=cfg.method.curriculum_ratio, seed=seed_for(cfg.seed, "mix_curriculum", iteration),
                           max_size=c.max_size)
    ctx.rundir.write_jsonl(ctx.rundir.curriculum_train_path(iteration),
                           [{"id": p.id, "question": p.question, "answer": None, "source": p.source,
                             "meta": dict(p.meta)} for p in mixed])
    caps = [r["reward"]["capability"] for r in records if r.get("question")]
    info = {"variants": len(records), "parsed_share": sum(bool(r.get("question")) for r in records) / max(1, len(records)),
            "kept": len(kept), "dropped": {k: v for k, v in stats.items() if k not in ("input", "kept")},
            "capability_mean": sum(caps) / len(caps) if caps else 0.0, "train_size": len(mixed),
            "synthetic_in_train": sum(p.source == "synthetic" for p in mixed)}
    ctx.rundir.log_metrics("curriculum", iteration=iteration, **info)
    logger.info("curriculum: %d variants, %.0f%% parsed, %d kept after filtering; training set %d (%d synthetic)",
                info["variants"], 100 * info["parsed_share"], info["kept"], info["train_size"],
                info["synthetic_in_train"])
    return info


def read_curriculum(ctx, iteration: int) -> list[dict]:
    """Every variant record of an iteration (both phases), in the order written."""
    return read_jsonl(ctx.rundir.curriculum_path(iteration))
