"""The preflight (`ttcs.preflight`) and the console script around it: a dry run prints the plan and writes nothing, a
refused command leaves no trace and never changes an existing run, a user error reaches run.log as one line, and the
terminal shows only ttcs's own lines."""

import logging
import os
import shlex
import subprocess
import sys
import warnings

import pytest
from conftest import REPO_ROOT, tiny_run
from conftest import console as _main


def _snapshot(root):
    return {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_dry_run_prints_the_plan_and_writes_nothing(monkeypatch, tmp_path, tiny_model_dir, capsys):
    assert _main(monkeypatch, tmp_path, "dry_run=true", *tiny_run(tiny_model_dir)) is None
    out = capsys.readouterr().out
    for line in (
        "method ttcs on tiny",
        "iterations: 1 after the base evaluation; each: synthesizer -> curriculum -> solver -> eval",
        "  data: ok (3 problems from arith)",
        "  context: ok (longest request",
        "  TRL keys: ok",
        "dry run: 1 run(s) checked; nothing was written",
    ):
        assert line in out, out
    assert not list(tmp_path.iterdir())


def test_a_paper_preset_is_checked_offline_on_a_laptop(monkeypatch, tmp_path, capsys):
    """HF_HUB_OFFLINE=1 (conftest): what needs the hub is not checked, and the preset's model.architecture sizes the
    memory, disk and context plans."""
    assert _main(monkeypatch, tmp_path, "dry_run=true", "experiment=paper_aime24_qwen1.5b") is None
    out = capsys.readouterr().out
    assert "data: not checked (HuggingFaceH4/aime_2024" in out
    assert "model: not checked (hub id Qwen/Qwen2.5-Math-1.5B: out of reach here; sized from model.architecture)" in out
    assert "Solver phase, backward (engine asleep):" in out
    # keep_checkpoints=kept: 4 of 30 fp32 checkpoints of 6.17 GB on disk at once (ttcs.checkpoints.peak)
    assert "checkpoints: keep_checkpoints=kept: at most 4 on disk at once, 24.7 GB (30 saved over the run" in out
    assert "context: not checked (prompts not measured here: eval.max_new_tokens=3072 leaves 1024 of 4096)" in out
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("policy", "held", "gb", "left"),
    [("all", 30, 185.2, 30), ("last", 3, 18.5, 2), ("kept", 4, 24.7, 3), ("none", 3, 18.5, 0)],
)
def test_the_disk_plan_counts_what_keep_checkpoints_holds_at_once(
    monkeypatch, tmp_path, capsys, policy, held, gb, left
):
    """The dry run's checkpoints line and disk check: the peak under the policy, not every iteration's checkpoint."""
    args = ("dry_run=true", "experiment=paper_aime24_qwen1.5b", f"keep_checkpoints={policy}")
    assert _main(monkeypatch, tmp_path, *args) is None
    out = capsys.readouterr().out
    line = f"checkpoints: keep_checkpoints={policy}: at most {held} on disk at once, {gb} GB (30 saved over the run, {left} left at its end)"
    assert line in out, out
    assert f"at most {held} checkpoint(s) at once (keep_checkpoints={policy}) of 6.17 GB = {gb} GB" in out


def test_too_little_disk_for_every_checkpoint_is_refused_but_the_default_fits(monkeypatch, tmp_path):
    """60 GB free for Qwen2.5-Math-1.5B's 6.17 GB checkpoints: all 30 (185 GB) stop the run before it starts, with
    what to change; the default's 4 at once (24.7 GB) fit."""
    import shutil
    from collections import namedtuple

    from hydra import compose, initialize_config_dir

    from ttcs.config import typed
    from ttcs.errors import ConfigError
    from ttcs.preflight import Plan, check_disk

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(100e9, 40e9, 60e9))

    def plan(*overrides):
        with initialize_config_dir(config_dir=str(REPO_ROOT / "conf"), version_base="1.3"):
            cfg = compose(config_name="config", overrides=["experiment=paper_aime24_qwen1.5b", *overrides])
        p = Plan(typed(cfg), tmp_path / "run")
        p.facts["params"] = 1_543_714_304
        check_disk(p)
        return p

    with pytest.raises(ConfigError, match=r"at most 30 checkpoint\(s\) at once \(keep_checkpoints=all\).*keep fewer"):
        plan("keep_checkpoints=all")
    assert plan().checks == [
        ("disk", "ok", "at most 4 checkpoint(s) at once (keep_checkpoints=kept) of 6.17 GB = 24.7 GB, of 60 GB free")
    ]
    assert plan("method=ttrl", "keep_checkpoints=last").facts["checkpoints"][:2] == (2, 2 * 1_543_714_304 * 4)


def test_new_tokens_alone_past_the_context_are_refused_offline(monkeypatch, tmp_path):
    line = _main(
        monkeypatch,
        tmp_path,
        "dry_run=true",
        "experiment=paper_aime24_qwen1.5b",
        "train.synthesizer.solver_max_new_tokens=4096",
    )
    assert line == (
        "ttcs: train.synthesizer.solver_max_new_tokens=4096: leaves no room for a prompt in the model's context of 4096 "
        "tokens: lower it (every request is its prompt plus its new tokens), or raise backend.max_model_len where the "
        "model allows"
    )


