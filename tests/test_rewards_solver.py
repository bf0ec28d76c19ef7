"""The Solver's majority-vote reward, band filter and TRL reward-function plumbing, on literal groups."""

from __future__ import annotations

import pytest

from ttcs.rewards.solver import apply_band, get_majority_reward, majority_rewards, score_groups
from ttcs.types import GroupVote
from ttcs.verify import get_verifier


class ExactVerifier:
    """Answers are whatever follows the last '=' of a completion; equal strings are equivalent."""

    name = "exact"

    def extract(self, text):
        return text.rsplit("=", 1)[-1].strip() or None if "=" in text else None

    def equivalent(self, a, b):
        return a == b

    def canonical(self, a):
        return a


@pytest.fixture(scope="module")
def math_verifier():
    return get_verifier("math")


# ----------------------------------------------------------------------------- majority_rewards


def test_majority_gets_one_others_zero():
    rewards, vote = majority_rewards(["4", "5", "4", "4"], ExactVerifier())
    assert rewards == [1.0, 0.0, 1.0, 1.0]
    assert vote.label == "4" and vote.share == 0.75


def test_none_answers_get_zero_and_count_in_the_share():
    rewards, vote = majority_rewards(["7", None, None, "7"], ExactVerifier())
    assert rewards == [1.0, 0.0, 0.0, 1.0]
    assert vote.share == 0.5


def test_all_none_gives_all_zero_and_no_label():
    rewards, vote = majority_rewards([None, None, None], ExactVerifier())
    assert rewards == [0.0, 0.0, 0.0]
    assert vote.label is None


def test_tie_is_deterministic_first_cluster_wins():
    first, _ = majority_rewards(["a", "b", "b", "a"], ExactVerifier())
    again, vote = majority_rewards(["a", "b", "b", "a"], ExactVerifier())
    assert first == again == [1.0, 0.0, 0.0, 1.0]
    assert vote.label == "a"


def test_equivalent_surface_forms_share_the_reward(math_verifier):
    rewards, vote = majority_rewards(["0.5", r"\frac{1}{2}", "1/2", "3"], math_verifier)
    assert rewards == [1.0, 1.0, 1.0, 0.0]
    assert vote.count == 3


# ----------------------------------------------------------------------------- band


