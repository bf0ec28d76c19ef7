"""The built-in arith set: deterministic, levels honoured, every gold answer re-checked without sympy."""

from __future__ import annotations

import re
from fractions import Fraction

import pytest

from ttcs.arith import format_rational, generate_arith
from ttcs.data import load_problems

_ANSWER = re.compile(r"^(-?)(?:(\d+)|\\frac\{(\d+)\}\{(\d+)\})$")
_OPS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "/": lambda a, b: a / b}


def parse_answer(text: str) -> Fraction:
    """`42`, `-7`, `\\frac{3}{4}`, `-\\frac{3}{4}` -> Fraction; anything else fails the test."""
    match = _ANSWER.match(text)
    assert match, f"unparseable answer {text!r}"
    sign, integer, num, den = match.groups()
    value = Fraction(int(integer)) if integer else Fraction(int(num), int(den))
    if not integer:
        assert Fraction(int(num), int(den)).denominator == int(den) and int(den) > 1, f"not in lowest terms: {text}"
    return -value if sign else value


def expected_value(meta: dict) -> Fraction:
    """The gold answer recomputed from the stored structure, with Python integers and Fractions."""
    kind = meta["kind"]
    if kind == "expression":
        values = [Fraction(v) for v in meta["operands"]]
        ops = [_OPS[op] for op in meta["ops"]]
        if len(values) == 2:
            return ops[0](*values)
        a, b, c = values
        return ops[1](ops[0](a, b), c) if meta["group"] == "left" else ops[0](a, ops[1](b, c))
    v = meta.get("values", {})
    if kind == "apples":
        return Fraction(v["have"] + v["bags"] * v["per_bag"] - v["give"])
    if kind == "train":
        return Fraction(v["speed"] * v["hours"]) if v["ask"] == "distance" else Fraction(v["distance"], v["speed"])
    if kind == "price":
        sign = -1 if v["direction"] == "off" else 1
        return Fraction(v["price"]) * Fraction(100 + sign * v["percent"], 100)
    if kind == "share":
        return Fraction(v["cookies"], v["people"])
    if kind == "remainder":
        return Fraction(v["dividend"] % v["divisor"])
    if kind == "power":
        return Fraction(v["base"] ** v["exponent"] - v["minus"])
    raise AssertionError(f"unknown kind {kind}")


@pytest.fixture(scope="module")
def problems():
    return generate_arith(n=240, seed=7)


def test_same_seed_same_problems():
    assert generate_arith(n=40, seed=3) == generate_arith(n=40, seed=3)


def test_different_seeds_differ():
    first, second = generate_arith(n=40, seed=0), generate_arith(n=40, seed=1)
    assert sum(a.question != b.question for a, b in zip(first, second, strict=True)) > 30


def test_smaller_n_is_a_prefix():
    assert generate_arith(n=10, seed=2) == generate_arith(n=30, seed=2)[:10]


@pytest.mark.parametrize("n", [0, 1, 7, 33])
def test_count_honoured(n):
    assert len(generate_arith(n=n)) == n


@pytest.mark.parametrize("levels", [[1], [2, 4], [3]])
def test_levels_honoured(levels):
    got = generate_arith(n=12, levels=levels)
    assert {p.meta["level"] for p in got} == set(levels)
    assert all(p.id.startswith(f"arith-L{p.meta['level']}-") for p in got)


def test_ids_unique_and_shaped(problems):
    assert len({p.id for p in problems}) == len(problems)
    assert problems[7].id == "arith-L4-0007"
    assert all(re.fullmatch(r"arith-L[1-4]-\d{4}", p.id) for p in problems)
    assert len({p.question for p in problems}) == len(problems)


def test_every_gold_answer_rechecked(problems):
    for p in problems:
        if p.meta["kind"] == "equation":
            continue
        assert parse_answer(p.answer) == expected_value(p.meta), p


def test_equation_answers_substitute_back(problems):
    equations = [p for p in problems if p.meta["kind"] == "equation"]
    assert len(equations) == 60
    for p in equations:
        x = parse_answer(p.answer)
        (a, b), (c, d) = p.meta["lhs"], p.meta["rhs"]
        assert a * x + b == c * x + d, p
        assert p.meta["var"] in p.question


def test_problem_fields(problems):
    for p in problems:
        assert p.source == "arith" and p.choices is None and p.question.strip()
        assert isinstance(p.answer, str)


def test_mix_has_fractions_negatives_and_word_problems(problems):
    answers = [parse_answer(p.answer) for p in problems]
    assert any(a.denominator > 1 for a in answers)
    assert any(a < 0 for a in answers)
    assert {p.meta["kind"] for p in problems if p.meta["level"] == 4} >= {"apples", "train", "price", "share"}


def test_level1_is_easy(problems):
    for p in (p for p in problems if p.meta["level"] == 1):
        value = parse_answer(p.answer)
        assert value.denominator == 1 and 0 <= value <= 81
        assert max(p.meta["operands"]) <= 20


def test_format_rational():
    import sympy

    assert format_rational(sympy.Integer(42)) == "42"
    assert format_rational(sympy.Rational(-3, 4)) == "-\\frac{3}{4}"
    assert format_rational(sympy.Rational(6, 4)) == "\\frac{3}{2}"


def test_bad_levels_rejected():
    with pytest.raises(ValueError, match="levels"):
        generate_arith(n=3, levels=[5])


def test_load_problems_routes_to_arith():
    got = load_problems("arith", n=10, seed=4, levels=[2, 3], limit=6)
    assert got == generate_arith(n=10, seed=4, levels=[2, 3])[:6]


def test_level0_ops_pick_the_operations():
    got = generate_arith(n=40, seed=0, levels=[0], ops="+*")
    assert {p.meta["ops"][0] for p in got} == {"+", "*"}
    assert all(parse_answer(p.answer) == expected_value(p.meta) for p in got)
    assert all(p.meta["operands"][0] + p.meta["operands"][1] <= 10 for p in got if p.meta["ops"] == ["+"])
    assert {p.meta["ops"][0] for p in generate_arith(n=12, levels=[0], ops="-")} == {"-"}
    # the default draws all three, as before the option existed; other levels ignore it
    assert generate_arith(n=24, levels=[0]) == generate_arith(n=24, levels=[0], ops=None)
    assert {p.meta["ops"][0] for p in generate_arith(n=24, levels=[0])} == {"+", "-", "*"}
    assert generate_arith(n=8, levels=[1, 3], ops="*") == generate_arith(n=8, levels=[1, 3])


@pytest.mark.parametrize("ops", ["", "/", "+x", "++"])
def test_bad_ops_rejected(ops):
    with pytest.raises(ValueError, match="ops"):
        generate_arith(n=3, levels=[0], ops=ops)


def test_frontier_config_loads_sums_and_products():
    from conftest import REPO_ROOT
    from omegaconf import OmegaConf

    from ttcs.data import load_data_config

    got = load_data_config(OmegaConf.load(REPO_ROOT / "conf" / "data" / "arith_frontier.yaml"))
    assert len(got) == 24 and {p.meta["ops"][0] for p in got} == {"+", "*"}
