"""The curriculum phase: sample the Synthesizer's variants, filter them and mix them with the test questions.

Step 2 of the TTCS method (docs/fidelity.md maps each step to the code): sample many variants per test question, keep the
parseable ones, drop exact and near duplicates (and copies of test questions), and mix
them with the test questions at a configurable ratio. Every variant is written to disk,
one JSON line per variant, as built by `variant_record`. `curriculum_phase` (at the end)
runs the step: it samples from the updated Synthesizer, scores the variants as the
Synthesizer phase does (`ttcs.variants.score_variants`), filters them (`dedupe_variants`),
mixes them (`mix_curriculum`) and writes the Solver's training set to
``curriculum/iter_XX_train.jsonl``.

A variant record is a mapping (or any object with the same attributes) holding at least
``question``, ``claimed_answer`` (or ``answer``) and ``reference_id``.

Example:
    >>> recs = [{"question": "What is 2 + 5?", "claimed_answer": "7", "reference_id": "q1"},
    ...         {"question": "what is  2 + 5?", "claimed_answer": "7", "reference_id": "q1"}]
    >>> kept, stats = dedupe_variants(recs, ["What is 10 / 2?"])
    >>> len(kept), stats["exact_duplicate"]
    (1, 1)
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from ttcs.context import RunContext
from ttcs.generation import Sampling
from ttcs.health import curriculum_diversity
from ttcs.prompts import load_template
from ttcs.rewards.copying import CopyProbe, char_similarity, copy_check, ratio_upper_bound
from ttcs.rewards.format import parse_variant
from ttcs.seeds import seed_for
from ttcs.types import ParsedVariant, Problem, RewardBreakdown
from ttcs.variants import score_variants, synthesizer_prompt

logger = logging.getLogger(__name__)

SYNTHETIC_SOURCE = "synthetic"
DROP_REASONS = ("unparseable", "test_copy", "exact_duplicate", "near_duplicate")
DEDUPE_MODES = ("exact", "near")


def _field(item: Any, *names: str) -> Any:
    """The first of ``names`` that ``item`` (a mapping or an object) holds with a non-None value."""
    for name in names:
        value = item.get(name) if isinstance(item, Mapping) else getattr(item, name, None)
        if value is not None:
            return value
    return None


def record_question(item: Any) -> str | None:
    """A variant record's question: a non-blank string, or None."""
    question = _field(item, "question")
    return question if isinstance(question, str) and question.strip() else None


def record_answer(item: Any) -> str | None:
    """A variant record's claimed answer (``claimed_answer``, else ``answer``): a non-blank string, or None."""
    answer = _field(item, "claimed_answer", "answer")
    return answer if isinstance(answer, str) and answer.strip() else None


def _near(a: CopyProbe, b: CopyProbe, threshold: float) -> bool:
    """char_similarity(a, b) >= threshold, skipping difflib when difflib's cheap upper bound is below it."""
    if ratio_upper_bound(a.norm, b.norm, a.chars, b.chars) < threshold:
        return False
    return char_similarity(a.norm, b.norm) >= threshold


def _is_test_copy(text: CopyProbe, tests: Sequence[CopyProbe]) -> bool:
    """The copy test of the Synthesizer's copy penalty (`copy_check`), against every test question."""
    return any(copy_check(text, t, exact=False)[0] for t in tests)


def _is_near_duplicate(text: CopyProbe, kept: Sequence[CopyProbe], threshold: float) -> bool:
    return any(_near(text, k, threshold) or copy_check(text, k, exact=False)[0] for k in kept)


