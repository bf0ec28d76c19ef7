"""One metrics path for both GRPO phases: TRL's own logs, with what the reward function logged, to ``metrics.jsonl``.

A reward function reports through TRL's hooks only: TRL 1.16 passes every reward function
``trainer_state`` (its `TrainerState`) and ``log_metric(name, value)``; a logged scalar is
averaged over the logging step and across processes and logged with TRL's own metrics
(``kl``, ``entropy``, ``completions/mean_length``, ...) at the next ``on_log``. Nothing else
carries numbers from the reward function to the logs: no shared list, no call counter.

`MetricsCallback` writes one ``metrics.jsonl`` row per optimizer step (``logging_steps=1``).
TRL generates (and calls the reward function) once every ``updates_per_step`` optimizer
steps: the step that generated logs TRL's ``reward`` and the reward function's metrics; the
steps after it, trained on the same generation, do not, so the callback carries that
generation's values to them and every row is complete. ``generation`` numbers the
generations from 1; `generation_of` gives the reward function the same number from
``trainer_state``.

Example:
    >>> from types import SimpleNamespace
    >>> generation_of(SimpleNamespace(global_step=4), updates_per_generation=2)
    3
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from transformers import TrainerCallback

from ttcs.rundir import RunDir

# Row key -> TRL's log key, logged on every optimizer step.
STEP_KEYS = {
    "loss": "loss",
    "grad_norm": "grad_norm",
    "learning_rate": "learning_rate",
    "entropy": "entropy",
    "kl": "kl",
    "clip_ratio": "clip_ratio/region_mean",
}
# Row key -> TRL's log key, logged only on the step that generated (carried to the others).
GENERATION_KEYS = {"completion_length": "completions/mean_length", "clipped_ratio": "completions/clipped_ratio"}
# TRL logs this key (its reward mean, None when every reward was None) exactly on the steps that generated.
GENERATED = "reward"


def updates_per_generation(args) -> int:
    """Optimizer steps trained on one generation: ``updates_per_step`` (x GRPO's ``num_iterations``) of a
    `GRPOConfig` built by `ttcs.grpo.build_grpo_config`."""
    return max(1, args.steps_per_generation * args.num_iterations // args.gradient_accumulation_steps)


def generation_of(trainer_state, updates_per_generation: int) -> int:
    """The number (from 1) of the generation TRL's reward function is scoring, from its ``trainer_state``.

    TRL generates before the first optimizer step of every generation, so ``global_step`` (the optimizer steps
    done) is then a multiple of `updates_per_generation`.
    """
    if trainer_state is None:
        raise ValueError(
            "the reward function needs TRL's trainer_state (TRL passes it on every call) to know "
            "which generation it scores"
        )
    return int(trainer_state.global_step) // int(updates_per_generation) + 1


class MetricsCallback(TrainerCallback):
    """Writes one ``metrics.jsonl`` row per optimizer step of a GRPO phase (world process zero only).

    Args:
        rundir: the run directory (`RunDir.log_metrics`).
        phase: the row's ``phase`` (``solver``, ``synthesizer``).
        iteration: the row's ``iteration``.
        keys: the names the phase's reward function logs through ``log_metric``, each with a function applied to
            the logged value (TRL averages in float32: ``int`` for a count, a rounding for seconds) or None.

    A row holds ``step`` (TRL's global step), ``generation``, ``loss``, ``grad_norm``,
    ``learning_rate``, ``entropy``, ``kl``, ``clip_ratio`` (share of tokens whose ratio was clipped),
    ``completion_length``, ``clipped_ratio`` (share of completions cut at the length limit), the
    reward function's `keys` (None where it logged nothing) and ``seconds`` since the previous
    row. ``step_seconds`` keeps every row's seconds.
    """

    def __init__(self, rundir: RunDir, phase: str, iteration: int, keys: Mapping[str, Callable[[float], Any] | None]):
        self.rundir, self.phase, self.iteration, self.keys = rundir, phase, iteration, dict(keys)
        self._generation = 0
        self._generated: dict[str, Any] = dict.fromkeys([*GENERATION_KEYS, *self.keys])
        self._last = time.time()
        self.step_seconds: list[float] = []

    def on_train_begin(self, args, state, control, **kwargs):
        self._last = time.time()

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or "loss" not in logs:
            return  # the end-of-training summary, not a step
        now = time.time()
        self.step_seconds.append(now - self._last)
        self._last = now
        if GENERATED in logs:  # this step generated: its values replace the previous generation's
            self._generation += 1
            self._generated = {row: logs.get(key) for row, key in GENERATION_KEYS.items()}
            for name, cast in self.keys.items():
                value = logs.get(name)
                self._generated[name] = cast(value) if cast is not None and value is not None else value
        if not state.is_world_process_zero:
            return
        self.rundir.log_metrics(
            self.phase,
            iteration=self.iteration,
            step=state.global_step,
            generation=self._generation,
            **{row: logs.get(key) for row, key in STEP_KEYS.items()},
            **self._generated,
            seconds=round(self.step_seconds[-1], 2),
        )
