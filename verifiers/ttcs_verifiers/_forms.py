"""Exact forms of the commonest answer shapes, read in pure Python: the fast path before sympy.

Real gold answers are mostly small things a sympy parse is too slow for when a vote needs
hundreds of comparisons: ``(-\\infty, 3] \\cup (5, \\infty)``, ``(1, -2)``, ``\\{1,2,3\\}``,
``x^2+2x+1``, ``y = 2x + 3``, ``2\\sqrt{3}``, ``\\frac{\\pi}{4}``, ``\\text{even}``. `read_form`
reads such an answer into a `Form` whose `key` is a normal form: within one kind, equal keys
mean equal answers and different keys different ones. Anything outside this small grammar
(decimals, other functions, Greek letters, ``i``, ``e``, upper-case letters, nesting
deeper than `MAX_DEPTH`, more than `MAX_CHARS` characters) gives None and is left to the
symbolic checker; nothing is evaluated, and the work is linear in the answer's length.

Kinds and what they mirror of ``ttcs_verifiers._worker`` (math-verify's parse and verify):

- ``number``: a rational combination of powers of ``\\pi`` and square roots of integers
  (``\\frac{1}{\\sqrt{2}}``, ``\\frac{3\\pi}{4}``); its `value` is given to the number
  comparison, never decided by key (numbers agree to a relative tolerance);
- ``poly``: a polynomial with rational coefficients in lower-case letters, optionally
  assigned to a lone variable (``y = 2x + 3``); two polynomials are equal as functions;
- ``intervals``: an interval or a union of disjoint intervals with rational or infinite
  ends (``(p, q)`` with ``p < q`` is an open interval, as math-verify reads it);
- ``tuple`` (``(p, q)`` with ``p >= q``, or three or more entries), ``set`` (two or more
  distinct elements), ``matrix`` (``pmatrix``/``bmatrix``): rational entries;
- ``text``: one word in ``\\text{}`` or ``\\textbf{}``, compared case-insensitively.

`forms_verdict` decides a pair of non-number forms wherever the worker's verdict follows
from the kinds and keys alone, and returns None elsewhere (a word against a product of
letters, an assignment against a structure, two assignments to different variables).

Example:
    >>> read_form(r"\\left(-\\infty, 3\\right] \\cup (5, \\infty)").key == read_form(r"(-\\infty,3]\\cup(5,+\\infty)").key
    True
    >>> forms_verdict(read_form("(x+1)^2"), read_form("x^{2} + 2x + 1")), read_form(r"\\sqrt{12}").key
    (True, ((((), 3), Fraction(2, 1)),))
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Hashable
from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import cast

MAX_CHARS = 300
MAX_DEPTH = 12
MAX_TERMS = 64
MAX_EXPONENT = 12
MAX_RADICAND = 10**6
MAX_COEFFICIENT_BITS = 200

_CLEAN_RE = re.compile(r"\\(?:left|right|displaystyle)(?![A-Za-z])|(?<!\\)\\[,;:! ]|\\q?quad(?![A-Za-z])|~")
_TOKEN_RE = re.compile(r"\s*(\d+|[a-z]|\\[A-Za-z]+|\\[{}]|[-+()\[\]{}^/*,&]|\\\\|\S)")
_TEXT_RE = re.compile(r"^\\(?:text|textbf)\s*\{\s*([A-Za-z]{2,})\s*\}$")
_MATRIX_RE = re.compile(r"^\\begin\{([pb]matrix)\}(.*)\\end\{\1\}$", re.DOTALL)
_ASSIGNMENT_RE = re.compile(r"^([a-z])\s*=(?!=)(.*)$", re.DOTALL)
_INFINITY_RE = re.compile(r"^([+-]?)\\infty$")
_RESERVED_WORDS = frozenset(
    "pi infty inf infinity oo nan zoo sin cos tan cot sec csc arcsin arccos arctan sinh cosh tanh log ln exp "
    "sqrt and or".split()
)
# Not e, i (math-verify may read them as constants) nor d (``dx`` may be read as a differential).
_LETTERS = frozenset("abcfghjklmnopqrstuvwxyz")
_PI = "pi"
_PI_FRACTION = Fraction(math.pi)

Monomial = tuple[tuple[tuple[str, int], ...], int]  # ((variable, power), ...) sorted, and a square-free radicand
Poly = dict[Monomial, Fraction]


class _Refused(Exception):
    """The answer lies outside the grammar of exact forms."""


@dataclass(frozen=True)
class Form:
    """An answer read exactly: `kind`, a normal-form `key`, and for numbers their `value`."""

    kind: str
    key: Hashable
    label: str | None = None  # the variable of an assignment (``y`` of ``y = 2x+3``)
    value: tuple[Decimal, Decimal] | None = None  # numbers: real and imaginary part, 40 digits
    rational: Fraction | None = None  # numbers that are rational

    @property
    def _terms(self) -> tuple:
        """A polynomial's terms: the second item of its key ``(label, terms)``."""
        return cast(tuple, self.key)[1]

    @property
    def variable(self) -> str | None:
        """The letter of a polynomial that is one lone variable (``x``), else None."""
        if self.kind != "poly" or self.label is not None or len(self._terms) != 1:
            return None
        (variables, root), coefficient = self._terms[0]
        return (
            variables[0][0]
            if len(variables) == 1 and variables[0][1] == 1 and root == 1 == coefficient and variables[0][0] != _PI
            else None
        )

    @property
    def fingerprint(self) -> list[float] | None:
        """A polynomial's value where ``ttcs_verifiers._worker.fingerprint`` evaluates every parse."""
        if self.kind != "poly":
            return None
        total = 0.0
        for (variables, root), coefficient in self._terms:
            term = Fraction(coefficient)
            for name, power in variables:
                term *= _PI_FRACTION**power if name == _PI else _point(name) ** power
            total += float(term) * math.sqrt(root)
        return [total, 0.0]


