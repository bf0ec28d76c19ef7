"""Scoring a batch of Synthesizer outputs: shared by the Synthesizer phase and the curriculum phase.

Both phases render the Synthesizer prompt (`synthesizer_prompt`), sample outputs, and score
them the same way (`score_variants`): parse each output, let the current Solver answer every
parsed variant in one backend call (`solver_consistency`), let the Synthesizer state the
answers it left out (`state_claims`, the claim stage) and combine the reward terms
(`ttcs.rewards.synthesizer.synthesizer_rewards`). The Synthesizer phase trains on the
rewards (`ttcs.synthesizer`); the curriculum phase filters by them (`ttcs.curriculum`).
"""

from __future__ import annotations

from collections.abc import Sequence

from ttcs.context import RunContext
from ttcs.generation import GenerationBackend, Sampling
from ttcs.prompts import render
from ttcs.rewards.capability import self_consistency
from ttcs.rewards.claims import claim_verdict
from ttcs.rewards.format import parse_variant
from ttcs.rewards.synthesizer import synthesizer_rewards
from ttcs.types import ParsedVariant, Problem
from ttcs.voting import vote_answer


def synthesizer_prompt(tokenizer, template: str, reference: str | None, *, chat_template="auto",
                       prefill: str = "") -> str:
    """The rendered Synthesizer prompt for one reference question (None for the reference-free template).

    `prefill` starts the Synthesizer's answer for it (e.g. ``"<question>\\n"``): small models
    then only have to write the problem; the prefill is put back in front of each output
    before parsing.
    """
    text = template.format(reference=reference.strip()) if reference is not None else template
    return render(tokenizer, text.strip(), chat_template=chat_template) + prefill


def solver_consistency(ctx: RunContext, backend: GenerationBackend, questions: Sequence[str], *,
                       seed: int) -> list[tuple[list[str | None], float]]:
    """The Solver's answers and self-consistency s on each question, in ONE backend call.

    Sampling follows ``train.synthesizer.solver_*``; answers are read under
    ``train.answer_policy`` (`ttcs.voting.vote_answer`) and s counts unanswered samples
    as a cluster of their own (`ttcs.rewards.capability.self_consistency`).
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


def state_claims(ctx: RunContext, backend: GenerationBackend, prompts: Sequence[str], texts: Sequence[str],
                 questions: Sequence[str], *, seed: int) -> list[str | None]:
    """The claim stage (``train.synthesizer.claim_prefill``): the Synthesizer answers its own variants.

    For models too small to write a boxed answer after the question (the lenient format):
    each variant's context is continued greedily from ``claim_prefill`` for
    ``claim_max_new_tokens`` tokens and read like a Solver answer (``train.answer_policy``).
    The claimed answer enters the reward only through ``train.synthesizer.claim_check``
    (`ttcs.rewards.claims.claim_verdict`); it is also the diagnostic of
    `ttcs.diagnostics.is_well_posed`.
    """
    s = ctx.cfg.train.synthesizer
    if not questions:
        return []
    contexts = claim_prompts(prompts, texts, questions, prefill=s.prefill, claim_prefill=s.claim_prefill)
    outputs = backend.generate(contexts, Sampling(n=1, temperature=0.0, max_new_tokens=s.get("claim_max_new_tokens", 8),
                                                  seed=seed), desc="Synthesizer claims")
    return [vote_answer(s.claim_prefill + group[0], ctx.verifier, ctx.cfg.train.answer_policy) for group in outputs]


def score_variants(ctx: RunContext, backend: GenerationBackend, texts: Sequence[str], references: Sequence[str | None],
                   *, seed: int, prompts: Sequence[str] | None = None,
                   claimer: GenerationBackend | None = None) -> list[dict]:
    """Parse, Solver-score and reward a batch of Synthesizer outputs; one record per output.

    With ``train.synthesizer.claim_prefill`` set and a ``claimer`` (the Synthesizer's
    backend) and the outputs' ``prompts`` given, variants parsed without a claimed answer get
    one from `state_claims`; their records say ``claimed_by: "claim_stage"``. The claimed
    answers then go through ``train.synthesizer.claim_check``
    (`ttcs.rewards.claims.claim_verdict`) before the reward is computed.
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
