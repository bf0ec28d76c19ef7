"""Text helpers shared by the built-in verifiers: find the final answer in a completion.

Everything here is linear in the length of the input (model output can be megabytes of
unbalanced braces), uses no sympy, and never raises on a string.
"""

from __future__ import annotations

import re

# `\boxed{...}`, `\boxed ...` and `\fbox{...}`; the braces are matched separately.
_BOXED_RE = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])\s*")
_BARE_TOKEN_RE = re.compile(r"[^\s$]+")
# Grouping braces only: `\{` and `\}` are literal braces (sets), not groups.
_BRACE_RE = re.compile(r"(?<!\\)[{}]")
# "the (final) answer is X", "final answer: X", "answer: X"; X is the rest of the line.
_PHRASE_RE = re.compile(
    r"\bthe\s+(?:final\s+)?answer\s+is\b[ \t]*:?|\bfinal\s+answer\s*[:：]|\banswer\s*[:：]",
    re.IGNORECASE,
)
_MAX_PHRASE_ANSWER = 500  # characters looked at after a phrase; keeps the scan linear
# A sentence ends at a full stop followed by a space ("5. I hope"), not inside "0.5".
_SENTENCE_END_RE = re.compile(r"\.\s|\.$")
_TEXT_WRAPPER_RE = re.compile(r"\\(?:text|textbf|textrm|textit|mathrm|mathbf|mbox|operatorname)\s*\{([^{}]*)\}")


def matching_braces(text: str) -> dict[int, int]:
    """Map the index of every balanced grouping ``{`` to the index of its ``}``.

    One pass over the brace characters only (a regex finds them), so a string of
    10,000 unclosed braces costs 10,000 steps, not 10,000².
    """
    pairs: dict[int, int] = {}
    stack: list[int] = []
    for match in _BRACE_RE.finditer(text):
        if match.group() == "{":
            stack.append(match.start())
        elif stack:
            pairs[stack.pop()] = match.start()
    return pairs


def last_boxed(text: str) -> str | None:
    """Content of the last well-formed ``\\boxed{...}``, ``\\boxed x`` or ``\\fbox{...}``.

    An unclosed ``\\boxed{`` is skipped in favour of the previous well-formed one.

    Example:
        >>> last_boxed(r"first \\boxed{1}, then \\boxed{\\frac{1}{2}}")
        '\\\\frac{1}{2}'
    """
    if "\\boxed" not in text and "\\fbox" not in text:
        return None
    starts = [m.end() for m in _BOXED_RE.finditer(text)]
    pairs: dict[int, int] | None = None
    for start in reversed(starts):
        if start < len(text) and text[start] == "{":
            if pairs is None:
                pairs = matching_braces(text)
            end = pairs.get(start)
            if end is not None:
                return text[start + 1 : end].strip()
        else:  # `\boxed 5`: one bare token
            token = _BARE_TOKEN_RE.match(text, start)
            if token:
                return token.group().strip()
    return None


def last_answer_phrase(text: str) -> str | None:
    """The answer stated by the last "the answer is X" / "final answer: X" / "answer: X".

    Example:
        >>> last_answer_phrase("Answer: 3. Actually, the final answer is $4$.")
        '4'
    """
    ends = [m.end() for m in _PHRASE_RE.finditer(text)]
    for end in reversed(ends):  # the last phrase that states something wins
        answer = _rest_of_line(text[end : end + _MAX_PHRASE_ANSWER])
        if answer:
            return answer
    return None


def _rest_of_line(rest: str) -> str:
    rest = rest.lstrip(" \t")
    if rest.startswith("\n"):  # "The answer is:\n\n42" -- allow the answer on the next line
        rest = rest.lstrip()
    rest = rest.split("\n", 1)[0]
    end = _SENTENCE_END_RE.search(rest)
    if end:
        rest = rest[: end.start()]
    return strip_decorations(rest)


def strip_decorations(answer: str) -> str:
    """Drop math delimiters, markdown bold and trailing punctuation around an answer."""
    answer = answer.strip()
    for _ in range(3):
        before = answer
        answer = answer.strip().strip("*").strip()
        if answer.startswith("$") and answer.endswith("$"):
            answer = answer.strip("$")
        for left, right in (("\\(", "\\)"), ("\\[", "\\]")):
            if answer.startswith(left) and answer.endswith(right):
                answer = answer[len(left) : -len(right)]
        answer = answer.rstrip(".,;").strip()
        if answer == before:
            break
    return answer


def unwrap_text(answer: str) -> str:
    """Replace ``\\text{x}`` (and ``\\textbf``, ``\\mathrm``, ...) by ``x``, innermost first."""
    for _ in range(8):  # bounded: each round removes one nesting level
        unwrapped = _TEXT_WRAPPER_RE.sub(r"\1", answer)
        if unwrapped == answer:
            break
        answer = unwrapped
    return answer
