"""The sympy subprocess behind `ttcs_verifiers._safe.SymbolicWorker`.

Run as ``python -m ttcs_verifiers._worker``. It reads one JSON request per line on stdin
and writes one JSON reply per line on stdout, and exits when stdin closes:

- ``{"id": 1, "op": "ping"}`` -> ``{"id": 1}``
- ``{"id": 2, "op": "compare", "a": "2\\\\sqrt2", "b": "\\\\sqrt8", "timeout": 2}`` ->
  ``{"id": 2, "equal": true}``; with ``"gold_first": true``, `a` is the gold answer and `b`
  the prediction (see "Comparing" below); ``"tolerance"`` is the absolute slack a written
  decimal allows (see `values_close`)
- ``{"id": 4, "op": "extract", "a": "We find that $x \\\\lt 3$.", "timeout": 2}`` ->
  ``{"id": 4, "answer": "x \\\\lt 3"}``: math-verify's own LaTeX extraction of a completion (the
  last math it can parse; None when it finds none that parses), for the scoring path of
  completions with neither a box nor an answer phrase
- ``{"id": 3, "op": "describe", "a": "\\\\pi", "timeout": 2}`` ->
  ``{"id": 3, "kind": "number", "strings": ["\\\\pi"], "fingerprint": [3.14159..., 0.0], "text": "pi",
  "value": ["3.14159265358979323846264338328", "0"]}``

Answers are parsed with math-verify's LaTeX extractor only (its plain-expression
extractor runs sympy's Python-evaluating parser), once per string (LRU cache).

Comparing. Before math-verify's ``verify`` sees a pair, `comparable` checks that both sides
have the same structure: a relation (``7 = 11a+c``, ``x > 5``) never matches a bare value,
an ordered pair never matches a set, an interval never matches a finite set. The only
bridges are an assignment to a lone variable (``x = 5`` is the value ``5``; ``y = 2x+1`` is
``2x+1``), a one-element set and its element, and an inequality and the interval it
describes. An equation between numbers alone is the result it states, its last side
(``4 \\times 8 = 32`` is ``32``, right or wrong): math-verify compares two equations by
whether their sides' differences are proportional, so any two false numeric equations
(``12 \\times 4 = 52`` and ``18 \\times 4 = 64``) would otherwise match. Two numbers are
compared by `values_close`, not by ``verify`` (which rounds to 6 decimal places, so that
``1/2004!`` equals ``1/2006!``). Past these checks, ``compare``
asks ``verify`` in both directions, and with ``gold_first`` only ``verify(gold, prediction)``,
math-verify's own order; last, two plain expressions that ``verify`` calls different still
match when they agree at several complex points (`agree_at_points`: ``\\\\sqrt{1/n}`` and
``1/\\\\sqrt{n}``, which sympy cannot simplify without knowing ``n > 0``).

Why `decide` may answer without ``verify``. math-verify's ``verify(gold, target)`` is
True iff some pair of items of the two parses matches: two strings that are equal after
``strip()``, or two sympy objects that ``sympy_expr_eq`` accepts (string/sympy pairs never
match). A parse is [sympy object, a normalised string], or just the string when sympy failed,
or [] when nothing was found. Equal strings are checked first; beyond them,

- an empty parse matches nothing;
- a string-only parse matches nothing else (its string is not equal to the other's);
- for plain expressions (not a symbol, relation, set, tuple or matrix) ``sympy_expr_eq``
  is True only through structural, numeric (6 decimals) or symbolic
  (``simplify(a - b) == 0``) equality, each of which implies equal values at any point.
  The *fingerprint* is that value, with every free symbol set to a number derived from
  its name; clearly different fingerprints prove False;
- a lone symbol matches a number only as ``e`` vs ``E`` or when their ``str`` agree.

Everything else goes to ``verify``.
"""

from __future__ import annotations

import cmath
import json
import logging
import sys
import zlib
from collections import OrderedDict
from decimal import Decimal, InvalidOperation, localcontext
from fractions import Fraction
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sympy import Basic  # sympy ships no type information: mypy reads Basic as Any

logger = logging.getLogger(__name__)

