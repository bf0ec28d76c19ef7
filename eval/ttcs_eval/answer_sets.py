"""Answer sets for `ttcs-bench-voting`: what the Solver's samples of one question look like.

Two families, each a list of *kinds*; a kind draws one value at random and returns the
surface forms a model writes for it (``\\dfrac`` or ``\\frac``, spacing, ``\\left(``, a
reordered set, ``0.5`` for ``\\frac12``):

- ``numeric``: numbers only (``\\frac{1}{2}``/``0.5``/``1/2``, ``033``, ``\\$5``, radicals,
  multiples of ``\\pi``), the values of different kinds mixed in one set;
- ``realistic``: the forms the gold answers of MATH-500, OlympiadBench and Minerva take:
  intervals and unions of intervals, ordered pairs, sets, polynomials in ``x``, lines
  ``y = mx + c``, radicals, fractions of ``\\pi``, complex numbers, vectors, lengths with
  units, angles in degrees and words (``\\text{even}``). All values of one set are of one
  kind (a question's wrong answers look like its right one), so telling them apart takes
  real comparisons.

A set holds `samples` answers: the majority value with probability 0.3-0.8 per sample,
else one of 1-3 rival values, plus None (no answer) and garbage. Each answer comes with the
index of the value it was drawn from, so the true clusters are known.

Example:
    >>> answers, values = make_labelled_sets(1, 8, seed=0, family="realistic")[0]
    >>> len(answers) == len(values) == 8
    True
"""

from __future__ import annotations

import random
from collections.abc import Callable

Answer = str | None
Kind = Callable[[random.Random], list[str]]
GARBAGE = ("I don't know", r"\text{undefined}", "???", "x", r"\frac{1}{")


# ---- numeric: numbers in several notations ---------------------------------------------------


def _half(rng: random.Random) -> list[str]:
    return [r"\frac{1}{2}", "0.5", "1/2", r"\dfrac{1}{2}", r"\frac12", r"\frac{2}{4}"]


def _integer(rng: random.Random) -> list[str]:
    n = rng.randint(1, 999)
    return [str(n), f"{n:03d}", f"{n}.0", rf"\${n}", rf"{n}^\circ"]


def _fraction(rng: random.Random) -> list[str]:
    num, den = rng.choice([(1, 3), (2, 3), (3, 4), (5, 6), (7, 8), (-1, 4)])
    sign = "-" if num < 0 else ""
    return [rf"{sign}\frac{{{abs(num)}}}{{{den}}}", f"{num}/{den}", rf"\dfrac{{{num}}}{{{den}}}"]


def _radical(rng: random.Random) -> list[str]:
    a, b = rng.choice([(2, 2), (3, 2), (2, 3), (5, 3), (4, 5), (3, 7)])
    return [rf"{a}\sqrt{{{b}}}", rf"\sqrt{{{a * a * b}}}", rf"{a} \sqrt {b}", rf"\sqrt{{{b}}} \cdot {a}"]


def _pi_multiple(rng: random.Random) -> list[str]:
    k = rng.randint(2, 12)
    return [rf"{k}\pi", rf"\pi \cdot {k}", rf"{k} \pi"]


NUMERIC: tuple[Kind, ...] = (_half, _integer, _integer, _fraction, _radical, _pi_multiple)


# ---- realistic: the forms of real gold answers -------------------------------------------------


def _union_of_rays(rng: random.Random) -> list[str]:
    a = rng.randint(-9, 5)
    b = a + rng.randint(1, 6)
    left, right = rng.choice("])"), rng.choice("[(")
    return [
        rf"(-\infty, {a}{left} \cup {right}{b}, \infty)",
        rf"(-\infty,{a}{left}\cup{right}{b},\infty)",
        rf"\left(-\infty, {a}\right{left} \cup \left{right}{b}, \infty\right)",
        rf"(-\infty, {a}{left} \cup {right}{b}, +\infty)",
    ]


def _interval(rng: random.Random) -> list[str]:
    a = rng.randint(-9, 8)
    b = a + rng.randint(1, 9)
    left, right = rng.choice("[("), rng.choice("])")
    return [f"{left}{a}, {b}{right}", f"{left}{a},{b}{right}", rf"\left{left}{a}, {b}\right{right}"]


def _pair(rng: random.Random) -> list[str]:
    p = rng.randint(-9, 9)
    q = p - rng.randint(1, 9)  # first > second: math-verify reads (p, q) with p < q as an open interval
    return [f"({p}, {q})", f"({p},{q})", rf"\left({p}, {q}\right)", rf"({p},\, {q})"]


def _finite_set(rng: random.Random) -> list[str]:
    items = rng.sample(range(-5, 13), 3)
    shuffled = rng.sample(items, 3)
    text = ", ".join(map(str, items))
    return [
        rf"\{{{text}\}}",
        rf"\{{{','.join(map(str, shuffled))}\}}",
        rf"\left\{{{text}\right\}}",
        rf"\{{{', '.join(map(str, sorted(items)))}\}}",
    ]


def _square(rng: random.Random) -> list[str]:
    a = rng.choice([n for n in range(-6, 7) if n])
    sign = "+" if a > 0 else "-"
    b, c = abs(2 * a), a * a
    return [
        f"x^2{sign}{b}x+{c}",
        f"(x{sign}{abs(a)})^2",
        f"x^{{2}} {sign} {b}x + {c}",
        f"{c}{sign}{b}x+x^2",
        f"({sign}{abs(a)}+x)^{{2}}".replace("(+", "("),
    ]


