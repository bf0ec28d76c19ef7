"""Model output is hostile input: the ``math`` verifier and the vote on code, monsters and junk.

A curated list (Python payloads in every wrapper an answer comes in, exponent towers, huge
factorials, nesting thousands deep, 100 KB strings, NUL bytes, lone surrogates, mixed
encodings) and generated LaTeX-like strings (hypothesis, the ``ttcs`` profile of
``tests/conftest.py``) go through every entry point: `extract`, `extract_for_scoring`,
`canonical`, `equivalent`, `is_correct`, `majority_vote` and `boxed_answer`. Nothing may
run (a payload's marker file never appears), nothing may raise, every result is of the
documented type, and every call returns within the verifier's timeout plus a margin.
"""

from __future__ import annotations

import time
from collections.abc import Hashable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ttcs_verifiers._safe import screen
from ttcs_verifiers.math import MathVerifier

from ttcs.voting import Vote, boxed_answer, majority_vote

TIMEOUT = 1.0
BUDGET = TIMEOUT + 1.0  # every call must return within the timeout plus one second
VOTE_BUDGET = 4 * TIMEOUT + 2.0  # a vote of four answers makes at most a few symbolic comparisons

PAYLOADS = [
    "__import__('os').system('touch {marker}')",
    "open('{marker}', 'w').write('x')",
    "__import__('subprocess').run(['touch', '{marker}'])",
    "exec(\"open('{marker}', 'w')\")",
    "eval(\"__import__('os').system('touch {marker}')\")",
    "(lambda: __import__('os').system('touch {marker}'))()",
    "().__class__.__bases__[0].__subclasses__()",
    "x.__class__.__mro__[1].__subclasses__()[0].__init__.__globals__['sys'].modules['os'].system('touch {marker}')",
    "Symbol('x').__class__.__init__.__globals__['__builtins__']['open']('{marker}', 'w')",
    "__builtins__.__dict__['open']('{marker}', 'w')",
]
WRAPPERS = [
    "{}",
    r"\boxed{{{}}}",
    "${}$",
    r"\({}\)",
    "The answer is {}.",
    r"\text{{{}}}",
    r"\frac{{{}}}{{2}}",
    "x = {}",
]
MONSTERS = [
    "10^{10^{10}}",
    "9^{9^{9^9}}",
    "10^{10^{10^{10}}}",
    "2^3^4^5^6",
    "2^{1000000000}",
    "10^{100000}",
    "(10^{100})!",
    "1000000!",
    "100000!",
    "(10^{5})!",
    "9!!!!!!",
    r"\binom{10^{9}}{10^{5}}",
    r"\sum_{k=1}^{9999} k^{k}",
    r"\prod_{k=1}^{10^{9}} k",
    "9" * 5000,
    "x^{" + "9" * 300 + "}",
    "{" * 10000,
    "}" * 10000 + "{" * 10000,
    "{" * 3000 + "}" * 3000,
    "(" * 3000 + "1" + ")" * 3000,
    r"\frac{" * 5000,
    r"\frac{1}{" * 2000 + "1" + "}" * 2000,
    r"\sqrt{" * 3000 + "2" + "}" * 3000,
    r"\boxed{" * 3000 + "1" + "}" * 3000,
    r"\left(" * 2000 + "x" + r"\right)" * 2000,
    "[" * 3000 + "]" * 3000,
    r"\boxed{",
    r"\boxed{\boxed{\boxed{",
    "answer: . " * 10_000,
    "1+" * 50_000 + "1",
    "x" * 100_000,
    r"\boxed{" + "1" * 100_000 + "}",
    "(" + "1, " * 30_000 + "1)",
    r"\{" + "1," * 30_000 + r"1\}",
    "x^2+" * 20_000 + "1",
    "The answer is " + "$" * 100_000,
    "1\x002",
    "\x00" * 100,
    r"\boxed{1\x00}",
    "\x00\\boxed{5}",
    "\ud800",
    r"\boxed{\udfff}",
    "5\ud83d",
    "caf\xe9",
    "Ã©",
    "\u202e5\u202c",
    "5\u200b",
    "٣",
    "𝟓",
    "½",
    "①",
    "\ufeff5",
    "\r\n\t\x0b\x0c",
    "\x1b[31m5\x1b[0m",
]
OTHERS = ["5", r"\frac{1}{2}", "(1, 2)", "x^2+1", r"\text{even}"]


@pytest.fixture(scope="module")
def verifier() -> MathVerifier:
    v = MathVerifier(timeout=TIMEOUT)
    assert v.warm_up()  # the one-off start of the sympy subprocess is not part of any budget
    return v


def _calls(verifier: MathVerifier, text: str, other: str):
    """Every entry point on `text`, with the budget each gets and the types it may return."""
    yield lambda: verifier.extract(text), BUDGET, (str, type(None))
    yield lambda: verifier.extract_for_scoring(text), BUDGET, (str, type(None))
    yield lambda: verifier.canonical(text), BUDGET, Hashable
    yield lambda: verifier.equivalent(text, other), BUDGET, bool
    yield lambda: verifier.equivalent(other, text), BUDGET, bool
    yield lambda: verifier.equivalent(text, text + " "), BUDGET, bool
    yield lambda: verifier.is_correct(text, other), BUDGET, bool
    yield lambda: verifier.is_correct(other, text), BUDGET, bool
    yield lambda: boxed_answer(text), BUDGET, (str, type(None))
    yield lambda: majority_vote([text, other, None, text], verifier), VOTE_BUDGET, Vote


