"""The Synthesizer reward's claim check: does the variant's claimed answer pass ``train.synthesizer.claim_check``?

`claim_verdict` decides ``off`` / ``exists`` / ``agrees`` (the claim is the Solver's vote);
a variant that fails gets a total of 0 (`ttcs.rewards.synthesizer`). `gives_away` refuses
a question that states its own claimed answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ttcs.voting import majority_vote

CLAIM_CHECKS = ("off", "exists", "agrees")


_NOT_MORE_ARITHMETIC = r"(?![\d.,/]*\s*[-+*/×÷^])"
_STATED_RESULT = re.compile(r"=\s*\$?\s*(-?\d+(?:[.,/]\d+)?)" + _NOT_MORE_ARITHMETIC)
# "The answer is 3." / "Answer: 3" inside the question; not "the answer is 5 more than x"
_STATED_ANSWER = re.compile(r"\b(?:answer|result)\s*(?:is|:|=)\s*\$?\s*(-?\d+(?:[.,/]\d+)?)" + _NOT_MORE_ARITHMETIC
                            + r"(?!\s*(?:more|less|fewer|times|greater|smaller|larger|bigger)\b)", re.IGNORECASE)


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


def claim_verdict(claimed: str | None, answers: Sequence[str | None], verifier, mode: str,
                  question: str | None = None) -> bool | None:
    """Whether a parsed variant's claimed answer passes the claim check ``mode`` (None: ``off``).

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