def _line(rng: random.Random) -> list[str]:
    m, c = rng.choice([-5, -4, -3, -2, 2, 3, 4, 5]), rng.randint(1, 9)
    sign = "+" if m > 0 else "-"
    return [f"y = {m}x + {c}", f"y={m}x+{c}", f"{m}x+{c}", f"y = {c} {sign} {abs(m)}x"]


def _scaled_radical(rng: random.Random) -> list[str]:
    k, m = rng.randint(2, 7), rng.choice([2, 3, 5, 6, 7, 10])
    spaced = rf"{k} \sqrt {m}" if m < 10 else rf"{k} \sqrt {{{m}}}"  # `\sqrt 10` is sqrt(1) times 0
    return [rf"{k}\sqrt{{{m}}}", rf"\sqrt{{{k * k * m}}}", spaced, rf"\sqrt{{{m}}} \cdot {k}"]


def _pi_fraction(rng: random.Random) -> list[str]:
    p, q = rng.choice([(1, 4), (1, 3), (1, 6), (2, 3), (3, 4), (5, 6), (1, 2)])
    coefficient = "" if p == 1 else str(p)
    return [
        rf"\frac{{{coefficient}\pi}}{{{q}}}",
        rf"\dfrac{{{coefficient}\pi}}{{{q}}}",
        rf"{coefficient}\pi/{q}",
        rf"\frac{{{p}}}{{{q}}}\pi",
    ]


def _complex(rng: random.Random) -> list[str]:
    a, b = rng.randint(1, 9), rng.randint(2, 9)
    return [f"{a}+{b}i", f"{b}i+{a}", f"{a} + {b}i", f"{a}+{b} i"]


def _vector(rng: random.Random) -> list[str]:
    a, b = rng.randint(-9, 9), rng.randint(-9, 9)
    return [
        rf"\begin{{pmatrix}} {a} \\ {b} \end{{pmatrix}}",
        rf"\begin{{pmatrix}}{a}\\{b}\end{{pmatrix}}",
        rf"\begin{{pmatrix}} {a}\\ {b} \end{{pmatrix}}",
    ]


def _length(rng: random.Random) -> list[str]:
    n, unit = rng.randint(2, 99), rng.choice(["cm", "m", "inches"])
    return [rf"{n}\text{{ {unit}}}", rf"{n} \text{{ {unit}}}", str(n), rf"{n}\,\text{{{unit}}}", f"{n} {unit}"]


def _angle(rng: random.Random) -> list[str]:
    n = rng.choice(range(15, 180, 15))
    return [rf"{n}^\circ", rf"{n}^{{\circ}}", str(n), f"{n} degrees"]


def _word(rng: random.Random) -> list[str]:
    word = rng.choice(["even", "odd", "neither", "yes", "no", "Monday", "Tuesday", "Friday", "none"])
    return [rf"\text{{{word}}}", word, rf"\text{{{word.capitalize()}}}", rf"\textbf{{{word}}}"]


REALISTIC: tuple[Kind, ...] = (
    _union_of_rays,
    _interval,
    _pair,
    _finite_set,
    _square,
    _line,
    _scaled_radical,
    _pi_fraction,
    _complex,
    _vector,
    _length,
    _angle,
    _word,
)
FAMILIES: dict[str, tuple[Kind, ...]] = {"numeric": NUMERIC, "realistic": REALISTIC}


def _values(rng: random.Random, family: str) -> list[list[str]]:
    """The forms of 2-4 distinct values: of random kinds (numeric), or all of one kind (realistic)."""
    count = rng.randint(2, 4)
    if family == "numeric":
        return [rng.choice(NUMERIC)(rng) for _ in range(count)]
    kind = rng.choice(REALISTIC)
    values: list[list[str]] = []
    for _ in range(50 * count):  # rival values of a kind with few values may repeat: draw again
        forms = kind(rng)
        if all(not set(forms) & set(other) for other in values):  # `5 cm` and `5 m` are both `5`
            values.append(forms)
        if len(values) == count:
            break
    return values


def make_labelled_sets(
    sets: int, samples: int, seed: int, family: str = "numeric"
) -> list[tuple[list[Answer], list[int]]]:
    """`sets` answer lists with, per answer, the index of its value (-1 for None and garbage)."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; choose one of {sorted(FAMILIES)}")
    rng = random.Random(seed)
    result = []
    for _ in range(sets):
        values = _values(rng, family)
        p_first = rng.uniform(0.3, 0.8)
        answers: list[Answer] = []
        labels: list[int] = []
        for _ in range(samples):
            roll = rng.random()
            if roll < 0.13:
                answers.append(None if roll < 0.08 else rng.choice(GARBAGE))
                labels.append(-1)
                continue
            value = 0 if rng.random() < p_first or len(values) == 1 else rng.randrange(1, len(values))
            answers.append(rng.choice(values[value]))
            labels.append(value)
        result.append((answers, labels))
    return result


def make_answer_sets(sets: int, samples: int, seed: int, family: str = "numeric") -> list[list[Answer]]:
    """`sets` lists of `samples` answers: a majority value, 1-3 rival values, None, garbage."""
    return [answers for answers, _ in make_labelled_sets(sets, samples, seed, family)]