MEMORY_LIMIT_BYTES = 4 << 30
# Relative tolerance between two numbers: far above the error of a 30-digit evaluation, far
# below any difference a problem could ask for. Rationals are compared exactly.
RELATIVE_TOLERANCE = Decimal("1e-9")
_VALUE_DIGITS = 30
_MAX_RATIONAL_DIGITS = 1000  # a longer rational is not written out; the worker compares it exactly
_MAX_RATIONAL_BITS = 3322  # about 1000 decimal digits
_MAX_EXACT_DIGITS = 100_000  # beyond this, numbers are left to math-verify's verify
_POINTS = ((1, 1), (-1, 1), (-1, -1), (1, -1))  # quadrants of the complex points of `agree_at_points`


class Session:
    """Parses answers once each and answers the requests of one parent."""

    def __init__(self, cache_size: int = 4096) -> None:
        from math_verify import LatexExtractionConfig

        self.cache_size = cache_size
        self._config = [LatexExtractionConfig()]
        self._extraction = [LatexExtractionConfig(boxed_match_priority=0)]
        self._parsed: OrderedDict[str, list] = OrderedDict()

    def handle(self, request: dict) -> dict:
        op, seconds = request["op"], _alarm_seconds(request.get("timeout", 2))
        if op == "ping":
            return {}
        if op == "describe":
            return describe(self.parse(request["a"], seconds))
        if op == "extract":
            return {"answer": self.extract(request["a"], seconds)}
        if op == "compare":
            options = {k: request[k] for k in ("strict", "float_rounding", "allow_set_relation_comp") if k in request}
            return {
                "equal": self.compare(
                    request["a"],
                    request["b"],
                    seconds,
                    gold_first=bool(request.get("gold_first")),
                    tolerance=float(request.get("tolerance", 0.0)),
                    options=options,
                )
            }
        raise ValueError(f"unknown op {op!r}")

    def warm_up(self) -> None:
        """Pay sympy's and the LaTeX grammar's lazy start-up costs before the first request."""
        for answer in (r"\frac{1}{2}", r"2\sqrt{2}x+\pi", r"\text{none}", "(1,2]", r"\{1,2\}", "x=1"):
            self.compare(answer, r"\sqrt{8}", seconds=10)
            describe(self.parse(answer, seconds=10))
        self._parsed.clear()

    def parse(self, answer: str, seconds: int) -> list:
        from math_verify import parse

        if answer in self._parsed:
            self._parsed.move_to_end(answer)
            return self._parsed[answer]
        result = parse("\\boxed{" + answer + "}", extraction_config=self._config, parsing_timeout=seconds)
        self._parsed[answer] = result
        if len(self._parsed) > self.cache_size:
            self._parsed.popitem(last=False)
        return result

    def extract(self, text: str, seconds: int) -> str | None:
        """The string of the last math of `text` that math-verify's LaTeX extraction parses, or None."""
        from math_verify import parse

        found = parse(text, extraction_config=self._extraction, parsing_timeout=seconds)
        strings = [item for item in found if isinstance(item, str)]
        return strings[-1] if strings and len(strings) < len(found) else None

    def compare(
        self,
        a: str,
        b: str,
        seconds: int,
        gold_first: bool = False,
        tolerance: float = 0.0,
        options: dict | None = None,
    ) -> bool:
        """Whether `a` and `b` are the same answer (with `gold_first`: whether `b` is correct for the gold `a`).

        `options` are math-verify ``verify`` settings a grader configured (``strict``,
        ``float_rounding``, ``allow_set_relation_comp``); without them, ttcs's defaults.
        """
        gold, target = self.parse(a, seconds), self.parse(b, seconds)
        gold_strings = {item.strip() for item in gold if isinstance(item, str)} - {""}
        if gold_strings & {item.strip() for item in target if isinstance(item, str)}:
            return True
        return any(
            self._compare_objects(g, t, seconds, gold_first, tolerance, options or {})
            for g in gold
            if not isinstance(g, str)
            for t in target
            if not isinstance(t, str)
        )

    def _compare_objects(self, gold, target, seconds: int, gold_first: bool, tolerance: float, options: dict) -> bool:
        from math_verify import verify

        gold, target = unwrap_assignments(stated_result(gold), stated_result(target))
        if not comparable(gold, target):
            return False
        numeric = _bounded(seconds, numbers_verdict, gold, target, tolerance)
        if numeric is not None:
            return numeric
        settings = {"allow_set_relation_comp": True, **options, "timeout_seconds": seconds}
        if verify(gold, target, **settings):
            return True
        if not gold_first and verify(target, gold, **settings):
            return True
        return bool(_bounded(seconds, agree_at_points, gold, target))


