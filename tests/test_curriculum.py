"""Curriculum: deduplicating variants, mixing them with the test questions, the on-disk record."""

from __future__ import annotations

import dataclasses
import doctest
import json
from dataclasses import dataclass

import pytest

from ttcs.curriculum import dedupe_variants, mix_curriculum, variant_record
from ttcs.data import Problem
from ttcs.rewards.synthesizer import synthesizer_rewards

TESTS = [
    "Tom has 3 apples and buys 4 more apples at the market. How many apples does Tom have now?",
    "A train travels at 60 km per hour for 2.5 hours. What distance does it cover, in kilometres?",
]
LONG = (
    "A bag holds 4 red marbles and 6 blue marbles. Two marbles are drawn at random without "
    "replacement. What is the probability that both marbles drawn are red? Give a fraction."
)


def rec(question, answer="1", reference_id="q0"):
    return {"question": question, "claimed_answer": answer, "reference_id": reference_id}


# ---------------------------------------------------------------------------- dedupe


def test_dedupe_drops_each_kind_and_keeps_first_in_order():
    variants = [
        rec(LONG),  # kept
        rec("What is the sum of the interior angles of a hexagon, in degrees?"),  # kept
        rec(
            "  a BAG holds 4 red marbles and 6 blue marbles. Two marbles are drawn at random without "
            "replacement. What is the probability that both marbles drawn are red?   Give a fraction."
        ),  # exact
        rec(LONG.replace("at random", "at randon")),  # near duplicate: one letter changed
        rec(LONG.replace("4 red", "5 red").replace("6 blue", "9 blue")),  # same skeleton, new numbers
        rec(TESTS[0]),  # copy of a test question
        rec(TESTS[1].replace("60", "75")),  # numbers-changed copy of a test question
        rec("How many primes are below 30?", answer=None),  # unparseable: no answer
        rec("   ", answer="3"),  # unparseable: empty question
        {"claimed_answer": "2"},  # unparseable: no question at all
        rec("How many primes are below 30?"),  # kept
    ]
    kept, stats = dedupe_variants(variants, TESTS)
    assert kept == [variants[0], variants[1], variants[10]]
    assert stats == {
        "input": 11,
        "kept": 3,
        "unparseable": 3,
        "test_copy": 2,
        "exact_duplicate": 1,
        "near_duplicate": 2,
    }


def test_dedupe_near_threshold_is_configurable():
    # 0.55 similar by characters, but no copy rule fires (long texts need 0.6; different skeletons).
    a = rec("How many ways can 5 books be arranged on a shelf if two of them must stay together?")
    b = rec("How many ways can 6 people sit at a round table if two of them refuse to sit side by side?")
    assert len(dedupe_variants([a, b], [], near_threshold=0.9)[0]) == 2
    assert len(dedupe_variants([a, b], [], near_threshold=0.5)[0]) == 1


def test_dedupe_exact_mode_drops_only_exact_repeats_as_the_paper_does():
    variants = [
        rec(LONG),
        rec(LONG.upper()),
        rec(LONG.replace("at random", "at randon")),
        rec(TESTS[0]),
        rec(TESTS[1].replace("60", "75")),
    ]
    kept, stats = dedupe_variants(variants, TESTS, mode="exact")
    assert kept == [variants[0], variants[2], variants[4]]
    assert (stats["exact_duplicate"], stats["test_copy"], stats["near_duplicate"]) == (1, 1, 0)
    with pytest.raises(ValueError, match="dedupe mode"):
        dedupe_variants(variants, TESTS, mode="fuzzy")


def test_dedupe_accepts_objects_and_answer_field():
    @dataclass
    class Parsed:
        question: str
        answer: str

    items = [Parsed(LONG, "2/15"), Parsed(LONG, "2/15")]
    kept, stats = dedupe_variants(items, TESTS)
    assert kept == [items[0]] and stats["exact_duplicate"] == 1


def test_dedupe_is_deterministic_and_empty_safe():
    variants = [rec(LONG), rec(TESTS[0]), rec(LONG)]
    assert dedupe_variants(variants, TESTS) == dedupe_variants(variants, TESTS)
    kept, stats = dedupe_variants([], TESTS)
    assert kept == [] and set(stats.values()) == {0} and len(stats) == 6


# ---------------------------------------------------------------------------- mix