def test_a_prompt_plus_its_new_tokens_past_the_context_is_refused(monkeypatch, tmp_path, tiny_model_dir):
    from transformers import AutoConfig

    context = AutoConfig.from_pretrained(tiny_model_dir).max_position_embeddings
    line = _main(monkeypatch, tmp_path, *tiny_run(tiny_model_dir), f"eval.max_new_tokens={context - 5}")
    assert (
        line.startswith("ttcs: the longest test prompt + eval.max_new_tokens = ") and "over the model's context" in line
    )
    assert not list(tmp_path.iterdir())


def test_a_failed_start_leaves_no_trace_and_never_touches_an_existing_run(tmp_path, tiny_model_dir):
    run_dir = tmp_path / "run"
    base = [*tiny_run(tiny_model_dir, method="base"), f"hydra.run.dir={run_dir}"]

    def ttcs(*extra):
        return subprocess.run(
            [sys.executable, "-m", "ttcs.cli", *base, *extra],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )

    refused = ttcs("+train.solver.setps=3")
    assert refused.returncode == 1 and refused.stderr.strip().startswith("ttcs: train.solver.setps=3: no such key")
    assert not run_dir.exists()  # no run directory, no .hydra/, no state.json, no empty run.log
    started = ttcs()  # the corrected command starts
    assert started.returncode == 0, started.stderr[-3000:]
    before = _snapshot(run_dir)
    for mistake in (["eval.k=0"], ["seed=1"], ["+method.copy_penaltty=false"]):  # seed=1: a finished run's config
        out = ttcs(*mistake)
        assert out.returncode == 1 and len(out.stderr.strip().splitlines()) == 1, out.stderr[-3000:]
        assert _snapshot(run_dir) == before, f"{mistake} changed the run's files"
    assert "holds a run with a different config" in ttcs("seed=1").stderr


def test_a_run_that_never_finished_a_phase_starts_again_with_any_config(tmp_path):
    from ttcs.rundir import resume_mismatch

    state = {"config": {"seed": 0}, "phases": {}}
    assert resume_mismatch(tmp_path, state, {"seed": 1}) is None
    state["phases"] = {"iter_0/eval": {"done": True}}
    assert "seed: 0 -> 1" in resume_mismatch(tmp_path, state, {"seed": 1})


def test_a_user_error_in_a_run_is_one_line_in_the_terminal_and_in_run_log(monkeypatch, tmp_path, tiny_model_dir):
    from ttcs import cli
    from ttcs.data import DataError

    def fails(cfg):
        raise DataError("data.path=x.jsonl: line 7 has no answer")

    monkeypatch.setattr(cli, "_run", fails)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.argv", ["ttcs", *tiny_run(tiny_model_dir), f"hydra.run.dir={tmp_path / 'run'}"])
    with pytest.raises(SystemExit) as done:
        cli.hydra_main()
    assert done.value.code == "ttcs: data.path=x.jsonl: line 7 has no answer"
    log = (tmp_path / "run" / "run.log").read_text()
    assert "data.path=x.jsonl: line 7 has no answer" in log and "Traceback" not in log


@pytest.mark.parametrize("verbose", [False, True])
def test_the_terminal_shows_only_ttcs_lines_unless_verbose(tmp_path, verbose):
    import transformers

    from ttcs.terminal import TRAINER_LOGS, quiet_terminal

    root = logging.getLogger()
    console, logfile = logging.StreamHandler(open(tmp_path / "console", "w")), logging.FileHandler(tmp_path / "log")
    for handler in (console, logfile):
        root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    try:
        with quiet_terminal(verbose=verbose):
            logging.getLogger("ttcs.solver").info("solver step 1")
            logging.getLogger(TRAINER_LOGS).info("{'loss': 0.1}")
            transformers.utils.logging.get_logger("transformers.modeling_utils").warning("library notice")
            warnings.warn("gradient checkpointing renamed", FutureWarning, stacklevel=1)
            logging.getLogger("urllib3").error("a library error")
            bars_inside = transformers.utils.logging.is_progress_bar_enabled()
    finally:
        root.setLevel(level)
        for handler in (console, logfile):
            root.removeHandler(handler)
            handler.close()
    assert bars_inside == verbose, "transformers' own progress bars (loading, writing weights) show only when verbose"
    assert transformers.utils.logging.is_progress_bar_enabled()
    shown, kept = (tmp_path / "console").read_text(), (tmp_path / "log").read_text()
    for text in (
        "solver step 1",
        "{'loss': 0.1}",
        "library notice",
        "gradient checkpointing renamed",
        "a library error",
    ):
        assert text in kept
    assert "solver step 1" in shown and "a library error" in shown
    for text in ("{'loss': 0.1}", "library notice", "gradient checkpointing renamed"):
        assert (text in shown) == verbose, (text, shown)


def test_the_configuration_reference_is_the_schemas():
    from ttcs.schema import reference

    page = (REPO_ROOT / "docs" / "config.md").read_text()
    assert page.strip() == reference().strip(), "docs/config.md is stale: python -m ttcs.schema > docs/config.md"


def test_a_sweep_is_checked_whole_before_its_first_run(monkeypatch, tmp_path, tiny_model_dir, capsys):
    args = ["-m", "dry_run=true", *tiny_run(tiny_model_dir), "seed=0,1"]
    assert _main(monkeypatch, tmp_path, *args) is None
    assert "dry run: 2 run(s) checked; nothing was written" in capsys.readouterr().out
    line = _main(monkeypatch, tmp_path, *shlex.split("-m method=base,ttcss train=debug"))
    assert line.startswith("ttcs: method=ttcss: no such option") and not list(tmp_path.iterdir())
