"""The sympy subprocess behind `ttcs_verifiers._safe.SymbolicWorker`.

Run as ``python -m ttcs_verifiers._worker``. It reads one JSON request per line on stdin
and writes one JSON reply per line on stdout, and exits when stdin closes:

- ``{"id": 1, "op": "ping"}`` -> ``{"id": 1}``
- ``{"id": 2, "op": "compare", "a": "2\\\\sqrt2", "b": "\\\\sqrt8", "timeout": 2}`` ->
  ``{"id": 2, "equal": true}`` (math-verify's ``verify`` in either direction)
- ``{"id": 3, "op": "describe", "a": "\\\\pi", "timeout": 2}`` ->
  ``{"id": 3, "kind": "number", "strings": ["\\\\pi"], "fingerprint": [3.14159..., 0.0], "text": "pi"}``

Answers are parsed with math-verify's LaTeX extractor only (its plain-expression
extractor runs sympy's Python-evaluating parser), once per string (LRU cache).

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

MEMORY_LIMIT_BYTES = 4 << 30


class Session:
    """Parses answers once each and answers the requests of one parent."""

    def __init__(self, cache_size: int = 4096) -> None:
        from math_verify import LatexExtractionConfig

        self.cache_size = cache_size
        self._config = [LatexExtractionConfig()]
        self._parsed: OrderedDict[str, list] = OrderedDict()

    def handle(self, request: dict) -> dict:
        op, seconds = request["op"], _alarm_seconds(request.get("timeout", 2))
        if op == "ping":
            return {}
        if op == "describe":
            return describe(self.parse(request["a"], seconds))
        if op == "compare":
            return {"equal": self.compare(request["a"], request["b"], seconds)}
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

    def compare(self, a: str, b: str, seconds: int) -> bool:
        from math_verify import verify

        gold, target = self.parse(a, seconds), self.parse(b, seconds)
        if not gold or not target:
            return False
        return verify(gold, target, timeout_seconds=seconds) or verify(target, gold, timeout_seconds=seconds)


def describe(parsed: list) -> dict:
    """What `decide` needs to know of a parse (see the module doc)."""
    from sympy import Symbol

    strings = [item.strip() for item in parsed if isinstance(item, str)]
    objects = [item for item in parsed if not isinstance(item, str)]
    if not objects:
        return {"kind": "unparsed" if strings else "empty", "strings": strings}
    if len(objects) > 1:
        return {"kind": "other", "strings": strings}
    if isinstance(objects[0], Symbol):
        return {"kind": "symbol", "strings": strings, "name": objects[0].name}
    value = fingerprint(objects[0])
    if value is None:
        return {"kind": "other", "strings": strings}
    if objects[0].free_symbols:
        return {"kind": "expression", "strings": strings, "fingerprint": value}
    return {"kind": "number", "strings": strings, "fingerprint": value, "text": str(objects[0])}


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
