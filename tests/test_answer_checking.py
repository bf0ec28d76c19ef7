"""Scoring against gold answers with the ``math`` verifier: the two extraction policies, the
comparison that keeps the roles of gold and prediction, and each answer family where a naive
check goes wrong (several boxes, answer phrases, number formats, roles, numeric tolerance,
free text, plain-text math). Every family has cases of both verdicts."""

from __future__ import annotations

import pytest
from ttcs_verifiers.math import MathVerifier

from ttcs.evaluation import score_problem
from ttcs.verify import extract_for_scoring, matches_gold


@pytest.fixture(scope="module")
def verifier() -> MathVerifier:
    v = MathVerifier(timeout=2.0)
    assert v.warm_up()
    return v


def scored(verifier: MathVerifier, gold: str, completion: str) -> bool:
    """What evaluation decides for one completion."""
    return matches_gold(verifier, gold, extract_for_scoring(verifier, completion))


# ---- the two extraction policies ----------------------------------------------------------

BOTH_POLICIES = [  # explicit answer statements: the vote path and the scoring path agree
    ("Checking $n = 35$ fails.\nFinal Answer: The largest $n$ is 34.", "34"),
    (r"The answer is: the probability is $\frac{1}{2}$.", r"\frac{1}{2}"),
    ("Final Answer: The number of ways is $12$. I hope it is correct.", "12"),
    ("The final answer is: the minimum value equals $-5$.", "-5"),
    ("The answer is $18$, which is the number of edges.", "18"),
    ("The answer is: the capital is Paris", "the capital is Paris"),  # no value after "is": unchanged
    ("Counting gives nine.\nAnswer $ 9 $", "9"),
    ("So it is shaded.\n\n**Answer** $\\frac{3}{4}$", r"\frac{3}{4}"),
    ("Both sides agree.\nAnswer \\(2\\)", "2"),
    ("Adding the rows:\n\nAnswer 15", "15"),
    ("The answer $x$ must satisfy $x > 12$, which we check", None),  # "answer" mid-sentence is no phrase
    (r"first \boxed{1} then \boxed{\frac{1}{2}}", r"\frac{1}{2}"),
    # a bare value that a comma or a space hands over to words: the value (a small model's usual reply)
    ("The answer is 14, as calculated by the equation 8 + 2 = 1", "14"),
    ("The answer is 18 and is 9 × 2 = 18", "18"),
    ("The answer is 0.4, where 3 - 2 is 0.4", "0.4"),
    ("The answer is 2, and I am going to explain", "2"),
    ("The answer is 1, 2.", "1, 2"),  # a comma between values is part of the answer
    ("The answer is x = 1, y = 2", "x = 1, y = 2"),
]


@pytest.mark.parametrize(("completion", "expected"), BOTH_POLICIES)
def test_answer_statements_read_the_same_on_both_paths(verifier, completion, expected):
    assert verifier.extract(completion) == expected
    assert verifier.extract_for_scoring(completion) == expected


SCORING_ONLY = [  # greedy fallbacks: scoring reads them, votes do not
    (r"The solutions are $\boxed{(1, 2)}, \boxed{(2, 1)}$.", "(2, 1)", "(1, 2), (2, 1)"),
    (r"The roots are $\boxed{1}$ and $\boxed{-2}$.", "-2", "1, -2"),
    (r"So $x = \boxed{1}$ or $x = \boxed{-2}$.", "-2", "1, -2"),
    (r"$\boxed{1} \text{ and } \boxed{2}$", "2", "1, 2"),
    ("We get $\\boxed{12}$ rows.\nFinal Answer: The final answer is $10,455$. I hope it is correct.", "12", "10,455"),
    ("Therefore $x \\geq 5$ is the solution.", None, r"x \geq 5"),
    ("Adding the parts gives a total of $12$.", None, "12"),
    ("We have $x = 2$, hence \\[x^2 = 4.\\]", None, "4"),
]


@pytest.mark.parametrize(("completion", "vote_answer", "scoring_answer"), SCORING_ONLY)
def test_greedy_fallbacks_are_for_scoring_only(verifier, completion, vote_answer, scoring_answer):
    assert verifier.extract(completion) == vote_answer
    assert verifier.extract_for_scoring(completion) == scoring_answer


