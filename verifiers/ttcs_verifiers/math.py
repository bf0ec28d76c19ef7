"""The ``math`` verifier: final answers of math problems, compared symbolically and safely.

Four tiers, cheapest first, so that the symbolic checker is rarely needed:

1. plain string equality;
2. `canonical` keys: integers, decimals and simple fractions become exact
   `fractions.Fraction` values in pure Python (``033``, ``1,000``, ``1 000``, ``\\$5``,
   ``5^\\circ``, ``\\frac{1}{2}``, ``0.5``, ``1/2``, the mixed number ``1 1/4`` ...);
3. exact forms (`ttcs_verifiers._forms`), also pure Python: the normal form of an
   interval or union of intervals, a tuple, set or matrix of rationals, a polynomial (or
   an assignment ``y = 2x+3``), a combination of ``\\pi`` and square roots, one word in
   ``\\text{}``. Two forms decide most pairs by themselves; numbers among them are
   compared by value, as in tier 4, but valued here;
4. in a sympy subprocess with a hard deadline, after a pre-screen that refuses inputs
   known to hang sympy (`ttcs_verifiers._safe`): each distinct answer is parsed once
   (math-verify's LaTeX -> sympy) and described (its structure, its value when it is a
   number, a numeric fingerprint otherwise); numbers are decided from their values, and
   most other unequal pairs from their fingerprints; only the rest go to the worker's
   comparison (`ttcs_verifiers._worker`: a structure check, then math-verify's ``verify``).
   Plain-text math (``pi/2``, ``2*sqrt(3)``, ``exp(16)``, ``x**2``) is rewritten as LaTeX
   first; nothing is ever evaluated as Python.

Numbers. Rationals are equal only when exactly equal; other numbers when they agree to a
relative 1e-9 (`ttcs_verifiers._worker.RELATIVE_TOLERANCE`), so ``1/2004!`` differs from
``1/2006!`` and ``10^{-7}`` from ``2 \\cdot 10^{-7}``. A written decimal with at least 6
significant digits stands for every number it rounds from: ``0.333333`` equals ``1/3`` and
``1.41421356`` equals ``\\sqrt{2}``, while ``0.33`` and ``3.14`` are only themselves.

Two comparisons. `equivalent(a, b)` is symmetric (voting clusters with it). `is_correct(gold,
answer)` keeps the roles: the gold answer may be given with ``\\boxed{}`` (its boxes are read
as a completion's), a decimal comma is read in the answer when the gold is one number
(``1000,99``), and math-verify's ``verify`` is asked in its own order only. Both refuse to
match a relation with a bare value (``7 = 11a+c`` vs ``11a+c``) or structures of different
kinds (the pair ``(3,1)`` vs the set ``\\{1,3\\}``); an assignment to a lone variable
(``x = 5``) still matches its value.

Two extractions. `extract` (votes, pseudo-labels) reads the last box, else the last answer
phrase. `extract_for_scoring` (scoring against a gold answer) also joins the boxes of the
last run (``\\boxed{1}, \\boxed{2}``), lets a later answer phrase that states a value win over
an earlier box, and falls back to the value the last sentence of a finished completion
states as its result ("Therefore $x \\geq 5$ is the solution.").

Example:
    >>> from ttcs_verifiers.math import MathVerifier
    >>> v = MathVerifier()
    >>> v.extract(r"... so the answer is \\boxed{\\dfrac{1}{2}}.")
    '\\\\dfrac{1}{2}'
    >>> v.equivalent("0.5", r"\\frac12"), v.canonical("033")
    (True, Fraction(33, 1))
    >>> v.extract_for_scoring(r"So $\\boxed{1}$ and $\\boxed{-2}$."), v.is_correct("7 = 11a+c", "11a+c")
    ('1, -2', False)
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
from typing import Generic, TypeVar

from ttcs_verifiers._forms import Form, forms_verdict, read_form
from ttcs_verifiers._plain import plain_to_latex
from ttcs_verifiers._safe import MAX_SYMBOLIC_CHARS, SymbolicWorker, screen
from ttcs_verifiers._text import (
    _ANY_NUMBER_RE,
    _ONE_SPAN_RE,
    as_list,
    bare_answer,
    ends_with_value,
    final_sentence,
    final_sentence_number,
    hedged_result,
    is_hedge,
    last_answer_phrase,
    last_boxed,
    last_boxed_run,
    last_math_span,
    last_phrase_any_language,
    last_stated_value,
    reads_as_words,
    strip_decorations,
    unwrap_text,
    whole_of_value,
    whole_result,
)
from ttcs_verifiers._worker import decide, numbers_equal

logger = logging.getLogger(__name__)

_MAX_CANONICAL_CHARS = 1100
_MAX_PARSER_INPUT = 4 * MAX_SYMBOLIC_CHARS  # longer answers are unequal to anything but themselves
_MIN_ROUNDED_DIGITS = 6  # a decimal with this many significant digits may be a rounded value

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
# Thousands separators: commas or spaces (`\,`, `~` and `\ ` become spaces first); no leading 0 group.
_THOUSANDS_RE = re.compile(r"^[+-]?[1-9]\d{0,2}(?:(?:,\d{3})+|(?: \d{3})+)(?:\.\d+)?$")
_DECIMAL_RE = re.compile(r"^[+-]?(?:\d+\.\d*|\.\d+)$")
_SLASH_RE = re.compile(r"^([+-]?\d+)\s*/\s*([+-]?\d+)$")
_FRAC_RE = re.compile(r"^([+-]?)\\frac\s*(?:\{\s*([+-]?\d+)\s*\}|(\d))\s*(?:\{\s*([+-]?\d+)\s*\}|(\d))$")
# Mixed numbers: `1 1/4`, `2\frac{1}{2}`, `-1 \frac34` (a whole number and a proper fraction).
_MIXED_RE = re.compile(
    r"^([+-]?)(\d+)\s*(?:\s(\d+)\s*/\s*(\d+)|\\frac\s*(?:\{\s*(\d+)\s*\}|(\d))\s*(?:\{\s*(\d+)\s*\}|(\d)))$"
)
# A decimal comma: `1000,99`, `0,111`, `12 345,5` (read only where no thousands grouping fits).
_DECIMAL_COMMA_RE = re.compile(r"^([+-]?(?:\d+|[1-9]\d{0,2}(?: \d{3})+)),(\d+)$")


_ONE_DIGIT_COMMA_RE = re.compile(r"^[+-]?\d,\d+$")
_MATH_MARK_RE = re.compile(r"\$|\\[(\[]|\\[A-Za-z]+")
_PROSE_RE = re.compile(r"[^\W\d_]{3,}")

_NO_FORM = object()  # cached: this answer has no exact form
# math-verify's comparison options and the values that keep ttcs's own comparison (`MathVerifier`'s defaults).
_VERIFY_DEFAULTS = {"float_rounding": None, "strict": True, "allow_set_relation_comp": True}
_WORKER: SymbolicWorker | None = None  # one sympy subprocess per Python process, started lazily


def _shared_worker() -> SymbolicWorker:
    global _WORKER
    if _WORKER is None:
        _WORKER = SymbolicWorker()
        atexit.register(_WORKER.close)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_WORKER.reset_after_fork)
    return _WORKER


_V = TypeVar("_V")


class _LRU(Generic[_V]):
    """A small thread-safe least-recently-used map."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, _V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> _V | None:
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: Hashable, value: _V) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            if len(self._items) > self.size:
                self._items.popitem(last=False)