def describe(parsed: list) -> dict:
    """What `decide` needs to know of a parse (see the module doc)."""
    from sympy import Symbol

    strings = [item.strip() for item in parsed if isinstance(item, str)]
    objects = [item for item in parsed if not isinstance(item, str)]
    if not objects:
        return {"kind": "unparsed" if strings else "empty", "strings": strings}
    if len(objects) > 1:
        return {"kind": "other", "strings": strings}
    objects[0] = stated_result(objects[0])
    if isinstance(objects[0], Symbol):
        return {"kind": "symbol", "strings": strings, "name": objects[0].name}
    value = fingerprint(objects[0])
    if value is None:
        return {"kind": "other", "strings": strings}
    if objects[0].free_symbols:
        return {"kind": "expression", "strings": strings, "fingerprint": value}
    description = {"kind": "number", "strings": strings, "fingerprint": value, "text": str(objects[0])}
    description.update(number_value(objects[0]) or {})
    return description


def decide(a: dict, b: dict) -> bool | None:
    """``verify``'s verdict on two described answers when it follows from the descriptions alone.

    Descriptions built without a parse (plain numbers, in the parent) carry no "strings".
    """
    kinds = {a["kind"], b["kind"]}
    if "empty" in kinds:
        return False
    if set(a.get("strings", ())) & set(b.get("strings", ())) - {""}:
        return True
    if "unparsed" in kinds:
        return False
    if "fingerprint" in a and "fingerprint" in b and clearly_different(a["fingerprint"], b["fingerprint"]):
        return False
    for symbol, number in ((a, b), (b, a)):
        if symbol["kind"] == "symbol" and number["kind"] == "number":
            if symbol["name"].lower() != "e" and symbol["name"] != number.get("text"):
                return False
    return None


def values_close(x: list[str], y: list[str], tolerance: float | Fraction = 0.0) -> bool:
    """Whether two numbers ``[real, imaginary]`` (decimal strings) are equal.

    Equal means: closer than `tolerance` (the slack of a written decimal, see
    ``ttcs_verifiers.math``) plus `RELATIVE_TOLERANCE` times the larger magnitude. Decimal
    arithmetic, so ``1e-5700`` and ``3e-5700`` differ (doubles would make both 0).
    """
    with localcontext() as context:
        context.prec = 60
        try:
            (xr, xi), (yr, yi) = [Decimal(part) for part in x], [Decimal(part) for part in y]
        except (InvalidOperation, ValueError):
            return False
        slack = (
            Decimal(tolerance.numerator) / Decimal(tolerance.denominator)
            if isinstance(tolerance, Fraction)
            else Decimal(repr(float(tolerance)))
        )
        scale = max(abs(xr), abs(xi), abs(yr), abs(yi))
        return max(abs(xr - yr), abs(xi - yi)) <= slack + RELATIVE_TOLERANCE * scale


def numbers_equal(a: dict, b: dict, tolerance: float | Fraction = 0.0) -> bool | None:
    """Verdict on two numbers described by `number_value`; None when the descriptions cannot settle it.

    Two rationals are compared exactly (None when one is too long to write out: the worker
    then compares them itself); anything else by `values_close`.
    """
    if a.get("rational") is not None and b.get("rational") is not None:
        return abs(Fraction(a["rational"]) - Fraction(b["rational"])) <= Fraction(tolerance)
    if _is_rational(a) and _is_rational(b):
        return None  # 2^{9999} and 2^{9999}+1 agree to 30 digits; only exact arithmetic tells them apart
    if a.get("value") is not None and b.get("value") is not None:
        return values_close(a["value"], b["value"], tolerance)
    return None


def _is_rational(description: dict) -> bool:
    return description.get("rational") is not None or bool(description.get("long_rational"))


def number_value(expr: object) -> dict | None:
    """What `numbers_equal` needs of a number, or None when `expr` is not a finite number.

    ``value``: ``[real, imag]`` to 30 digits (missing when sympy cannot reach 30 correct
    digits, say for a difference that cancels to zero); ``rational``: ``"p/q"`` for a rational
    of at most 1000 digits; ``long_rational``: True for a longer one.
    """
    from sympy import Expr
    from sympy.core.evalf import PrecisionExhausted

    if not isinstance(expr, Expr) or not expr.is_number or expr.has(*_unbounded()):
        return None
    result: dict = {}
    try:
        real, imag = expr.evalf(_VALUE_DIGITS, strict=True).as_real_imag()
        result["value"] = [_decimal_text(real), _decimal_text(imag)]
    except (PrecisionExhausted, TypeError, ValueError, OverflowError, ZeroDivisionError):
        logger.debug("no %d-digit value", _VALUE_DIGITS)
    if expr.is_rational:
        rational = _modest_rational(expr, result.get("value"))
        result["rational" if rational else "long_rational"] = rational or True
    return result or None


