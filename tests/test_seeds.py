"""`ttcs.seeds.seed_for`: each purpose gives exactly the seed its call site computed by hand before the table."""

import itertools

import pytest

from ttcs.engine import rollout_seed
from ttcs.seeds import PURPOSES, UnknownSeedPurposeError, seed_for

# The formulas the call sites spelled out before `seed_for` (a run's outputs must not change).
FORMULAS = {
    "global": lambda s, t, n, p: s,
    "engine": lambda s, t, n, p: s,
    "eval": lambda s, t, n, p: s,
    "synthesizer_grpo": lambda s, t, n, p: s + t,
    "reference_rows": lambda s, t, n, p: s + t,
    "synthesizer_reward": lambda s, t, n, p: s + 1000 * n,
    "curriculum_references": lambda s, t, n, p: s + t,
    "curriculum_sampling": lambda s, t, n, p: s + 7 * t,
    "curriculum_scoring": lambda s, t, n, p: s + 13 * t,
    "mix_curriculum": lambda s, t, n, p: s + t,
    "solver_grpo": lambda s, t, n, p: s + t,
    "frontier_select": lambda s, t, n, p: s + t,
    "frontier_measure": lambda s, t, n, p: s + 1009 * t + n,
    "rollout": lambda s, t, n, p: s + 1009 * n + 17 * p,
    "curriculum_diversity": lambda s, t, n, p: s + t,
}
GRID = list(itertools.product([0, 1, 42, 1234567], [0, 1, 2, 5, 17], [0, 1, 3, 40], [0, 1, 7]))


def test_every_purpose_has_a_formula_and_every_formula_a_purpose():
    assert set(FORMULAS) == set(PURPOSES)


@pytest.mark.parametrize("purpose", sorted(FORMULAS))
def test_each_purpose_reproduces_the_seed_its_call_site_used(purpose):
    for s, t, n, p in GRID:
        # A purpose ignores the arguments its call site never passed: only those the formula reads matter.
        assert seed_for(s, purpose, iteration=t, step=n, process=p) == FORMULAS[purpose](s, t, n, p), (s, t, n, p)


def test_defaults_are_zero_and_the_result_is_an_int():
    assert seed_for(3, "curriculum_scoring", 2) == 3 + 26
    assert type(seed_for(3.0, "eval")) is int  # noqa: E721


def test_rollout_seed_is_the_rollout_purpose():
    for s, _, n, p in GRID:
        assert rollout_seed(s, n, p) == s + 1009 * n + 17 * p


def test_an_unknown_purpose_raises_and_names_the_known_ones():
    with pytest.raises(UnknownSeedPurposeError, match="unknown seed purpose 'solver'.*solver_grpo"):
        seed_for(0, "solver", 1)
    with pytest.raises(KeyError):
        seed_for(0, "")