class _Clock:
    """The time left for one symbolic comparison, counted from its first request to the worker.

    A worker that must first start (importing sympy, seconds on a busy machine) is started
    before the clock runs: the start is no property of the answers being compared.
    """

    def __init__(self, worker: SymbolicWorker, timeout: float) -> None:
        self.worker, self.timeout = worker, timeout
        self.deadline: float | None = None

    def remaining(self) -> float:
        if self.deadline is None:
            if not self.worker.ready:
                self.worker.warm_up()
            self.deadline = time.monotonic() + self.timeout
        return self.deadline - time.monotonic()


class MathVerifier:
    """Extracts and compares final answers of math problems.

    Args:
        timeout: seconds allowed for one symbolic comparison; past it `equivalent` returns
            False (the worker process is killed and restarted).
        cache_size: how many symbolic verdicts, and how many parsed answers, this
            instance remembers (each distinct answer is parsed once while remembered).
        scoring_targets: the fallbacks of `extract_for_scoring` after boxes and answer
            phrases, as math-verify's extraction targets name them: ``"latex"`` (math-verify's
            LaTeX extraction of the completion, in the worker) and ``"expr"`` (the last number
            of the final sentence, read in pure Python; never sympy's expression parser).
        float_rounding: None (default) compares numbers exactly (see the module doc); k makes
            numbers that agree to k decimal places equal and is passed to math-verify's ``verify``.
        strict: passed to ``verify``; False lets ``f(x)`` match ``f(y)`` (math-verify's non-strict mode).
        allow_set_relation_comp: passed to ``verify``; False keeps a gold interval or set from
            matching a predicted inequality (a gold inequality still matches a predicted interval).

    The last three follow math-verify's options of the same names, for a grader configured as
    an upstream benchmark configures math-verify; the defaults are ttcs's own comparison.
    """

    name = "math"

    def __init__(
        self,
        timeout: float = 2.0,
        cache_size: int = 65536,
        scoring_targets: tuple[str, ...] = ("latex", "expr"),
        float_rounding: int | None = None,
        strict: bool = True,
        allow_set_relation_comp: bool = True,
    ) -> None:
        self.timeout = float(timeout)
        self.cache_size = cache_size
        self.scoring_targets = tuple(scoring_targets)
        given = {"float_rounding": float_rounding, "strict": strict, "allow_set_relation_comp": allow_set_relation_comp}
        self.options = {k: v for k, v in given.items() if v != _VERIFY_DEFAULTS[k]}  # math-verify options set
        self._extractions: _LRU[str] = _LRU(cache_size)  # final sentence -> math-verify's extraction (or "")
        self._verdicts: _LRU[bool] = _LRU(cache_size)  # (a, b) -> bool
        self._descriptions: _LRU[dict] = _LRU(cache_size)  # answer -> what `_worker.describe` says of its parse
        # answer -> its exact form (`ttcs_verifiers._forms`), or _NO_FORM
        self._forms: _LRU[Form | object] = _LRU(cache_size)
        self._numbers: _LRU[bool] = _LRU(cache_size)  # answer -> whether it is written as a number
        self._worker = _shared_worker()

    def extract(self, completion: str) -> str | None:
        """The last ``\\boxed{}``/``\\fbox{}`` content, else the last "the answer is X" (the vote path).

        Only what the completion marks as its answer: a vote has no gold answer to check it, and a
        reward paid on any last number would teach the Solver to end with one. Scoring reads more
        (`extract_for_scoring`); where both read, they read alike (a list or a hedge stays whole).
        """
        if not isinstance(completion, str):
            return None
        return last_boxed(completion) or last_answer_phrase(completion) or None

    def extract_for_scoring(self, completion: str) -> str | None:
        """The answer a gold answer is compared with: every fallback this verifier trusts.

        The last run of adjacent boxes, joined (``\\boxed{1}, \\boxed{2}`` -> ``1, 2``); but an
        answer phrase after that run wins when it states a value ("... \\boxed{12} rows ...
        Final Answer: The final answer is $10,455$"); without a box, the last answer phrase (in
        English, French, Chinese, Hindi or Arabic); without either, the value the last sentence
        of a finished completion states as its result (`ttcs_verifiers._text.last_stated_value`);
        then, as the field's graders read a completion (math-verify, lighteval), the last math
        that math-verify's LaTeX extraction parses (asked of the worker, under the timeout) when
        the final sentence holds math; last, the last number of the final sentence
        (`ttcs_verifiers._text.final_sentence_number`).

        Whatever the route, the whole stated result is read, never a part of it: a list
        (``x = 3 or x = 5`` -> ``3, 5``), an equation, tuple or matrix whole, a computation's end
        (``4 × 8 = 32`` -> ``32``); a hedge or a range ("between 3 and 7") gives None, and a
        completion that is only its answer is read as itself (`ttcs_verifiers._text.bare_answer`).
        """
        if not isinstance(completion, str):
            return None
        run, phrase = last_boxed_run(completion), last_phrase_any_language(completion)
        if run and phrase and phrase[1] >= run[1] and _states_value(phrase[0]):
            return whole_result(phrase[0])
        if run:
            return as_list(run[0])  # `\boxed{12 \text{ and } 13}` -> `12, 13`, as a stated list reads
        if phrase and is_hedge(phrase[0]):
            return None  # "the answer is between 3 and 7": no single value
        if phrase and reads_as_words(phrase[0]):  # "答案：每份应该是 (\\frac{2}{5}) 吨" -> math-verify's extraction
            return self._last_math_or_number(phrase[0]) or phrase[0]
        if phrase:
            return whole_result(phrase[0])
        bare = bare_answer(completion)  # a completion that is only its answer is read whole
        if bare or hedged_result(final_sentence(completion)[0]):
            return bare
        return last_stated_value(completion) or self._last_math_or_number(completion)

    def _last_math_or_number(self, completion: str) -> str | None:
        """The last math or number of the final sentence, when it lies near that sentence's end.

        Math goes to math-verify's LaTeX extraction (``"latex"`` target); when that parses
        nothing, the span's own text unless it is words. Without math, the last number
        (``"expr"`` target).
        """
        sentence, finished = final_sentence(completion)
        if not ends_with_value(sentence, finished):
            return None
        whole = _whole_of_last_value(sentence)
        if whole is not None:
            return whole or None  # "" for a hedge
        number = final_sentence_number(completion) if "expr" in self.scoring_targets else None
        if "latex" in self.scoring_targets and _MATH_MARK_RE.search(sentence):
            found = self._math_verify_extraction(sentence)
            span = last_math_span(sentence)
            if found or (span and not reads_as_words(span)):
                return found or span
        return number

    def _math_verify_extraction(self, text: str) -> str | None:
        """What math-verify's LaTeX extraction finds in `text` (the worker's ``extract``; cached), or None.

        `text` is a final sentence or a phrase's words, at most a few hundred characters; it
        passes the same pre-screen as every answer that reaches sympy.
        """
        found = self._extractions.get(text)
        if found is None:
            reason = screen(text)
            reply = (
                None
                if reason
                else self._worker.request("extract", _Clock(self._worker, self.timeout).remaining(), a=text)
            )
            found = (reply or {}).get("answer") or ""
            self._extractions.put(text, found)
        return found or None

    def canonical(self, answer: str) -> Hashable | None:
        """A key such that equal keys mean equivalent answers, else None.

        Plain numbers (``033``, ``1,000``, ``-\\frac{1}{2}``, ``0.5``) give an exact `Fraction`;
        the exact forms of `ttcs_verifiers._forms` give their normal form (``2\\sqrt{3}`` and
        ``\\sqrt{12}``, ``(x+1)^2`` and ``x^2+2x+1``, ``\\{1,2\\}`` and ``\\{2, 1\\}`` share one).
        """
        number = self._plain_number(answer)
        if number is not None:
            return number
        form = self._form(answer)
        if form is None:
            return None
        return form.rational if form.rational is not None else (form.kind, form.key)

    def equivalent(self, a: str, b: str) -> bool:
        """Whether `a` and `b` are the same answer; symmetric. Never raises; returns within ~`timeout`."""
        try:
            return self._judge(a, b, gold_first=False)
        except Exception:  # hostile input must not crash a training run; the reason is logged
            logger.debug("equivalent(%.80r, %.80r) failed", a, b, exc_info=True)
            return False

    def is_correct(self, gold: str, answer: str) -> bool:
        """Whether the predicted `answer` is correct for the `gold` answer (roles kept; see the module doc).

        Never raises; returns within ~`timeout`.
        """
        try:
            if isinstance(gold, str) and _reads_like_completion(gold):
                gold = self.extract_for_scoring(gold) or gold
            gold, answer = _drop_group_braces(gold), _drop_group_braces(answer)
            if _is_bracketed_tuple(gold) and _is_bare_list(answer):
                answer = f"({answer})"  # "1, 3" lists the pair "(1, 3)" in its order
            return self._judge(gold, answer, gold_first=True)
        except Exception:  # hostile input must not crash an evaluation; the reason is logged
            logger.debug("is_correct(%.80r, %.80r) failed", gold, answer, exc_info=True)
            return False

    def is_number(self, answer: str) -> bool:
        """Whether `answer` is written as a number (``63``, ``-\\frac{3}{4}``, ``0.75``, ``x = 5``, ``12 cm``),
        not as an expression that evaluates to one (``7 \\times 9``, ``2^3``, ``\\sqrt{4}``). Pure Python."""
        if not isinstance(answer, str):
            return False
        known = self._numbers.get(answer)
        if known is None:
            known = self._plain_number(answer) is not None
            self._numbers.put(answer, known)
        return known

    def warm_up(self) -> bool:
        """Start the symbolic worker now rather than at the first symbolic comparison."""
        return self._worker.warm_up()

    def _judge(self, a: str, b: str, gold_first: bool) -> bool:
        """`equivalent` (`gold_first` False) or `is_correct` with `a` the gold answer."""
        if not isinstance(a, str) or not isinstance(b, str):
            return False
        a, b = a.strip(), b.strip()
        if not a or not b:
            return False
        if a == b:
            return True
        if gold_first and _labels_differ(a, b):
            return False  # `x = 2` is not a correct answer for `y = 2`
        tolerance = _tolerance(a, b, self.options.get("float_rounding"))
        numbers = self._plain_numbers(a, b, gold_first)
        if numbers is not None:
            return abs(numbers[0] - numbers[1]) <= tolerance  # exact, but for the rounding of a written decimal
        verdict = forms_verdict(self._form(a), self._form(b))
        if verdict is not None and (verdict or not self.options):
            return verdict  # follows from the two exact forms (see `ttcs_verifiers._forms`)
        if max(len(a), len(b)) > _MAX_PARSER_INPUT:
            return False  # far beyond what the screen lets through; its clean-up alone would cost seconds
        return self._cached_symbolic(_for_parser(a), _for_parser(b), gold_first, tolerance)

    def _plain_number(self, answer: str) -> Fraction | None:
        """`answer` as an exact number when it is a plain one (no sympy, no exact-form reading)."""
        if not isinstance(answer, str) or len(answer) > _MAX_CANONICAL_CHARS:
            return None
        try:
            return _number(_strip_number_decorations(answer))
        except (ValueError, ZeroDivisionError, OverflowError):  # e.g. int() of >4300 digits
            return None

    def _form(self, answer: str) -> Form | None:
        """The exact form of `answer` as the symbolic checker would see it (cached), or None."""
        if not isinstance(answer, str):
            return None
        form = self._forms.get(answer)
        if form is None:
            form = read_form(_for_parser(answer)) if len(answer) <= _MAX_CANONICAL_CHARS else None
            self._forms.put(answer, _NO_FORM if form is None else form)
        return form if isinstance(form, Form) else None  # None for _NO_FORM

    def _plain_numbers(self, a: str, b: str, gold_first: bool) -> tuple[Fraction, Fraction] | None:
        """Both answers as exact numbers, or None; a prediction's decimal comma counts against one gold number."""
        key_a, key_b = self._rational(a), self._rational(b)
        if gold_first and key_a is not None and key_b is None:
            key_b = _decimal_comma(b)
        if (
            gold_first
            and key_a is None
            and key_b is not None
            and _ONE_DIGIT_COMMA_RE.match(_strip_number_decorations(a))
        ):
            key_a = _decimal_comma(a)  # a gold ``1,22`` or ``0,111`` is one number; a gold ``1000,99`` stays a list
        return (key_a, key_b) if key_a is not None and key_b is not None else None

    def _rational(self, answer: str) -> Fraction | None:
        """A plain number, or an exact form that is rational (``\\sqrt{4}``, ``2^{10}``), as a `Fraction`."""
        number = self._plain_number(answer)
        form = self._form(answer) if number is None else None
        return form.rational if form is not None else number

    def _cached_symbolic(self, a: str, b: str, gold_first: bool, tolerance: Fraction) -> bool:
        if a == b:
            return True
        pair = ("correct", a, b) if gold_first else ((a, b) if a <= b else (b, a))
        verdict = self._verdicts.get(pair)
        if verdict is None:
            verdict = self._symbolic(a, b, gold_first, tolerance)
            self._verdicts.put(pair, verdict)  # timeouts too: the same pair gets the same answer
        return verdict

    def _symbolic(self, a: str, b: str, gold_first: bool, tolerance: Fraction) -> bool:
        for answer in (a, b):
            reason = screen(answer)
            if reason:
                logger.debug("not comparing %.80r symbolically: %s", answer, reason)
                return False
        clock = _Clock(self._worker, self.timeout)
        # An answer without an exact form first: when it cannot be parsed, the other needs no parse either.
        swap = self._form(a) is not None and self._form(b) is None
        first, second = (b, a) if swap else (a, b)
        description_first = self._describe(first, clock)
        if description_first["kind"] == "empty" or (description_first["kind"] == "unparsed" and swap):
            return False  # an unparsed string matches only an equal string, which a parsed answer never has
        description_second = self._describe(second, clock)
        verdict = _numbers_verdict(description_first, description_second, tolerance)
        if verdict is None:
            verdict = decide(description_first, description_second)
        if verdict is None:
            verdict = _structure_verdict(description_first, description_second)
        if verdict is not None and (verdict or not self.options):
            return verdict  # follows from the parses alone (see `ttcs_verifiers._worker`)
        reply = self._worker.request(
            "compare", clock.remaining(), a=a, b=b, gold_first=gold_first, tolerance=float(tolerance), **self.options
        )
        if reply is None:
            logger.debug("no symbolic verdict on %.80r vs %.80r (timeout or error): False", a, b)
            return False
        return bool(reply.get("equal"))

    def _local_description(self, answer: str) -> dict | None:
        """What the worker's `describe` would say of a plain number or an exact form, made here; else None.

        Without the worker's "strings" (they only ever prove equality) and, for numbers, its
        "text" (a number's str never equals a symbol's name, see `_worker.decide`). Structures
        (tuples, sets, intervals, matrices) get the kind "structure", known only here.
        """
        number = self._rational(answer)
        value = _as_float(number)
        if number is not None:
            if value is None:
                return None
            return {
                "kind": "number",
                "fingerprint": [value, 0.0],
                "rational": str(number),
                "value": [_decimal_text(number), "0"],
            }
        form = self._form(answer)
        if form is None:
            return None
        if form.value is not None:  # pi and square roots, valued in pure Python
            return {
                "kind": "number",
                "fingerprint": [float(form.value[0]), float(form.value[1])],
                "value": [str(form.value[0]), str(form.value[1])],
            }
        if form.kind == "text" or form.variable is not None:
            return {"kind": "symbol", "name": form.key if form.kind == "text" else form.variable}
        if form.kind == "poly":
            return {"kind": "other"} if form.label else {"kind": "expression", "fingerprint": form.fingerprint}
        return {"kind": "structure"}

    def _describe(self, answer: str, clock: _Clock) -> dict:
        """The parse of `answer` in brief, from the cache, made here (`_local_description`) or by the worker."""
        description = self._descriptions.get(answer)
        if description is not None:
            return description
        description = self._local_description(answer)
        if description is None:
            remaining = clock.remaining()
            if remaining <= 0:
                return {"kind": "empty"}  # out of time for this comparison; not the answer's fault
            description = self._worker.request("describe", remaining, a=answer)
            if description is None:
                logger.debug("could not parse %.80r in time: unequal to anything", answer)
                description = {"kind": "empty"}
            description.pop("id", None)
        self._descriptions.put(answer, description)
        return description


