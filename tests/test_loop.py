"""The co-evolution loop on a tiny random model: every phase of one ttcs iteration, resume from
each phase boundary, and a SIGKILL in the middle of a run followed by a rerun of the same command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from conftest import REPO_ROOT, tiny_run
from hydra import compose, initialize_config_dir

from ttcs.health import CURRICULUM_SIGNALS, SYNTHESIZER_SIGNALS, UNPAID_REASONS
from ttcs.loop import run
from ttcs.rundir import LAYOUT, ConfigMismatchError, RunDir, RunLayout, read_jsonl

PHASES = ["iter_00/eval", "iter_01/synthesizer", "iter_01/curriculum", "iter_01/solver", "iter_01/eval"]


def compose_cfg(*items):
    with initialize_config_dir(config_dir=str(REPO_ROOT / "conf"), version_base="1.3"):
        return compose(config_name="config", overrides=list(items))


def mtimes(run_dir):
    return {p: p.stat().st_mtime_ns for p in (run_dir / "checkpoints").rglob("config.json")}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, tiny_model_dir):
    torch.set_num_threads(1)
    run_dir = tmp_path_factory.mktemp("ttcs-run")
    results = run(compose_cfg(*tiny_run(tiny_model_dir)), run_dir)
    return run_dir, results


def test_one_iteration_exercises_every_phase(finished_run):
    run_dir, results = finished_run
    state = RunDir(run_dir).state["phases"]
    assert list(state) == PHASES
    assert [it["iteration"] for it in results["iterations"]] == [0, 1]
    assert "pseudo_label_accuracy" in results["iterations"][1]
    for role in ("synthesizer", "solver"):
        assert (run_dir / "checkpoints" / role / "iter_01" / "config.json").is_file()
    records = read_jsonl(run_dir / "curriculum" / "iter_01.jsonl")
    assert {r["phase"] for r in records} == {"synthesizer", "curriculum"}
    assert all("reward" in r and "output" in r for r in records)
    assert (run_dir / "curriculum" / "iter_01_train.jsonl").is_file()
    phases = {m["phase"] for m in RunDir(run_dir).metrics()}
    assert {"eval", "synthesizer", "curriculum", "solver"} <= phases
    assert json.loads((run_dir / "results.json").read_text()) == results
    # the Synthesizer's and the curriculum's label-free health signals (`ttcs.health`), in every row, in range
    rows = [m for m in RunDir(run_dir).metrics() if m["phase"] == "synthesizer"]
    assert rows and all(0.0 <= m[k] <= 1.0 for m in rows for k in SYNTHESIZER_SIGNALS)
    assert all(m["unpaid_share"] == pytest.approx(sum(m[f"unpaid_{r}"] for r in UNPAID_REASONS)) for m in rows)
    (line,) = [m for m in RunDir(run_dir).metrics() if m["phase"] == "curriculum"]
    assert set(CURRICULUM_SIGNALS) <= set(line)
    health = results["iterations"][1]["health"]
    assert set(health["synthesizer"]) == set(SYNTHESIZER_SIGNALS)
    assert set(health["curriculum"]) == set(CURRICULUM_SIGNALS)
    assert "vote_share" in health  # the Solver's signals stay at the top


def unnamed_files(run_dir) -> list[str]:
    """The files under `run_dir` that no pattern of `ttcs.rundir.LAYOUT` names."""
    layout = RunLayout(run_dir)
    return [
        p.relative_to(run_dir).as_posix()
        for p in sorted(run_dir.rglob("*"))
        if p.is_file() and not layout.owns(p.relative_to(run_dir))
    ]


def test_the_run_directory_holds_only_the_paths_rundir_names(finished_run):
    run_dir, _ = finished_run
    assert unnamed_files(run_dir) == []
    layout = RunLayout(run_dir)
    for path in (
        layout.state_path,
        layout.metrics_path,
        layout.results_path,
        layout.eval_path(0),
        layout.eval_path(1),
        layout.curriculum_path(1),
        layout.curriculum_train_path(1),
        layout.checkpoint_dir("solver", 1) / "config.json",
        layout.checkpoint_dir("synthesizer", 1) / "config.json",
    ):
        assert path.is_file(), path
    assert layout.curriculum_paths() == [layout.curriculum_path(1)]
    assert [
        layout.owns(p)
        for p in (
            "stray.txt",
            "eval/iter_1.jsonl",
            "checkpoints/solver/latest/config.json",
            "trl/solver_iter_01/x",
            "run.rank1.log",
            ".hydra/config.yaml",
        )
    ] == [False, False, False, True, True, True]
    assert "state.json" in LAYOUT


@pytest.mark.parametrize("boundary", range(1, len(PHASES)))
def test_resume_from_each_phase_boundary(finished_run, tmp_path, tiny_model_dir, boundary, caplog):
    """Cut the finished run back to `boundary` finished phases: the rerun redoes only what follows."""
    import shutil

    src, results = finished_run
    run_dir = tmp_path / "run"
    shutil.copytree(src, run_dir)
    rd = RunDir(run_dir)
    for key in PHASES[boundary:]:
        del rd.state["phases"][key]
    rd._save_state()
    kept = {
        p: t
        for p, t in mtimes(run_dir).items()
        if any(f"{k.split('/')[1]}/{k.split('/')[0]}" in str(p) for k in PHASES[:boundary])
    }
    lines_before = len(read_jsonl(run_dir / "curriculum" / "iter_01.jsonl"))
    caplog.set_level("INFO")
    again = run(compose_cfg(*tiny_run(tiny_model_dir)), run_dir)
    assert list(RunDir(run_dir).state["phases"]) == PHASES
    for key in PHASES[:boundary]:
        assert f"resume: {key} already finished" in caplog.text
    assert all(p.stat().st_mtime_ns == t for p, t in kept.items())  # finished phases' checkpoints untouched
    assert len(read_jsonl(run_dir / "curriculum" / "iter_01.jsonl")) >= lines_before  # nothing lost
    assert [it["iteration"] for it in again["iterations"]] == [0, 1]


def test_changed_config_is_refused(finished_run, tiny_model_dir):
    run_dir, _ = finished_run
    with pytest.raises(ConfigMismatchError, match="eval.k"):
        run(compose_cfg(*tiny_run(tiny_model_dir), "eval.k=3"), run_dir)


def test_sigkill_mid_run_then_rerun_finishes_without_redoing(tmp_path, tiny_model_dir):
    run_dir = tmp_path / "killed"
    cmd = [sys.executable, "-m", "ttcs.cli", *tiny_run(tiny_model_dir), f"hydra.run.dir={run_dir}"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    state = run_dir / "state.json"
    while time.time() < deadline:  # kill as soon as the Synthesizer phase is recorded as finished
        if state.exists() and "iter_01/synthesizer" in state.read_text():
            break
        assert proc.poll() is None, "the run ended before it could be killed"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = set(json.loads(state.read_text())["phases"])
    assert "iter_01/synthesizer" in done_before and "iter_01/eval" not in done_before
    synth_ckpt = run_dir / "checkpoints" / "synthesizer" / "iter_01" / "config.json"
    stamp = synth_ckpt.stat().st_mtime_ns
    lines = read_jsonl(run_dir / "curriculum" / "iter_01.jsonl")
    out = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "resume: iter_01/synthesizer already finished" in (run_dir / "run.log").read_text()
    assert synth_ckpt.stat().st_mtime_ns == stamp
    assert read_jsonl(run_dir / "curriculum" / "iter_01.jsonl")[: len(lines)] == lines
    assert list(json.loads(state.read_text())["phases"]) == PHASES


def test_the_paper_setting_runs_end_to_end_on_a_tiny_model(tmp_path, tiny_model_dir):
    """train=gpu's policies (boxed votes, dynamic sampling, mini-batch updates, exact dedupe, the design-header
    prefill) on a tiny model, with only the sizes shrunk."""
    sizes = [
        "train.iterations=1",
        "train.solver.steps=1",
        "train.solver.batch_questions=2",
        "train.solver.group_size=4",
        "train.solver.micro_batch=4",
        "train.solver.max_completion_length=8",
        "train.solver.band=[0.0,1.0]",
        "train.solver.gradient_checkpointing=false",
        "train.solver.report_to=none",
        "train.synthesizer.steps=1",
        "train.synthesizer.batch_questions=2",
        "train.synthesizer.micro_batch=2",
        "train.synthesizer.max_completion_length=8",
        "train.synthesizer.solver_samples=2",
        "train.synthesizer.solver_max_new_tokens=4",
        "train.synthesizer.template=synthesizer_compact",
        "train.curriculum.total=4",
        "train.curriculum.max_new_tokens=8",
    ]
    cfg = compose_cfg(*[o for o in tiny_run(tiny_model_dir) if not o.startswith("train=")], "train=gpu", *sizes)
    assert cfg.recipe.name == "paper" and cfg.train.curriculum.dedupe == "exact"
    assert cfg.train.solver.dynamic_sampling.enabled and cfg.train.synthesizer.prefill == "[Design]\n"
    run(cfg, tmp_path)
    state = RunDir(tmp_path).state["phases"]
    assert list(state) == PHASES
    assert state["iter_01/solver"]["steps"] == 2  # 1 step x 2 optimizer updates
    assert state["iter_01/synthesizer"]["steps"] == 4  # 1 step x 4 optimizer updates
    assert state["iter_01/solver"]["dynamic_sampling"]["filled_share"] == 1.0
    rows = [m for m in RunDir(tmp_path).metrics() if m["phase"] == "dynamic_sampling"]
    assert len(rows) == 1 and rows[0]["draws"] == 1
    outputs = [r["output"] for r in read_jsonl(tmp_path / "curriculum" / "iter_01.jsonl")]
    assert outputs and all(o.startswith("[Design]\n") for o in outputs)


def test_several_updates_per_generation_log_one_complete_row_per_optimizer_step(tmp_path, tiny_model_dir):
    updates = 2  # the paper's setting has 2 (Solver) and 4 (Synthesizer) optimizer updates per generation
    cfg = compose_cfg(
        *tiny_run(tiny_model_dir),
        f"train.solver.updates_per_step={updates}",
        f"train.synthesizer.updates_per_step={updates}",
    )
    run(cfg, tmp_path / "run")
    rows = RunDir(tmp_path / "run").metrics()
    for role in ("synthesizer", "solver"):
        steps = int(cfg.train[role].steps)
        mine = [m for m in rows if m["phase"] == role]
        assert [m["step"] for m in mine] == list(range(1, steps * updates + 1))
        assert [m["generation"] for m in mine] == [g for g in range(1, steps + 1) for _ in range(updates)]
        assert all(None not in (m["loss"], m["reward_mean"], m["completion_length"]) for m in mine)
    assert all(m["groups"] > 0 for m in rows if m["phase"] == "solver")
