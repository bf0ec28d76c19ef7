"""Every seed of a run, from the config's ``seed`` and one purpose: `seed_for`.

A seed is ``base + a * iteration + b * step + c * process``, with the coefficients
``(a, b, c)`` of its purpose in `PURPOSES`. The table keeps the offsets each call site used
before it existed, so a run's outputs are unchanged; a new purpose takes a new row (with
coefficients that keep it apart from the others, when that matters) instead of an offset
spelled at the call site.

``step`` counts calls within a phase where a phase draws more than once (the Synthesizer's
reward function, dynamic sampling's draws, the rollouts of a GRPO step); ``process`` is the
process index of a multi-process run.
"""

from __future__ import annotations

# purpose: (per iteration, per step, per process), what it seeds
PURPOSES: dict[str, tuple[int, int, int]] = {
    "global": (0, 0, 0),  # transformers.set_seed at the start of a run
    "engine": (0, 0, 0),  # the vLLM engine's own seed (each request also carries one)
    "eval": (0, 0, 0),  # evaluation's samples (the same every iteration)
    "synthesizer_grpo": (1, 0, 0),  # GRPOConfig.seed of the Synthesizer phase
    "reference_rows": (1, 0, 0),  # the order of the Synthesizer phase's reference questions
    "synthesizer_reward": (0, 1000, 0),  # the Solver's samples that score the Synthesizer's step `step`
    "curriculum_references": (1, 0, 0),  # the subset of references when curriculum.total < test questions
    "curriculum_sampling": (7, 0, 0),  # the curriculum's variants, sampled from the Synthesizer
    "curriculum_scoring": (13, 0, 0),  # the Solver's samples that score those variants
    "mix_curriculum": (1, 0, 0),  # copies, subsampling and shuffle of the Solver's training set
    "solver_grpo": (1, 0, 0),  # GRPOConfig.seed of the Solver phase
    "frontier_select": (1, 0, 0),  # dynamic sampling's draws of candidate questions
    "frontier_measure": (1009, 1, 0),  # the Solver's samples that measure draw `step` of dynamic sampling
    "rollout": (0, 1009, 17),  # first question of a vLLM rollout at GRPO step `step` on `process`
    "curriculum_diversity": (1, 0, 0),  # the sample of parsed variants whose pairwise distance the health log measures
}


class UnknownSeedPurposeError(KeyError):
    """A purpose that `PURPOSES` does not name."""


def seed_for(base: int, purpose: str, iteration: int = 0, step: int = 0, process: int = 0) -> int:
    """The seed of `purpose` in `iteration` (at `step`, on `process`) of a run seeded with `base`."""
    try:
        a, b, c = PURPOSES[purpose]
    except KeyError:
        raise UnknownSeedPurposeError(f"unknown seed purpose {purpose!r}; known: {', '.join(PURPOSES)}") from None
    return int(base) + a * int(iteration) + b * int(step) + c * int(process)
