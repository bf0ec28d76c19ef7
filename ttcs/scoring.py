"""Scoring against gold answers for a set whose gold answers are numbers (data config ``numeric_answer``).

On such a set (the built-in arith sets) an answer is a number. A completion that restates the
question (``The answer is 7 × 9.`` for 63, ``\\boxed{6 \\times 4}`` for 24) has computed nothing:
scored by value it would count as correct, and a Solver that learned to restate every question
would read near 100% while answering none (docs/health.md). `scoring_verifier` wraps the set's
verifier so that such an answer is neither correct for a gold number nor, in the maj@k vote,
the same answer as the number.

Example:
    >>> from ttcs.verify import get_verifier, matches_gold
    >>> v = scoring_verifier(get_verifier("math"), numeric_answer=True)
    >>> matches_gold(v, "63", "7 × 9"), matches_gold(v, "63", "63"), matches_gold(v, "\\\\frac{3}{4}", "0.75")
    (False, True, True)
"""

from __future__ import annotations

import re
from collections.abc import Hashable

from ttcs.verify import Verifier, extract_for_scoring, matches_gold

# A number as written: an integer, a decimal, ``a/b`` or ``\frac{a}{b}``, a sign, thousands commas,
# a ``$``, ``x =`` or a unit around it. For verifiers without an `is_number` of their own.
_NUMBER_RE = re.compile(
    r"^\s*(?:[A-Za-z]\s*=\s*)?\$?\s*[-+]?(?:\d[\d,]*(?:\.\d+)?(?:\s*/\s*\d+)?|\.\d+)\s*[A-Za-z%]*\s*\$?\s*$"
)


def is_number(verifier: Verifier, answer: str | None) -> bool:
    """Whether `answer` is written as a number (``63``, ``-\\frac{3}{4}``, ``0.75``), not as an expression
    that evaluates to one (``7 \\times 9``, ``2^3``, ``\\sqrt{4}``). Uses the verifier's ``is_number`` when it
    has one."""
    if answer is None:
        return False
    check = getattr(verifier, "is_number", None)
    return bool(check(answer)) if callable(check) else bool(_NUMBER_RE.match(answer))


class NumericAnswers:
    """A verifier for a set whose gold answers are numbers (data config ``numeric_answer: true``).

    An answer to such a question is a number: one written as an unevaluated expression
    (``7 \\times 9`` for 63, a restated question) is not correct for a gold number, and is not the
    same answer as the number in a vote. Everything else is the wrapped verifier's.
    """

    def __init__(self, verifier: Verifier) -> None:
        self.verifier = verifier
        self.name = verifier.name

    def extract(self, completion: str) -> str | None:
        return self.verifier.extract(completion)

    def extract_for_scoring(self, completion: str) -> str | None:
        return extract_for_scoring(self.verifier, completion)

    def equivalent(self, a: str, b: str) -> bool:
        if is_number(self.verifier, a) != is_number(self.verifier, b):
            return False
        return self.verifier.equivalent(a, b)

    def canonical(self, answer: str) -> Hashable | None:
        key = self.verifier.canonical(answer)
        return key if key is None or is_number(self.verifier, answer) else ("expression", key)

    def is_correct(self, gold: str, answer: str) -> bool:
        if is_number(self.verifier, gold) and not is_number(self.verifier, answer):
            return False
        return matches_gold(self.verifier, gold, answer)


def scoring_verifier(verifier: Verifier, numeric_answer: bool) -> Verifier:
    """The verifier evaluation scores with: `NumericAnswers` around it when the set's answers are numbers."""
    return NumericAnswers(verifier) if numeric_answer else verifier
