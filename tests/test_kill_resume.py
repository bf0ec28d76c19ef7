"""A real `ttcs` run (tiny model, subprocess) SIGKILLed in the middle of each phase, then rerun with the same
command: every phase done once, finished phases skipped, no torn file, and the run directory holds exactly what an
uninterrupted run of the same config writes.

The kill points are exact, not timed: the run goes through `tests/kill_after.py` (the `ttcs` command with a hook
patched onto `RunDir`), whose `KILL_AFTER_ENV` makes the run kill itself right after its n-th write to the run
directory within a phase (the Synthesizer's first variants of its second step, the curriculum's
second variant, the Solver's first step, an evaluation's file or its metrics line).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT, tiny_run
from hydra import compose, initialize_config_dir
from kill_after import KILL_AFTER_ENV
from test_loop import unnamed_files

from ttcs.loop import run

# The `ttcs` command with the kill hook (a script: `accelerate launch` runs it too).
KILL_LAUNCHER = str(Path(__file__).resolve().with_name("kill_after.py"))

PHASES = ["iter_00/eval", "iter_01/synthesizer", "iter_01/curriculum", "iter_01/solver", "iter_01/eval"]
# (phase, n): killed right after the phase's n-th write. Synthesizer: 2 steps x 4 variants, each step then a metrics
# line, so 6 = the first variant of step 2; curriculum: 3 variants, the training set, a metrics line; Solver: per
# step its 2 groups' votes, then a metrics line, so 3 = the first metrics line; evaluation: its eval file, then its
# metrics line.
KILLS = [
    ("iter_00/eval", 1),
    ("iter_01/synthesizer", 6),
    ("iter_01/curriculum", 2),
    ("iter_01/solver", 3),
    ("iter_01/eval", 2),
]
# Files whose lines are compared with the uninterrupted run, and the fields that are wall-clock times.
FILES = [
    "eval/iter_00.jsonl",
    "eval/iter_01.jsonl",
    "curriculum/iter_01.jsonl",
    "curriculum/iter_01_train.jsonl",
    "solver/iter_01_votes.jsonl",
    "metrics.jsonl",
]
TIMES = {"time", "seconds", "reward_seconds", "train_seconds", "seconds_per_step"}


def overrides(model_dir):
    return [*tiny_run(model_dir), "report.enabled=false"]


def ttcs_cli(run_dir, model_dir, kill=None):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop(KILL_AFTER_ENV, None)
    if kill:
        env[KILL_AFTER_ENV] = f"{kill[0]}:{kill[1]}"
    cmd = [sys.executable, KILL_LAUNCHER, *overrides(model_dir), f"hydra.run.dir={run_dir}"]
    return subprocess.run(cmd, cwd=run_dir.parent, env=env, capture_output=True, text=True, timeout=600)


def finished(run_dir) -> list[str]:
    state = run_dir / "state.json"
    return list(json.loads(state.read_text())["phases"]) if state.exists() else []


def kill_at(run_dir, model_dir, kill):
    out = ttcs_cli(run_dir, model_dir, kill)
    assert out.returncode == -9, f"not killed at {kill}: rc {out.returncode}\n{out.stderr[-2000:]}"
    assert finished(run_dir) == PHASES[: PHASES.index(kill[0])]  # the phase was cut short, the earlier ones stand


def strict_lines(path) -> list[dict]:
    """Every line of a JSON-lines file parses: no torn, empty or merged line."""
    text = path.read_text()
    assert text.endswith("\n"), path
    return [json.loads(line) for line in text.split("\n")[:-1]]


def untimed(value):
    """A record without its wall-clock fields."""
    if isinstance(value, dict):
        return {k: untimed(v) for k, v in value.items() if k not in TIMES}
    return [untimed(v) for v in value] if isinstance(value, list) else value


def same(a, b) -> bool:
    """Equal, floats up to the last digits (training in a fresh process moves a loss or an entropy by ~1e-5)."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-3, abs_tol=1e-6)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(same, a, b))
    return a == b


