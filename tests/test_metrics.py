"""The one metrics path: MetricsCallback's rows from TRL's logs, and the generation number from trainer_state."""

from __future__ import annotations

import doctest
from types import SimpleNamespace

import pytest

from ttcs import metrics
from ttcs.metrics import MetricsCallback, generation_of, updates_per_generation
from ttcs.rundir import RunDir


def test_docstring_examples_run():
    assert doctest.testmod(metrics).failed == 0


def _log(callback, step, logs, *, main=True):
    callback.on_log(None, SimpleNamespace(global_step=step, is_world_process_zero=main), None, logs=logs)


def test_one_complete_row_per_optimizer_step_with_the_generation_carried(tmp_path):
    rundir = RunDir(tmp_path)
    callback = MetricsCallback(rundir, "solver", 1, {"groups": int, "reward_mean": None, "pseudo_label_accuracy": None})
    generated = {"reward": None, "completions/mean_length": 12.0, "groups": 2.0, "reward_mean": 0.25}
    _log(callback, 1, {"loss": 0.5, "kl": 0.1, **generated, "pseudo_label_accuracy": 1.0})
    _log(callback, 2, {"loss": 0.4, "kl": 0.2})  # trained on the same generation: TRL logs no reward metrics
    _log(callback, 3, {"loss": 0.3, **generated})  # a new generation without gold answers
    _log(callback, 3, {"train_runtime": 1.0})  # the end-of-training summary: no row
    rows = rundir.metrics()
    assert [(r["step"], r["generation"]) for r in rows] == [(1, 1), (2, 1), (3, 2)]
    assert [r["groups"] for r in rows] == [2, 2, 2] and isinstance(rows[0]["groups"], int)
    assert [r["pseudo_label_accuracy"] for r in rows] == [1.0, 1.0, None]  # not carried across generations
    assert [r["completion_length"] for r in rows] == [12.0, 12.0, 12.0] and [r["kl"] for r in rows] == [0.1, 0.2, None]
    assert all(r["phase"] == "solver" and r["iteration"] == 1 and r["seconds"] >= 0 for r in rows)


def test_only_world_process_zero_writes_but_every_process_counts_generations(tmp_path):
    rundir = RunDir(tmp_path)
    callback = MetricsCallback(rundir, "synthesizer", 1, {"reward_mean": None})
    _log(callback, 1, {"loss": 0.1, "reward": 0.0, "reward_mean": 0.0}, main=False)
    _log(callback, 2, {"loss": 0.1, "reward": 0.0, "reward_mean": 0.5})
    assert [(r["step"], r["generation"], r["reward_mean"]) for r in rundir.metrics()] == [(2, 2, 0.5)]


def test_the_generation_number_follows_the_optimizer_steps():
    from ttcs.grpo import build_grpo_config

    node = {
        "steps": 3,
        "batch_questions": 2,
        "group_size": 4,
        "micro_batch": 2,
        "updates_per_step": 2,
        "report_to": "none",
    }
    args = build_grpo_config(node, output_dir="unused", seed=0, train_size=2, cuda=False, processes=1)
    assert updates_per_generation(args) == 2
    # TRL calls the reward before optimizer steps 1, 3, 5 (global_step 0, 2, 4): generations 1, 2, 3
    assert [generation_of(SimpleNamespace(global_step=s), 2) for s in (0, 2, 4)] == [1, 2, 3]
    assert [generation_of(SimpleNamespace(global_step=s), 1) for s in (0, 1, 2)] == [1, 2, 3]
    with pytest.raises(ValueError, match="trainer_state"):
        generation_of(None, 1)