def _point(name: str) -> Fraction:
    """The value `ttcs_verifiers._worker.fingerprint` gives the variable `name`."""
    return Fraction(300 + zlib.crc32(name.encode()) % 600, 1000)


def read_form(answer: str) -> Form | None:
    """The exact form of `answer`, or None when it is not one of the kinds above."""
    if not isinstance(answer, str) or len(answer) > MAX_CHARS:
        return None
    text = _CLEAN_RE.sub(" ", answer).replace(r"\dfrac", r"\frac").replace(r"\tfrac", r"\frac").strip()
    try:
        return _read(text)
    except (_Refused, ZeroDivisionError, ValueError, RecursionError, OverflowError):
        return None


def _read(text: str) -> Form | None:
    word = _TEXT_RE.match(text)
    if word:
        return Form("text", word.group(1).lower()) if word.group(1).lower() not in _RESERVED_WORDS else None
    matrix = _MATRIX_RE.match(text)
    if matrix:
        rows = [
            tuple(_rational(entry) for entry in row.split("&"))
            for row in re.split(r"\\\\", matrix.group(2))
            if row.strip()
        ]
        if not rows or len({len(row) for row in rows}) != 1:
            return None
        return Form("matrix", tuple(rows))
    if text.startswith(r"\{") and text.endswith(r"\}"):
        elements = frozenset(_rational(item) for item in _split_top(text[2:-2], ","))
        return Form("set", elements) if len(elements) >= 2 else None
    if r"\cup" in text:
        return _union([_interval(piece) for piece in _split_top(text, r"\cup")])
    if text[:1] in "([" and text[-1:] in ")]" and len(_split_top(text[1:-1], ",")) >= 2:
        return _bracketed(text)
    return _expression(text)


def _expression(text: str) -> Form | None:
    label = None
    assignment = _ASSIGNMENT_RE.match(text)
    if assignment:
        label, text = assignment.group(1), assignment.group(2)
    if "=" in text or "<" in text or ">" in text:
        return None
    poly = _Parser(text).parse()
    letters = {name for monomial in poly for name, _ in monomial[0] if name != _PI}
    if label is not None and (label in letters or not letters):
        return None  # `x = 2x - 5` is an equation; `x = 5` is left to the number path
    if letters:
        return Form("poly", (label, _poly_key(poly)), label=label)
    if label is not None:
        return None
    value = _value(poly)
    rational = poly.get(((), 1), Fraction(0)) if all(m == ((), 1) for m in poly) else None
    return Form("number", _poly_key(poly), value=value, rational=rational)


def _bracketed(text: str) -> Form | None:
    """``(p, q)`` / ``[p, q)``: an interval when it has two ends in order, else a tuple of parentheses."""
    items = _split_top(text[1:-1], ",")
    if len(items) == 2:
        try:
            return _union([_interval(text)])
        except _Refused:
            pass
    if text[0] != "(" or text[-1] != ")":
        return None
    return Form("tuple", tuple(_rational(item) for item in items))


def _interval(text: str) -> tuple:
    text = text.strip()
    items = _split_top(text[1:-1], ",")
    if text[:1] not in "([" or text[-1:] not in ")]" or len(items) != 2:
        raise _Refused(text)
    low, high = (_end(item) for item in items)
    low_closed, high_closed = text[0] == "[", text[-1] == "]"
    if not low < high or (low_closed and low == -_INF) or (high_closed and high == _INF):
        raise _Refused(text)
    return (low, low_closed, high, high_closed)


_INF = float("inf")


def _end(text: str) -> Fraction | float:
    infinity = _INFINITY_RE.match(text.strip())
    if infinity:
        return -_INF if infinity.group(1) == "-" else _INF
    return _rational(text)


