"""The ``multiple_choice`` verifier: answers are option letters A-J.

Example:
    >>> from ttcs_verifiers.multiple_choice import MultipleChoiceVerifier
    >>> v = MultipleChoiceVerifier()
    >>> v.extract("Comparing the options, the answer is (c).")
    'C'
    >>> v.equivalent("(B)", "b"), v.canonical(r"\\text{D}")
    (True, 'D')
"""

from __future__ import annotations

import re

from ttcs_verifiers._text import last_boxed, strip_decorations, unwrap_text

# "answer is B", "Answer: (C)", "answer is option **d**" -- a phrase, then one letter.
# A lowercase letter counts only in parentheses: "the answer is a prime" names no option.
_PHRASE_RE = re.compile(
    r"\banswer(?:\s+is|\s*[:：])\s*(?:option\s+|choice\s+)?\**\s*"
    r"(?:[(\[]([A-Ja-j])[)\]]|((?-i:[A-J]))(?![A-Za-z'\d]))",
    re.IGNORECASE,
)
_PAREN_RE = re.compile(r"\(([A-Ja-j])\)")  # "(B)" / "(b)"
_PUNCT_RE = re.compile(r"(?<![A-Za-z\\])([A-J])[.)](?=\s|$)")  # "B." / "B)" at a word boundary
_LETTER_RE = re.compile(r"^[(\[]?\s*(?:option\s+|choice\s+)?([A-Ja-j])\s*[)\].:]?$", re.IGNORECASE)


def _letter(answer: str) -> str | None:
    """``B``, ``(b)``, ``B.``, ``\\text{B}``, ``$\\textbf{(B)}$`` -> ``"B"``; anything else -> None."""
    answer = unwrap_text(strip_decorations(answer))
    answer = strip_decorations(answer)
    match = _LETTER_RE.match(answer) if len(answer) <= 40 else None
    return match.group(1).upper() if match else None


def _last(pattern: re.Pattern[str], text: str) -> str | None:
    found = None
    for match in pattern.finditer(text):
        found = match.group(match.lastindex or 0)
    return found.upper() if found else None


class MultipleChoiceVerifier:
    """Extracts the chosen option letter (A-J) and compares letters."""

    name = "multiple_choice"

    def extract(self, completion: str) -> str | None:
        """The option letter, from ``\\boxed{}``, then "answer is X", then "(X)", then "X." / "X)"."""
        if not isinstance(completion, str):
            return None
        boxed = last_boxed(completion)
        if boxed is not None and _letter(boxed):
            return _letter(boxed)
        for pattern in (_PHRASE_RE, _PAREN_RE, _PUNCT_RE):
            letter = _last(pattern, completion)
            if letter:
                return letter
        return _letter(completion)

    def equivalent(self, a: str, b: str) -> bool:
        """Same option letter, ignoring case and decorations like ``(B)`` or ``B.``."""
        if not isinstance(a, str) or not isinstance(b, str):
            return False
        letter = _letter(a)
        return letter is not None and letter == _letter(b)

    def canonical(self, answer: str) -> str | None:
        """The uppercase option letter, or None when `answer` is not one."""
        return _letter(answer) if isinstance(answer, str) else None