def _modest_rational(expr, value: list[str] | None) -> str | None:
    """``"p/q"`` for a rational number whose digits can be written out cheaply, else None."""
    from sympy import Rational

    if not isinstance(expr, Rational):
        magnitude = Decimal(value[0]) if value is not None else None
        if magnitude is None or (magnitude and not -_MAX_RATIONAL_DIGITS < magnitude.adjusted() < _MAX_RATIONAL_DIGITS):
            return None
        expr = expr.doit()
        if not isinstance(expr, Rational):
            return None
    if max(abs(expr.p).bit_length(), expr.q.bit_length()) > _MAX_RATIONAL_BITS:
        return None
    return f"{expr.p}/{expr.q}"


def exact_difference(a: Basic, b: Basic) -> Fraction | None:
    """``|a - b|`` for two rational sympy numbers, computed exactly; None when either is not rational."""
    from sympy import Rational

    exact_a, exact_b = a.doit(), b.doit()
    if not isinstance(exact_a, Rational) or not isinstance(exact_b, Rational):
        return None
    difference = abs(exact_a - exact_b)
    return Fraction(int(difference.p), int(difference.q))


def _decimal_text(part: object) -> str:
    from sympy import Float, Integer, Rational

    if isinstance(part, Integer):
        return str(part)
    if isinstance(part, Rational):
        return str(Float(part, _VALUE_DIGITS))
    if isinstance(part, Float):
        return str(part)
    raise TypeError(f"not a number: {type(part).__name__}")


def _unbounded() -> tuple:
    from sympy import S

    return S.NaN, S.ComplexInfinity, S.Infinity, S.NegativeInfinity


def shape(expr: object) -> str:
    """The structure of a parsed answer: relation, matrix, tuple, set, singleton, interval, region, value, other."""
    from sympy import Expr, FiniteSet, Interval, Set, Tuple
    from sympy.matrices import MatrixBase
    from sympy.matrices.expressions import MatrixExpr

    if _is_relation(expr):
        return "relation"
    if isinstance(expr, (MatrixBase, MatrixExpr)):
        return "matrix"
    if isinstance(expr, Tuple):
        return "tuple"
    if isinstance(expr, FiniteSet):
        return "singleton" if len(expr) == 1 else "set"
    if isinstance(expr, Interval):
        return "interval"
    if isinstance(expr, Set):
        return "region"
    return "value" if isinstance(expr, Expr) else "other"


# Different structures that may still be the same answer; every other pair of shapes is unequal.
_BRIDGES = {
    frozenset({"singleton", "value"}),  # {5} and 5
    frozenset({"relation", "interval"}),  # x > 5 and (5, oo)
    frozenset({"relation", "region"}),  # x < 1 or x > 5, as a union of intervals
    frozenset({"interval", "region"}),
    frozenset({"tuple", "interval"}),  # (1, 3) is read as an open interval, (3, 1) as a tuple
}


def comparable(a: object, b: object) -> bool:
    """Whether `a` and `b` have structures that can hold the same answer (see the module doc)."""
    shape_a, shape_b = shape(a), shape(b)
    return shape_a == shape_b or frozenset({shape_a, shape_b}) in _BRIDGES


def stated_result(expr: object) -> object:
    """The last side of an equation or chain of equations between numbers alone, else `expr`.

    ``4 \\times 8 = 32`` and ``2+3 = 5 = 5`` state 32 and 5; ``12 \\times 4 = 52`` states 52,
    which is wrong, and is compared as 52. An equation with a variable is returned as it is.
    """
    relations = equation_chain(expr)
    if relations is None or any(side.free_symbols for r in relations for side in (r.lhs, r.rhs)):
        return expr
    return relations[-1].rhs


def equation_chain(expr: object) -> list | None:
    """The equations of ``a = b`` or of a chain ``a = b = c`` (parsed as an ``And``), in order; else None."""
    from sympy import And, Eq

    relations = list(getattr(expr, "_unsorted_args", expr.args)) if isinstance(expr, And) else [expr]
    if not relations or not all(isinstance(r, Eq) for r in relations):
        return None
    return relations


