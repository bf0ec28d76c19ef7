"""The small-model recipe: the CPU setting's adaptations for models too small to follow the paper's format.

Each hook of the paper recipe (`ttcs.recipes.paper.Recipe`) that it overrides, with its keys
in ``conf/recipe/small_model.yaml`` (docs/cpu-setting.md gives the reasons):

* the Solver prefill (``solver_prefill``): every Solver prompt ends with it, so the reply
  states a number first; ``answer_policy: any`` reads that number (the verifier's fallbacks,
  "the answer is 5") where the paper counts only a boxed answer;
* the lenient format (``lenient_format``, `parse_lenient`): an unclosed ``<question>``
  block ends at its first blank line or its first line ending in a question mark, and the
  boxed answer may be missing; the problem gate (``problem_gate``, `problem_text_flaw`) then
  asks that the question state a problem;
* the claim stage (``claim_prefill``, ``claim_max_new_tokens``, `state_claims`): the
  Synthesizer states the answer of each variant it wrote without one;
* the claim check (``claim_check``, `claim_verdict`): ``agrees`` pays a variant only when the
  Solver's vote reaches its claimed answer and the question does not give it away (`gives_away`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from ttcs.generation import Sampling
from ttcs.recipes.paper import Recipe
from ttcs.rewards.format import (
    MAX_ANSWER_CHARS,
    MAX_QUESTION_CHARS,
    NO_ANSWER,
    QUESTION_OPEN,
    boxed_after,
    question_block,
    read_question,
)
from ttcs.types import ParsedVariant
from ttcs.voting import boxed_answer, majority_vote

if TYPE_CHECKING:  # annotations only
    from ttcs.generation import GenerationBackend
    from ttcs.verify import Verifier

# How a sampled answer enters a vote: boxed = only a \boxed{} answer counts, as in the paper; any = the verifier's
# fallbacks too ("the answer is 5")
ANSWER_POLICIES = ("boxed", "any")
CLAIM_CHECKS = ("off", "exists", "agrees")

# What a stated math problem holds in the lenient format: a digit, a math span or a LaTeX command.
_STATES_MATH = re.compile(r"\d|\$|\\[(\[]|\\[A-Za-z]+")
# A template slot left unfilled: a bracketed phrase made only of slot words, such as "(your new problem)",
# "[equation]" or "<insert question here>".
_SLOT_WORDS = (
    "your|my|the|a|an|new|original|reference|insert|here|final|math|problem|problems|question|questions|"
    "equation|equations|expression|answer|number|text"
)
_PLACEHOLDER = re.compile(rf"[(\[<]\s*(?:(?:{_SLOT_WORDS})\b[\s.]*)+[)\]>]", re.IGNORECASE)
# What a problem does in the lenient format: it asks (a question mark) or tells the reader what to work out.
_ASKS = re.compile(
    r"\?|\b(?:compute|calculate|find|solve|evaluate|simplify|determine|express|prove|show)\b", re.IGNORECASE
)
# The end of a lenient question: the first line that ends with its question mark (the rest is the model rambling on).
_QUESTION_LINE_END = re.compile(r"\?[ \t]*\n")


class SmallModelRecipe(Recipe):
    """The CPU setting's recipe: the Solver prefill, the lenient format with its problem gate, the claim stage
    and the claim check (the keys of ``conf/recipe/small_model.yaml``)."""

    name = "small_model"

    def __init__(self, node: Mapping | None = None):
        super().__init__(node)
        self.answer_policy = self.node.answer_policy
        if self.answer_policy not in ANSWER_POLICIES:
            raise ValueError(f"unknown answer policy {self.answer_policy!r}; choose one of {ANSWER_POLICIES}")
        self.lenient_format = self.node.lenient_format
        self.problem_gate = self.node.problem_gate
        self.claim_prefill = self.node.claim_prefill or ""
        self.claim_max_new_tokens = self.node.claim_max_new_tokens
        self.claim_check = self.node.claim_check
        if self.claim_check not in CLAIM_CHECKS:
            raise ValueError(f"unknown claim check {self.claim_check!r}; choose one of {CLAIM_CHECKS}")
        # Without an answer in the lenient format a variant still counts: the filter does not ask for one
        self.requires_answer = not self.lenient_format

    @property
    def solver_prefill(self) -> str:
        """``solver_prefill``: the small model states a number after it, so its answer comes first."""
        return self.node.solver_prefill or ""

    def read_stated(self, text: str, verifier: Verifier) -> str | None:
        """The answer ``text`` states under ``answer_policy``: its last box, or (``any``) the verifier's reading.

        Example:
            >>> from ttcs.verify import get_verifier
            >>> SmallModelRecipe({"answer_policy": "any"}).read_stated("so the answer is 5", get_verifier("math"))
            '5'
        """
        return verifier.extract(text) if self.answer_policy == "any" else boxed_answer(text)

    def read_answer(self, completion: str, verifier: Verifier) -> str | None:
        """The answer a Solver completion gives a vote: what its whole reply (prefill first) states."""
        return self.read_stated(self.solver_reply(completion), verifier)

    def parse(self, text: str) -> ParsedVariant:
        """The lenient format with the problem gate (`parse_lenient`), or the strict one without ``lenient_format``."""
        return parse_lenient(text, problem_gate=self.problem_gate) if self.lenient_format else super().parse(text)

    def claimer(self, synthesizer: Callable[[], GenerationBackend]) -> GenerationBackend | None:
        """The Synthesizer's backend, which states the claims (with ``claim_prefill`` set; else none)."""
        return synthesizer() if self.claim_prefill else None

    def claims(
        self,
        claimer: GenerationBackend | None,
        prompts: Sequence[str] | None,
        texts: Sequence[str],
        parsed: Sequence[ParsedVariant],
        *,
        verifier: Verifier,
        synthesizer_prefill: str,
        seed: int,
    ) -> dict[int, str | None]:
        """The claim stage: each parsed variant without a claimed answer gets one from the Synthesizer (`state_claims`).

        Needs the claimer and the outputs' prompts; without either, no claims are stated.
        """
        if not self.claim_prefill or claimer is None or prompts is None:
            return {}
        missing = [i for i, p in enumerate(parsed) if p.ok and p.answer is None]
        stated = state_claims(
            claimer,
            [prompts[i] for i in missing],
            [texts[i] for i in missing],
            [parsed[i].question or "" for i in missing],
            prefill=synthesizer_prefill,
            claim_prefill=self.claim_prefill,
            max_new_tokens=self.claim_max_new_tokens,
            read=lambda text: self.read_stated(text, verifier),
            seed=seed,
        )
        return dict(zip(missing, stated, strict=True))

    def claim_verdict(
        self, claimed: str | None, answers: Sequence[str | None], verifier: Verifier, question: str | None
    ) -> bool | None:
        """``claim_check`` on a parsed variant's claimed answer (`claim_verdict`)."""
        return claim_verdict(claimed, answers, verifier, self.claim_check, question=question)