NO_ANSWER = [
    "Let me compute $3 \\cdot 4$ first and then we",  # cut off mid-sentence
    "First, $x + 1 = 3$. Then we subtract",
    "We found $x = 3$. Then we checked the remaining cases one by one.",  # the span is not in the last sentence
    "I am not sure how to go on.",
    "",
]


@pytest.mark.parametrize("completion", NO_ANSWER)
def test_unfinished_or_answerless_text_has_no_scoring_answer(verifier, completion):
    assert verifier.extract_for_scoring(completion) is None


def test_separate_boxes_are_not_joined(verifier):
    text = r"A first try gives $\boxed{2}$, but that misses a case. Rechecking, the count is $\boxed{3}$."
    assert verifier.extract_for_scoring(text) == "3"


def test_a_remark_after_the_box_does_not_replace_it(verifier):
    text = "The answer is \\boxed{5}.\n\nThe answer is correct because both checks pass."
    assert verifier.extract_for_scoring(text) == "5"


# ---- scoring, family by family (gold, completion, correct?) ----------------------------------

FAMILIES = {
    "several_boxes": [
        ("(2,1),(1,2)", r"So the solutions are $\boxed{(1, 2)}, \boxed{(2, 1)}$.", True),
        ("(2,1),(1,2)", r"So the solutions are $\boxed{(1, 2)}$ and $\boxed{(2, 2)}$.", False),
        ("1, -2", r"The roots are $\boxed{1}$ and $\boxed{-2}$.", True),
        ("1, -2", r"The roots are $\boxed{1}$ and $\boxed{2}$.", False),
        (r"\boxed{1} \text{ and } \boxed{-2}", r"That is $\boxed{-2, 1}$.", True),
        (r"\boxed{1} \text{ and } \boxed{-2}", r"The only solution is $\boxed{1}$.", False),
        ("10455", "First $\\boxed{12}$ rows.\nFinal Answer: The final answer is $10,455$.", True),
        ("12", "First $\\boxed{12}$ rows.\nFinal Answer: The final answer is $10,455$.", False),
    ],
    "sentence_phrase": [
        ("34", "Final Answer: The largest $n$ is 34.", True),
        ("35", "Final Answer: The largest $n$ is 34.", False),
        ("3", "Final answer: The value of $x$ is $3$.", True),
        ("4", "Final answer: The value of $x$ is $3$.", False),
    ],
    "short_phrase": [
        ("9", "Counting gives nine.\nAnswer $ 9 $", True),
        ("8", "Counting gives nine.\nAnswer $ 9 $", False),
        ("2", "Both agree.\nAnswer \\(2\\)", True),
        ("12", "The answer $x$ must satisfy $x > 12$, which we check", False),
    ],
    "number_format": [
        ("1000", r"$\boxed{1 000}$", True),
        ("1000", r"$\boxed{1 001}$", False),
        ("0", r"$\boxed{1 000}$", False),  # the LaTeX parser reads `1 000` as 1*0
        ("1000000", r"$\boxed{1\,000\,000}$", True),
        ("1000.99", r"$\boxed{1000,99}$", True),
        ("1000.99", r"$\boxed{1000,98}$", False),
        ("0.111", r"$\boxed{0,111}$", True),
        ("12345.5", r"$\boxed{12\ 345,5}$", True),
        ("1, 5", r"$\boxed{1.5}$", False),  # a list of two numbers is not 1.5
        ("1.5", r"$\boxed{1,500}$", False),  # a thousands separator, not a decimal comma
    ],
    "roles": [
        ("7 = 11a+c", r"$\boxed{11a+c}$", False),
        ("11a+c", r"$\boxed{7 = 11a+c}$", False),
        ("x^2 + y^2 = 1", r"$\boxed{x^2 + y^2}$", False),
        ("(3,1)", r"$\boxed{\{1,3\}}$", False),
        (r"\{1,3\}", r"$\boxed{(3,1)}$", False),
        (r"\{1,3\}", r"$\boxed{(1,3)}$", False),
        ("[1,3]", r"$\boxed{\{1,3\}}$", False),
        ("x = 2", r"$\boxed{y = 2}$", False),
        ("x = 5", r"$\boxed{5}$", True),
        ("5", r"$\boxed{x = 5}$", True),
        ("y = 2x + 1", r"$\boxed{2x+1}$", True),
        ("x^2", r"$\boxed{f(x) = x^2}$", True),
        ("x = 2x - 5", r"$\boxed{2x - 5}$", False),
        ("32", r"$\boxed{4 \times 8 = 32}$", True),  # an equation of numbers states its last side
        ("48", r"$\boxed{12 \times 4 = 52}$", False),
        ("52", r"$\boxed{12 \times 4 = 52}$", True),  # stated, though the arithmetic is wrong
        ("5", r"$\boxed{2 + 3 = 5 = 5}$", True),
        (r"\{1,3\}", r"$\boxed{\{3, 1\}}$", True),
        ("(3,1)", r"$\boxed{(3, 1)}$", True),
        ("x > 5", r"$\boxed{(5, \infty)}$", True),
        (r"(5, \infty)", r"$\boxed{x > 5}$", True),
        (r"(5, \infty)", r"$\boxed{x \geq 5}$", False),
    ],
    "tolerance": [
        (r"\frac{1}{2004!}", r"$\boxed{\frac{1}{2006!}}$", False),
        (r"\frac{1}{2004!}", r"$\boxed{1/2004!}$", True),
        (r"\frac{1}{2^{99}}", r"$\boxed{\frac{1}{2^{98}}}$", False),
        (r"\frac{1}{2^{99}}", r"$\boxed{2^{-99}}$", True),
        (r"10^{-7}", r"$\boxed{2 \cdot 10^{-7}}$", False),
        (r"10^{-7}", r"$\boxed{0.0000001}$", True),
        ("0.0000001", r"$\boxed{0.0000002}$", False),
        (r"10^{12}", r"$\boxed{10^{12} + 1}$", False),  # rationals are compared exactly
        (r"2^{9999}", r"$\boxed{2^{9999} + 1}$", False),  # even past 1000 digits
        (r"2004!", r"$\boxed{2004 \cdot 2003!}$", True),
        (r"\frac{1}{3}", r"$\boxed{0.333333}$", True),
        (r"\frac{1}{3}", r"$\boxed{0.33}$", False),
        (r"\sqrt{2}", r"$\boxed{1.41421356}$", True),
        (r"\pi", r"$\boxed{3.14}$", False),
        ("1.000001", r"$\boxed{1}$", False),
    ],
    "free_text": [
        (r"x \geq 5", "The bound holds for large $x$. Therefore $x \\geq 5$ is the solution.", True),
        (r"x \geq 6", "The bound holds for large $x$. Therefore $x \\geq 5$ is the solution.", False),
        (r"\frac{1}{2}", "Each is equally likely, so the probability is $\\frac{1}{2}$.", True),
        (r"\frac{1}{2}", "Each is equally likely, so the probability is $\\frac{1}{3}$.", False),
        ("12", "Let me compute $3 \\cdot 4$ first and then we", False),
    ],
    "plain_text": [
        (r"e^{16} - 1", r"$\boxed{-1 + exp(16)}$", True),
        (r"e^{16} + 1", r"$\boxed{-1 + exp(16)}$", False),
        (r"\frac{\pi}{2}", r"\boxed{pi/2}", True),
        (r"\frac{\pi}{3}", r"\boxed{pi/2}", False),
        (r"-2\pi", r"\boxed{-2*pi}", True),
        (r"2\pi", r"\boxed{-2*pi}", False),
        (r"\frac{5}{4}", r"\boxed{1 1/4}", True),
        (r"\frac{1}{4}", r"\boxed{1 1/4}", False),
        (r"\frac{1}{\sqrt{n}}", r"$\boxed{\sqrt{1/n}}$", True),
        (r"\sqrt{n}", r"$\boxed{\sqrt{1/n}}$", False),
        (r"2\sqrt{3}", r"\boxed{2*sqrt(3)}", True),
        (r"x^{2}+1", r"\boxed{x**2 + 1}", True),
        ("|x|", r"$\boxed{x}$", False),
        ("x", r"$\boxed{\sqrt{x^2}}$", False),  # equal only for x >= 0
        (r"\lfloor x \rfloor", r"$\boxed{\lceil x \rceil - 1}$", False),  # equal only off the integers
    ],
}
CASES = [(family, *case) for family, cases in FAMILIES.items() for case in cases]