def assert_same_as_uninterrupted(run_dir, reference):
    assert finished(run_dir) == PHASES
    for name in FILES:
        got, want = strict_lines(run_dir / name), strict_lines(reference / name)
        assert len(got) == len(want), name  # nothing repeated, nothing lost
        for i, (g, w) in enumerate(zip(got, want, strict=True)):  # and the same lines, in order
            assert same(untimed(g), untimed(w)), f"{name} line {i + 1}: {untimed(g)} != {untimed(w)}"
    for path in run_dir.rglob("*.jsonl"):
        strict_lines(path)
    assert not [p for p in run_dir.rglob("*") if p.name.endswith((".tmp", ".partial"))]  # no half-written file
    assert unnamed_files(run_dir) == []  # and nothing but what ttcs.rundir.LAYOUT names (Hydra's files included)
    results, expected = (json.loads((d / "results.json").read_text()) for d in (run_dir, reference))
    assert same(untimed(results)["iterations"], untimed(expected)["iterations"])
    state = json.loads((run_dir / "state.json").read_text())["phases"]
    assert all(state[k]["checkpoint"].startswith(str(run_dir)) for k in ("iter_01/synthesizer", "iter_01/solver"))


@pytest.fixture(scope="module")
def reference(tmp_path_factory, tiny_model_dir):
    """The same config run once, uninterrupted (in this process: same seeds, one thread)."""
    run_dir = tmp_path_factory.mktemp("uninterrupted")
    with initialize_config_dir(config_dir=str(REPO_ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides(tiny_model_dir))
    run(cfg, run_dir)
    return run_dir


def test_killed_in_every_phase_in_turn_then_rerun_matches_an_uninterrupted_run(tmp_path, tiny_model_dir, reference):
    """One run killed in the middle of each phase in turn (each rerun resumes, then is killed in the next phase;
    a torn line is left as a kill mid-write would), then rerun to the end."""
    run_dir = tmp_path / "run"
    for kill in KILLS:
        kill_at(run_dir, tiny_model_dir, kill)
        if kill[0] == "iter_01/synthesizer":  # as if the kill had come in the middle of writing a line
            for name in ("metrics.jsonl", "curriculum/iter_01.jsonl"):
                with open(run_dir / name, "a") as f:
                    f.write('{"phase": "synthesizer", "ste')
    out = ttcs_cli(run_dir, tiny_model_dir)
    assert out.returncode == 0, out.stderr[-3000:]
    log = (run_dir / "run.log").read_text()
    for i, key in enumerate(PHASES):
        assert log.count(f"== {key} ==") == 2, key  # started once and killed, started once more and finished
        assert log.count(f"resume: {key} already finished, skipping it") == len(PHASES) - 1 - i, key
    for key in PHASES[1:]:  # each of these had appended lines before its kill: dropped before it ran again
        assert f"resume: {key} was cut short; dropping the" in log, key
    assert_same_as_uninterrupted(run_dir, reference)


@pytest.mark.slow
@pytest.mark.parametrize("kill", [*KILLS, *((p, 0) for p, _ in KILLS)], ids=lambda k: f"{k[0]}:{k[1]}")
def test_killed_once_then_rerun_matches_an_uninterrupted_run(tmp_path, tiny_model_dir, reference, kill):
    """Each kill point on its own (and each phase killed as it starts), then one rerun."""
    run_dir = tmp_path / "run"
    kill_at(run_dir, tiny_model_dir, kill)
    out = ttcs_cli(run_dir, tiny_model_dir)
    assert out.returncode == 0, out.stderr[-3000:]
    log = (run_dir / "run.log").read_text()
    for key in PHASES[: PHASES.index(kill[0])]:
        assert f"resume: {key} already finished, skipping it" in log
    assert_same_as_uninterrupted(run_dir, reference)