def _numbers_verdict(a: dict, b: dict, tolerance: Fraction) -> bool | None:
    """Two numbers are decided by their values (`_worker.numbers_equal`), never by math-verify's rounding."""
    if a["kind"] != "number" or b["kind"] != "number":
        return None
    return numbers_equal(a, b, tolerance)


_VALUES = frozenset({"number", "expression", "symbol"})


def _structure_verdict(a: dict, b: dict) -> bool | None:
    """A tuple, set, interval or matrix never equals a value (`_worker.comparable`); None otherwise."""
    kinds = {a["kind"], b["kind"]}
    return False if "structure" in kinds and kinds & _VALUES else None


def _labels_differ(a: str, b: str) -> bool:
    """Whether both answers assign to a lone variable, and to different ones (``x = 2``, ``y = 2``)."""
    labels = [text.split("=", 1)[0].strip() for text in map(strip_decorations, (a, b)) if _ASSIGNMENT_RE.match(text)]
    return len(labels) == 2 and labels[0] != labels[1]


def _is_bracketed_tuple(answer: str) -> bool:
    text = strip_decorations(answer)
    return text.startswith("(") and text.endswith(")") and "," in text and text.count("(") == 1


def _is_bare_list(answer: str) -> bool:
    text = strip_decorations(answer)
    return "," in text and not re.search(r"[()\[\]{}=<>]|\\[A-Za-z]", text)


