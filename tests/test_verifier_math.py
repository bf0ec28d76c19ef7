"""The ``math`` verifier: extraction, equivalence of every answer kind, canonical keys, and
hostile input (injection, pathological sizes, slow sympy work, calls off the main thread)."""

from __future__ import annotations

import threading
import time
from fractions import Fraction

import pytest
from ttcs_verifiers.math import MathVerifier

TIMEOUT = 1.0
BUDGET = TIMEOUT + 1.0  # every call must return within the timeout plus one second


@pytest.fixture(scope="module")
def verifier() -> MathVerifier:
    v = MathVerifier(timeout=TIMEOUT)
    assert v.warm_up()  # the one-off start of the sympy subprocess is not part of any budget
    return v


def timed(fn, *args):
    start = time.monotonic()
    result = fn(*args)
    return result, time.monotonic() - start


# ---- extract ------------------------------------------------------------------------------

EXTRACT = [
    (r"so \boxed{5}", "5"),
    (r"first \boxed{1} then \boxed{\frac{1}{2}}", r"\frac{1}{2}"),
    (r"nested \boxed{\frac{\sqrt{2}}{2}} done", r"\frac{\sqrt{2}}{2}"),
    (r"a set \boxed{\{1,2\}}", r"\{1,2\}"),
    (r"$\boxed 7$", "7"),
    (r"\fbox{42}", "42"),
    (r"\boxed{3} and then \boxed{ unclosed", "3"),
    (r"\boxed{", None),
    ("The answer is 42.", "42"),
    ("The answer is $0.5$.", "0.5"),
    ("Final Answer: The final answer is 12. I hope it is correct.", "12"),
    ("Answer: 3\nActually, answer: 4", "4"),
    ("The answer is:\n\n17", "17"),
    ("**Final answer:** $x = 5$", "x = 5"),
    ("no answer here", None),
    ("", None),
]


@pytest.mark.parametrize(("completion", "expected"), EXTRACT)
def test_extract(verifier, completion, expected):
    assert verifier.extract(completion) == expected


# ---- equivalent -------------------------------------------------------------------------

EQUIVALENT = [
    ("5", "5"),
    ("033", "33"),  # AIME leading zeros
    ("1,000", "1000"),
    ("1,000,000", "1000000"),
    (r"\frac12", "0.5"),
    (r"\dfrac{1}{2}", "1/2"),
    (r"\frac{2}{4}", r"\frac{1}{2}"),
    (r"\frac{1}{3}", "0.333333"),
    (r"2\sqrt{2}", r"\sqrt{8}"),
    (r"\frac{\sqrt{2}}{2}", r"\frac{1}{\sqrt{2}}"),
    (r"2\pi", r"\pi \cdot 2"),
    (r"\frac{\pi}{2}", r"0.5\pi"),
    (r"2^{10}", "1024"),
    ("10^{3}", "1000"),
    ("[1,2]", "[1, 2]"),
    (r"(-\infty, 3)", r"(-\infty,3)"),
    ("(1,2)", "(1, 2)"),
    (r"\{1,2,3\}", r"\{3,2,1\}"),
    (r"\begin{pmatrix}1&2\\3&4\end{pmatrix}", r"\begin{pmatrix}1 & 2\\ 3 & 4\end{pmatrix}"),
    ("1+2i", "2i+1"),
    ("x^2+2x+1", "(x+1)^2"),
    (r"\frac{x}{2}", "0.5x"),
    ("x = 5", "5"),
    ("y = 2x+1", "2x+1"),
    (r"\text{5}", "5"),
    (r"\text{Monday}", "Monday"),
    (r"5 \text{ cm}", "5"),
    ("5 cm", "5"),
    (r"12\text{ inches}", "12"),
    (r"90^\circ", "90"),
    (r"90^{\circ}", "90"),
    (r"\$5", "5"),
    (r"\$1,000", "1000"),
    (r"50\%", "50"),
    (r"-\frac{1}{2}", r"\frac{-1}{2}"),
    ("-0.5", r"-\frac12"),
    ("+3", "3"),
]

