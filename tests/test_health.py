"""The label-free health signals (`ttcs.health`) on literal votes, with hand-computed values."""

from __future__ import annotations

import pytest

from ttcs.health import (
    SYNTHESIZER_SIGNALS,
    UNPAID_REASONS,
    FlipTracker,
    curriculum_diversity,
    flip_rate,
    generation_signals,
    iteration_health,
    last_labels,
    no_advantage,
    synthesizer_health,
    synthesizer_signals,
    unpaid_reason,
)
from ttcs.rewards.solver import get_majority_reward, score_groups
from ttcs.rewards.synthesizer import _one_reward
from ttcs.types import GroupVote, ParsedVariant
from ttcs.verify import get_verifier


def exact(a, b):
    return a == b


def vote(pid, answers, label, share, mean_reward, kept, cluster_count):
    return GroupVote(pid, tuple(answers), label, share, mean_reward, kept, cluster_count)


# a: 3 of 4 agree (kept); b: unanimous (dropped by the band); c: no answer at all (kept without a band)
A = vote("a", ["1", "1", "2", "1"], "1", 0.75, 0.75, True, 2)
B = vote("b", ["3", "3", "3", "3"], "3", 1.0, 1.0, False, 1)
C = vote("c", [None, None, None, None], None, 0.0, 0.0, True, 0)


def test_generation_signals_by_hand():
    signals = generation_signals([A, B, C])
    mean = (0.75 + 1.0 + 0.0) / 3
    std = (((0.75 - mean) ** 2 + (1.0 - mean) ** 2 + (0.0 - mean) ** 2) / 3) ** 0.5
    assert signals["vote_share_std"] == pytest.approx(std)
    assert signals["distinct_answers"] == pytest.approx(1.0)  # (2 + 1 + 0) / 3
    assert signals["unanswered_share"] == pytest.approx(4 / 12)
    assert signals["no_advantage_share"] == pytest.approx(2 / 3)  # b dropped, c unanimous (all reward 0)


def test_unanimous_kept_group_and_split_group():
    unanimous = vote("u", ["5", "5"], "5", 1.0, 1.0, True, 1)  # no band: kept, yet every reward is 1
    split = vote("s", ["5", "6"], "5", 0.5, 0.5, True, 2)
    assert no_advantage(unanimous) and not no_advantage(split)
    assert generation_signals([unanimous, split])["no_advantage_share"] == 0.5
    assert generation_signals([split])["vote_share_std"] == 0.0


def test_all_none_groups():
    signals = generation_signals([C, vote("d", [None, None], None, 0.0, 0.0, False, 0)])
    assert signals == {
        "vote_share_std": 0.0,
        "distinct_answers": 0.0,
        "unanswered_share": 1.0,
        "no_advantage_share": 1.0,
    }
    assert flip_rate([C], {"c": None}, exact) == 0.0  # no answer, then no answer: no flip
    assert flip_rate([C], {"c": "4"}, exact) == 1.0  # an answer, then none: a flip
    assert flip_rate([A], {"a": None}, exact) == 1.0  # none, then an answer: a flip


def test_empty_input():
    assert generation_signals([]) == dict.fromkeys(
        ["vote_share_std", "distinct_answers", "unanswered_share", "no_advantage_share"]
    )
    assert flip_rate([], {"a": "1"}, exact) is None
    assert iteration_health([], {}, exact) == {
        "vote_share": None,
        "vote_share_std": None,
        "distinct_answers": None,
        "unanswered_share": None,
        "no_advantage_share": None,
        "label_flip_rate": None,
    }


def test_distinct_answers_skips_votes_without_a_cluster_count():
    old = GroupVote("o", ("1", "2"), "1", 0.5, 0.5, True)  # a votes file written before the count was recorded
    assert generation_signals([old])["distinct_answers"] is None
    assert generation_signals([old, A])["distinct_answers"] == 2.0


def test_flip_rate_compares_each_question_with_its_last_vote():
    assert flip_rate([A, B], {}, exact) is None  # nothing voted on before
    assert flip_rate([A, B], {"a": "1", "b": "4", "z": "9"}, exact) == 0.5  # a kept its label, b flipped
    # a question voted twice in the generation counts once, with its last label
    assert flip_rate([A, vote("a", ["2"] * 4, "2", 1.0, 1.0, False, 1)], {"a": "1"}, exact) == 1.0
    assert last_labels([A, B, vote("a", ["7"], "7", 1.0, 1.0, True, 1)]) == {"a": "7", "b": "3"}