def assigned_value(expr: object) -> object | None:
    """The value of an assignment to a lone variable or function, else None.

    ``x = 5``, ``y = 2x+1``, ``x = 2+3 = 5``, ``f(x) = x^2``, ``(p, q) = (3, 2)`` and
    ``|AB| = 1`` (see `names_quantity`) are assignments; ``7 = 11a+c``, ``x^2 = 4`` and
    ``x = 2x - 5`` (the variable on both sides) are not.
    """
    from sympy import Symbol
    from sympy.core.function import AppliedUndef

    relations = equation_chain(expr)
    if relations is None:
        return None
    target, value = relations[0].lhs, relations[-1].rhs
    if isinstance(target, AppliedUndef) and all(isinstance(arg, Symbol) for arg in target.args):
        return None if value.has(target.func) else value
    if not names_quantity(target) or target.free_symbols & getattr(value, "free_symbols", target.free_symbols):
        return None
    return value


def names_quantity(expr: object) -> bool:
    """Whether `expr` only names a quantity: a symbol, or symbols in a tuple, a product, a ratio or ``|.|``.

    ``x``, ``(p, q)``, ``|AB|``, ``\\frac{NO}{BO}`` and ``V_1 : V_2`` name one; ``x^2``, ``2x``
    and ``a + b`` do not (an equation of those is a condition, not a stated value).
    """
    from sympy import Abs, Mul, Pow, Symbol, Tuple

    if isinstance(expr, Symbol):
        return True
    if isinstance(expr, Tuple):
        return bool(expr.args) and all(isinstance(arg, Symbol) for arg in expr.args)
    if isinstance(expr, Abs):
        return names_quantity(expr.args[0])
    if isinstance(expr, Pow):
        return expr.exp == -1 and names_quantity(expr.base)
    return isinstance(expr, Mul) and all(names_quantity(arg) for arg in expr.args)


def unwrap_assignments(a: object, b: object) -> tuple[object, object]:
    """Replace an assignment by its value when the other side is not a relation (``x = 5`` vs ``5``)."""
    if _is_relation(a) and _is_relation(b):
        return a, b
    value_a, value_b = assigned_value(a), assigned_value(b)
    return (a if value_a is None else value_a), (b if value_b is None else value_b)


def numbers_verdict(a: object, b: object, tolerance: float = 0.0) -> bool | None:
    """`numbers_equal` on two parsed numbers; None unless both are finite numbers with known values."""
    value_a = number_value(a) if shape(a) == "value" else None
    value_b = number_value(b) if value_a is not None and shape(b) == "value" else None
    if value_a is None or value_b is None:
        return None
    verdict = numbers_equal(value_a, value_b, tolerance)
    if verdict is None and _is_rational(value_a) and _is_rational(value_b) and _writable(value_a, value_b):
        difference = exact_difference(a, b)
        return None if difference is None else difference <= Fraction(tolerance)
    return verdict


def _writable(*descriptions: dict) -> bool:
    """Whether exact arithmetic on these numbers stays cheap (magnitudes within 10^±100000)."""
    for description in descriptions:
        value = description.get("value")
        magnitude = Decimal(value[0]) if value is not None else None
        if magnitude is None or (magnitude and abs(magnitude.adjusted()) > _MAX_EXACT_DIGITS):
            return False
    return True


def agree_at_points(a: Basic, b: Basic) -> bool:
    """Whether two plain expressions in the same variables agree at four complex points.

    Only for expressions built from arithmetic, powers, roots, ``exp``/``log`` and
    trigonometric functions, without decimals: such expressions that agree at points in all
    four quadrants (off the branch cuts) are the same function, while identities that need
    ``x > 0`` (``\\sqrt{x^2} = x``), integers or rounding (``\\lfloor x \\rfloor``) fail.
    """
    if shape(a) != "value" or shape(b) != "value" or not _elementary(a) or not _elementary(b):
        return False
    symbols = sorted(a.free_symbols | b.free_symbols, key=lambda symbol: symbol.name)
    if not symbols or a.free_symbols != b.free_symbols:
        return False
    for re_sign, im_sign in _POINTS:
        point = {s: complex(re_sign * (0.31 + 0.07 * k), im_sign * (0.43 + 0.05 * k)) for k, s in enumerate(symbols)}
        x, y = _value_at(a, point), _value_at(b, point)
        if x is None or y is None or abs(x - y) > 1e-9 * max(1.0, abs(x), abs(y)):
            return False
    return True