NOT_EQUIVALENT = [
    ("-3", "3"),  # sign error
    (r"-\frac{1}{2}", r"\frac{1}{2}"),
    (r"\sqrt{2}", r"-\sqrt{2}"),
    ("1/2", "2"),
    ("0.5", "0.05"),
    ("033", "34"),
    (r"\frac{1}{3}", "0.33"),
    (r"\pi", "3.14"),
    (r"2\sqrt{2}", r"\sqrt{2}"),
    ("(3,4)", "(4,3)"),  # a swapped pair (tuple order matters)
    ("(1,2)", "(2,1)"),
    ("[1,2)", "(1,2)"),  # closed vs open end
    ("(1,2)", "[1,2]"),
    (r"(-\infty, 3)", r"(-\infty, 3]"),
    (r"\{1,2\}", r"\{1,3\}"),
    (r"\begin{pmatrix}1&2\\3&4\end{pmatrix}", r"\begin{pmatrix}1&2\\3&5\end{pmatrix}"),
    ("1+2i", "1-2i"),
    ("x^2", "2x"),
    ("x-1", "1-x"),
    ("x = 5", "6"),
    ("5", ""),
    ("", ""),
    ("5", "five apples and a pear"),
]


@pytest.mark.parametrize(("a", "b"), EQUIVALENT)
def test_equivalent(verifier, a, b):
    assert verifier.equivalent(a, b)
    assert verifier.equivalent(b, a)


@pytest.mark.parametrize(("a", "b"), NOT_EQUIVALENT)
def test_not_equivalent(verifier, a, b):
    assert not verifier.equivalent(a, b)
    assert not verifier.equivalent(b, a)


def test_equivalent_rejects_non_strings(verifier):
    assert verifier.equivalent(None, "5") is False  # type: ignore[arg-type]
    assert verifier.equivalent(5, 5) is False  # type: ignore[arg-type]


# ---- canonical --------------------------------------------------------------------------

CANONICAL = [
    ("33", Fraction(33)),
    ("033", Fraction(33)),
    ("1,000", Fraction(1000)),
    (r"1{,}000", Fraction(1000)),
    (r"\$5", Fraction(5)),
    (r"5^\circ", Fraction(5)),
    (r"\text{5}", Fraction(5)),
    ("-7", Fraction(-7)),
    ("0.5", Fraction(1, 2)),
    (".25", Fraction(1, 4)),
    ("1/2", Fraction(1, 2)),
    (r"\frac{1}{2}", Fraction(1, 2)),
    (r"\frac12", Fraction(1, 2)),
    (r"\dfrac{3}{4}", Fraction(3, 4)),
    (r"-\frac{1}{2}", Fraction(-1, 2)),
    ("x = 5", Fraction(5)),
    (r"5 \text{ cm}", Fraction(5)),
    (r"\sqrt{x}", None),  # outside the exact forms: left to the symbolic checker
    (r"\ln 2", None),
    ("1.5x", None),
    ("(0.5, 1)", None),
    ("1/0", None),
    (r"\alpha + 1", None),
    ("", None),
]


@pytest.mark.parametrize(("answer", "key"), CANONICAL)
def test_canonical(verifier, answer, key):
    assert verifier.canonical(answer) == key


def test_equal_canonical_keys_imply_equivalent(verifier):
    answers = [a for a, _ in CANONICAL] + [a for pair in EQUIVALENT for a in pair]
    keyed = [(a, verifier.canonical(a)) for a in answers]
    for a, key_a in keyed:
        for b, key_b in keyed:
            if key_a is not None and key_a == key_b:
                assert verifier.equivalent(a, b), (a, b)


def test_canonical_needs_no_sympy_subprocess(monkeypatch):
    v = MathVerifier()
    monkeypatch.setattr(v, "_worker", None)  # any symbolic call would now fail loudly
    assert v.canonical("0033") == 33
    assert v.equivalent(r"\frac{1}{2}", "0.5")
    assert not v.equivalent("12", "13")


