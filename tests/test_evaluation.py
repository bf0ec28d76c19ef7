"""Evaluation metrics on hand-computed cases, with a stub backend and an exact-match verifier."""

import math

import pytest

from ttcs.data import Problem
from ttcs.evaluation import evaluate, score_problem, summarize


class ExactVerifier:
    name = "exact"

    def extract(self, completion):
        return completion.split("=")[-1].strip() or None if "=" in completion else None

    def equivalent(self, a, b):
        return a == b

    def canonical(self, answer):
        return answer


class StubBackend:
    """Returns canned completions; greedy gets the first canned one."""

    name = "stub"

    def __init__(self, canned):
        self.canned = canned

    def generate(self, prompts, sampling, desc=""):
        return [self.canned[p][: sampling.n] if sampling.temperature > 0 else [self.canned[p][0]] for p in prompts]


PROBLEMS = [
    Problem(id="a", question="1+1", answer="2", source="t"),
    Problem(id="b", question="2+2", answer="4", source="t"),
    Problem(id="c", question="3+3", answer="6", source="t"),
]
CANNED = {
    "a": ["x = 2", "x = 2", "x = 3", "x = 2"],  # 3/4 correct, vote 2 (correct), greedy correct
    "b": ["x = 5", "x = 4", "x = 5", "none"],  # 1/4 correct, vote 5 (wrong), greedy wrong
    "c": ["x = 6", "no answer", "x = 7", "x = 6"],  # 2/4 correct, vote 6 (correct), greedy correct
}


def test_score_problem_fields():
    r = score_problem(PROBLEMS[1], CANNED["b"], ExactVerifier(), greedy_completion="x = 4")
    assert r.answers == ["5", "4", "5", None]
    assert r.correct == [False, True, False, False]
    assert (r.vote, r.vote_share, r.vote_correct) == ("5", 0.5, False)
    assert (r.greedy_answer, r.greedy_correct) == ("4", True)


def test_evaluate_hand_computed():
    summary, results = evaluate(PROBLEMS, ["a", "b", "c"], StubBackend(CANNED), ExactVerifier(), k=4)
    per_problem = [0.75, 0.25, 0.5]
    mean = sum(per_problem) / 3
    stderr = math.sqrt(sum((p - mean) ** 2 for p in per_problem) / 2 / 3)
    assert summary["avg_at_k"] == pytest.approx(100 * mean)
    assert summary["avg_at_k_stderr"] == pytest.approx(100 * stderr)
    assert summary["maj_at_k"] == pytest.approx(100 * 2 / 3)
    assert summary["greedy"] == pytest.approx(100 * 2 / 3)
    assert summary["answered"] == pytest.approx(100 * 10 / 12)
    assert (summary["k"], summary["n"]) == (4, 3)
    assert [r.id for r in results] == ["a", "b", "c"]


def test_missing_gold_is_never_correct():
    p = Problem(id="z", question="?", answer=None, source="t")
    r = score_problem(p, ["x = 1"], ExactVerifier())
    assert r.correct == [False] and not r.vote_correct


def test_summarize_empty_and_single():
    assert summarize([])["n"] == 0
    one = summarize([score_problem(PROBLEMS[0], ["x = 2"], ExactVerifier())])
    assert one["avg_at_k"] == 100 and one["avg_at_k_stderr"] == 0 and one["greedy"] is None


def test_prompt_count_must_match():
    with pytest.raises(ValueError):
        evaluate(PROBLEMS, ["a"], StubBackend(CANNED), ExactVerifier())


def test_the_solver_prefill_is_put_back_before_answers_are_read():
    from ttcs.recipes import get_recipe

    canned = {"a": [" 2", " 3"], "b": [" 4", " 4"], "c": [" 1", " 6"]}
    reply = get_recipe({"name": "small_model", "solver_prefill": "so x ="}).solver_reply
    summary, results = evaluate(PROBLEMS, ["a", "b", "c"], StubBackend(canned), ExactVerifier(), k=2, reply=reply)
    assert results[0].completions == ["so x = 2", "so x = 3"] and results[0].answers == ["2", "3"]
    assert results[0].greedy_completion == "so x = 2"
    assert summary["avg_at_k"] == pytest.approx(100 * (0.5 + 1.0 + 0.5) / 3)
