"""The ``math`` verifier: final answers of math problems, compared symbolically and safely.

Three tiers, cheapest first, so that the symbolic checker is rarely needed:

1. plain string equality;
2. `canonical` keys: integers, decimals and simple fractions become exact
   `fractions.Fraction` values in pure Python (``033``, ``1,000``, ``\\$5``, ``5^\\circ``,
   ``\\frac{1}{2}``, ``0.5``, ``1/2`` ...);
3. in a sympy subprocess with a hard deadline, after a pre-screen that refuses inputs
   known to hang sympy (`ttcs_verifiers._safe`): each distinct answer is parsed once
   (math-verify's LaTeX -> sympy) and evaluated to a numeric fingerprint; answers whose
   values clearly differ are unequal, and only the rest go to math-verify's ``verify``
   (`ttcs_verifiers._worker`).

Example:
    >>> from ttcs_verifiers.math import MathVerifier
    >>> v = MathVerifier()
    >>> v.extract(r"... so the answer is \\boxed{\\dfrac{1}{2}}.")
    '\\\\dfrac{1}{2}'
    >>> v.equivalent("0.5", r"\\frac12"), v.canonical("033")
    (True, Fraction(33, 1))
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from fractions import Fraction

from ttcs_verifiers._safe import SymbolicWorker, screen
from ttcs_verifiers._text import last_answer_phrase, last_boxed, strip_decorations, unwrap_text
from ttcs_verifiers._worker import decide

logger = logging.getLogger(__name__)

_MAX_CANONICAL_CHARS = 1100
_ROUNDING = Fraction(1, 10**6)  # math-verify compares decimals rounded to 6 places

# A LaTeX command name ends at the first non-letter: `\dfrac12` is `\dfrac` then `12`.
_SPACING_RE = re.compile(r"\\[,;:! ]|~|\\(?:q?quad|left|right|displaystyle)(?![A-Za-z])")
_DEGREE_RE = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|\\(?:circ|degree)(?![A-Za-z])|°")
_PERCENT_RE = re.compile(r"\s*(?:\\?%|\b(?:percent|percentage|pct)\b)")
_FRAC_ALIAS_RE = re.compile(r"\\[dt]frac(?![A-Za-z])")
_WHOLE_TEXT_RE = re.compile(r"^\\(?:text|textbf|mathrm|mbox)\s*\{([^{}]*)\}$")
_TEXT_UNIT_RE = re.compile(r"\s*\\(?:text|mbox|mathrm)\s*\{\s*[A-Za-z][A-Za-z .]*\}(?:\s*\^\s*\{?\d\}?)?$")
_UNITS = (
    "cm|mm|m|km|in|inch|inches|ft|feet|foot|yd|yards?|mi|miles?|g|grams?|kg|mg|lbs?|pounds?|oz|ounces?"
    "|s|sec|seconds?|min|minutes?|h|hr|hrs|hours?|days?|weeks?|months?|years?|degrees?|deg"
    "|units?|dollars?|cents?|meters?|metres?|liters?|litres?|ml|mph|sq|square|cubic|people|students"
)
_WORD_UNIT_RE = re.compile(r"\s+(?:" + _UNITS + r")\.?(?:\s*\^\s*\{?\d\}?)?$")
_ASSIGNMENT_RE = re.compile(r"^[A-Za-z](?:_\{?\w+\}?)?\s*=\s*([^=<>]+)$")

_INTEGER_RE = re.compile(r"^[+-]?\d+$")
_THOUSANDS_RE = re.compile(r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_DECIMAL_RE = re.compile(r"^[+-]?(?:\d+\.\d*|\.\d+)$")
_SLASH_RE = re.compile(r"^([+-]?\d+)\s*/\s*([+-]?\d+)$")
_FRAC_RE = re.compile(r"^([+-]?)\\frac\s*(?:\{\s*([+-]?\d+)\s*\}|(\d))\s*(?:\{\s*([+-]?\d+)\s*\}|(\d))$")


_WORKER: SymbolicWorker | None = None  # one sympy subprocess per Python process, started lazily


def _shared_worker() -> SymbolicWorker:
    global _WORKER
    if _WORKER is None:
        _WORKER = SymbolicWorker()
        atexit.register(_WORKER.close)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_WORKER.reset_after_fork)
    return _WORKER


class _LRU:
    """A small thread-safe least-recently-used map."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> object | None:
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: Hashable, value: object) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            if len(self._items) > self.size:
                self._items.popitem(last=False)


