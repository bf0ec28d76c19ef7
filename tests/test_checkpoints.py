"""Which checkpoints a run keeps (``keep_checkpoints``, `ttcs.checkpoints`): the directories each policy leaves, the
kept iteration's Solver, a kill between saving a checkpoint and deleting the one before it, and the peak the
preflight plans for."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import REPO_ROOT, tiny_run
from hydra import compose, initialize_config_dir

import ttcs.checkpoints as checkpoints
from ttcs.checkpoints import peak, prune
from ttcs.context import RunContext
from ttcs.errors import UserError
from ttcs.loop import run
from ttcs.rundir import RunDir


def compose_cfg(*items):
    with initialize_config_dir(config_dir=str(REPO_ROOT / "conf"), version_base="1.3"):
        return compose(config_name="config", overrides=list(items))


def saved(run_dir) -> dict[str, list[int]]:
    """Role -> the iterations whose checkpoint is on disk, read from the directory names (and nothing else there)."""
    root = run_dir / "checkpoints"
    if not root.exists():
        return {}
    found = {}
    for role in sorted(p.name for p in root.iterdir()):
        names = sorted(p.name for p in (root / role).iterdir())
        assert all(n.startswith("iter_") for n in names), names  # no .partial, no .deleting left behind
        found[role] = [int(n[5:]) for n in names]
        assert all((root / role / n / "config.json").is_file() for n in names)
    return found


# ----------------------------------------------------------------------------- the policies on a run directory


def fake_run(tmp_path, done: dict[str, list[int]], extra: dict[str, list[int]] | None = None) -> RunDir:
    """A run directory whose `done` phases finished with a checkpoint each, and `extra` checkpoints saved by phases
    that did not finish."""
    rundir = RunDir(tmp_path / "run")
    for role, its in done.items():
        for t in its:
            rundir.mark_done(f"iter_{t:02d}/{role}", checkpoint=str(rundir.checkpoint_dir(role, t)))
    for group in (done, extra or {}):
        for role, its in group.items():
            for t in its:
                path = rundir.checkpoint_dir(role, t)
                path.mkdir(parents=True)
                (path / "config.json").write_text("{}")
    return rundir


@pytest.mark.parametrize(
    ("policy", "keep", "finished", "left"),
    [
        ("all", 1, True, {"solver": [1, 2, 3], "synthesizer": [1, 2, 3]}),
        ("last", 1, False, {"solver": [3], "synthesizer": [3]}),
        ("kept", 1, False, {"solver": [1, 3], "synthesizer": [3]}),  # the kept Solver survives
        ("kept", 3, False, {"solver": [3], "synthesizer": [3]}),  # last and kept: one directory
        ("kept", 0, False, {"solver": [3], "synthesizer": [3]}),  # the base model: nothing to keep
        ("kept", None, False, {"solver": [3], "synthesizer": [3]}),
        ("none", 1, False, {"solver": [3], "synthesizer": [3]}),  # while the run goes on, what a resume needs
        ("none", 1, True, {}),  # once it has finished, nothing (and no empty directories)
    ],
)
def test_each_policy_leaves_what_it_names(tmp_path, policy, keep, finished, left):
    rundir = fake_run(tmp_path, {"synthesizer": [1, 2, 3], "solver": [1, 2, 3]})
    prune(rundir, policy, keep, finished=finished)
    assert saved(rundir.root) == left
    assert rundir.state_path.is_file()


def test_a_checkpoint_whose_phase_did_not_finish_is_never_deleted(tmp_path):
    """Killed after its save, before state.json recorded it: the last recorded one stays too (a resume starts from
    it); the rerun of the phase replaces the newer one."""
    rundir = fake_run(tmp_path, {"solver": [1, 2]}, extra={"solver": [3]})
    prune(rundir, "none", None, finished=True)
    assert saved(rundir.root) == {"solver": [3]}
    rundir = fake_run(tmp_path / "b", {"solver": [1, 2]}, extra={"solver": [3]})
    prune(rundir, "last", None)
    assert saved(rundir.root) == {"solver": [2, 3]}


def test_only_the_writer_deletes_and_a_half_deletion_is_finished(tmp_path):
    rundir = fake_run(tmp_path, {"solver": [1, 2]})
    assert prune(RunDir(rundir.root, writer=False), "last", None) == []
    assert saved(rundir.root) == {"solver": [1, 2]}
    # a kill after the rename, in the middle of removing the files: the next prune removes the rest
    half = rundir.root / "checkpoints" / "solver" / ".iter_01.deleting"
    rundir.checkpoint_dir("solver", 1).rename(half)
    prune(rundir, "last", None)
    assert not half.exists() and saved(rundir.root) == {"solver": [2]}


def test_an_unknown_policy_is_refused_by_the_schema():
    from ttcs.config import validate_config
    from ttcs.errors import ConfigError

    with pytest.raises(ConfigError, match="keep_checkpoints=some: must be one of all, last, kept, none"):
        validate_config(compose_cfg("keep_checkpoints=some"))


@pytest.mark.parametrize(
    ("roles", "policy", "want"),
    [
        (["synthesizer", "solver"], "all", [(2, 2), (4, 4), (6, 6), (30, 30)]),
        (["synthesizer", "solver"], "last", [(2, 2), (3, 2), (3, 2), (3, 2)]),
        (["synthesizer", "solver"], "kept", [(2, 2), (3, 3), (4, 3), (4, 3)]),
        (["synthesizer", "solver"], "none", [(2, 0), (3, 0), (3, 0), (3, 0)]),
        (["solver"], "kept", [(1, 1), (2, 2), (3, 2), (3, 2)]),
        ([], "kept", [(0, 0)] * 4),  # a method that trains nothing (or a frozen Synthesizer's role) has none
    ],
)
def test_peak_counts_the_most_held_at_once(roles, policy, want):
    """A new checkpoint is written before the old one goes; under kept, a Solver older than the last two besides."""
    assert [peak(roles, t, policy) for t in (1, 2, 3, 15)] == want


# ----------------------------------------------------------------------------- real runs of the tiny model


def tiny(model_dir, *extra, method="ttcs", iterations=3):
    return compose_cfg(*tiny_run(model_dir, method), f"train.iterations={iterations}", "report.enabled=false", *extra)


@pytest.fixture(scope="module")
def kept_run(tmp_path_factory, tiny_model_dir):
    """ttcs for 3 iterations under the default policy, with the label-free choice pinned to iteration 1 (so that it
    is neither the last nor the one before; `ttcs.keep` itself is tested elsewhere)."""
    torch.set_num_threads(1)
    run_dir = tmp_path_factory.mktemp("kept")
    mp = pytest.MonkeyPatch()
    mp.setattr("ttcs.loop.choose_iteration", lambda evals, verifier, alarmed=(): {"iteration": min(1, max(evals))})
    try:
        results = run(tiny(tiny_model_dir), run_dir)
    finally:
        mp.undo()
    return run_dir, results


def test_the_default_keeps_the_last_of_each_role_and_the_kept_solver(kept_run):
    run_dir, results = kept_run
    assert saved(run_dir) == {"solver": [1, 3], "synthesizer": [3]}
    assert results["keep"]["checkpoint"] == "checkpoints/solver/iter_01"
    assert json.loads((run_dir / "results.json").read_text()) == results
    state = RunDir(run_dir).state["phases"]
    assert [k for k in state if k.endswith("/solver")] == ["iter_01/solver", "iter_02/solver", "iter_03/solver"]


def test_the_policy_may_change_on_a_rerun_and_none_leaves_nothing(kept_run, tmp_path, tiny_model_dir):
    """keep_checkpoints is safe to change on a rerun: a finished run rerun with last drops the kept Solver, with
    none everything; then nothing is left to go on from, and the run says so rather than train the base model."""
    import shutil

    run_dir = tmp_path / "run"
    shutil.copytree(kept_run[0], run_dir)
    results = run(tiny(tiny_model_dir, "keep_checkpoints=last"), run_dir)
    assert saved(run_dir) == {"solver": [3], "synthesizer": [3]}
    assert results["keep"]["checkpoint"] is None or results["keep"]["iteration"] in (0, 3)
    results = run(tiny(tiny_model_dir, "keep_checkpoints=none"), run_dir)
    assert saved(run_dir) == {} and not (run_dir / "checkpoints").exists()
    assert [it["iteration"] for it in results["iterations"]] == [0, 1, 2, 3]  # the evaluations stand
    ctx = RunContext(tiny(tiny_model_dir, "keep_checkpoints=none"), RunDir(run_dir), [], None)  # type: ignore[arg-type]
    with pytest.raises(UserError, match="iter_03/solver saved, is gone"):
        ctx.model_path("solver", 3)


class Killed(BaseException):
    """A kill: nothing in the run catches it."""


def ttrl_last(model_dir):
    return tiny(model_dir, "keep_checkpoints=last", method="ttrl", iterations=2)


def scores(results) -> list[dict]:
    return [{k: v for k, v in it["eval"].items() if k != "seconds"} for it in results["iterations"]]


@pytest.fixture(scope="module")
def ttrl_reference(tmp_path_factory, tiny_model_dir):
    """ttrl for 2 iterations under keep_checkpoints=last, uninterrupted."""
    torch.set_num_threads(1)
    run_dir = tmp_path_factory.mktemp("ttrl")
    results = run(ttrl_last(tiny_model_dir), run_dir)
    assert saved(run_dir) == {"solver": [2]}
    return results


@pytest.mark.parametrize("where", ["before deleting", "after the rename"])
def test_a_kill_between_saving_and_deleting_resumes(tmp_path, tiny_model_dir, ttrl_reference, monkeypatch, where):
    """Killed once iteration 2's Solver is saved and recorded, before its predecessor is deleted (or half-way through
    deleting it); the rerun finishes with the evaluations of an uninterrupted run and only the last checkpoint."""
    torch.set_num_threads(1)
    cfg = ttrl_last(tiny_model_dir)

    real_prune, real_rmtree = checkpoints.prune, checkpoints.shutil.rmtree

    def killing_prune(rundir, policy, keep, *, finished=False):
        if rundir.is_done("iter_02/solver") and where == "before deleting":
            raise Killed
        return real_prune(rundir, policy, keep, finished=finished)

    def killing_rmtree(path, ignore_errors=False):
        if path.name.endswith(".deleting") and not ignore_errors:
            raise Killed  # renamed out of the way, not yet removed
        return real_rmtree(path, ignore_errors=ignore_errors)

    run_dir = tmp_path / "run"
    with monkeypatch.context() as mp:
        mp.setattr("ttcs.loop.checkpoints.prune", killing_prune)
        mp.setattr(checkpoints.shutil, "rmtree", killing_rmtree)
        with pytest.raises(Killed):
            run(cfg, run_dir)
    state = RunDir(run_dir).state["phases"]
    assert "iter_02/solver" in state and "iter_02/eval" not in state
    if where == "before deleting":
        assert saved(run_dir) == {"solver": [1, 2]}
    else:
        assert (run_dir / "checkpoints" / "solver" / ".iter_01.deleting").is_dir()
        assert (run_dir / "checkpoints" / "solver" / "iter_02" / "config.json").is_file()
    results = run(cfg, run_dir)
    assert saved(run_dir) == {"solver": [2]}
    assert scores(results) == scores(ttrl_reference)