def _elementary(expr: Basic) -> bool:
    from sympy import Add, Float, Mul, Number, NumberSymbol, Pow, Symbol, exp, log
    from sympy.core.numbers import ImaginaryUnit
    from sympy.functions.elementary.hyperbolic import HyperbolicFunction
    from sympy.functions.elementary.trigonometric import InverseTrigonometricFunction, TrigonometricFunction

    allowed = (
        Add,
        Mul,
        Pow,
        Symbol,
        Number,
        NumberSymbol,
        ImaginaryUnit,
        exp,
        log,
        TrigonometricFunction,
        InverseTrigonometricFunction,
        HyperbolicFunction,
    )
    return not expr.atoms(Float) and all(isinstance(node, allowed) for node in _nodes(expr))


def _nodes(expr: object):
    from sympy import preorder_traversal

    return preorder_traversal(expr)


def _value_at(expr: Basic, point: dict) -> complex | None:
    from sympy import Float, I

    try:
        value = complex(
            expr.xreplace({s: Float(z.real, 20) + I * Float(z.imag, 20) for s, z in point.items()}).evalf(20)
        )
    except (TypeError, ValueError, OverflowError, ZeroDivisionError):
        return None
    return value if cmath.isfinite(value) else None


def _is_relation(expr: object) -> bool:
    from sympy import And
    from sympy.core.relational import Relational

    if isinstance(expr, Relational):
        return True
    return isinstance(expr, And) and bool(expr.args) and all(isinstance(arg, Relational) for arg in expr.args)


def _bounded(seconds: int, function, *args):
    """`function(*args)` under math-verify's alarm-based timeout; None when it runs out of time."""
    from math_verify.errors import TimeoutException
    from math_verify.utils import timeout

    try:
        return timeout(timeout_seconds=seconds)(function)(*args)
    except TimeoutException:
        logger.debug("%s ran out of time", getattr(function, "__name__", function))
        return None


def clearly_different(x: list[float], y: list[float]) -> bool:
    """Further apart than any rounding (6 decimals) or evaluation error could explain."""
    u, v = complex(*x), complex(*y)
    return abs(u - v) > 1e-6 * max(1.0, abs(u), abs(v))


def fingerprint(expr: object) -> list[float] | None:
    """``[real, imag]`` of a plain sympy expression at a fixed point, or None."""
    from sympy import Expr, Rational, S, Symbol
    from sympy.core.function import AppliedUndef
    from sympy.matrices.expressions import MatrixExpr

    if not isinstance(expr, Expr) or isinstance(expr, (Symbol, MatrixExpr)):
        return None
    if expr.has(S.NaN, S.ComplexInfinity, S.Infinity, S.NegativeInfinity) or expr.atoms(AppliedUndef):
        return None
    symbols = expr.free_symbols
    if any(symbol.is_integer or not isinstance(symbol, Symbol) for symbol in symbols):
        return None  # identities that hold only on integers would be refuted at a non-integer point
    point = {symbol: Rational(300 + zlib.crc32(symbol.name.encode()) % 600, 1000) for symbol in symbols}
    try:
        value = complex(expr.xreplace(point).evalf(30))
    except (TypeError, ValueError, OverflowError, ZeroDivisionError):
        return None
    if not cmath.isfinite(value):
        return None
    return [value.real, value.imag]


def _alarm_seconds(timeout: float) -> int:
    # math-verify's own alarm-based timeouts work here (main thread); the parent's kill backs them up.
    return max(1, int(float(timeout) / 2))


def _limit_memory(max_bytes: int) -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (max_bytes, max_bytes))
    except (ImportError, ValueError, OSError):  # not on this platform; the parent's deadline still applies
        pass


def main() -> None:
    """Serve requests until stdin closes."""
    _limit_memory(MEMORY_LIMIT_BYTES)
    logging.getLogger("math_verify").setLevel(logging.CRITICAL)  # the parent logs timeouts and errors
    session = Session()
    session.warm_up()
    out = sys.stdout.buffer
    out.write(b'{"ready": true}\n')
    out.flush()
    for line in sys.stdin.buffer:
        request_id = None
        try:
            request = json.loads(line)
            request_id = request["id"]
            reply = {"id": request_id, **session.handle(request)}
        except Exception as error:  # a bad request or a sympy failure: report it, keep serving
            reply = {"id": request_id, "error": repr(error)[:300]}
        out.write(json.dumps(reply).encode() + b"\n")
        out.flush()


if __name__ == "__main__":
    main()