def parse_lenient(
    text: str,
    *,
    problem_gate: bool = True,
    max_question_chars: int = MAX_QUESTION_CHARS,
    max_answer_chars: int = MAX_ANSWER_CHARS,
) -> ParsedVariant:
    """`ttcs.rewards.format.parse_variant` for models too small to keep the format (the embedded 135M default).

    An unclosed last ``<question>`` block ends at its first blank line or after its first
    line that ends with a question mark, and the boxed answer may be missing (``answer``
    None). The question must still state a problem (`problem_text_flaw`): without a claimed
    answer, that is what keeps text such as "(original problem)" or "Solve this: [equation]."
    from earning a reward. ``problem_gate=False`` (ablation): any non-empty text in the block
    parses.

    Example:
        >>> parse_lenient("<question>\\nWhat is 2 + 5?\\nThe answer").question, parse_lenient("<question>\\n(your new problem)").reason
        ('What is 2 + 5?', 'the question holds a template placeholder')
    """
    start, end = question_block(text)
    if text.rfind(QUESTION_OPEN) > start:  # an unclosed block: it ends at its first blank line
        start = text.rfind(QUESTION_OPEN)
        blank = text.find("\n\n", start + len(QUESTION_OPEN))
        while blank >= 0 and not text[start + len(QUESTION_OPEN) : blank].strip():
            blank = text.find("\n\n", blank + 2)
        end = blank if blank >= 0 else len(text)
        asked = _QUESTION_LINE_END.search(text, start + len(QUESTION_OPEN), end)
        end = asked.start() + 1 if asked else end
    question, reason = read_question(text, start, end, max_question_chars)
    if question is None:
        return ParsedVariant(None, None, reason)
    if problem_gate and (reason := problem_text_flaw(question)) is not None:
        return ParsedVariant(None, None, reason)
    answer, reason = boxed_after(text, end, max_answer_chars)
    if reason == NO_ANSWER:
        return ParsedVariant(question, None)
    return ParsedVariant(question, answer) if answer is not None else ParsedVariant(None, None, reason)


