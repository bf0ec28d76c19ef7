"""Scoring a batch of Synthesizer outputs: shared by the Synthesizer phase and the curriculum phase.

Both phases render the Synthesizer prompt (`synthesizer_prompt`), sample outputs, and score
them the same way (`score_variants`): parse each output (the recipe's ``parse``), let the
current Solver answer every parsed variant in one backend call (`solver_consistency`), let
the recipe state the answers the Synthesizer left out (``claims``: the small-model recipe's
claim stage) and check the claimed answers (``claim_verdict``), and combine the reward terms
(`ttcs.rewards.synthesizer.synthesizer_rewards`). The Synthesizer phase trains on the
rewards (`ttcs.synthesizer`); the curriculum phase filters by them (`ttcs.curriculum`).
"""

from __future__ import annotations

from collections.abc import Sequence

from ttcs.context import RunContext
from ttcs.generation import GenerationBackend, Sampling
from ttcs.prompts import render
from ttcs.rewards.capability import self_consistency
from ttcs.rewards.synthesizer import synthesizer_rewards
from ttcs.types import ParsedVariant, Problem


def synthesizer_prompt(
    tokenizer, template: str, reference: str | None, *, chat_template="auto", prefill: str = ""
) -> str:
    """The rendered Synthesizer prompt for one reference question (None for the reference-free template).

    `prefill` starts the Synthesizer's answer for it (e.g. ``"<question>\\n"``): small models
    then only have to write the problem; the prefill is put back in front of each output
    before parsing.
    """
    text = template.format(reference=reference.strip()) if reference is not None else template
    return render(tokenizer, text.strip(), chat_template=chat_template) + prefill


def solver_consistency(
    ctx: RunContext, backend: GenerationBackend, questions: Sequence[str], *, seed: int
) -> list[tuple[list[str | None], float]]:
    """The Solver's answers and self-consistency s on each question, in ONE backend call.

    Sampling follows ``train.synthesizer.solver_*``; answers are read by the recipe
    (`RunContext.read_answer`) and s counts unanswered samples
    as a cluster of their own (`ttcs.rewards.capability.self_consistency`).
    """
    if not questions:
        return []
    s = ctx.cfg.train.synthesizer
    problems = [
        Problem(id=f"variant-{i}", question=q, answer=None, source="synthetic") for i, q in enumerate(questions)
    ]
    sampling = Sampling(
        n=s.solver_samples,
        temperature=s.solver_temperature,
        top_p=s.solver_top_p,
        top_k=s.solver_top_k,
        max_new_tokens=s.solver_max_new_tokens,
        seed=seed,
    )
    outputs = backend.generate(ctx.prompts(problems), sampling, desc="Solver on variants")
    scored = []
    for completions in outputs:
        answers = [ctx.read_answer(c) for c in completions]
        scored.append((answers, self_consistency(answers, ctx.verifier)))
    return scored


def score_variants(
    ctx: RunContext,
    backend: GenerationBackend,
    texts: Sequence[str],
    references: Sequence[str | None],
    *,
    seed: int,
    prompts: Sequence[str] | None = None,
    claimer: GenerationBackend | None = None,
) -> list[dict]:
    """Parse, Solver-score and reward a batch of Synthesizer outputs; one record per output.

    The recipe (``ctx.recipe``) parses each output, states the claimed answers of the
    variants that left theirs out (``claims``, from the ``claimer`` backend and the outputs'
    ``prompts``; their records say ``claimed_by: "claim_stage"``) and checks every claimed
    answer against the Solver's answers (``claim_verdict``) before the reward is computed.
    """
    m, s, recipe = ctx.cfg.method, ctx.cfg.train.synthesizer, ctx.recipe
    texts = [s.prefill + t for t in texts]  # the prompt ended with the prefill: the output continues it
    parsed = [recipe.parse(t) for t in texts]
    ok = [i for i, p in enumerate(parsed) if p.ok]
    scored = dict(
        zip(ok, solver_consistency(ctx, backend, [parsed[i].question or "" for i in ok], seed=seed), strict=True)
    )
    consistencies = [scored[i][1] if i in scored else None for i in range(len(texts))]
    claimed = recipe.claims(
        claimer, prompts, texts, parsed, verifier=ctx.verifier, synthesizer_prefill=s.prefill, seed=seed
    )
    verdicts = [
        recipe.claim_verdict(
            claimed[i] if i in claimed else parsed[i].answer, scored[i][0], ctx.verifier, parsed[i].question
        )
        if i in scored
        else None
        for i in range(len(texts))
    ]
    rewards = synthesizer_rewards(
        list(texts),
        list(references),
        consistencies,
        gamma=m.gamma,
        copy_penalty=m.copy_penalty,
        repetition_penalty=m.repetition_penalty,
        threshold=m.repetition_threshold,
        parse=recipe.parse,
        claims=verdicts,
    )
    records = []
    for i in range(len(texts)):
        record = dict(
            parsed=parsed[i],
            solver_answers=scored.get(i, ([], None))[0],
            consistency=consistencies[i],
            reward=rewards[i],
            output=texts[i],
        )
        if i in claimed:
            record["parsed"] = ParsedVariant(parsed[i].question, claimed[i])
            record["claimed_by"] = "claim_stage"
        records.append(record)
    return records
