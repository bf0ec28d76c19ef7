"""Dynamic sampling: every step filled with in-band questions, refills counted, the pool used evenly."""

from __future__ import annotations

import doctest

import pytest

from ttcs import frontier
from ttcs.frontier import select_frontier


def table(shares):
    calls = []

    def measure(indices, draw):
        assert draw == len(calls) + 1  # draws are numbered from 1 over the whole phase
        calls.append(list(indices))
        return [shares[i] for i in indices]

    return measure, calls


def test_steps_are_filled_with_in_band_questions_only():
    shares = [0.5, 1.0, 0.0, 0.25, 0.75, 1.0, 0.0, 0.5]  # in band: 0, 3, 4, 7
    measure, calls = table(shares)
    plan = select_frontier(8, measure, steps=2, batch=2, oversample=2, max_draws=10, band=(0.25, 0.75), seed=0)
    assert len(plan.order) == 4 and all(0.25 <= shares[i] <= 0.75 for i in plan.order)
    assert [s["filled_share"] for s in plan.steps] == [1.0, 1.0]
    assert all(len(c) == 4 for c in calls)  # oversample x batch candidates per draw
    assert sum(s["draws"] for s in plan.steps) == len(calls)


def test_a_short_step_refills_then_tops_up_with_the_nearest_candidates(caplog):
    shares = [1.0, 1.0, 0.9, 1.0, 0.5, 0.0]  # one question in band
    measure, calls = table(shares)
    plan = select_frontier(6, measure, steps=1, batch=2, oversample=1, max_draws=3, band=(0.25, 0.75), seed=1)
    step = plan.steps[0]
    assert step["draws"] == 3 and step["refills"] == 2 and step["candidates"] == 6
    assert step["in_band"] == 1 and step["filled_share"] == 0.5
    assert plan.order[0] == 4 and plan.order[1] == 2  # 0.9 is the nearest to the band
    assert "1 of 2 questions in the band" in caplog.text


def test_first_draw_share_is_measured_before_refills():
    shares = [0.5, 1.0, 1.0, 1.0]
    measure, _ = table(shares)
    plan = select_frontier(4, measure, steps=1, batch=2, oversample=1, max_draws=4, band=(0.25, 0.75), seed=0)
    assert plan.steps[0]["first_draw_in_band"] in (0.0, 0.5)
    assert plan.steps[0]["draws"] == 4 and plan.steps[0]["in_band"] == 1


def test_draws_cycle_through_the_whole_pool_before_repeating():
    measure, calls = table([0.5] * 10)
    select_frontier(10, measure, steps=5, batch=2, oversample=1, max_draws=1, band=(0.0, 1.0), seed=3)
    drawn = [i for c in calls for i in c]
    assert sorted(drawn) == list(range(10))


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="dynamic-sampling"):
        select_frontier(0, lambda i, draw: [], steps=1, batch=1, oversample=3, max_draws=10, band=(0, 1), seed=0)


def test_docstring_examples_run():
    assert doctest.testmod(frontier).failed == 0


def test_measure_with_backend_scores_each_candidate_by_its_vote_share():
    from types import SimpleNamespace

    from ttcs.data import Problem
    from ttcs.verify import get_verifier

    class Backend:
        def __init__(self):
            self.samplings = []

        def generate(self, prompts, sampling, desc=""):
            self.samplings.append(sampling)
            canned = {"a": ["\\boxed{1}"] * 4, "b": ["\\boxed{1}", "\\boxed{2}", "no box", "\\boxed{1}"]}
            return [canned[p] for p in prompts]

    from ttcs.voting import boxed_answer

    verifier = get_verifier("math")
    ctx = SimpleNamespace(
        verifier=verifier, prompts=lambda problems: [p.question for p in problems], read_answer=boxed_answer
    )
    problems = [Problem("q0", "a", None, "t"), Problem("q1", "b", None, "t")]
    backend = Backend()
    measure = frontier.measure_with_backend(
        ctx, backend, problems, group_size=4, seed=5, sampling={"temperature": 1.0, "top_p": 0.99, "max_new_tokens": 32}
    )
    assert measure([0, 1], 1) == [1.0, 0.5]  # "b": two of four samples in the winning cluster
    assert backend.samplings[0].n == 4 and backend.samplings[0].top_p == 0.99 and backend.samplings[0].seed == 6
    measure([0], 3)  # draw 3 samples under seed_for(5, "frontier_measure", 0, 3), whatever was measured before
    assert backend.samplings[1].seed == 8