def dedupe_variants(
    variants: Sequence[Any],
    test_questions: Sequence[str],
    *,
    near_threshold: float = 0.9,
    require_answer: bool = True,
    mode: str = "near",
) -> tuple[list[Any], dict[str, int]]:
    """Keep the parseable, distinct variants that are not copies of a test question.

    Each variant is checked in order and dropped for the first reason that applies:

    - ``unparseable``: no non-empty question, or no claimed answer when ``require_answer``;
    - ``test_copy``: equal to a test question after case and whitespace normalisation, or
      (``mode="near"``) a near copy of one by the copy penalty's rules
      (`ttcs.rewards.copying.copy_check`);
    - ``exact_duplicate``: equal to a kept variant after case and whitespace normalisation;
    - ``near_duplicate`` (``mode="near"`` only): character similarity >= ``near_threshold``
      with a kept variant, or a near copy of one by the copy penalty's rules.

    ``mode="exact"`` is the published method's filter (exact repeats only); ``"near"``
    also drops paraphrases, which matters when few variants are sampled.
    Deterministic; the first occurrence is kept and the input order preserved.

    Args:
        variants: variant records (mappings or objects with ``question`` and
            ``claimed_answer`` or ``answer``).
        test_questions: the test questions' texts.
        near_threshold: character similarity at which two variants are near duplicates.
        require_answer: a variant needs a claimed answer (the recipe's ``requires_answer``: False with the
            small-model recipe's lenient format, where the answer may be missing).
        mode: ``exact`` or ``near``.

    Returns:
        ``(kept, stats)``: the kept records (the input objects themselves) and counts
        ``{"input", "kept", "unparseable", "test_copy", "exact_duplicate", "near_duplicate"}``.

    Example:
        >>> kept, stats = dedupe_variants([{"question": "What is 2 + 2?", "answer": "4"}],
        ...                               ["What is 2 + 2?"])
        >>> kept, stats["test_copy"]
        ([], 1)
    """
    if mode not in DEDUPE_MODES:
        raise ValueError(f"unknown dedupe mode {mode!r}; choose one of {DEDUPE_MODES}")
    near = mode == "near"
    tests = [CopyProbe.of(q) for q in test_questions]
    test_norms = {t.norm for t in tests}
    stats = dict.fromkeys(DROP_REASONS, 0)
    kept: list[Any] = []
    kept_texts: list[CopyProbe] = []
    kept_norms: set[str] = set()
    for variant in variants:
        question = record_question(variant)
        if question is None or (require_answer and record_answer(variant) is None):
            stats["unparseable"] += 1
            continue
        text = CopyProbe.of(question)
        if text.norm in test_norms or (near and _is_test_copy(text, tests)):
            stats["test_copy"] += 1
        elif text.norm in kept_norms:
            stats["exact_duplicate"] += 1
        elif near and _is_near_duplicate(text, kept_texts, near_threshold):
            stats["near_duplicate"] += 1
        else:
            kept.append(variant)
            kept_texts.append(text)
            kept_norms.add(text.norm)
    stats = {"input": len(variants), "kept": len(kept), **stats}
    logger.info("dedupe_variants: %s", stats)
    return kept, stats


def _variant_problems(variants: Sequence[Any]) -> list[Any]:
    """Variant records as Problems: id ``<reference_id>-v<k>``, no answer, source "synthetic".

    k counts the variants of one reference in input order, from 0, so ids do not depend on
    the seed. The claimed answer travels in ``meta`` for analysis only: training never
    uses an answer (the Solver's reward is its own majority vote).
    """
    counts: Counter = Counter()
    problems = []
    for variant in variants:
        reference_id = _field(variant, "reference_id")
        k = counts[reference_id]
        counts[reference_id] += 1
        meta = {"reference_id": reference_id, "claimed_answer": record_answer(variant)}
        prefix = reference_id if reference_id is not None else SYNTHETIC_SOURCE
        problems.append(
            Problem(
                id=f"{prefix}-v{k}",
                question=record_question(variant) or "",
                answer=None,
                source=SYNTHETIC_SOURCE,
                meta=meta,
            )
        )
    return problems


def _split_sizes(n_test: int, n_variant: int, ratio: float, max_size: int | None) -> tuple[int, int]:
    """How many test-question copies and variants a mix holds (see `mix_curriculum`)."""
    if ratio >= 1:
        n_t, n_s = 0, n_variant
    elif ratio <= 0 or not n_variant:
        n_t, n_s = n_test, 0
    else:  # every variant, and test copies up to the requested share (each test question at least once)
        n_t, n_s = max(n_test, round(n_variant * (1 - ratio) / ratio)), n_variant
    if max_size is not None and n_t + n_s > max_size:
        n_s = round(max_size * n_s / (n_t + n_s))
        n_t = max_size - n_s
    return n_t, n_s


def _test_copies(test_problems: Sequence[Any], count: int, rng: random.Random) -> list[Any]:
    """``count`` test problems, every one used ``count // n`` or ``count // n + 1`` times (shuffled passes)."""
    copies: list[Any] = []
    while len(copies) < count:
        order = list(test_problems)
        rng.shuffle(order)
        copies += order[: count - len(copies)]
    return copies


