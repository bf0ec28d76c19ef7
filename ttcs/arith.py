"""The built-in `arith` dataset: seeded arithmetic and algebra problems with sympy-computed answers.

Its levels span easy to hard, for a tiny model on a CPU:

- level 0: single-digit facts, one of +, -, × (``What is 7 × 8?``; ``ops`` picks which): the
  frontier of the embedded SmolLM2-135M, which with the CPU setting's Solver prefill ("The
  answer is ") states an answer in every sample. With all three (data config
  ``arith_facts``) it gets about 40% right and its majority vote is barely better than one
  sample: its errors on differences are spread but its vote there is mostly "1". With sums
  and products only (``ops="+*"``, data config ``arith_frontier``, the default) it gets about
  half right and its vote is right more often than one sample, most clearly on products;
- level 1: two numbers, one of +, -, × (small operands, non-negative results);
- level 2: three-term expressions with parentheses, division giving fractions;
- level 3: linear equations such as ``3x + 5 = 20``, solve for the variable;
- level 4: word problems (apples, trains, prices with percentages, sharing, remainders, powers).

Every gold answer is computed with sympy from the structured problem (sympy numbers and
``sympy.solve``, never by parsing a string) and rendered as LaTeX-friendly text: ``42``,
``-7``, ``\\frac{3}{4}``, ``-\\frac{3}{4}``. The structure is kept in ``Problem.meta`` so a
reader (and the tests) can re-check any answer independently.

Problem ``i`` depends only on ``(seed, i, levels)``, so a smaller ``n`` gives a prefix of a
larger one. Run ``python -m ttcs.arith`` to print a sample.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence

import sympy

from ttcs.types import Problem

SOURCE = "arith"
LEVELS = (1, 2, 3, 4)  # the default mix; level 0 (single-digit facts) is asked for by name
OPS = {"+": "+", "-": "-", "*": "×", "/": "÷"}
_MAX_ATTEMPTS = 50


def format_rational(value: sympy.Rational) -> str:
    """Render a sympy rational as ``42``, ``-7`` or ``\\frac{3}{4}``/``-\\frac{3}{4}``.

    Example:
        >>> format_rational(sympy.Rational(-3, 4))
        '-\\\\frac{3}{4}'
    """
    value = sympy.Rational(value)
    if value.q == 1:
        return str(value.p)
    sign = "-" if value.p < 0 else ""
    return f"{sign}\\frac{{{abs(value.p)}}}{{{value.q}}}"


def _apply(op: str, a: sympy.Rational, b: sympy.Rational) -> sympy.Rational:
    """One binary operation on sympy numbers (``/`` of integers gives an exact Rational)."""
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if b == 0:
        raise ZeroDivisionError("division by zero in a generated expression")
    return a / b


# ---------------------------------------------------------------- level 0: single-digit facts


def _level0(rng: random.Random, ops: str = "+-*") -> tuple[str, sympy.Rational, dict]:
    op = rng.choice(ops)
    if op == "-":
        a = rng.randint(2, 9)
        b = rng.randint(1, a - 1)
    elif op == "+":  # sums up to 10: the model's frontier (larger sums it mostly gets wrong)
        a = rng.randint(1, 9)
        b = rng.randint(1, 10 - a)
    else:
        a, b = rng.randint(2, 9), rng.randint(2, 9)
    answer = _apply(op, sympy.Integer(a), sympy.Integer(b))
    question = f"What is {a} {OPS[op]} {b}?"
    return question, answer, {"kind": "expression", "operands": [a, b], "ops": [op], "group": "left"}


# ---------------------------------------------------------------- level 1: two numbers


def _level1(rng: random.Random) -> tuple[str, sympy.Rational, dict]:
    op = rng.choice("+-*")
    if op == "*":
        a, b = rng.randint(2, 9), rng.randint(2, 9)
    elif op == "+":
        a, b = rng.randint(1, 20), rng.randint(1, 20)
    else:
        a = rng.randint(5, 20)
        b = rng.randint(1, a)
    answer = _apply(op, sympy.Integer(a), sympy.Integer(b))
    template = rng.choice(["What is {e}?", "Compute {e}.", "Calculate {e}."])
    question = template.format(e=f"{a} {OPS[op]} {b}")
    return question, answer, {"kind": "expression", "operands": [a, b], "ops": [op], "group": "left"}


# ------------------------------------------------------ level 2: three-term expressions


def _level2(rng: random.Random) -> tuple[str, sympy.Rational, dict]:
    a, b, c = (rng.randint(1, 12) for _ in range(3))
    op1, op2 = rng.choice("+-*/"), rng.choice("+-*/")
    group = rng.choice(["left", "right"])
    x, y, z = (sympy.Integer(v) for v in (a, b, c))
    if group == "left":  # (a op1 b) op2 c
        answer = _apply(op2, _apply(op1, x, y), z)
        text = f"({a} {OPS[op1]} {b}) {OPS[op2]} {c}"
    else:  # a op1 (b op2 c)
        answer = _apply(op1, x, _apply(op2, y, z))
        text = f"{a} {OPS[op1]} ({b} {OPS[op2]} {c})"
    question = f"Compute {text}. Give the answer as an integer or a fraction in lowest terms."
    return question, answer, {"kind": "expression", "operands": [a, b, c], "ops": [op1, op2], "group": group}


# ---------------------------------------------------------- level 3: linear equations


def _linear_text(coef: int, const: int, var: str) -> str:
    """``3x + 5``, ``-x - 2``, ``x``, ``7`` (a side of a linear equation)."""
    if coef == 0:
        return str(const)
    head = var if coef == 1 else f"-{var}" if coef == -1 else f"{coef}{var}"
    if const == 0:
        return head
    return f"{head} {'+' if const > 0 else '-'} {abs(const)}"


def _level3(rng: random.Random) -> tuple[str, sympy.Rational, dict]:
    var = rng.choice("xxyn")
    form = rng.choice(["simple", "simple", "both", "paren"])
    if form == "simple":  # a x + b = d, integer solution
        a, root, b = rng.choice([-3, -2, 2, 3, 4, 5, 6, 7, 8, 9]), rng.randint(-9, 12), rng.randint(-15, 15)
        lhs, rhs = (a, b), (0, a * root + b)
        text = f"{_linear_text(*lhs, var)} = {rhs[1]}"
    elif form == "both":  # a x + b = c x + d, possibly a fraction
        c = rng.randint(1, 5)
        a = c + rng.randint(1, 5) * rng.choice([1, -1])
        a = a if a != 0 else c + 1
        lhs, rhs = (a, rng.randint(-12, 12)), (c, rng.randint(-12, 12))
        text = f"{_linear_text(*lhs, var)} = {_linear_text(*rhs, var)}"
    else:  # a (x + b) = d, stored expanded as a x + a b = d
        a, b, d = rng.randint(2, 6), rng.randint(-6, 9), rng.randint(-20, 30)
        lhs, rhs = (a, a * b), (0, d)
        inner = f"{var} + {b}" if b >= 0 else f"{var} - {-b}"
        text = f"{a}({inner}) = {d}"
    symbol = sympy.Symbol(var)
    equation = sympy.Eq(lhs[0] * symbol + lhs[1], rhs[0] * symbol + rhs[1])
    (answer,) = sympy.solve(equation, symbol)
    question = f"Solve for {var}: {text}."
    meta = {"kind": "equation", "form": form, "var": var, "lhs": list(lhs), "rhs": list(rhs)}
    return question, answer, meta


# ------------------------------------------------------------ level 4: word problems


def _apples(rng: random.Random) -> tuple[str, sympy.Rational, dict]:
    name = rng.choice(["Maya", "Tom", "Priya", "Lucas", "Aiko", "Omar"])
    have, bags, per_bag = rng.randint(3, 20), rng.randint(2, 5), rng.randint(2, 8)
    give = rng.randint(1, have + bags * per_bag - 1)
    answer = sympy.Integer(have) + sympy.Integer(bags) * per_bag - give
    question = (
        f"{name} has {have} apples. {name} buys {bags} bags with {per_bag} apples in each bag, "
        f"then gives {give} apples to a friend. How many apples does {name} have now?"
    )
    return question, answer, {"have": have, "bags": bags, "per_bag": per_bag, "give": give}


def _train(rng: random.Random) -> tuple[str, sympy.Rational, dict]:
    speed = rng.choice([40, 45, 50, 60, 75, 80, 90, 120])
    if rng.random() < 0.5:
        hours = rng.randint(2, 6)
        answer = sympy.Integer(speed) * hours
        question = f"A train travels at {speed} km/h for {hours} hours. How many kilometres does it travel?"
        return question, answer, {"ask": "distance", "speed": speed, "hours": hours}
    distance = rng.randint(3, 30) * 10
    answer = sympy.Rational(distance, speed)
    question = (
        f"A train travels {distance} km at a constant {speed} km/h. How many hours does the trip take? "
        "Give the answer as an integer or a fraction."
    )
    return question, answer, {"ask": "time", "speed": speed, "distance": distance}


def _price(rng: random.Random) -> tuple[str, sympy.Rational, dict]:
    item = rng.choice(["jacket", "bicycle", "lamp", "backpack", "pair of shoes"])
    price, percent = rng.randint(1, 10) * 20, rng.choice([10, 15, 20, 25, 30, 40, 50, 75])
    direction = rng.choice(["off", "up"])
    factor = sympy.Rational(100 - percent, 100) if direction == "off" else sympy.Rational(100 + percent, 100)
    answer = sympy.Integer(price) * factor
    if direction == "off":
        question = f"A {item} costs ${price}. It is on sale for {percent}% off. What is the sale price in dollars?"
    else:
        question = f"A {item} costs ${price}. Its price goes up by {percent}%. What is the new price in dollars?"
    return question, answer, {"price": price, "percent": percent, "direction": direction}


def _share(rng: random.Random) -> tuple[str, sympy.Rational, dict]:
    people, cookies = rng.randint(2, 8), rng.randint(5, 40)
    answer = sympy.Rational(cookies, people)
    question = (
        f"{people} friends share {cookies} cookies equally. How many cookies does each friend get? "
        "Give the answer as an integer or a fraction."
    )
    return question, answer, {"people": people, "cookies": cookies}


def _remainder(rng: random.Random) -> tuple[str, sympy.Rational, dict]:
    divisor = rng.randint(3, 12)
    dividend = rng.randint(divisor + 1, 150)
    answer = sympy.Mod(sympy.Integer(dividend), sympy.Integer(divisor))
    question = f"What is the remainder when {dividend} is divided by {divisor}?"
    return question, answer, {"dividend": dividend, "divisor": divisor}


def _power(rng: random.Random) -> tuple[str, sympy.Rational, dict]:
    base, exponent, minus = rng.randint(2, 6), rng.randint(2, 4), rng.randint(0, 20)
    answer = sympy.Pow(sympy.Integer(base), sympy.Integer(exponent)) - minus
    tail = f" - {minus}" if minus else ""
    question = f"What is {base}^{exponent}{tail}?"
    return question, answer, {"base": base, "exponent": exponent, "minus": minus}


WORD_PROBLEMS: dict[str, Callable[[random.Random], tuple[str, sympy.Rational, dict]]] = {
    "apples": _apples,
    "train": _train,
    "price": _price,
    "share": _share,
    "remainder": _remainder,
    "power": _power,
}


def _level4(rng: random.Random) -> tuple[str, sympy.Rational, dict]:
    kind = rng.choice(sorted(WORD_PROBLEMS))
    question, answer, values = WORD_PROBLEMS[kind](rng)
    return question, answer, {"kind": kind, "values": values}


GENERATORS: dict[int, Callable[..., tuple[str, sympy.Rational, dict]]] = {
    0: _level0,
    1: _level1,
    2: _level2,
    3: _level3,
    4: _level4,
}


def _draw(
    level: int, seed: int, index: int, seen: set[str], ops: str | None = None
) -> tuple[str, sympy.Rational, dict]:
    """Problem ``index`` of ``level``: redrawn (deterministically) on a repeat or a division by zero."""
    for attempt in range(_MAX_ATTEMPTS):
        rng = random.Random(f"ttcs-arith:{seed}:{index}:{attempt}")
        try:
            question, answer, meta = GENERATORS[level](rng, ops) if ops and level == 0 else GENERATORS[level](rng)
        except ZeroDivisionError:
            continue
        if question not in seen:
            return question, answer, meta
    raise RuntimeError(f"arith: could not draw a new level-{level} problem after {_MAX_ATTEMPTS} attempts")


def generate_arith(n: int = 64, seed: int = 0, levels: Sequence[int] = LEVELS, ops: str | None = None) -> list[Problem]:
    """Generate ``n`` arithmetic/algebra problems, levels taken in turn from ``levels``.

    Args:
        n: how many problems.
        seed: the same seed gives the same problems.
        levels: which difficulty levels (0-4) to use; problem ``i`` has level ``levels[i % len(levels)]``.
        ops: the operations of level 0, a string over ``+-*`` (None: all three); other levels ignore it.

    Returns:
        Problems with ids like ``arith-L2-0007``, a gold ``answer`` computed with sympy,
        ``source == "arith"`` and ``meta`` holding ``level`` plus the problem's structure.

    Example:
        >>> [p.id for p in generate_arith(n=2, levels=[1, 3])]
        ['arith-L1-0000', 'arith-L3-0001']
    """
    levels = tuple(int(level) for level in levels)
    if n < 0:
        raise ValueError(f"arith: n must be >= 0, got {n}")
    if not levels or any(level not in GENERATORS for level in levels):
        raise ValueError(f"arith: levels must be a non-empty subset of {sorted(GENERATORS)}, got {list(levels)}")
    if ops is not None and (not ops or set(ops) - set("+-*") or len(set(ops)) != len(ops)):
        raise ValueError(f"arith: ops must be distinct operations from '+-*', got {ops!r}")
    problems: list[Problem] = []
    seen: set[str] = set()
    for index in range(n):
        level = levels[index % len(levels)]
        question, answer, meta = _draw(level, seed, index, seen, ops)
        seen.add(question)
        problems.append(
            Problem(
                id=f"{SOURCE}-L{level}-{index:04d}",
                question=question,
                answer=format_rational(answer),
                source=SOURCE,
                meta={"level": level, **meta},
            )
        )
    return problems


# ---------------------------------------------------------------- reading a question's arithmetic

_WORD_OPS = (
    (r"\\times|\\cdot|[×·∗]|\bmultiplied\s+by\b|\btimes\b", "*"),
    (r"\\div|÷|\bdivided\s+by\b|\bover\b", "/"),
    (r"\bplus\b|\badded\s+to\b", "+"),
    (r"\bminus\b|[−–]", "-"),
)
_RUN = re.compile(r"(?<![\d.)])-?\s*\(*\s*\d+\s*\)*(?:\s*[-+*/]\s*\(*\s*-?\d+\s*\)*)+")
_RUN_TOKEN = re.compile(r"\d+|[-+*/()]")
MAX_READ_CHARS = 120  # a longer run is not one of the facts this reader is for
MAX_READ_OPERANDS = 8
MAX_READ_DIGITS = 6


def expression_value(question: str) -> sympy.Rational | None:
    """The exact value of the one arithmetic expression a question states, or None.

    For checking synthesized variants of arithmetic questions against the truth rather than
    against a model: "What is 7 × 8?" gives 56, "Compute $(3 + 4) \\times 2$." gives 14. A
    question is read only when its digits all belong to ONE expression of integers joined by
    + − × ÷ (symbols, LaTeX or words such as "plus" and "divided by") with parentheses, so a
    word problem, an equation ("3x + 5 = 20") or a question with stray numbers gives None, as
    does division by zero. Model text is never evaluated as code: a small parser reads the
    tokens, and the numbers are sympy Rationals (size caps: `MAX_READ_CHARS`,
    `MAX_READ_OPERANDS`, `MAX_READ_DIGITS`).

    Example:
        >>> expression_value("What is 7 × 8?"), expression_value("Compute 12 divided by (1 + 3).")
        (56, 3)
        >>> expression_value("If 3 cats each have 4 legs, how many legs?") is None
        True
    """
    text = question.replace("$", " ").replace("\\left", "").replace("\\right", "")
    text = text.replace("\\(", " ").replace("\\)", " ").replace("{", "(").replace("}", ")")
    for pattern, symbol in _WORD_OPS:
        text = re.sub(pattern, f" {symbol} ", text, flags=re.IGNORECASE)
    runs = list(_RUN.finditer(text))
    if len(runs) != 1 or len(runs[0].group()) > MAX_READ_CHARS:
        return None
    outside = text[: runs[0].start()] + " " + text[runs[0].end() :]
    if re.search(r"\d", outside):
        return None
    tokens = _RUN_TOKEN.findall(runs[0].group())
    while tokens.count("(") > tokens.count(")") and tokens[0] == "(":  # "(3 + 4) of a longer text": drop unmatched
        tokens.pop(0)
    while tokens.count(")") > tokens.count("(") and tokens[-1] == ")":
        tokens.pop()
    numbers = [t for t in tokens if t.isdigit()]
    if len(numbers) > MAX_READ_OPERANDS or any(len(t) > MAX_READ_DIGITS for t in numbers):
        return None
    try:
        value, rest = _read_sum(tokens)
    except (ValueError, ZeroDivisionError, IndexError):
        return None
    return value if not rest else None


def _read_chain(tokens: list[str], ops: str, operand) -> tuple[sympy.Rational, list[str]]:
    """Operands joined left to right by the operators in ``ops``; each operand read by ``operand``."""
    value, tokens = operand(tokens)
    while tokens and tokens[0] in ops:
        op, (right, tokens) = tokens[0], operand(tokens[1:])
        value = _apply(op, value, right)
    return value, tokens


def _read_sum(tokens: list[str]) -> tuple[sympy.Rational, list[str]]:
    return _read_chain(tokens, "+-", _read_product)


def _read_product(tokens: list[str]) -> tuple[sympy.Rational, list[str]]:
    return _read_chain(tokens, "*/", _read_factor)


def _read_factor(tokens: list[str]) -> tuple[sympy.Rational, list[str]]:
    if tokens[0] == "-":
        value, rest = _read_factor(tokens[1:])
        return -value, rest
    if tokens[0] == "(":
        value, rest = _read_sum(tokens[1:])
        if not rest or rest[0] != ")":
            raise ValueError("unbalanced parentheses")
        return value, rest[1:]
    if not tokens[0].isdigit():
        raise ValueError(f"expected a number, got {tokens[0]!r}")
    return sympy.Rational(int(tokens[0])), tokens[1:]


if __name__ == "__main__":
    for problem in generate_arith(n=12):
        print(f"{problem.id}  {problem.question}  ->  {problem.answer}")
