"""Sweeps: the Table 1 presets, the launchers of `ttcs -m` (ttcs/sweep.py, conf/hydra/launcher/), a rerun that skips
finished runs and resumes an interrupted one, and a job of two tasks as one run of two processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import REPO_ROOT, tiny_run
from conftest import console as _main

SETS = ["aime24", "aime25", "amc23", "math500", "minerva", "olympiadbench"]
MODELS = {"qwen1.5b": "qwen2.5-math-1.5b", "qwen7b": "qwen2.5-math-7b", "qwen3-4b": "qwen3-4b-base"}
TABLE1 = [f"paper_{s}_{m}" for s in SETS for m in MODELS]


def test_table1_has_a_preset_for_every_set_and_model():
    shipped = {p.stem for p in (REPO_ROOT / "conf" / "experiment").glob("*.yaml")}
    assert set(TABLE1) <= shipped, sorted(set(TABLE1) - shipped)


def test_every_table1_preset_composes_with_the_papers_settings():
    from ttcs.cli import compose_jobs

    for preset in TABLE1:
        ((cfg, _),) = compose_jobs([f"experiment={preset}"])
        s, m = preset.removeprefix("paper_").rsplit("_", 1)
        assert (cfg.data.name, cfg.model.name, cfg.backend.name) == (s, MODELS[m], "vllm"), preset
        assert cfg.eval.k == (32 if s.startswith("aime") else 16) and cfg.eval.max_new_tokens == 3072, preset
        assert cfg.eval.score == ("avg_at_k" if s.startswith("aime") else "greedy"), preset
        small = s in ("aime24", "aime25", "amc23")
        assert (cfg.train.solver.batch_questions, cfg.train.solver.group_size) == ((16, 16) if small else (64, 8))
        # Qwen2.5-Math's 4096-token context: two token keys capped at 2048; Qwen3-4B-Base keeps the paper's 4096
        cap = 4096 if m == "qwen3-4b" else 2048
        assert cfg.train.synthesizer.solver_max_new_tokens == cfg.train.curriculum.max_new_tokens == cap, preset


def test_every_table1_preset_passes_the_dry_run_offline_in_one_sweep(monkeypatch, tmp_path, capsys):
    """The README's Table 1 sweep over the presets, through the SLURM preset: every run composes and passes the dry
    run without the hub or a GPU, and nothing is written."""
    args = ["-m", "dry_run=true", f"experiment={','.join(TABLE1)}", "hydra/launcher=slurm"]
    args += ["hydra.launcher.partition=gpu", "hydra.launcher.account=lab"]
    assert _main(monkeypatch, tmp_path, *args) is None
    out = capsys.readouterr().out
    assert f"dry run: {len(TABLE1)} run(s) checked; nothing was written" in out
    for preset in TABLE1:
        s, m = preset.removeprefix("paper_").rsplit("_", 1)
        assert f"run directory: outputs/sweep/ttcs-{MODELS[m]}-{s}-seed0" in out, preset
    assert not list(tmp_path.iterdir())


def test_the_launcher_presets_compose_with_resources_from_the_command_line():
    from ttcs.cli import compose_jobs

    ((cfg, _),) = compose_jobs(["-m", "method=base"])
    assert cfg.hydra.launcher._target_ == "hydra_plugins.ttcs_sweep.LocalLauncher"  # the default of ttcs -m
    assert cfg.hydra.launcher.timeout_min >= 60 * 24 * 365
    over = ["partition=gpu", "account=lab", "gpus_per_node=4", "timeout_min=2880"]
    ((cfg, _),) = compose_jobs(["-m", "method=base", "hydra/launcher=slurm", *(f"hydra.launcher.{o}" for o in over)])
    launcher = cfg.hydra.launcher
    assert launcher._target_ == "hydra_plugins.ttcs_sweep.SlurmLauncher"
    assert (launcher.partition, launcher.account, launcher.gpus_per_node, launcher.timeout_min) == (
        "gpu",
        "lab",
        4,
        2880,
    )
    assert launcher.tasks_per_node == 4  # one process per GPU


def test_a_sweep_whose_runs_would_share_a_directory_is_refused(monkeypatch, tmp_path):
    line = _main(monkeypatch, tmp_path, "-m", "dry_run=true", "method=base", "train.iterations=1,2")
    assert (
        line.startswith("ttcs: run_name=base-smollm2-135m-arith_frontier-seed0: the runs [") and "put the key" in line
    )
    assert not list(tmp_path.iterdir())
    from ttcs.cli import compose_jobs, distinct_run_dirs

    distinct_run_dirs(compose_jobs(["-m", "method=base", "train.iterations=1,2", "run_name=r${train.iterations}"]))


def test_finished_reads_the_last_phase_of_the_run(tmp_path):
    from ttcs.cli import compose_jobs
    from ttcs.sweep import finished, last_phase

    ((base, _),) = compose_jobs(["method=base"])
    ((ttrl, _),) = compose_jobs(["method=ttrl", "train=debug"])
    assert last_phase(base) == "iter_00/eval" and last_phase(ttrl) == f"iter_{ttrl.train.iterations:02d}/eval"
    assert not finished(tmp_path, ttrl)
    (tmp_path / "state.json").write_text(json.dumps({"phases": {"iter_00/eval": {}}}))
    assert finished(tmp_path, base) and not finished(tmp_path, ttrl)
    (tmp_path / "state.json").write_text("{")  # a torn file: not finished
    assert not finished(tmp_path, base)


def test_a_rerun_starts_no_process_for_a_finished_run(monkeypatch, tmp_path, tiny_model_dir, capsys):
    """Through the default launcher: both runs of the sweep finished (state.json as the run writes it), so the
    command checks them, skips them and starts no job."""
    from ttcs.cli import compose_jobs
    from ttcs.config import typed
    from ttcs.loop import RESUME_SAFE_KEYS, config_fingerprint
    from ttcs.rundir import RunDir

    sweep = tmp_path / "sweep"
    args = ["-m", *tiny_run(tiny_model_dir, "base"), "seed=0,1", f"hydra.sweep.dir={sweep}"]
    for cfg, run_dir in compose_jobs(args):
        rundir = RunDir(run_dir)
        rundir.check_config(config_fingerprint(typed(cfg)), RESUME_SAFE_KEYS)
        rundir.mark_done("iter_00/eval", seconds=0.0)
    assert _main(monkeypatch, tmp_path, *args) is None
    assert capsys.readouterr().out.count("finished already") == 2
    assert not (sweep / ".submitit").exists()  # no job was submitted


def _sweep(cwd, *args, timeout=900):
    cmd = [sys.executable, "-m", "ttcs.cli", "-m", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.mark.slow
def test_a_local_sweep_runs_each_run_in_a_fresh_process_and_a_rerun_resumes(tmp_path, tiny_model_dir):
    """The default launcher of `ttcs -m`: two runs, each in a process of its own (one submitit job each), their output
    on the terminal. The second run is then cut short as a kill during its last phase leaves it; the same command
    again skips the first and resumes the second after its last finished phase."""
    sweep = tmp_path / "sweep"
    args = [*tiny_run(tiny_model_dir, "ttrl"), "seed=0,1", f"hydra.sweep.dir={sweep}"]
    out = _sweep(tmp_path, *args)
    assert out.returncode == 0, out.stderr[-3000:]
    runs = [sweep / "ttrl-tiny-arith_frontier-seed0", sweep / "ttrl-tiny-arith_frontier-seed1"]
    jobs = sorted(p.name for p in (sweep / ".submitit").iterdir() if (p / f"{p.name}_0_result.pkl").is_file())
    assert len(jobs) == 2  # two processes (submitit's local job id is the job's process id)
    assert out.stdout.count("| iteration | avg@2 | maj@2 | greedy |") == 2  # each run's table, streamed back
    assert "submitit INFO" not in out.stdout
    last = "iter_01/eval"
    for run in runs:
        assert last in json.loads((run / "state.json").read_text())["phases"]
    # a kill during the second run's last phase: state.json without it (it is written when a phase finishes)
    state = json.loads((runs[1] / "state.json").read_text())
    del state["phases"][last]
    (runs[1] / "state.json").write_text(json.dumps(state))
    again = _sweep(tmp_path, *args)
    assert again.returncode == 0, again.stderr[-3000:]
    text = again.stdout + again.stderr
    assert f"finished already ({runs[0]}), skipped" in text
    assert "resume: iter_01/solver already finished, skipping it" in text
    assert last in json.loads((runs[1] / "state.json").read_text())["phases"]
    assert len(list((sweep / ".submitit").iterdir())) == len(jobs) + 1 + 1  # one new job (and submitit's %j folder)


@pytest.mark.slow
def test_a_job_of_two_tasks_is_one_run_of_two_processes(tmp_path, tiny_model_dir):
    """hydra.launcher.tasks_per_node=2: the job's two tasks join as the two processes of one run (gloo on CPU),
    as the SLURM preset starts one process per GPU."""
    sweep = tmp_path / "sweep"
    out = _sweep(
        tmp_path, *tiny_run(tiny_model_dir, "ttrl"), "hydra.launcher.tasks_per_node=2", f"hydra.sweep.dir={sweep}"
    )
    assert out.returncode == 0, out.stderr[-3000:]
    run = sweep / "ttrl-tiny-arith_frontier-seed0"
    assert (run / "run.rank1.log").is_file()
    assert "solver weights are identical on the 2 processes" in (run / "run.log").read_text()