class MathVerifier:
    """Extracts and compares final answers of math problems.

    Args:
        timeout: seconds allowed for one symbolic comparison; past it `equivalent` returns
            False (the worker process is killed and restarted).
        cache_size: how many symbolic verdicts, and how many parsed answers, this
            instance remembers (each distinct answer is parsed once while remembered).
    """

    name = "math"

    def __init__(self, timeout: float = 2.0, cache_size: int = 65536) -> None:
        self.timeout = float(timeout)
        self.cache_size = cache_size
        self._verdicts = _LRU(cache_size)  # (a, b) -> bool
        self._descriptions = _LRU(cache_size)  # answer -> what `_worker.describe` says of its parse
        self._worker = _shared_worker()

    def extract(self, completion: str) -> str | None:
        """The last ``\\boxed{}``/``\\fbox{}`` content, else the last "the answer is X"."""
        if not isinstance(completion, str):
            return None
        return last_boxed(completion) or last_answer_phrase(completion) or None

    def canonical(self, answer: str) -> Fraction | None:
        """An exact `Fraction` for plain numbers (``033``, ``1,000``, ``-\\frac{1}{2}``, ``0.5``), else None."""
        if not isinstance(answer, str) or len(answer) > _MAX_CANONICAL_CHARS:
            return None
        try:
            return _number(_strip_number_decorations(answer))
        except (ValueError, ZeroDivisionError, OverflowError):  # e.g. int() of >4300 digits
            return None

    def equivalent(self, a: str, b: str) -> bool:
        """Whether `a` and `b` are the same answer. Never raises; returns within ~`timeout`."""
        try:
            return self._equivalent(a, b)
        except Exception:  # hostile input must not crash a training run; the reason is logged
            logger.debug("equivalent(%.80r, %.80r) failed", a, b, exc_info=True)
            return False

    def warm_up(self) -> bool:
        """Start the symbolic worker now rather than at the first symbolic comparison."""
        return self._worker.warm_up()

    def _equivalent(self, a: str, b: str) -> bool:
        if not isinstance(a, str) or not isinstance(b, str):
            return False
        a, b = a.strip(), b.strip()
        if not a or not b:
            return False
        if a == b:
            return True
        key_a, key_b = self.canonical(a), self.canonical(b)
        if key_a is not None and key_b is not None:
            if key_a == key_b:
                return True
            if abs(key_a - key_b) >= _ROUNDING or "." not in a + b:
                return False  # two exact numbers that differ, and no decimal rounding can join them
        a, b = _for_parser(a), _for_parser(b)
        if a == b:
            return True
        pair = (a, b) if a <= b else (b, a)
        verdict = self._verdicts.get(pair)
        if verdict is None:
            verdict = self._symbolic(a, b)
            self._verdicts.put(pair, verdict)  # timeouts too: the same pair gets the same answer
        return verdict

    def _symbolic(self, a: str, b: str) -> bool:
        for answer in (a, b):
            reason = screen(answer)
            if reason:
                logger.debug("not comparing %.80r symbolically: %s", answer, reason)
                return False
        deadline = time.monotonic() + self.timeout
        description_a = self._describe(a, deadline)
        if description_a["kind"] == "empty":
            return False
        verdict = decide(description_a, self._describe(b, deadline))
        if verdict is not None:
            return verdict  # follows from the parses alone (see `ttcs_verifiers._worker`)
        reply = self._worker.request("compare", deadline - time.monotonic(), a=a, b=b)
        if reply is None:
            logger.debug("no symbolic verdict on %.80r vs %.80r (timeout or error): False", a, b)
            return False
        return bool(reply.get("equal"))

    def _describe(self, answer: str, deadline: float) -> dict:
        """The parse of `answer` in brief, from the cache, `canonical` or the worker."""
        description = self._descriptions.get(answer)
        if description is not None:
            return description
        value = _as_float(self.canonical(answer))
        if value is not None:
            # No "text": a rational's str never equals a symbol's name (see `_worker.decide`).
            description = {"kind": "number", "fingerprint": [value, 0.0]}
        else:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return {"kind": "empty"}  # out of time for this comparison; not the answer's fault
            description = self._worker.request("describe", remaining, a=answer)
            if description is None:
                logger.debug("could not parse %.80r in time: unequal to anything", answer)
                description = {"kind": "empty"}
            description.pop("id", None)
        self._descriptions.put(answer, description)
        return description


def _as_float(number: Fraction | None) -> float | None:
    if number is None:
        return None
    try:
        return float(number)
    except OverflowError:
        return None


def _for_parser(answer: str) -> str:
    """Light clean-up before LaTeX parsing; math-verify normalises units, ``\\text`` etc. itself."""
    answer = strip_decorations(answer.replace("\n", " "))
    answer = _PERCENT_RE.sub("", _FRAC_ALIAS_RE.sub(r"\\frac", answer))
    return answer.replace("\\$", "").strip()


def _strip_number_decorations(answer: str) -> str:
    """``x = \\$1{,}000 \\text{ cm}`` -> ``1,000``: drop everything that cannot change a number."""
    answer = strip_decorations(answer)
    answer = _SPACING_RE.sub(" ", answer).replace("{,}", ",").replace("\\$", "").replace("$", "")
    answer = _DEGREE_RE.sub("", _PERCENT_RE.sub("", answer)).strip()
    whole = _WHOLE_TEXT_RE.match(answer)
    if whole:
        answer = whole.group(1).strip()
    answer = _WORD_UNIT_RE.sub("", _TEXT_UNIT_RE.sub("", answer)).strip()
    answer = unwrap_text(_FRAC_ALIAS_RE.sub(r"\\frac", answer)).strip()
    assignment = _ASSIGNMENT_RE.match(answer)
    if assignment:
        answer = assignment.group(1).strip()
    return answer


def _number(text: str) -> Fraction | None:
    if _INTEGER_RE.match(text):
        return Fraction(int(text))
    if _THOUSANDS_RE.match(text):
        return Fraction(text.replace(",", ""))
    if _DECIMAL_RE.match(text):
        return Fraction(text)
    slash = _SLASH_RE.match(text)
    if slash:
        return Fraction(int(slash.group(1)), int(slash.group(2)))
    frac = _FRAC_RE.match(text)
    if frac:
        sign, num_braced, num_digit, den_braced, den_digit = frac.groups()
        value = Fraction(int(num_braced or num_digit), int(den_braced or den_digit))
        return -value if sign == "-" else value
    return None
