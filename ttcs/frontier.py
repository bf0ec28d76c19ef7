"""Dynamic sampling: fill every Solver step with questions at the Solver's frontier.

A group of G answers whose mean reward (its vote share) lies outside the band carries no
reliable learning signal. The published method (DAPO-style) therefore generates 3x the
step's questions, keeps the in-band groups and draws again, up to 10 generation batches,
until the step is full. TRL 1.16 has no such option, so ttcs does it before the phase:

1. For each step, draw ``oversample x batch_questions`` candidate questions from the
   training pool (shuffled passes, so the pool is used evenly) and measure each with the
   phase's starting Solver: G samples, the share of the largest answer cluster.
2. Keep the in-band candidates; draw again while the step is short, up to ``max_draws``.
   A step still short after that is topped up with the candidates nearest to the band.
3. The chosen questions become TRL's dataset in step order (``shuffle_dataset=False``);
   TRL samples fresh groups on them and the reward still drops a group that drifted out.

`select_frontier` is pure (it takes a ``measure`` callback), so it is tested without a
model; `measure_with_backend` is the callback the Solver phase uses. Each step's draws,
first-draw in-band share and fill are returned for ``metrics.jsonl``.

Example:
    >>> shares = {0: 0.5, 1: 1.0, 2: 0.25, 3: 0.0}
    >>> plan = select_frontier(4, lambda idx, draw: [shares[i] for i in idx], steps=1, batch=2,
    ...                        oversample=2, max_draws=1, band=(0.25, 0.75), seed=0)
    >>> sorted(plan.order), plan.steps[0]["first_draw_in_band"]
    ([0, 2], 0.5)
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ttcs.generation import Sampling
from ttcs.rewards.solver import majority_rewards
from ttcs.seeds import seed_for

logger = logging.getLogger(__name__)

# (candidate indices, draw number from 1 over the whole phase) -> each candidate's vote share
Measure = Callable[[list[int], int], list[float]]


@dataclass
class FrontierPlan:
    """The questions of every step in order (indices into the pool) and one stats dict per step."""

    order: list[int] = field(default_factory=list)
    steps: list[dict] = field(default_factory=list)


class _Draws:
    """Candidate indices in shuffled passes over the pool: every question before any repeats."""

    def __init__(self, size: int, seed: int):
        self.size, self.rng = size, random.Random(seed)
        self.queue: list[int] = []

    def take(self, count: int) -> list[int]:
        out: list[int] = []
        while len(out) < count:
            if not self.queue:
                self.queue = list(range(self.size))
                self.rng.shuffle(self.queue)
            out.append(self.queue.pop())
        return out


def _distance(share: float, band: tuple[float, float]) -> float:
    return max(band[0] - share, share - band[1], 0.0)


def _fill_step(
    draws: _Draws,
    measure: Measure,
    *,
    batch: int,
    per_draw: int,
    max_draws: int,
    band: tuple[float, float],
    first_draw: int,
) -> tuple[list[int], dict]:
    """Fill one step; its draws are numbered from `first_draw` (the phase's draws before it, plus 1)."""
    kept: list[int] = []
    seen: list[tuple[float, int]] = []
    first_share, n_draws = None, 0
    while len(kept) < batch and n_draws < max_draws:
        candidates = draws.take(per_draw)
        shares = measure(candidates, first_draw + n_draws)
        n_draws += 1
        inside = [i for i, s in zip(candidates, shares, strict=True) if band[0] <= s <= band[1]]
        first_share = len(inside) / len(candidates) if first_share is None else first_share
        kept += [i for i in inside if i not in kept]
        seen += [(_distance(s, band), i) for i, s in zip(candidates, shares, strict=True)]
    in_band = min(len(kept), batch)
    if len(kept) < batch:  # short after every draw: the nearest candidates fill the step
        for _, i in sorted(seen):
            if len(kept) >= batch:
                break
            if i not in kept:
                kept.append(i)
    stats = {
        "draws": n_draws,
        "refills": n_draws - 1,
        "candidates": n_draws * per_draw,
        "first_draw_in_band": first_share,
        "in_band": in_band,
        "filled_share": in_band / batch,
    }
    return kept[:batch], stats


def select_frontier(
    pool_size: int,
    measure: Measure,
    *,
    steps: int,
    batch: int,
    oversample: float,
    max_draws: int,
    band: Sequence[float],
    seed: int,
) -> FrontierPlan:
    """Choose ``steps x batch`` questions from a pool of ``pool_size``, each step filled with in-band ones.

    Args:
        pool_size: number of training questions.
        measure: maps candidate indices and the draw's number (from 1, over all steps) to their vote shares
            (mean majority reward of a group).
        steps: Solver steps of the phase.
        batch: questions per step (capped at the pool size).
        oversample: candidates per draw as a multiple of ``batch`` (the paper: 3).
        max_draws: most draws per step (the paper: 10 generation batches).
        band: closed (lo, hi) band of the vote share.
        seed: seeds the draws.

    Returns:
        A `FrontierPlan`; ``steps[k]`` holds draws, refills, candidates, first_draw_in_band
        (the in-band share before any refill), in_band and filled_share (after refills).
    """
    if pool_size < 1 or steps < 1 or max_draws < 1 or oversample < 1:
        raise ValueError(
            f"bad dynamic-sampling sizes: pool {pool_size}, steps {steps}, max_draws {max_draws}, "
            f"oversample {oversample}"
        )
    batch = min(batch, pool_size)
    per_draw = min(pool_size, max(batch, round(oversample * batch)))
    draws, plan = _Draws(pool_size, seed), FrontierPlan()
    lo, hi = float(band[0]), float(band[1])
    done = 0  # draws measured so far
    for step in range(steps):
        chosen, stats = _fill_step(
            draws, measure, batch=batch, per_draw=per_draw, max_draws=max_draws, band=(lo, hi), first_draw=done + 1
        )
        done += stats["draws"]
        if stats["in_band"] < batch:
            logger.warning(
                "dynamic sampling: step %d has %d of %d questions in the band after %d draws",
                step + 1,
                stats["in_band"],
                batch,
                stats["draws"],
            )
        plan.order += chosen
        plan.steps.append({"step": step + 1, **stats})
    return plan


def measure_with_backend(
    ctx, backend, problems: Sequence, *, group_size: int, sampling: dict, seed: int, iteration: int = 0
) -> Measure:
    """A `select_frontier` callback: G Solver samples per candidate, in one backend call per draw.

    `seed` is the run's seed: draw n of `iteration` samples under ``seed_for(seed, "frontier_measure", iteration, n)``.
    """

    def measure(indices: list[int], draw: int) -> list[float]:
        chosen = [problems[i] for i in indices]
        draw_seed = seed_for(seed, "frontier_measure", iteration, draw)
        outs = backend.generate(
            ctx.prompts(chosen), Sampling(n=group_size, seed=draw_seed, **sampling), desc="dynamic sampling"
        )
        shares = []
        for completions in outs:
            rewards, _ = majority_rewards([ctx.read_answer(c) for c in completions], ctx.verifier)
            shares.append(sum(rewards) / len(rewards))
        return shares

    return measure