# ---- slow symbolic work (hostile input in general: tests/test_hostile_inputs.py) ----------------

SLOW = r"\sum_{k=1}^{9999} k^{k}"  # passes the screen; sympy takes far longer than the timeout


def test_slow_symbolic_work_times_out_on_the_main_thread(verifier):
    verifier.warm_up()
    result, seconds = timed(verifier.equivalent, SLOW, "5")
    assert result is False
    assert seconds < BUDGET


def test_slow_symbolic_work_times_out_off_the_main_thread(verifier):
    verifier.warm_up()
    outcome: dict = {}

    def work():
        outcome["result"], outcome["seconds"] = timed(verifier.equivalent, SLOW.replace("k", "j"), "6")

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(timeout=BUDGET + 5)
    assert outcome["result"] is False
    assert outcome["seconds"] < BUDGET
    # the worker was replaced: ordinary comparisons still work (a generous deadline: the replacement's first
    # LaTeX parse is cold, and on a loaded machine that alone can pass the short test timeout)
    assert MathVerifier(timeout=30.0).equivalent(r"3\sqrt{3}", r"\sqrt{27}")


def test_many_threads_share_the_worker():
    v = MathVerifier(timeout=5.0)
    pairs = [(rf"{k}\sqrt{{2}}", rf"\sqrt{{{2 * k * k}}}") for k in range(2, 8)]
    results: list[bool] = []
    threads = [threading.Thread(target=lambda p=p: results.append(v.equivalent(*p))) for p in pairs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert results == [True] * len(pairs)


def test_verdicts_and_parses_are_cached(verifier, monkeypatch):
    v = MathVerifier()
    requests: list[str] = []
    original = v._worker.request

    def spy(op, timeout, **fields):
        requests.append(op)
        return original(op, timeout, **fields)

    monkeypatch.setattr(v._worker, "request", spy)
    for _ in range(3):  # a division by a polynomial is no exact form: the worker parses it, once
        assert v.equivalent(r"\frac{x^2-1}{x-1}", "x+1")
    assert requests.count("describe") == 1  # `x+1` is an exact form, described without the worker
    assert requests.count("compare") == 1
    for _ in range(3):
        assert v.equivalent("e^{2}", r"e \cdot e")
    assert requests.count("describe") == 3  # each distinct string once
    assert requests.count("compare") == 1  # two numbers are decided by their values, without a comparison
    for _ in range(3):
        assert v.equivalent("x^2+2x+1", "(x+1)^2") and v.equivalent(r"2\sqrt{3}", r"\sqrt{12}")
    assert len(requests) == 4  # exact forms need no worker (see `ttcs_verifiers._forms`)


# ---- the shortcut that skips math-verify's verify ------------------------------------------

SHORTCUT_ANSWERS = [
    "5",
    r"2\sqrt{2}",
    r"\sqrt{8}",
    r"\pi",
    "3.14159265",
    "x+1",
    "1+x",
    "y+1",
    r"\text{undefined}",
    "???",
    "(1,2)",
    "e",
    r"\sin^2 x + \cos^2 x",
    "1",
]


def test_decide_agrees_with_math_verify():
    """Wherever the descriptions settle a comparison, math-verify's verify says the same."""
    from math_verify import LatexExtractionConfig, parse, verify
    from ttcs_verifiers._worker import decide, describe

    parsed = {a: parse("\\boxed{" + a + "}", extraction_config=[LatexExtractionConfig()]) for a in SHORTCUT_ANSWERS}
    described = {a: describe(p) for a, p in parsed.items()}
    settled = 0
    for a in SHORTCUT_ANSWERS:
        for b in SHORTCUT_ANSWERS:
            verdict = decide(described[a], described[b])
            if verdict is not None:
                settled += 1
                truth = bool(parsed[a] and parsed[b]) and (verify(parsed[a], parsed[b]) or verify(parsed[b], parsed[a]))
                assert verdict == truth, (a, b)
    assert settled > len(SHORTCUT_ANSWERS) ** 2 // 2  # the shortcut does most of the work