@pytest.fixture()
def problem_cls():
    return Problem


def make_tests(problem_cls, n):
    return [problem_cls(id=f"t{i}", question=f"test question {i}", answer=str(i), source="test") for i in range(n)]


def make_variants(n, n_refs=2):
    return [rec(f"variant {i}", answer=str(i), reference_id=f"t{i % n_refs}") for i in range(n)]


def split(mixed):
    synthetic = [p for p in mixed if p.source == "synthetic"]
    return [p for p in mixed if p.source != "synthetic"], synthetic


def test_mix_ratio_zero_is_the_test_set(problem_cls):
    tests = make_tests(problem_cls, 5)
    mixed = mix_curriculum(tests, make_variants(10), ratio=0.0, seed=0)
    assert sorted(mixed, key=lambda p: p.id) == tests  # unchanged, gold answers kept for evaluation


def test_mix_ratio_one_is_variants_only(problem_cls):
    mixed = mix_curriculum(make_tests(problem_cls, 5), make_variants(4), ratio=1.0, seed=0)
    assert sorted(p.id for p in mixed) == ["t0-v0", "t0-v1", "t1-v0", "t1-v1"]
    assert all(p.answer is None and p.source == "synthetic" for p in mixed)
    by_id = {p.id: p for p in mixed}
    assert by_id["t1-v1"].question == "variant 3"
    assert dict(by_id["t1-v1"].meta) == {"reference_id": "t1", "claimed_answer": "3"}


@pytest.mark.parametrize(
    ("n_tests", "n_variants", "ratio", "max_size", "expected"),
    [
        (4, 10, 0.5, None, (10, 10)),  # every variant, as many test copies (1:1)
        (4, 2, 0.5, None, (4, 2)),  # few variants: every test question still once
        (4, 0, 0.5, None, (4, 0)),  # no usable variant: test questions only
        (4, 100, 0.75, None, (33, 100)),  # 100 * 0.25 / 0.75 = 33 test copies
        (4, 10, 0.5, 6, (3, 3)),  # max_size caps the total, share kept
        (4, 10, 0.0, 3, (3, 0)),
        (4, 10, 1.0, 3, (0, 3)),
        (0, 10, 0.5, None, (0, 10)),
        (4, 0, 1.0, None, (0, 0)),  # variants only, and there are none
    ],
)
def test_mix_sizes(problem_cls, n_tests, n_variants, ratio, max_size, expected):
    mixed = mix_curriculum(
        make_tests(problem_cls, n_tests), make_variants(n_variants), ratio=ratio, seed=1, max_size=max_size
    )
    tests, synthetic = split(mixed)
    assert (len(tests), len(synthetic)) == expected
    assert len({p.id for p in synthetic}) == len(synthetic)
    if tests and len(tests) >= n_tests:  # every test question about equally often
        counts = [sum(p.id == f"t{i}" for p in tests) for i in range(n_tests)]
        assert min(counts) >= 1 and max(counts) - min(counts) <= 1


def test_mix_is_deterministic_under_seed(problem_cls):
    tests, variants = make_tests(problem_cls, 6), make_variants(20)
    ids = [p.id for p in mix_curriculum(tests, variants, ratio=0.5, seed=7)]
    assert ids == [p.id for p in mix_curriculum(tests, variants, ratio=0.5, seed=7)]
    other = [[p.id for p in mix_curriculum(tests, variants, ratio=0.5, seed=s)] for s in range(8, 12)]
    assert any(o != ids for o in other)
    tests_part, synthetic = split(mix_curriculum(tests, variants, ratio=0.5, seed=7))
    assert len(tests_part) == 20 and len(synthetic) == 20 and len(ids) == 40


@pytest.mark.parametrize(("ratio", "max_size"), [(-0.1, None), (1.5, None), (0.5, -1)])
def test_mix_rejects_bad_arguments(problem_cls, ratio, max_size):
    with pytest.raises(ValueError):
        mix_curriculum([], [], ratio=ratio, seed=0, max_size=max_size)


# ---------------------------------------------------------------------------- record


