"""The Synthesizer reward's format term: does an output parse into a question and a claimed answer?

A variant is a ``<question>...</question>`` block followed by a final ``\\boxed{...}``
answer (`parse_variant`); the lenient format for small models lets the answer be missing
but then asks that the question state a problem (`problem_text_flaw`). `format_reward` is
1 for an output that parses and 0 otherwise; the combiner (`ttcs.rewards.synthesizer`)
gives an unparseable output a total of 0.
"""

from __future__ import annotations

import re

from ttcs_verifiers import matching_braces

from ttcs.types import ParsedVariant

QUESTION_OPEN, QUESTION_CLOSE = "<question>", "</question>"
MAX_QUESTION_CHARS = 4000  # ~1000 tokens: the Synthesizer's whole response budget.
MAX_ANSWER_CHARS = 200  # a single scalar answer; anything longer is a derivation, not an answer.
_BOXED = re.compile(r"\\boxed\s*\{")
# What a stated math problem holds in the lenient format: a digit, a math span or a LaTeX command.
_STATES_MATH = re.compile(r"\d|\$|\\[(\[]|\\[A-Za-z]+")
# A template slot left unfilled: a bracketed phrase made only of slot words, such as "(your new problem)",
# "[equation]" or "<insert question here>".
_SLOT_WORDS = ("your|my|the|a|an|new|original|reference|insert|here|final|math|problem|problems|question|questions|"
               "equation|equations|expression|answer|number|text")
_PLACEHOLDER = re.compile(rf"[(\[<]\s*(?:(?:{_SLOT_WORDS})\b[\s.]*)+[)\]>]", re.IGNORECASE)
# What a problem does in the lenient format: it asks (a question mark) or tells the reader what to work out.
_ASKS = re.compile(r"\?|\b(?:compute|calculate|find|solve|evaluate|simplify|determine|express|prove|show)\b",
                   re.IGNORECASE)
# The end of a lenient question: the first line that ends with its question mark (the rest is the model rambling on).
_QUESTION_LINE_END = re.compile(r"\?[ \t]*\n")


def parse_variant(
    text: str,
    *,
    max_question_chars: int = MAX_QUESTION_CHARS,
    max_answer_chars: int = MAX_ANSWER_CHARS,
    lenient: bool = False,
    require_problem: bool = True,
) -> ParsedVariant:
    """Split a Synthesizer output into the variant question and its claimed answer.

    The question is the last complete ``<question>...</question>`` block; the answer is the
    last ``\\boxed{...}`` (nested braces allowed) that comes after that block, so a box
    written inside the question does not count. Both must be non-empty after stripping and
    within the length caps.

    Args:
        text: the raw Synthesizer completion.
        max_question_chars: longest question accepted.
        max_answer_chars: longest answer accepted.
        lenient: for models too small to keep the format (the embedded 135M default): an
            unclosed last ``<question>`` block ends at its first blank line or after its first
            line that ends with a question mark, and the boxed
            answer may be missing (``answer`` None). The question must still state a problem
            (`states_a_problem`): without a claimed answer, that is what keeps text such as
            "(original problem)" or "Solve this: [equation]." from earning a reward.
        require_problem: apply that check in the lenient format (False = ablation: any
            non-empty text in the block parses, as before the check existed).

    Returns:
        A `ParsedVariant`; ``.ok`` is False and ``.reason`` says why when parsing failed.

    Example:
        >>> parse_variant("<question>Compute 7 * 6.</question> \\\\boxed{\\\\frac{84}{2}}").answer
        '\\\\frac{84}{2}'
        >>> parse_variant("<question></question> \\\\boxed{1}").reason
        'empty question block'
    """
    end = text.rfind(QUESTION_CLOSE)
    start = text.rfind(QUESTION_OPEN, 0, end) if end >= 0 else -1
    if lenient and text.rfind(QUESTION_OPEN) > start:  # an unclosed block: it ends at its first blank line
        start = text.rfind(QUESTION_OPEN)
        blank = text.find("\n\n", start + len(QUESTION_OPEN))
        while blank >= 0 and not text[start + len(QUESTION_OPEN) : blank].strip():
            blank = text.find("\n\n", blank + 2)
        end = blank if blank >= 0 else len(text)
        asked = _QUESTION_LINE_END.search(text, start + len(QUESTION_OPEN), end)
        end = asked.start() + 1 if asked else end
    if start < 0:
        return ParsedVariant(None, None, "no complete <question>...</question> block")
    question = text[start + len(QUESTION_OPEN) : end].strip()
    if not question:
        return ParsedVariant(None, None, "empty question block")
    if len(question) > max_question_chars:
        return ParsedVariant(None, None, f"question longer than {max_question_chars} characters")
    if lenient and require_problem and (reason := problem_text_flaw(question)) is not None:
        return ParsedVariant(None, None, reason)
    boxes = list(_BOXED.finditer(text, end + len(QUESTION_CLOSE)))
    if not boxes and lenient:
        return ParsedVariant(question, None)
    if not boxes:
        return ParsedVariant(None, None, "no \\boxed{...} answer after the question block")
    opening = boxes[-1].end() - 1
    closing = matching_braces(text).get(opening)
    answer = None if closing is None else text[opening + 1 : closing]
    if answer is None:
        return ParsedVariant(None, None, "unbalanced braces in \\boxed{...}")
    answer = answer.strip()
    if not answer:
        return ParsedVariant(None, None, "empty \\boxed{} answer")
    if len(answer) > max_answer_chars:
        return ParsedVariant(None, None, f"answer longer than {max_answer_chars} characters")
    return ParsedVariant(question, answer)


def problem_text_flaw(question: str) -> str | None:
    """Why ``question`` does not state a math problem (None when it does): the lenient format's check.

    A problem states its data: it holds a digit, a math span or a LaTeX command. It fills
    every slot of the template: no bracketed placeholder such as "(your new problem)" or
    "[equation]". It asks for something: a question mark, or a verb such as compute, find,
    solve or evaluate (a numbered list of topics or a stray statement asks for nothing).
    These checks are needed only where the Synthesizer may omit its claimed answer
    (``lenient=True``); the strict format asks for that answer instead, as the reference does.

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


def states_a_problem(question: str) -> bool:
    """True when `problem_text_flaw` finds nothing wrong with ``question``."""
    return problem_text_flaw(question) is None


def format_reward(text: str) -> float:
    """1.0 if `parse_variant` accepts ``text``, else 0.0.

    Example:
        >>> format_reward("<question>2 + 2?</question> \\\\boxed{4}"), format_reward("\\\\boxed{4}")
        (1.0, 0.0)
    """
    return 1.0 if parse_variant(text).ok else 0.0
