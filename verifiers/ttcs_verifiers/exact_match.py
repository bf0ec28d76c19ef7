"""The ``exact_match`` verifier: short free-text answers compared after normalisation.

Normalisation (SQuAD-style): unwrap ``\\text{}``, casefold, drop punctuation and the
articles a/an/the, collapse whitespace.

Example:
    >>> from ttcs_verifiers.exact_match import ExactMatchVerifier
    >>> v = ExactMatchVerifier()
    >>> v.extract("Thinking...\\nThe answer is The Eiffel Tower.")
    'The Eiffel Tower'
    >>> v.equivalent("the eiffel tower", r"\\text{Eiffel Tower!}")
    True
"""

from __future__ import annotations

import re
import unicodedata

from ttcs_verifiers._text import last_answer_phrase, last_boxed, strip_decorations, unwrap_text

_ARTICLES_RE = re.compile(r"\b(?:a|an|the)\b")
_MAX_LINE = 1000  # the last-line fallback looks at most this many characters


def normalise(answer: str) -> str:
    """``\\text{The  Eiffel-Tower!}`` -> ``"eiffel tower"``."""
    answer = unwrap_text(strip_decorations(answer)).casefold()
    answer = "".join(" " if unicodedata.category(char).startswith("P") else char for char in answer)
    answer = answer.replace("$", " ").replace("\\", " ")
    return " ".join(_ARTICLES_RE.sub(" ", answer).split())


class ExactMatchVerifier:
    """Extracts a short answer and compares normalised strings."""

    name = "exact_match"

    def extract(self, completion: str) -> str | None:
        """``\\boxed{}`` content, else the last "the answer is X" / "Answer: X", else the last line."""
        if not isinstance(completion, str):
            return None
        found = last_boxed(completion) or last_answer_phrase(completion)
        if found:
            return found
        tail = completion[-_MAX_LINE:].strip()
        last_line = strip_decorations(tail.rsplit("\n", 1)[-1]) if tail else ""
        return last_line or None

    def equivalent(self, a: str, b: str) -> bool:
        """Equal normalised strings (and not empty)."""
        key = self.canonical(a)
        return key is not None and key == self.canonical(b)

    def canonical(self, answer: str) -> str | None:
        """The normalised string, or None when nothing is left of it."""
        if not isinstance(answer, str):
            return None
        return normalise(answer) or None
