"""`ttcs.voting.majority_vote`: clusters, ties, None, determinism, and how few symbolic
comparisons it makes."""

from __future__ import annotations

import dataclasses
import random

import pytest

from ttcs.verify import get_verifier
from ttcs.voting import Vote, majority_vote


@pytest.fixture(scope="module")
def math_verifier():
    return get_verifier("math")


class CountingVerifier:
    """Exact-match verifier (case-insensitive) that counts its calls."""

    name = "counting"

    def __init__(self, with_keys: bool = True) -> None:
        self.with_keys = with_keys
        self.pairs: list[tuple[str, str]] = []

    def extract(self, completion: str) -> str | None:
        return completion

    def equivalent(self, a: str, b: str) -> bool:
        self.pairs.append((a, b))
        return a.casefold() == b.casefold()

    def canonical(self, answer: str):
        return answer.casefold() if self.with_keys else None


def test_equivalent_surface_forms_form_one_cluster(math_verifier):
    answers = [r"\frac{1}{2}", "0.5", "1/2", "2", r"\dfrac12", None, "033", "33"]
    vote = majority_vote(answers, math_verifier)
    assert vote == Vote(label=r"\frac{1}{2}", count=4, share=0.5, clusters=[[0, 1, 2, 4], [6, 7], [3]])


def test_radicals_cluster_symbolically(math_verifier):
    vote = majority_vote([r"\sqrt{8}", "3", r"2\sqrt{2}", r"2 \sqrt 2", "3.0"], math_verifier)
    assert vote.clusters == [[0, 2, 3], [1, 4]]
    assert vote.label == r"\sqrt{8}"


def test_tie_goes_to_the_cluster_that_appears_first(math_verifier):
    assert majority_vote(["7", "5", "5", "7"], math_verifier).label == "7"
    assert majority_vote(["5", "7", "7", "5"], math_verifier).label == "5"
    vote = majority_vote([None, "1", "2", "3"], math_verifier)
    assert (vote.label, vote.count, vote.share) == ("1", 1, 0.25)
    assert vote.clusters == [[1], [2], [3]]


@pytest.mark.parametrize("answers", [[], [None], [None, None, None], ["", "  "]])
def test_no_answers(math_verifier, answers):
    vote = majority_vote(answers, math_verifier)
    assert vote == Vote(label=None, count=0, share=0.0, clusters=[])


def test_none_counts_in_the_share_but_forms_no_cluster(math_verifier):
    vote = majority_vote(["4", None, None, None], math_verifier)
    assert (vote.label, vote.count, vote.share, vote.clusters) == ("4", 1, 0.25, [[0]])


def test_vote_is_frozen(math_verifier):
    vote = majority_vote(["1"], math_verifier)
    with pytest.raises(dataclasses.FrozenInstanceError):
        vote.label = "2"  # type: ignore[misc]


def test_deterministic_and_independent_of_cache_state(math_verifier):
    rng = random.Random(0)
    pool = [r"\frac{1}{2}", "0.5", "1/2", "3", "003", r"\sqrt{2}", r"\frac{\sqrt{2}}{2}", None, "junk"]
    answers = [rng.choice(pool) for _ in range(16)]
    first = majority_vote(answers, math_verifier)
    assert majority_vote(answers, math_verifier) == first
    assert majority_vote(answers, get_verifier("math")) == first  # a fresh verifier, cold caches


def test_identical_strings_and_keys_need_no_comparison():
    verifier = CountingVerifier()
    majority_vote(["a", "A", "a", "b", "B", "b"] * 3, verifier)
    assert verifier.pairs == [("a", "b")]  # only the two keys' representatives were ever compared


def test_only_representatives_are_compared():
    verifier = CountingVerifier(with_keys=False)
    answers = ["a", "A", "b", "B", "c", "a", "C"]
    vote = majority_vote(answers, verifier)
    assert vote.clusters == [[0, 1, 5], [2, 3], [4, 6]]
    # each distinct string meets at most one representative per existing cluster
    assert len(verifier.pairs) <= sum(range(len(set(answers))))
    assert all(rep in {"a", "b", "c"} for rep, _ in verifier.pairs)


def test_a_failing_canonical_falls_back_to_equivalent():
    class Broken(CountingVerifier):
        def canonical(self, answer):
            raise RuntimeError("plugin bug")

    assert majority_vote(["x", "X", "y"], Broken()).clusters == [[0, 1], [2]]


def test_each_group_votes_on_its_own(math_verifier):
    votes = [majority_vote(g, math_verifier) for g in ([["1", "1", "2"], [None], ["0.5", r"\frac12"]])]
    assert [v.label for v in votes] == ["1", None, "0.5"]
    assert [v.count for v in votes] == [2, 0, 2]


REAL_FORMS = [
    (
        [r"(-\infty, 3] \cup (5, \infty)", r"\left(-\infty,3\right]\cup(5,+\infty)", r"(-\infty, 3) \cup (5, \infty)"],
        [[0, 1], [2]],
    ),
    (["(1, -2)", r"\left(1,-2\right)", "(-2, 1)", r"(1,\, -2)"], [[0, 1, 3], [2]]),
    ([r"\{1,2,3\}", r"\{3, 2, 1\}", r"\{1,2\}", "(1, 2, 3)"], [[0, 1], [2], [3]]),
    (["x^2+2x+1", "(x+1)^2", "x^2+1", "1+2x+x^2"], [[0, 1, 3], [2]]),
    (["y = 2x + 3", "2x+3", "y=3+2x", "y = 3x + 2"], [[0, 1, 2], [3]]),
    ([r"2\sqrt{3}", r"\sqrt{12}", "3.46410161514", r"3\sqrt{2}"], [[0, 1, 2], [3]]),
    ([r"\frac{\pi}{4}", r"\dfrac{\pi}{4}", r"\pi/4", r"\frac{\pi}{2}"], [[0, 1, 2], [3]]),
    ([r"5\text{ cm}", "5 cm", "5", r"30^\circ", "30"], [[0, 1, 2], [3, 4]]),
    ([r"\text{even}", r"\text{Even}", "even", r"\text{odd}"], [[0, 1, 2], [3]]),
]


@pytest.mark.parametrize(("answers", "clusters"), REAL_FORMS)
def test_real_answer_forms_cluster_like_the_verifier(math_verifier, answers, clusters):
    assert majority_vote(answers, math_verifier).clusters == clusters


def test_equal_canonical_keys_of_real_forms_are_equivalent(math_verifier):
    answers = [a for group, _ in REAL_FORMS for a in group]
    keys = {a: math_verifier.canonical(a) for a in answers}
    assert sum(key is not None for key in keys.values()) >= len(answers) - 4  # most real forms have a key
    for a in answers:
        for b in answers:
            if keys[a] is not None and keys[a] == keys[b]:
                assert math_verifier.equivalent(a, b), (a, b)