def assert_harmless(verifier: MathVerifier, text: str, other: str = "5") -> None:
    for call, budget, types in _calls(verifier, text, other):
        verifier.warm_up()  # a replacement worker is ready, as it normally is between calls
        start = time.monotonic()
        result = call()
        seconds = time.monotonic() - start
        assert seconds < budget, (text[:80], seconds)
        assert isinstance(result, types), (text[:80], result)
        if isinstance(result, Vote):
            members = sorted(i for cluster in result.clusters for i in cluster)
            assert members == [i for i, a in enumerate([text, other, None, text]) if a is not None and a.strip()]


@pytest.mark.parametrize("wrapper", WRAPPERS)
@pytest.mark.parametrize("payload", PAYLOADS, ids=[f"payload{i}" for i in range(len(PAYLOADS))])
def test_code_in_an_answer_never_runs(verifier, tmp_path, payload, wrapper):
    marker = tmp_path / "pwned"
    text = wrapper.format(payload.replace("{marker}", str(marker)))
    for other in ("5", text, text + " + 1", OTHERS[3]):
        assert_harmless(verifier, text, other) if other == "5" else verifier.equivalent(text, other)
    assert not marker.exists()


@pytest.mark.parametrize("text", MONSTERS, ids=[f"monster{i}" for i in range(len(MONSTERS))])
def test_monsters_are_refused_in_time(verifier, text):
    assert_harmless(verifier, text)
    assert_harmless(verifier, rf"\boxed{{{text}}}" if len(text) < 1000 else text[::-1], OTHERS[2])


def test_nested_boxes_are_one_answer_not_a_run(verifier):
    nested = r"\boxed{" * 3000 + "1" + "}" * 3000  # once read as 3000 boxes in a row: a 36 MB answer
    assert verifier.extract_for_scoring(nested) == "1"
    assert verifier.extract_for_scoring(r"so \boxed{1}, \boxed{2}") == "1, 2"


@pytest.mark.parametrize(
    "answer", ["10^{10^{10^{10}}}", "9!!!!!!", "2^3^4", "x" * 2000, "1\x00", "{" * 100 + "}" * 100, "9" * 300]
)
def test_screen_refuses_what_hangs_sympy(answer):
    assert screen(answer) is not None


@pytest.mark.parametrize("answer", [r"\frac{1}{2}", "2^{2023}", r"\sqrt{8}", "10!", r"(1,2]", r"\binom{10}{3}"])
def test_screen_lets_ordinary_answers_through(answer):
    assert screen(answer) is None


# ---- generated LaTeX-like strings ---------------------------------------------------------------

TOKENS = [
    "0",
    "1",
    "2",
    "7",
    "10",
    "033",
    "0.5",
    "-",
    "+",
    "*",
    "/",
    "^",
    "_",
    "!",
    "=",
    "<",
    ",",
    ".",
    " ",
    "\\\\",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    r"\{",
    r"\}",
    r"\left(",
    r"\right)",
    r"\frac{",
    r"\dfrac",
    r"\sqrt{",
    r"\sqrt",
    r"\boxed{",
    r"\fbox{",
    r"\text{",
    r"\pi",
    r"\infty",
    r"\cup",
    r"\cdot",
    r"\circ",
    r"\%",
    r"\$",
    "$",
    "x",
    "y",
    "i",
    "e",
    "E",
    "n",
    "ab",
    "answer is ",
    "Final Answer: ",
    r"\begin{pmatrix}",
    r"\end{pmatrix}",
    "&",
    "9^{9^{9}}",
    "!!",
    "é",
    "\x00",
    "\ud800",
    "½",
    "__import__",
    "()",
    "'",
    '"',
    "\n",
]
latex_like = st.lists(st.sampled_from(TOKENS), max_size=24).map("".join)


@given(latex_like, st.sampled_from(OTHERS))
def test_generated_strings_are_harmless(verifier, text, other):
    assert_harmless(verifier, text, other)


@given(latex_like, latex_like)
def test_equivalent_is_symmetric_and_reflexive_on_generated_strings(verifier, a, b):
    assert verifier.equivalent(a, b) == verifier.equivalent(b, a)
    assert verifier.equivalent(a, a) == bool(a.strip())


@given(st.lists(st.one_of(st.none(), latex_like, st.sampled_from(OTHERS)), max_size=8))
def test_votes_on_generated_answers_partition_them(verifier, answers):
    start = time.monotonic()
    vote = majority_vote(answers, verifier)
    assert time.monotonic() - start < len(answers) ** 2 * BUDGET + 1
    members = sorted(i for cluster in vote.clusters for i in cluster)
    assert members == [i for i, a in enumerate(answers) if a is not None and a.strip()]
    assert vote.count == (len(vote.clusters[0]) if vote.clusters else 0)
    assert vote.label == (answers[vote.clusters[0][0]] if vote.clusters else None)