def mix_curriculum(
    test_problems: Sequence[Any],
    variants: Sequence[Any],
    *,
    ratio: float,
    seed: int,
    max_size: int | None = None,
) -> list[Any]:
    """The Solver's training set: every variant plus copies of the test problems, shuffled under ``seed``.

    ``ratio`` is the share of synthetic items. As in the published method, every kept
    variant is used and the test problems are repeated beside them until the mix holds
    ``round(len(variants) * (1 - ratio) / ratio)`` test copies (each test problem at least
    once, all about equally often): ``ratio=0.5`` is the paper's 1:1 mix, so a 30-question
    test set with 500 variants trains on 500 variants and ~17 copies of each question.
    ``ratio == 0`` (or, for ``ratio < 1``, no variants at all, with a warning) keeps the
    test problems only; ``ratio == 1`` keeps variants only. A ``max_size`` cap shrinks both parts in proportion.
    Test problems pass through unchanged (their gold answers are for evaluation only);
    variants become Problems with ``answer=None``, ``source="synthetic"``, id
    ``<reference_id>-v<k>`` and ``meta={"reference_id", "claimed_answer"}``.

    Args:
        test_problems: the test set's Problems.
        variants: deduplicated variant records (see `dedupe_variants`).
        ratio: share of synthetic items, in [0, 1].
        seed: seeds the copies, the subsampling and the shuffle; same inputs + seed = same list.
        max_size: cap on the size of the result; None = no cap.

    Returns:
        The mixed list of Problems, shuffled.
    """
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"ratio must lie in [0, 1], got {ratio!r}")
    if max_size is not None and max_size < 0:
        raise ValueError(f"max_size must be >= 0, got {max_size!r}")
    if 0 < ratio < 1 and not variants:
        logger.warning("no usable variants: the Solver trains on the %d test questions only", len(test_problems))
    n_test, n_synthetic = _split_sizes(len(test_problems), len(variants), ratio, max_size)
    rng = random.Random(seed)
    chosen_tests = _test_copies(test_problems, n_test, rng) if test_problems else []
    chosen_variants = rng.sample(_variant_problems(variants), n_synthetic) if n_synthetic else []
    mixed = chosen_tests + chosen_variants
    rng.shuffle(mixed)
    logger.info("curriculum: %d test-question copies + %d variants (ratio %.2f)", len(chosen_tests), n_synthetic, ratio)
    return mixed


