"""The ``multiple_choice`` and ``exact_match`` verifiers: extraction, equivalence, keys."""

from __future__ import annotations

import time

import pytest
from ttcs_verifiers.exact_match import ExactMatchVerifier, normalise
from ttcs_verifiers.multiple_choice import MultipleChoiceVerifier


@pytest.fixture(scope="module")
def choice() -> MultipleChoiceVerifier:
    return MultipleChoiceVerifier()


@pytest.fixture(scope="module")
def exact() -> ExactMatchVerifier:
    return ExactMatchVerifier()


# ---- multiple choice ----------------------------------------------------------------------

CHOICE_EXTRACT = [
    ("The correct option is (B)", "B"),
    ("I pick B.", "B"),
    ("B) is right", "B"),
    ("so the answer is B", "B"),
    ("Answer: (C)", "C"),
    ("Answer: c", None),  # a bare lowercase letter is a word, not an option
    ("the answer is (d)", "D"),
    ("The answer is a prime, so (E).", "E"),
    (r"\boxed{B}", "B"),
    (r"$\boxed{\text{B}}$", "B"),
    (r"\boxed{(J)}", "J"),
    (r"\boxed{\textbf{(A)}}", "A"),
    ("(A) looks tempting but the answer is C", "C"),
    ("A", "A"),
    ("(K)", None),
    ("nothing to see", None),
    ("", None),
]


@pytest.mark.parametrize(("completion", "expected"), CHOICE_EXTRACT)
def test_choice_extract(choice, completion, expected):
    assert choice.extract(completion) == expected


@pytest.mark.parametrize(("a", "b"), [("B", "B"), ("(B)", "b"), ("B.", r"\text{B}"), (" c ", "(C)"), ("$D$", "D")])
def test_choice_equivalent(choice, a, b):
    assert choice.equivalent(a, b) and choice.equivalent(b, a)


@pytest.mark.parametrize(("a", "b"), [("A", "B"), ("(B)", "(C)"), ("B", "BB"), ("", ""), ("K", "K"), ("B", "the B")])
def test_choice_not_equivalent(choice, a, b):
    assert not choice.equivalent(a, b)


@pytest.mark.parametrize(("answer", "key"), [("b", "B"), ("(C)", "C"), (r"\text{D}", "D"), ("E.", "E"), ("x", None)])
def test_choice_canonical(choice, answer, key):
    assert choice.canonical(answer) == key


# ---- exact match --------------------------------------------------------------------------

EXACT_EXTRACT = [
    (r"It is \boxed{\text{Paris}}", r"\text{Paris}"),
    ("Thinking...\nThe answer is The Eiffel Tower.", "The Eiffel Tower"),
    ("Answer: blue whale", "blue whale"),
    ("reasoning\n\nMercury\n", "Mercury"),
    ("", None),
    ("   \n  ", None),
]


@pytest.mark.parametrize(("completion", "expected"), EXACT_EXTRACT)
def test_exact_extract(exact, completion, expected):
    assert exact.extract(completion) == expected


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Paris", "paris"),
        ("The Eiffel Tower", "eiffel tower"),
        (r"\text{Blue Whale}", "blue whale!"),
        ("New  York", "new york"),
        ("an apple", "Apple."),
        ("Straße", "STRASSE"),  # casefold, not lower
    ],
)
def test_exact_equivalent(exact, a, b):
    assert exact.equivalent(a, b) and exact.equivalent(b, a)


@pytest.mark.parametrize(("a", "b"), [("Paris", "London"), ("blue whale", "bluewhale"), ("", ""), ("the", "a")])
def test_exact_not_equivalent(exact, a, b):
    assert not exact.equivalent(a, b)


def test_exact_canonical(exact):
    assert exact.canonical(r"\text{The  Eiffel-Tower!}") == normalise("eiffel tower") == "eiffel tower"
    assert exact.canonical("...") is None


@pytest.mark.parametrize(
    "text", ["{" * 10000, "\x00" * 100, r"\boxed{", "(" * 100_000, "a" * 1_000_000, "Answer: " * 100_000]
)
def test_hostile_input_returns_quickly(choice, exact, text):
    for verifier in (choice, exact):
        start = time.monotonic()
        verifier.extract(text)
        verifier.canonical(text)
        verifier.equivalent(text, "B")
        assert time.monotonic() - start < 2.0