@pytest.mark.parametrize("rewards", [[1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
def test_in_band_groups_are_kept(rewards):
    assert apply_band(rewards, (0.25, 0.75)) == rewards


@pytest.mark.parametrize("rewards", [[1.0] * 4, [0.0] * 4, [1.0] + [0.0] * 7])
def test_out_of_band_groups_are_dropped(rewards):
    assert apply_band(rewards, (0.25, 0.75)) == [None] * len(rewards)


def test_no_band_keeps_everything():
    assert apply_band([1.0, 1.0, 1.0], None) == [1.0, 1.0, 1.0]


# ----------------------------------------------------------------------------- groups and the TRL reward function


def test_score_groups_votes_per_block_and_records_each_group():
    ids = ["q1"] * 4 + ["q2"] * 4
    answers = ["1", "1", "2", "1", "3", "3", "3", "3"]
    rewards, records = score_groups(ids, answers, ExactVerifier(), group_size=4, band=(0.25, 0.75))
    assert rewards == [1.0, 1.0, 0.0, 1.0] + [None] * 4
    assert records == [
        GroupVote("q1", ("1", "1", "2", "1"), "1", 0.75, 0.75, True, 2),
        GroupVote("q2", ("3", "3", "3", "3"), "3", 1.0, 1.0, False, 1),
    ]


def test_score_groups_rejects_a_block_that_mixes_questions():
    with pytest.raises(ValueError, match="mix questions"):
        score_groups(["q1", "q1", "q2", "q2"], ["1"] * 4, ExactVerifier(), group_size=4, band=None)


def test_score_groups_rejects_partial_groups():
    with pytest.raises(ValueError, match="groups of 4"):
        score_groups(["q1"] * 3, ["1"] * 3, ExactVerifier(), group_size=4, band=None)


def test_reward_fn_follows_the_trl_contract():
    from types import SimpleNamespace

    rows: list = []
    metrics: dict = {}
    fn = get_majority_reward(
        ExactVerifier(),
        group_size=2,
        band=None,
        gold={"a": "3", "b": "5"},
        record_vote=rows.append,
        read_answer=ExactVerifier().extract,
        updates_per_generation=2,
    )
    out = fn(
        prompts=["p1", "p1", "p2", "p2"],
        completions=["x = 3", "so = 3", "= 4", "no answer"],
        completion_ids=[[1]] * 4,
        problem_id=["a", "a", "b", "b"],
        trainer_state=SimpleNamespace(global_step=2),
        log_metric=lambda k, v: metrics.__setitem__(k, v),
        log_extra=lambda *a: None,
    )
    assert out == [1.0, 1.0, 1.0, 0.0]  # the gold answers never change the vote's reward
    assert [(r["label"], r["step"], r["generation"]) for r in rows] == [("3", 3, 2), ("4", 3, 2)]
    assert rows[1] == {
        "step": 3,
        "generation": 2,
        "problem_id": "b",
        "label": "4",
        "share": 0.5,
        "answers": ["4", None],
        "mean_reward": 0.5,
        "kept": True,
        "cluster_count": 1,
    }
    assert metrics == {
        "groups": 2,
        "reward_mean": 0.75,
        "kept_share": 1.0,
        "vote_share": 0.75,
        "pseudo_label_accuracy": 0.5,
        "vote_share_std": 0.25,
        "distinct_answers": 1.0,
        "unanswered_share": 0.25,
        "no_advantage_share": 0.5,  # a: every completion rewarded 1
    }  # no label_flip_rate: no question was voted on before


def test_votes_read_back_from_their_rows_are_the_votes(math_verifier):
    from ttcs.rewards.solver import vote_row, votes_from_rows

    _, votes = score_groups(
        ["q"] * 4 + ["r"] * 4,
        ["5", "5", "5", "4", None, None, "1", "2"],
        math_verifier,
        group_size=4,
        band=(0.25, 0.75),
    )
    assert votes_from_rows([vote_row(v, step=1, generation=1) for v in votes]) == votes


def test_reward_fn_returns_none_for_dropped_groups_and_reads_chat_completions():
    fn = get_majority_reward(ExactVerifier(), group_size=2, band=(0.25, 0.75), read_answer=ExactVerifier().extract)
    chat = [[{"role": "assistant", "content": t}] for t in ["= 1", "= 2", "= 5", "= 5"]]
    assert fn(prompts=["p"] * 4, completions=chat, problem_id=["a", "a", "b", "b"]) == [1.0, 0.0, None, None]


def test_reward_fn_needs_the_id_column():
    fn = get_majority_reward(ExactVerifier(), group_size=2)
    with pytest.raises(KeyError, match="problem_id"):
        fn(prompts=["p", "p"], completions=["= 1", "= 1"])


@pytest.mark.parametrize("band", [(0.8, 0.2), (0.5, 0.5), (-0.1, 0.5), (0.2, 1.1)])
def test_bad_band_is_refused_by_the_config_rule(band):
    with pytest.raises(ValueError, match=r"must be \[low, high\] with 0 <= low < high <= 1"):
        get_majority_reward(ExactVerifier(), group_size=2, band=band)


def test_gold_rewards_replace_the_vote_for_the_positive_control(math_verifier):
    from ttcs.rewards.solver import gold_rewards

    assert gold_rewards(["4", "\\frac{8}{2}", "5", None], "4", math_verifier) == [1.0, 1.0, 0.0, 0.0]
    ids, answers = ["q"] * 4, ["5", "5", "5", "4"]  # the vote says 5; the gold answer is 4
    rewards, records = score_groups(ids, answers, math_verifier, group_size=4, band=None, gold={"q": "4"})
    assert rewards == [0.0, 0.0, 0.0, 1.0] and records[0].label == "5"  # the vote is still recorded
    with pytest.raises(ValueError, match="no gold answer"):
        score_groups(ids, answers, math_verifier, group_size=4, band=None, gold={})


def test_reward_fn_reads_answers_with_the_reader_it_is_given():
    from ttcs.recipes import get_recipe

    small = get_recipe({"name": "small_model", "solver_prefill": "x ="})
    fn = get_majority_reward(
        ExactVerifier(), group_size=2, band=None, read_answer=lambda c: small.read_answer(c, ExactVerifier())
    )
    assert fn(prompts=["p"] * 2, completions=[" 3", " 3"], problem_id=["a", "a"]) == [1.0, 1.0]
    # the default reader is the paper's: only a boxed answer counts
    boxed = get_majority_reward(ExactVerifier(), group_size=2, band=None)
    assert boxed(prompts=["p"] * 2, completions=["x = 3", "\\boxed{3}"], problem_id=["a", "a"]) == [0.0, 1.0]