def _drop_group_braces(answer: str) -> str:
    """``{1,3}`` -> ``1,3``: braces around a whole answer group it (a set is written ``\\{1,3\\}``)."""
    if not isinstance(answer, str):
        return answer
    text = strip_decorations(answer)
    if text.startswith("{") and text.endswith("}") and _closing_brace(text) == len(text) - 1:
        return text[1:-1].strip()
    return answer


def _closing_brace(text: str) -> int:
    """Where the brace opened at index 0 closes (-1 when it does not)."""
    depth = 0
    for index, char in enumerate(text):
        if char in "{}" and (index == 0 or text[index - 1] != "\\"):
            depth += 1 if char == "{" else -1
            if depth == 0:
                return index
    return -1


def _reads_like_completion(gold: str) -> bool:
    """Whether a gold answer is written as a completion (a box, or prose around math) and must be extracted."""
    if "\\boxed" in gold or "\\fbox" in gold:
        return True
    outside = unwrap_text(strip_decorations(gold))
    if not _MATH_MARK_RE.search(outside):
        return False
    prose = _PROSE_RE.findall(re.sub(r"\$[^$]*\$|\\[A-Za-z]+", " ", outside))
    return len(prose) >= 3


def _whole_of_last_value(sentence: str) -> str | None:
    """The whole result the final sentence's last math span or number belongs to, when it is more than that
    value (``x = 3 or x = 5``, ``-34x-45y+20z=100``): "" for a hedge, None when the value is the whole result."""
    spans = list(_ONE_SPAN_RE.finditer(sentence))
    numbers = list(_ANY_NUMBER_RE.finditer(sentence, spans[-1].end() if spans else 0))
    last = numbers[-1] if numbers else (spans[-1] if spans else None)
    if last is None:
        return None
    whole = whole_of_value(sentence, last.start(), last.end())
    if whole is None:
        return ""
    return whole if whole != whole_result(strip_decorations(last.group())) else None