def test_flip_rate_uses_the_verifier_equivalence():
    math = get_verifier("math")
    assert flip_rate([vote("q", ["0.5"] * 2, "0.5", 1.0, 1.0, True, 1)], {"q": "\\frac{1}{2}"}, math.equivalent) == 0.0


def test_flip_tracker_across_calls_and_from_the_previous_iteration():
    tracker = FlipTracker(exact, previous={"a": "2"})  # the previous iteration's final labels
    assert tracker.update([A]) == 1.0  # a: 2 -> 1
    assert tracker.update([B]) is None  # b never voted on before
    assert tracker.update([A, vote("b", ["4"] * 4, "4", 1.0, 1.0, False, 1)]) == 0.5  # a: 1 -> 1, b: 3 -> 4
    assert tracker.labels == {"a": "1", "b": "4"}
    assert FlipTracker(exact).update([A]) is None  # first iteration: no earlier vote


def test_iteration_health_against_the_previous_iteration():
    later_a = vote("a", ["2", "2", "2", "1"], "2", 0.75, 0.75, True, 2)
    health = iteration_health([A, B, later_a], {"a": "1", "b": "3"}, exact)
    assert health["vote_share"] == pytest.approx((0.75 + 1.0 + 0.75) / 3)
    assert health["label_flip_rate"] == 0.5  # a's final label 2 (was 1), b's 3 (was 3)
    assert health["distinct_answers"] == pytest.approx(5 / 3)
    assert health["no_advantage_share"] == pytest.approx(1 / 3)
    assert health["unanswered_share"] == 0.0


def test_score_groups_records_the_cluster_count():
    math = get_verifier("math")
    _, votes = score_groups(
        ["q"] * 4 + ["r"] * 4, ["5", "5.0", "4", None, None, None, None, None], math, group_size=4, band=None
    )
    assert [v.cluster_count for v in votes] == [2, 0]


def test_the_reward_logs_the_signals_and_flips_across_its_calls():
    from types import SimpleNamespace

    math = get_verifier("math")
    fn = get_majority_reward(
        math, group_size=2, band=None, read_answer=math.extract, previous_labels={"a": "3"}, updates_per_generation=1
    )
    logged: list[dict] = []

    def call(completions, step):
        metrics: dict = {}
        fn(
            prompts=["p"] * 4,
            completions=completions,
            problem_id=["a", "a", "b", "b"],
            trainer_state=SimpleNamespace(global_step=step),
            log_metric=lambda k, v: metrics.__setitem__(k, v),
        )
        logged.append(metrics)

    call(["\\boxed{3}", "\\boxed{3}", "\\boxed{4}", "no answer"], 0)
    call(["\\boxed{3}", "\\boxed{2}", "no answer", "no answer"], 1)
    first, second = logged
    assert first["label_flip_rate"] == 0.0  # a: 3 -> 3 (previous iteration); b: no earlier vote
    assert first["unanswered_share"] == 0.25 and first["distinct_answers"] == 1.0
    assert first["no_advantage_share"] == 0.5 and first["vote_share_std"] == 0.25
    assert second["label_flip_rate"] == 0.5  # a: 3 -> 3, b: 4 -> None
    assert second["no_advantage_share"] == 0.5  # b: every answer None


# ----------------------------------------------------------------------------- the Synthesizer's side


def reward(total, *, fmt=1.0, s=0.5, capability=1.0, is_copy=False, repetition=0.25, claim=None):
    """A variant record's ``reward`` (the `RewardBreakdown` fields the signals read)."""
    return {
        "format": fmt,
        "consistency": s,
        "capability": capability,
        "is_copy": is_copy,
        "repetition": repetition,
        "total": total,
        "claim": claim,
    }


PAID = reward(0.75)
UNPAID = {  # one variant per reason, each paid 0
    "format": reward(0.0, fmt=0.0, s=None, capability=0.0, is_copy=None, repetition=None),
    "claim": reward(0.0, claim=False),  # would be paid 0.75 but for the claim check
    "copy": reward(0.0, is_copy=True, capability=0.0, s=1.0),  # a copy that is also too easy counts as a copy
    "too_easy": reward(0.0, s=1.0, capability=0.0),
    "too_hard": reward(0.0, s=0.0, capability=0.0),
    "repetition": reward(0.0, capability=0.2, s=0.9, repetition=0.5),  # 0.2 - 0.5 < 0
}


def test_unpaid_reason_of_each_case():
    assert unpaid_reason(PAID) is None
    for reason, r in UNPAID.items():
        assert unpaid_reason(r) == reason
    assert unpaid_reason(reward(0.0, claim=False, fmt=0.0)) == "format"  # the first reason in order wins