def test_variant_record_is_json_and_feeds_dedupe():
    output = f"<question>{LONG}</question> so \\boxed{{\\frac{{2}}{{15}}}}"
    (reward,) = synthesizer_rewards([output], [TESTS[0]], [0.5], repetition_penalty=False)
    record = variant_record(
        reference_id="q0",
        reference_question=TESTS[0],
        output=output,
        solver_answers=["2/15", None],
        consistency=0.5,
        reward=reward,
        iteration=1,
    )
    assert json.loads(json.dumps(record)) == record
    assert record["question"] == LONG and record["claimed_answer"] == "\\frac{2}{15}"
    assert record["reward"] == dataclasses.asdict(reward) and record["iteration"] == 1
    kept, _ = dedupe_variants([record, dict(record)], TESTS)
    assert kept == [record]


def test_variant_record_unparseable_and_clashes():
    record = variant_record(reference_id=None, reference_question=None, output="no tags")
    assert record["question"] is None and "no complete" in record["parse_error"]
    assert dedupe_variants([record], TESTS)[1]["unparseable"] == 1
    with pytest.raises(ValueError, match="clash"):
        variant_record(reference_id="q", reference_question="Q", output="x", question="y")


def test_docstring_examples_run():
    import ttcs.curriculum as module

    assert doctest.testmod(module).failed == 0


def test_dedupe_without_required_answer_keeps_questions_with_no_claimed_answer():
    recs = [{"question": "A farmer has 6 cows and buys 3 more. How many cows?", "claimed_answer": None}]
    assert dedupe_variants(recs, [])[1]["unparseable"] == 1
    kept, stats = dedupe_variants(recs, [], require_answer=False)
    assert kept == recs and stats["kept"] == 1


def test_well_posed_needs_a_claimed_answer_the_solver_majority_reaches():
    from ttcs.diagnostics import is_well_posed, top_quartile_well_posed
    from ttcs.verify import get_verifier

    v = get_verifier("math")
    good = {**rec("What is 2 + 5?", answer="7"), "solver_answers": ["7", "7.0", "8", None], "reward": {"total": 0.9}}
    wrong = {**rec("What is 2 + 5?", answer="9"), "solver_answers": ["7", "7", "8", None], "reward": {"total": 0.8}}
    no_answer = {**rec("(original problem)", answer=None), "solver_answers": ["3", None], "reward": {"total": 0.7}}
    silent = {**rec("What is 1 + 1?", answer="2"), "solver_answers": [None, None], "reward": {"total": 0.1}}
    tie = {**rec("What is 3 + 4?", answer="8"), "solver_answers": ["7", "8", "7", "8"], "reward": {"total": 0}}
    scattered = {**rec("What is 3 + 4?", answer="8"), "solver_answers": ["7", "8", "6", "9"], "reward": {"total": 0}}
    assert [is_well_posed(r, v) for r in (good, wrong, no_answer, silent)] == [True, False, False, False]
    # a tie between two clusters and a vote where every sample differs reach no answer
    assert not is_well_posed(tie, v) and not is_well_posed(scattered, v)
    assert is_well_posed({**tie, "solver_answers": ["7", "8", "9", "8"]}, v)
    # 5 parsed records -> the top ceil(5/4) = 2 by reward: good and wrong.
    records = [silent, wrong, no_answer, good, dict(silent), {"question": None}]
    assert top_quartile_well_posed(records, v) == (0.5, 2)
    assert top_quartile_well_posed([], v) == (None, 0)


def test_arithmetic_check_compares_claims_and_votes_with_the_true_value():
    from ttcs.diagnostics import arithmetic_check
    from ttcs.verify import get_verifier

    v = get_verifier("math")
    records = [
        {**rec("What is 6 × 7?", answer="42"), "solver_answers": ["42", "42", "48", "42"]},  # right and agreed
        {**rec("What is 6 × 7?", answer="48"), "solver_answers": ["48", "48", "42", "1"]},  # agreed, both wrong
        {**rec("What is 2 + 2?", answer="5"), "solver_answers": ["4", "4", "5", "3"]},  # the vote is right
        {**rec("Tom has 3 pens and 4 cups. How many?", answer="7"), "solver_answers": ["7", "7"]},  # not read
        {**rec("(original problem)", answer=None), "solver_answers": ["3", "3"]},
    ]
    assert arithmetic_check(records, v) == {
        "count": 5,
        "readable": 3,
        "claim_right": 1,
        "vote_right": 2,
        "well_posed_right": 1,
    }