def _states_value(answer: str) -> bool:
    """Whether a phrase's answer looks like a value (a digit, math or a short token), not a remark."""
    return bool(re.search(r"[\d\\$^=]", answer)) or (len(answer) <= 3 and not answer.isalpha())


def _decimal_text(number: Fraction) -> str:
    """A `Fraction` as a decimal string with 40 significant digits."""
    from decimal import Decimal, localcontext

    with localcontext() as context:
        context.prec = 40
        return str(Decimal(number.numerator) / Decimal(number.denominator))


def _tolerance(a: str, b: str, float_rounding: int | None = None) -> Fraction:
    """The slack of the less precise written decimal among `a` and `b` (0 when neither is one).

    With `float_rounding` k (a configured grader), a written decimal also stands for whatever
    rounds to it at k places.
    """
    slack = max(_decimal_slack(a), _decimal_slack(b))
    if float_rounding is not None and (
        _DECIMAL_RE.match(_strip_number_decorations(a)[:_MAX_CANONICAL_CHARS])
        or _DECIMAL_RE.match(_strip_number_decorations(b)[:_MAX_CANONICAL_CHARS])
    ):
        slack = max(slack, Fraction(1, 2 * 10 ** int(float_rounding)))
    return slack


def _decimal_slack(answer: str) -> Fraction:
    """Half a unit of the last digit of a plain decimal with >= 6 significant digits (``0.333333`` -> 5e-7), else 0."""
    text = _strip_number_decorations(answer) if len(answer) <= _MAX_CANONICAL_CHARS else ""
    if not _DECIMAL_RE.match(text):
        return Fraction(0)
    digits = text.lstrip("+-").replace(".", "").lstrip("0")
    if len(digits) < _MIN_ROUNDED_DIGITS:
        return Fraction(0)
    return Fraction(1, 2 * 10 ** len(text.split(".", 1)[1]))


def _decimal_comma(answer: str) -> Fraction | None:
    """``1000,99`` -> 1000.99: a comma read as a decimal point where no thousands grouping fits."""
    text = _strip_number_decorations(answer) if len(answer) <= _MAX_CANONICAL_CHARS else ""
    match = _DECIMAL_COMMA_RE.match(text)
    if not match or _THOUSANDS_RE.match(text):
        return None
    return Fraction(match.group(1).replace(" ", "") + "." + match.group(2))


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
    return plain_to_latex(answer.replace("\\$", "").strip())


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
        return Fraction(text.replace(",", "").replace(" ", ""))
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
    return _mixed_number(text)


def _mixed_number(text: str) -> Fraction | None:
    """``1 1/4`` or ``1\\frac{1}{4}`` -> 5/4; None unless the fraction is proper (``1 5/4`` is not mixed)."""
    mixed = _MIXED_RE.match(text)
    if not mixed:
        return None
    sign, whole, *parts = mixed.groups()
    numerator, denominator = (int(p) for p in (parts[0] or parts[2] or parts[3], parts[1] or parts[4] or parts[5]))
    if not 0 < numerator < denominator:
        return None
    value = int(whole) + Fraction(numerator, denominator)
    return -value if sign == "-" else value