def test_synthesizer_signals_by_hand():
    batch = [{"reward": r} for r in [PAID, PAID, *UNPAID.values()]]  # 8 variants: 2 paid 0.75, 6 unpaid
    signals = synthesizer_signals(batch)
    assert list(signals) == list(SYNTHESIZER_SIGNALS)
    mean = 1.5 / 8
    assert signals["reward_std"] == pytest.approx(((2 * (0.75 - mean) ** 2 + 6 * mean**2) / 8) ** 0.5)
    for reason in UNPAID_REASONS:
        assert signals[f"unpaid_{reason}"] == 1 / 8
    assert signals["unpaid_share"] == 6 / 8
    assert sum(signals[f"unpaid_{r}"] for r in UNPAID_REASONS) == pytest.approx(signals["unpaid_share"])


def test_synthesizer_signals_of_a_flat_batch_and_of_none():
    flat = synthesizer_signals([{"reward": reward(0.0, s=1.0, capability=0.0)}] * 3)
    assert flat["reward_std"] == 0.0 and flat["unpaid_too_easy"] == 1.0 and flat["unpaid_share"] == 1.0
    assert synthesizer_signals([{"reward": PAID}])["unpaid_share"] == 0.0
    assert synthesizer_signals([]) == dict.fromkeys(SYNTHESIZER_SIGNALS)


def test_every_unpaid_reward_of_the_combiner_has_exactly_one_reason():
    """Every zero reward `_one_reward` can give, over a grid of its inputs, lands in one bucket that explains it."""
    good = ParsedVariant("A train goes 60 km/h for 2 hours. How far does it go?", "120")
    bad = ParsedVariant(None, None, "no question")
    refs = [None, "Something else entirely, about apples and pears?", good.question]  # none, unrelated, a copy
    seen = set()
    for parsed in (good, bad):
        for ref in refs:
            for s in (0.0, 0.25, 0.5, 0.75, 1.0):
                for share in (None, 0.1, 0.5, 1.0):
                    for claim in (None, True, False):
                        r = _one_reward(parsed, ref, s, share, gamma=1.2, copy_penalty=True, claim=claim).as_dict()
                        reason = unpaid_reason(r)
                        assert (reason is None) == (r["total"] > 0)
                        seen.add(reason)
                        if reason == "repetition":  # paid something before the share, which took it all
                            assert r["capability"] > 0 and not r["is_copy"] and r["repetition"] >= r["capability"]
                        if reason in ("too_easy", "too_hard"):
                            assert r["capability"] == 0 and (r["consistency"] == 1.0) == (reason == "too_easy")
    assert seen == {None, *UNPAID_REASONS}


def test_synthesizer_health_is_the_mean_over_generations():
    records = [
        {"phase": "synthesizer", "step": 1, "reward": PAID},
        {"phase": "synthesizer", "step": 1, "reward": UNPAID["format"]},
        {"phase": "synthesizer", "step": 2, "reward": PAID},
        {"phase": "curriculum", "reward": UNPAID["too_hard"]},  # not the Synthesizer phase's
    ]
    health = synthesizer_health(records)
    assert health["unpaid_format"] == pytest.approx((0.5 + 0.0) / 2)
    assert health["unpaid_share"] == pytest.approx(0.25) and health["unpaid_too_hard"] == 0.0
    assert health["reward_std"] == pytest.approx((0.375 + 0.0) / 2)
    assert synthesizer_health([]) == dict.fromkeys(SYNTHESIZER_SIGNALS)


def test_curriculum_diversity_by_hand():
    got = curriculum_diversity(["a b c d", "A  b c D ", "w x y z"], seed=0)
    assert got["distinct_share"] == pytest.approx(2 / 3)
    assert got["mean_pairwise_distance"] == pytest.approx((0.0 + 1.0 + 1.0) / 3)  # BLEU is case-blind
    assert curriculum_diversity(["a b c d"], seed=0) == {"distinct_share": 1.0, "mean_pairwise_distance": None}
    assert curriculum_diversity([], seed=0) == {"distinct_share": None, "mean_pairwise_distance": None}


def test_curriculum_diversity_samples_a_large_curriculum_with_the_seed():
    questions = [f"question number {i} about {i % 7} apples" for i in range(12)]
    capped = curriculum_diversity(questions, seed=3, sample=5)
    assert capped == curriculum_diversity(questions, seed=3, sample=5)  # seeded
    assert capped["distinct_share"] == 1.0  # over every question, not the sample
    assert 0.0 < capped["mean_pairwise_distance"] <= 1.0