def _union(pieces: list[tuple]) -> Form:
    """Disjoint pieces that cannot merge, sorted: a normal form of their union."""
    pieces = sorted(pieces, key=lambda piece: piece[0])
    for (_, _, high, high_closed), (low, low_closed, _, _) in zip(pieces, pieces[1:], strict=False):
        if high > low or (high == low and (high_closed or low_closed)):
            raise _Refused("overlapping pieces")
    return Form("intervals", tuple(pieces))


def _rational(text: str) -> Fraction:
    poly = _Parser(text).parse()
    if any(monomial != ((), 1) for monomial in poly):
        raise _Refused(text)
    return poly.get(((), 1), Fraction(0))


def _split_top(text: str, separator: str) -> list[str]:
    """`text` split at each `separator` outside brackets and braces."""
    parts, depth, start, index = [], 0, 0, 0
    while index < len(text):
        char = text[index]
        if text.startswith(separator, index) and depth == 0:
            parts.append(text[start:index])
            index += len(separator)
            start = index
            continue
        if char == "\\" and index + 1 < len(text) and text[index + 1] in "{}":
            index += 2
            continue
        depth += 1 if char in "([{" else -1 if char in ")]}" else 0
        if depth < 0 and char in ")]":
            depth = 0  # a half-open interval's bracket inside a union piece
        index += 1
    parts.append(text[start:])
    return [part.strip() for part in parts]


def _poly_key(poly: Poly) -> tuple:
    return tuple(sorted((monomial, coefficient) for monomial, coefficient in poly.items() if coefficient))


def _value(poly: Poly) -> tuple[Decimal, Decimal]:
    """The value of a constant `poly` (powers of pi, square roots) to 40 digits."""
    with localcontext() as context:
        context.prec = 45
        pi = Decimal("3.14159265358979323846264338327950288419716939937510582097494459")
        total = Decimal(0)
        for (variables, radicand), coefficient in poly.items():
            term = Decimal(coefficient.numerator) / Decimal(coefficient.denominator) * Decimal(radicand).sqrt()
            for _, power in variables:
                term *= pi**power
            total += term
        context.prec = 40
        return (+total, Decimal(0))


def _multiply(a: Poly, b: Poly) -> Poly:
    product: Poly = {}
    for (vars_a, root_a), coef_a in a.items():
        for (vars_b, root_b), coef_b in b.items():
            powers = dict(vars_a)
            for name, power in vars_b:
                powers[name] = powers.get(name, 0) + power
            if any(power > MAX_EXPONENT for power in powers.values()):
                raise _Refused("degree")
            square, root = _square_free(root_a * root_b)
            monomial = (tuple(sorted(powers.items())), root)
            product[monomial] = product.get(monomial, Fraction(0)) + coef_a * coef_b * square
    return _checked(product)


def _add(a: Poly, b: Poly, sign: int = 1) -> Poly:
    total = dict(a)
    for monomial, coefficient in b.items():
        total[monomial] = total.get(monomial, Fraction(0)) + sign * coefficient
    return _checked(total)


def _checked(poly: Poly) -> Poly:
    poly = {monomial: coefficient for monomial, coefficient in poly.items() if coefficient}
    if len(poly) > MAX_TERMS:
        raise _Refused("too many terms")
    for coefficient in poly.values():
        if max(abs(coefficient.numerator).bit_length(), coefficient.denominator.bit_length()) > MAX_COEFFICIENT_BITS:
            raise _Refused("huge coefficient")
    return poly


def _square_free(n: int) -> tuple[int, int]:
    """``n = square**2 * root`` with `root` square-free."""
    if n > MAX_RADICAND:
        raise _Refused("radicand")
    square, root, factor = 1, n, 2
    while factor * factor <= root:
        while root % (factor * factor) == 0:
            root //= factor * factor
            square *= factor
        factor += 1
    return square, root


def _constant(value: Fraction | int) -> Poly:
    return _checked({((), 1): Fraction(value)})


