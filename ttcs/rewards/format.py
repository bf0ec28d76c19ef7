"""The Synthesizer reward's format term: does an output parse into a question and a claimed answer?

A variant is a ``<question>...</question>`` block followed by a final ``\\boxed{...}``
answer (`parse_variant`, the published method's strict format). The format term is 1 for an
output that parses and 0 otherwise; the combiner (`ttcs.rewards.synthesizer`) gives an
unparseable output a total of 0. `question_block`, `read_question` and `boxed_after` are the
steps of the parse, which the small-model recipe's lenient parse reuses
(`ttcs.recipes.small_model.parse_lenient`).
"""

from __future__ import annotations

import re

from ttcs_verifiers import matching_braces

from ttcs.types import ParsedVariant

QUESTION_OPEN, QUESTION_CLOSE = "<question>", "</question>"
MAX_QUESTION_CHARS = 4000  # ~1000 tokens: the Synthesizer's whole response budget.
MAX_ANSWER_CHARS = 200  # a single scalar answer; anything longer is a derivation, not an answer.
NO_ANSWER = "no \\boxed{...} answer after the question block"
_BOXED = re.compile(r"\\boxed\s*\{")


def parse_variant(
    text: str,
    *,
    max_question_chars: int = MAX_QUESTION_CHARS,
    max_answer_chars: int = MAX_ANSWER_CHARS,
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

    Returns:
        A `ParsedVariant`; ``.ok`` is False and ``.reason`` says why when parsing failed.

    Example:
        >>> parse_variant("<question>Compute 7 * 6.</question> \\\\boxed{\\\\frac{84}{2}}").answer
        '\\\\frac{84}{2}'
        >>> parse_variant("<question></question> \\\\boxed{1}").reason
        'empty question block'
    """
    start, end = question_block(text)
    question, reason = read_question(text, start, end, max_question_chars)
    if question is None:
        return ParsedVariant(None, None, reason)
    answer, reason = boxed_after(text, end, max_answer_chars)
    return ParsedVariant(question, answer) if answer is not None else ParsedVariant(None, None, reason)


def question_block(text: str) -> tuple[int, int]:
    """Where the last complete ``<question>...</question>`` block opens and closes (start -1: none)."""
    end = text.rfind(QUESTION_CLOSE)
    start = text.rfind(QUESTION_OPEN, 0, end) if end >= 0 else -1
    return start, end


def read_question(text: str, start: int, end: int, max_question_chars: int) -> tuple[str | None, str | None]:
    """The question between ``start`` (its ``<question>``) and ``end``, stripped: (question, None) or (None, why)."""
    if start < 0:
        return None, "no complete <question>...</question> block"
    question = text[start + len(QUESTION_OPEN) : end].strip()
    if not question:
        return None, "empty question block"
    if len(question) > max_question_chars:
        return None, f"question longer than {max_question_chars} characters"
    return question, None


def boxed_after(text: str, end: int, max_answer_chars: int) -> tuple[str | None, str | None]:
    """The last ``\\boxed{...}`` answer after the question block closing at ``end``: (answer, None) or (None, why).

    Without any box the reason is `NO_ANSWER`.
    """
    boxes = list(_BOXED.finditer(text, end + len(QUESTION_CLOSE)))
    if not boxes:
        return None, NO_ANSWER
    opening = boxes[-1].end() - 1
    closing = matching_braces(text).get(opening)
    answer = None if closing is None else text[opening + 1 : closing]
    if answer is None:
        return None, "unbalanced braces in \\boxed{...}"
    answer = answer.strip()
    if not answer:
        return None, "empty \\boxed{} answer"
    if len(answer) > max_answer_chars:
        return None, f"answer longer than {max_answer_chars} characters"
    return answer, None