def problem_text_flaw(question: str) -> str | None:
    """Why ``question`` does not state a math problem (None when it does): the lenient format's check.

    A problem states its data: it holds a digit, a math span or a LaTeX command. It fills
    every slot of the template: no bracketed placeholder such as "(your new problem)" or
    "[equation]". It asks for something: a question mark, or a verb such as compute, find,
    solve or evaluate (a numbered list of topics or a stray statement asks for nothing).
    These checks are needed only where the Synthesizer may omit its claimed answer
    (the lenient format, `parse_lenient`); the strict format asks for that answer instead, as the reference does.

    Example:
        >>> problem_text_flaw("How many legs do 3 cats have?") is None
        True
        >>> problem_text_flaw("Please solve this problem: [equation].")
        'the question holds a template placeholder'
        >>> problem_text_flaw("Your question")
        'the question states no numbers or math'
        >>> problem_text_flaw("3. Make a brace frame")
        'the question asks for nothing'
    """
    if _PLACEHOLDER.search(question):
        return "the question holds a template placeholder"
    if not _STATES_MATH.search(question):
        return "the question states no numbers or math"
    if not _ASKS.search(question):
        return "the question asks for nothing"
    return None


def claim_prompts(
    prompts: Sequence[str], texts: Sequence[str], questions: Sequence[str], *, prefill: str, claim_prefill: str
) -> list[str]:
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


def state_claims(
    claimer: GenerationBackend,
    prompts: Sequence[str],
    texts: Sequence[str],
    questions: Sequence[str],
    *,
    prefill: str,
    claim_prefill: str,
    max_new_tokens: int,
    read: Callable[[str], str | None],
    seed: int,
) -> list[str | None]:
    """The claim stage: the Synthesizer (``claimer``) answers its own variants.

    For models too small to write a boxed answer after the question (the lenient format):
    each variant's context (`claim_prompts`) is continued greedily from ``claim_prefill`` for
    ``max_new_tokens`` tokens and ``read`` like a Solver answer (``answer_policy``). The
    claimed answer enters the reward only through ``claim_check`` (`claim_verdict`); it is
    also the diagnostic of `ttcs.diagnostics.is_well_posed`.
    """
    if not questions:
        return []
    contexts = claim_prompts(prompts, texts, questions, prefill=prefill, claim_prefill=claim_prefill)
    outputs = claimer.generate(
        contexts, Sampling(n=1, temperature=0.0, max_new_tokens=max_new_tokens, seed=seed), desc="Synthesizer claims"
    )
    return [read(claim_prefill + group[0]) for group in outputs]