class _Parser:
    """Recursive descent over ``+ - \\cdot \\times / ^ ( ) { } \\frac \\sqrt \\pi``, digits and letters."""

    def __init__(self, text: str) -> None:
        self.tokens = [match.group(1) for match in _TOKEN_RE.finditer(text)]
        self.position = 0
        self.depth = 0

    def parse(self) -> Poly:
        if not self.tokens:
            raise _Refused("empty")
        poly = self.sum()
        if self.position != len(self.tokens):
            raise _Refused(f"unexpected {self.peek()!r}")
        return poly

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise _Refused(f"expected {expected!r}")
        self.position += 1
        return token

    def sum(self) -> Poly:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _Refused("deep")
        sign = -1 if self.peek() == "-" else 1
        if self.peek() in ("+", "-"):
            self.take()
        total = _multiply(_constant(sign), self.product())
        while self.peek() in ("+", "-"):
            sign = 1 if self.take() == "+" else -1
            total = _add(total, self.product(), sign)
        self.depth -= 1
        return total

    def product(self) -> Poly:
        result, previous, divided = self.power(), self.tokens[self.position - 1], False
        while True:
            token = self.peek()
            if token in ("\\cdot", "\\times", "*"):
                self.take()
                result = _multiply(result, self.power())
            elif token == "/":
                self.take()
                result, divided = _multiply(result, _inverse(self.power())), True
            elif token is not None and self._starts_factor(token, previous):
                if divided:
                    raise _Refused("1/2x: which is divided?")
                result = _multiply(result, self.power())
            else:
                return result
            previous = self.tokens[self.position - 1]

    def _starts_factor(self, token: str, previous: str) -> bool:
        """Implicit multiplication; never two numbers (``1 000``) nor a number before ``\\frac`` (``2\\frac12``)."""
        if token.isdigit():
            return False
        if (token == "\\frac" and previous.isdigit()) or (token == "(" and previous in _LETTERS):
            raise _Refused("a mixed number or a function call")
        return token in ("(", "\\frac", "\\sqrt", "\\pi") or token in _LETTERS

    def power(self) -> Poly:
        base = self.atom()
        if self.peek() != "^":
            return base
        self.take()
        if self.peek() == "{":
            self.take()
            exponent = self.take()
            self.take("}")
        else:
            exponent = self.take()
            if len(exponent) != 1:
                raise _Refused("ambiguous exponent")
        if not exponent.isdigit() or int(exponent) > MAX_EXPONENT or self.peek() == "^":
            raise _Refused("exponent")
        result = _constant(1)
        for _ in range(int(exponent)):
            result = _multiply(result, base)
        return result

    def atom(self) -> Poly:
        token = self.take()
        if token.isdigit():
            return _constant(int(token))
        if token in _LETTERS:
            return {(((token, 1),), 1): Fraction(1)}
        if token == "\\pi":
            return {(((_PI, 1),), 1): Fraction(1)}
        if token in ("(", "{"):
            inner = self.sum()
            self.take(")" if token == "(" else "}")
            return inner
        if token == "\\frac":
            numerator = self.argument()
            return _multiply(numerator, _inverse(self.argument()))
        if token == "\\sqrt":
            radicand = self.argument()
            if set(radicand) - {((), 1)} or radicand.get(((), 1), 0) <= 0:
                raise _Refused("root of a non-number")
            value = radicand[((), 1)]
            square, root = _square_free(value.numerator * value.denominator)
            return {((), root): Fraction(square, value.denominator)}
        raise _Refused(f"token {token!r}")

    def argument(self) -> Poly:
        """A braced group, or one digit or letter (``\\frac12``, ``\\sqrt 3``)."""
        if self.peek() == "{":
            self.take()
            inner = self.sum()
            self.take("}")
            return inner
        token = self.take()
        if token.isdigit():
            if len(token) > 1:  # `\frac14`: the argument is the first digit only
                self.position -= 1
                self.tokens[self.position] = token[1:]
            return _constant(int(token[0]))
        if token in _LETTERS:
            return {(((token, 1),), 1): Fraction(1)}
        raise _Refused("argument")


def _inverse(poly: Poly) -> Poly:
    """``1 / poly`` for a single constant term ``c \\sqrt{r}``; anything else is refused."""
    if len(poly) != 1:
        raise _Refused("division by a sum")
    (((variables, root), coefficient),) = poly.items()
    if variables or not coefficient:
        raise _Refused("division by a variable")
    return {((), root): 1 / (coefficient * root)}


def forms_verdict(a: Form | None, b: Form | None) -> bool | None:
    """The verdict on two forms where it follows from them alone (numbers: see `Form.value`), else None."""
    if a is None or b is None or "number" in (a.kind, b.kind):
        return None if a is None or b is None or a.kind == b.kind == "number" else _against_number(a, b)
    if "text" in (a.kind, b.kind):
        return a.key == b.key if a.kind == b.kind else None if "poly" in (a.kind, b.kind) else False
    if a.kind == b.kind == "poly":
        if a.label is not None and b.label is not None and a.label != b.label:
            return None
        return a._terms == b._terms
    if "poly" in (a.kind, b.kind):
        return False if (a.label is None and b.label is None) else None
    return a.kind == b.kind and a.key == b.key


def _against_number(a: Form, b: Form) -> bool | None:
    """A number never equals a structure or an unassigned polynomial; a word against a number is left alone."""
    other = b if a.kind == "number" else a
    if other.kind in ("intervals", "tuple", "set", "matrix"):
        return False
    if other.kind == "poly" and other.label is None:
        return False
    return None