def variant_record(
    *,
    reference_id: str | None,
    reference_question: str | None,
    output: str,
    parsed: ParsedVariant | None = None,
    solver_answers: Sequence[str | None] = (),
    consistency: float | None = None,
    reward: RewardBreakdown | Mapping[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One variant's line of ``curriculum/iter_XX.jsonl``: a JSON-serialisable dict.

    Args:
        reference_id: id of the test question the variant was written from (None for r_zero).
        reference_question: that question's text.
        output: the raw Synthesizer output.
        parsed: ``parse_variant(output)`` if already computed; parsed here otherwise.
        solver_answers: the Solver's extracted answers on the variant (None = no answer).
        consistency: the Solver's self-consistency on it.
        reward: the variant's reward terms.
        **extra: more JSON-serialisable fields (e.g. ``iteration``, ``sample``).

    Returns:
        ``{"reference_id", "reference_question", "question", "claimed_answer",
        "parse_error", "solver_answers", "consistency", "reward", "output", **extra}``.

    Example:
        >>> rec = variant_record(reference_id="q1", reference_question="What is 2 + 2?",
        ...                      output="<question>What is 3 + 3?</question> \\\\boxed{6}")
        >>> rec["question"], rec["claimed_answer"], rec["parse_error"]
        ('What is 3 + 3?', '6', None)
    """
    parsed = parse_variant(output) if parsed is None else parsed
    if isinstance(reward, RewardBreakdown):
        reward = reward.as_dict()
    record = {
        "reference_id": reference_id,
        "reference_question": reference_question,
        "question": parsed.question,
        "claimed_answer": parsed.answer,
        "parse_error": parsed.reason,
        "solver_answers": list(solver_answers),
        "consistency": None if consistency is None else float(consistency),
        "reward": None if reward is None else dict(reward),
        "output": output,
    }
    clashes = record.keys() & extra.keys()
    if clashes:
        raise ValueError(f"extra fields clash with the record's own: {sorted(clashes)}")
    return {**record, **extra}


def _curriculum_outputs(
    ctx: RunContext, iteration: int, template: str, reference_free: bool
) -> tuple[list[str], list[dict]]:
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
    prompts = [
        synthesizer_prompt(
            ctx.tokenizer,
            template,
            r["reference"],
            chat_template=ctx.cfg.model.chat_template,
            prefill=ctx.cfg.train.synthesizer.prefill,
        )
        for r in refs
    ]
    outs = backend.generate(
        prompts,
        Sampling(
            n=n,
            temperature=c.temperature,
            top_p=c.top_p,
            top_k=c.top_k,
            max_new_tokens=c.max_new_tokens,
            seed=seed_for(ctx.cfg.seed, "curriculum_sampling", iteration),
        ),
        desc="sampling curriculum",
    )
    texts, meta = [], []
    for r, prompt, group in zip(refs, prompts, outs, strict=True):
        texts += group
        meta += [{**r, "prompt": prompt}] * len(group)
    return texts, meta


def curriculum_phase(ctx: RunContext, iteration: int) -> dict:
    """Sample variants from the updated Synthesizer, filter and mix them; write the Solver's training set.

    The filter drops variants that do not parse, fail the recipe's claim check
    (``ctx.recipe.claim_verdict``), repeat one another or copy a test question
    (`ttcs.curriculum.dedupe_variants`); ``dropped`` in the metrics counts each reason.
    ``distinct_share`` and ``mean_pairwise_distance`` measure the diversity of the parsed variants, before the filter
    (`ttcs.health.curriculum_diversity`).
    """
    cfg, c = ctx.cfg, ctx.cfg.train.curriculum
    template = load_template(cfg.method.synthesizer_template)
    reference_free = "{reference}" not in template
    texts, meta = _curriculum_outputs(ctx, iteration, template, reference_free)
    claimer = ctx.recipe.claimer(lambda: ctx.backend("synthesizer", iteration))
    scored = score_variants(
        ctx,
        ctx.backend("solver", iteration - 1),
        texts,
        [m["reference"] for m in meta],
        seed=seed_for(cfg.seed, "curriculum_scoring", iteration),
        prompts=[m["prompt"] for m in meta],
        claimer=claimer,
    )
    records = [
        variant_record(reference_id=m["reference_id"], reference_question=m["reference"], **sc, phase="curriculum")
        for m, sc in zip(meta, scored, strict=True)
    ]
    for rec in records:
        ctx.rundir.append_jsonl(ctx.rundir.curriculum_path(iteration), rec)
    # A variant whose claimed answer failed the recipe's claim check never reaches the Solver
    confirmed = [r for r in records if (r.get("reward") or {}).get("claim") is not False]
    kept, stats = dedupe_variants(
        confirmed,
        [p.question for p in ctx.problems],
        near_threshold=c.near_threshold,
        require_answer=ctx.recipe.requires_answer,
        mode=c.dedupe,
    )
    stats["claim_unconfirmed"] = len(records) - len(confirmed)
    mixed = mix_curriculum(
        ctx.problems,
        kept,
        ratio=cfg.method.curriculum_ratio,
        seed=seed_for(cfg.seed, "mix_curriculum", iteration),
        max_size=c.max_size,
    )
    ctx.rundir.write_jsonl(
        ctx.rundir.curriculum_train_path(iteration),
        [{"id": p.id, "question": p.question, "answer": None, "source": p.source, "meta": dict(p.meta)} for p in mixed],
    )
    caps = [r["reward"]["capability"] for r in records if r.get("question")]
    info = {
        "variants": len(records),
        "parsed_share": sum(bool(r.get("question")) for r in records) / max(1, len(records)),
        "kept": len(kept),
        "dropped": {k: v for k, v in stats.items() if k not in ("input", "kept")},
        "capability_mean": sum(caps) / len(caps) if caps else 0.0,
        "train_size": len(mixed),
        "synthetic_in_train": sum(p.source == "synthetic" for p in mixed),
        # the label-free diversity of what the Synthesizer wrote: its parsed variants, before the filter drops
        # repeats (`ttcs.health.curriculum_diversity`)
        **curriculum_diversity(
            [q for r in records if (q := record_question(r))], seed_for(cfg.seed, "curriculum_diversity", iteration)
        ),
    }
    ctx.rundir.log_metrics("curriculum", iteration=iteration, **info)
    logger.info(
        "curriculum: %d variants, %.0f%% parsed, %d kept after filtering; training set %d (%d synthetic)",
        info["variants"],
        100 * info["parsed_share"],
        info["kept"],
        info["train_size"],
        info["synthetic_in_train"],
    )
    return info
