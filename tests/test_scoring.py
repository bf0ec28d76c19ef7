"""Scoring against gold reads the whole answer, and a restated question is no answer on numeric sets.

Each case is a (gold, completion, verdict) triple read the way evaluation reads it:
`extract_for_scoring`, then `matches_gold`. The first block is the issue's own list, measured on
main before the fix (where every one of them got the other verdict).
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from ttcs.data import Problem
from ttcs.evaluation import eval_phase, score_problem
from ttcs.scoring import NumericAnswers, is_number, scoring_verifier
from ttcs.verify import extract_for_scoring, get_verifier, matches_gold
from ttcs.voting import majority_vote

MATH = get_verifier("math")
NUMERIC = scoring_verifier(MATH, numeric_answer=True)
MATRIX = r"\begin{pmatrix} 1 & 2 \\ 3 & \frac{1}{4} \end{pmatrix}"


def verdict(gold: str, completion: str, verifier=MATH) -> bool:
    return matches_gold(verifier, gold, extract_for_scoring(verifier, completion))


# The issue's examples: each was scored the other way on main.
ISSUE_EXAMPLES = [
    ("5", "The solutions are x = 3 or x = 5", False),
    ("3, 5", "The solutions are x = 3 or x = 5", True),
    ("0", "-34x-45y+20z-100=0", False),
    (r"\frac{2}{7}", r"\frac{x}{7}+\frac{2}{7}", False),
    (r"\frac{x+2}{7}", r"\frac{x}{7}+\frac{2}{7}", True),
    ("7", "I think it is between 3 and 7", False),
    (r"\frac{1}{4}", f"${MATRIX}$", False),
    (r"\frac{1}{4}", f"So the matrix is ${MATRIX}$.", False),
    (r"(1,\frac{9}{2})", "(1,4.5)", True),
]


@pytest.mark.parametrize(("gold", "completion", "expected"), ISSUE_EXAMPLES)
def test_the_issue_examples_get_the_right_verdict(gold, completion, expected):
    assert verdict(gold, completion) is expected


@pytest.mark.parametrize(
    ("gold", "completion", "expected"),
    [
        ("63", "The answer is 7 × 9.", False),
        ("24", r"\boxed{6 \times 4}", False),
        ("63", "The answer is 63.", True),
        ("24", r"\boxed{24}", True),
        ("32", "The answer is 4 × 8 = 32.", True),  # the computation ends in the number it states
        ("0.75", r"\boxed{\frac{3}{4}}", True),  # a number in another notation is still a number
        ("9", "The answer is 3^2.", False),
    ],
)
def test_on_a_numeric_set_restating_is_not_answering(gold, completion, expected):
    assert verdict(gold, completion, NUMERIC) is expected


def test_off_numeric_sets_an_expression_still_matches_its_value():
    assert verdict("63", r"\boxed{7 \times 9}") is True  # MATH-style sets: 2\sqrt{3} and friends are answers
    # the wrapper holds an answer to a number only: a gold that is itself an expression is compared by value
    assert verdict(r"2\sqrt{3}", r"\boxed{\sqrt{12}}", NUMERIC) is True


@pytest.mark.parametrize(
    ("completion", "reading"),
    [
        ("x = 3 or x = 5", "3, 5"),
        ("1, 2", "1, 2"),
        ("The roots are 2 and 3.", "2, 3"),
        ("The answer is 3 or 5.", "3, 5"),
        ("So the answer is -2 and 3.", "-2, 3"),
        (r"Hence, the solutions are $x=1$ and $x=-2$.", "1, -2"),
        (r"\boxed{3} or \boxed{5}", "3, 5"),
        ("Therefore x = 2 and y = 3.", "x = 2, y = 3"),
    ],
)
def test_several_values_given_as_the_result_are_read_as_that_set(completion, reading):
    assert extract_for_scoring(MATH, completion) == reading


@pytest.mark.parametrize(
    "completion",
    [
        "I think it is between 3 and 7",
        "The answer is about 5 or 6.",
        "The answer is 5 or so.",
        "So x is 5 to 7.",
        "It is somewhere from 3 to 7.",
        r"The answer is between $3$ and $7$.",
    ],
)
def test_a_hedge_or_a_range_is_no_single_value(completion):
    assert extract_for_scoring(MATH, completion) is None


@pytest.mark.parametrize(
    ("completion", "reading"),
    [
        ("The distance between 3 and 7 is 4.", "4"),  # a range in the question's words, not in the answer
        ("He walked from 3 to 7 miles, so the answer is 4.", "4"),
        ("The answer is 12, since the distance between A and B is 12.", "12"),
        ("The value is roughly 5.", "5"),  # one value, approximately: still that value
    ],
)
def test_words_of_a_range_elsewhere_do_not_make_a_hedge(completion, reading):
    assert extract_for_scoring(MATH, completion) == reading


@pytest.mark.parametrize(
    ("completion", "reading"),
    [
        ("12", "12"),
        ("-34x-45y+20z-100=0", "-34x-45y+20z-100=0"),
        ("(1,4.5)", "(1,4.5)"),
        (r"\frac{x}{7}+\frac{2}{7}", r"\frac{x}{7}+\frac{2}{7}"),
        ("The point is (1,4.5).", "(1,4.5)"),
        ("So the interval is [2, 5).", "[2, 5)"),
        ("Thus the solution set is {1, 2}.", "{1, 2}"),
        ("So she has 3 + 4 = 7 apples.", "7"),
    ],
)
def test_a_bare_answer_and_a_stated_tuple_are_read_whole(completion, reading):
    assert extract_for_scoring(MATH, completion) == reading


def test_the_vote_reader_keeps_a_list_whole_too():
    assert MATH.extract("The answer is 3 or 5.") == "3 or 5"  # not "3"
    assert MATH.extract("The answer is 18 and is 9 × 2.") == "18"  # a value, then words: the value


def test_numeric_answers_wrapper_keeps_expressions_apart_in_votes():
    assert is_number(MATH, "63") and is_number(MATH, "-0.75") and is_number(MATH, r"\frac{3}{4}")
    assert not is_number(MATH, "7 × 9") and not is_number(MATH, "2^3") and not is_number(MATH, None)
    assert NUMERIC.equivalent("63", "63.0") and not NUMERIC.equivalent("63", "7 × 9")
    assert NUMERIC.canonical("7 × 9") != NUMERIC.canonical("63")
    vote = majority_vote(["7 × 9", "7 × 9", "63"], NUMERIC)
    assert vote.label == "7 × 9" and not NUMERIC.is_correct("63", vote.label)
    assert isinstance(NUMERIC, NumericAnswers) and scoring_verifier(MATH, numeric_answer=False) is MATH


def test_a_verifier_without_is_number_uses_the_plain_number_pattern():
    exact = get_verifier("exact_match")
    assert is_number(exact, "12") and is_number(exact, "$1,200") and not is_number(exact, "3 * 4")
    wrapped = scoring_verifier(exact, numeric_answer=True)
    assert matches_gold(wrapped, "12", "12") and not matches_gold(wrapped, "12", "3 * 4")


def test_score_problem_with_the_numeric_wrapper_counts_a_restatement_wrong():
    problem = Problem(id="p", question="What is 7 × 9?", answer="63", source="arith")
    completions = ["The answer is 7 × 9.", "The answer is 7 × 9.", "The answer is 63."]
    restated = score_problem(problem, completions, NUMERIC)
    assert restated.correct == [False, False, True] and restated.vote == "7 × 9" and not restated.vote_correct
    by_value = score_problem(problem, completions, MATH)
    assert by_value.correct == [True, True, True]  # what a set without numeric_answer would count


class _Backend:
    def __init__(self, replies):
        self.replies = replies

    def generate(self, prompts, sampling, desc=""):
        return [list(self.replies[: sampling.n]) for _ in prompts]


class _RunDir:
    def __init__(self, root):
        self.root, self.metrics = root, []

    def eval_path(self, iteration):
        return self.root / f"iter_{iteration:02d}.jsonl"

    def write_jsonl(self, path, rows):
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))

    def log_metrics(self, phase, **values):
        self.metrics.append(values)


@pytest.mark.parametrize(("numeric_answer", "avg"), [(True, 25.0), (False, 100.0)])
def test_eval_phase_scores_with_the_data_configs_numeric_answer(tmp_path, numeric_answer, avg):
    """A collapsed Solver that restates every question: 25 avg@4 on a numeric set, not 100."""
    cfg = SimpleNamespace(
        eval=SimpleNamespace(k=4, temperature=0.6, top_p=0.95, max_new_tokens=16, greedy=False),
        data=SimpleNamespace(numeric_answer=numeric_answer),
        seed=0,
    )
    problem = Problem(id="p", question="What is 7 × 9?", answer="63", source="arith")
    ctx = SimpleNamespace(
        cfg=cfg,
        problems=[problem],
        prompts=lambda problems: [p.question for p in problems],
        backend=lambda role, iteration: _Backend(["The answer is 7 × 9."] * 3 + ["The answer is 63."]),
        verifier=MATH,
        recipe=SimpleNamespace(solver_reply=str),
        rundir=_RunDir(tmp_path),
    )
    summary = eval_phase(ctx, 1)
    assert summary["avg_at_k"] == pytest.approx(avg)
    row = json.loads((tmp_path / "iter_01.jsonl").read_text())
    assert row["answers"] == ["7 × 9"] * 3 + ["63"]