@pytest.mark.parametrize(
    ("family", "gold", "completion", "correct"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_scoring(verifier, family, gold, completion, correct):
    assert scored(verifier, gold, completion) is correct


def test_every_family_has_both_verdicts():
    for family, cases in FAMILIES.items():
        assert {correct for _, _, correct in cases} == {True, False}, family


# ---- equivalent stays symmetric, and safe ------------------------------------------------

SYMMETRIC_UNEQUAL = [  # structure or value differs: unequal in both directions
    ("7 = 11a+c", "11a+c"),
    ("(3,1)", r"\{1,3\}"),
    ("(1,3)", r"\{1,3\}"),
    ("[1,3]", r"\{1,3\}"),
    (r"\frac{1}{2004!}", r"\frac{1}{2006!}"),
    (r"\frac{1}{2^{99}}", r"\frac{1}{2^{98}}"),
    (r"10^{-7}", r"2 \cdot 10^{-7}"),
    ("0.0000001", "0.0000002"),
    ("x", r"\sqrt{x^2}"),
    ("12 × 4 = 52", "18 * 4 = 64"),  # math-verify alone: proportional sides, so "equal"
    ("12 × 4 = 52", "12 × 4 = 5"),
    ("2 + 3 = 5", "2 + 3 = 6"),
]
SYMMETRIC_EQUAL = [
    ("x = 5", "5"),
    (r"\{5\}", "5"),
    ("pi/2", r"\frac{\pi}{2}"),
    ("1 1/4", r"\frac{5}{4}"),
    ("1 000", "1000"),
    (r"\sqrt{1/n}", r"\frac{1}{\sqrt{n}}"),
    ("x < 3", r"(-\infty, 3)"),
    (r"4 \times 8 = 32", "32"),
    ("2 + 3 = 5", "x = 5"),
]


@pytest.mark.parametrize(("a", "b"), SYMMETRIC_UNEQUAL)
def test_equivalent_refuses_in_both_directions(verifier, a, b):
    assert not verifier.equivalent(a, b)
    assert not verifier.equivalent(b, a)


@pytest.mark.parametrize(("a", "b"), SYMMETRIC_EQUAL)
def test_equivalent_accepts_in_both_directions(verifier, a, b):
    assert verifier.equivalent(a, b)
    assert verifier.equivalent(b, a)


def test_decimal_comma_is_read_only_for_a_prediction_against_one_number(verifier):
    assert verifier.is_correct("1000.99", "1000,99")
    assert not verifier.equivalent("1000.99", "1000,99")  # votes keep the comma ambiguous
    assert not verifier.is_correct("1000,99", "1000.99")  # a gold list stays a list


def test_is_correct_never_raises(verifier):
    for gold, answer in [(None, "5"), ("5", None), (5, 5), ("", "5"), ("5", ""), ("\\boxed{", "5")]:
        assert verifier.is_correct(gold, answer) is False  # type: ignore[arg-type]
    assert verifier.extract_for_scoring(None) is None  # type: ignore[arg-type]


# ---- evaluation uses the scoring policy and keeps the roles ---------------------------------


class RecordingVerifier:
    """Exact-match verifier that records how scoring calls it."""

    name = "recording"

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def extract(self, completion):
        return None

    def extract_for_scoring(self, completion):
        return completion.rsplit("=", 1)[-1].strip()

    def equivalent(self, a, b):
        return a == b

    def canonical(self, answer):
        return answer

    def is_correct(self, gold, answer):
        self.calls.append((gold, answer))
        return gold == answer


def test_evaluation_scores_with_the_scoring_policy_gold_first():
    from ttcs.data import Problem

    verifier = RecordingVerifier()
    result = score_problem(
        Problem(id="a", question="?", answer="2", source="t"), ["x = 2", "x = 3"], verifier, greedy_completion="x = 2"
    )
    assert result.answers == ["2", "3"] and result.correct == [True, False]
    assert result.vote_correct and result.greedy_correct
    assert verifier.calls and all(gold == "2" for gold, _ in verifier.calls)


def test_plugins_without_the_scoring_methods_fall_back():
    class Plain:
        name = "plain"

        def extract(self, completion):
            return completion.strip() or None

        def equivalent(self, a, b):
            return a.lower() == b.lower()

        def canonical(self, answer):
            return None

    assert extract_for_scoring(Plain(), " B ") == "B"
    assert matches_gold(Plain(), "b", "B") and not matches_gold(Plain(), "b", None)