_NOT_MORE_ARITHMETIC = r"(?![\d.,/]*\s*[-+*/×÷^])"
_STATED_RESULT = re.compile(r"=\s*\$?\s*(-?\d+(?:[.,/]\d+)?)" + _NOT_MORE_ARITHMETIC)
# "The answer is 3." / "Answer: 3" inside the question; not "the answer is 5 more than x"
_STATED_ANSWER = re.compile(
    r"\b(?:answer|result)\s*(?:is|:|=)\s*\$?\s*(-?\d+(?:[.,/]\d+)?)"
    + _NOT_MORE_ARITHMETIC
    + r"(?!\s*(?:more|less|fewer|times|greater|smaller|larger|bigger)\b)",
    re.IGNORECASE,
)


def gives_away(question: str, claimed: str | None, verifier) -> bool:
    """True when ``question`` states its own claimed answer as a result: "... 9 + 6 = 15 ..." claimed 15.

    The published prompt forbids a question that gives its answer away; `claim_verdict`'s
    ``agrees`` enforces it, because a small Solver copies such a number and its vote then
    confirms the claim of a text that asks nothing. A number counts right after "=" or after
    "the answer is" / "answer:" (and not followed by more arithmetic or by "more", "less", …).

    Example:
        >>> class V:
        ...     def equivalent(self, a, b): return a == b
        >>> gives_away("Solve the equation 9 + 6 = 15 for x.", "15", V()), gives_away("If 2x = 10, find x.", "5", V())
        (True, False)
    """
    if claimed is None:
        return False
    stated = [m.group(1) for pattern in (_STATED_RESULT, _STATED_ANSWER) for m in pattern.finditer(question)]
    return any(bool(verifier.equivalent(number, claimed)) for number in stated)


def claim_verdict(
    claimed: str | None, answers: Sequence[str | None], verifier, mode: str, question: str | None = None
) -> bool | None:
    """Whether a parsed variant's claimed answer passes the claim check ``mode`` (``claim_check``; None: ``off``).

    - ``off``: not checked (the claimed answer is a diagnostic only);
    - ``exists``: a claimed answer must exist, as in the published method, whose format reward
      needs a boxed answer after the question;
    - ``agrees``: it must also be the answer of the Solver's vote: of the one largest
      cluster of its samples, which must hold at least two of them. A variant on which the
      vote does not reach the Synthesizer's own answer earns nothing, and neither does one
      with no vote to reach: two clusters of equal size, or every sample saying something
      else. With ``question`` given, the question must not state the claim as a result
      (`gives_away`). Not in the published method, which never compares the two: the choice
      of the CPU setting, where the Solver states a number for any text and a split vote on
      text that asks nothing would otherwise earn a high s.

    Example:
        >>> class V:
        ...     def canonical(self, a): return a
        ...     def equivalent(self, a, b): return a == b
        >>> claim_verdict("5", ["5", "3", "5", None], V(), "agrees"), claim_verdict("3", ["5", "3", "5"], V(), "agrees")
        (True, False)
        >>> claim_verdict("3", ["5", "3", "5", "3"], V(), "agrees"), claim_verdict("3", ["5", "3", "4", "6"], V(), "agrees")
        (False, False)
        >>> claim_verdict(None, ["5"], V(), "exists"), claim_verdict("7", ["5"], V(), "exists")
        (False, True)
    """
    if mode not in CLAIM_CHECKS:
        raise ValueError(f"unknown claim check {mode!r}; choose one of {CLAIM_CHECKS}")
    if mode == "off":
        return None
    if claimed is None or not str(claimed).strip():
        return False
    if mode == "exists":
        return True
    vote = majority_vote(list(answers), verifier)
    tied = len(vote.clusters) > 1 and len(vote.clusters[1]) == vote.count
    if vote.count < 2 or tied:
        return False
    if question is not None and gives_away(question, claimed, verifier):
        return False
    return bool(verifier.equivalent(vote.label, claimed))
