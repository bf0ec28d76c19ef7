"""Resident memory phase by phase: every phase's peak and remaining RSS in state.json, the peak measured per phase,
and no model of a role that a phase does not use still referenced when it starts (docs/memory.md)."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import pytest
import torch
from conftest import REPO_ROOT, tiny_run
from hydra import compose, initialize_config_dir

from ttcs import loop, resident
from ttcs.loop import PHASE_ROLES, PHASES, run
from ttcs.rundir import RunDir

PROC = Path("/proc/self/status").is_file()


def compose_cfg(*items):
    with initialize_config_dir(config_dir=str(REPO_ROOT / "conf"), version_base="1.3"):
        return compose(config_name="config", overrides=list(items))


def test_status_fields_are_read_in_gb(tmp_path):
    status = tmp_path / "status"
    status.write_text("Name:\tpython\nVmHWM:\t  2000000 kB\nVmRSS:\t  1000000 kB\n")
    assert resident.status_kb("VmHWM", status) == 2_000_000
    assert resident.status_kb("VmRSS", status) == 1_000_000
    assert resident.status_kb("VmSwap", status) is None
    assert resident.status_kb("VmRSS", tmp_path / "missing") is None


@pytest.mark.skipif(not PROC, reason="needs /proc")
def test_the_peak_is_the_phase_s_not_the_process_s():
    block = torch.ones(400_000_000 // 4)  # 0.4 GB, touched
    del block
    gc.collect()
    resident.trim_heap()
    before = resident.peak_rss_gb()
    if not resident.reset_peak():
        pytest.skip("/proc/self/clear_refs is not writable here")
    after = resident.peak_rss_gb()
    assert after <= before - 0.3  # the 0.4 GB block no longer counts
    record = resident.phase_memory(True)
    assert set(record) == {"peak_rss_gb", "rss_end_gb"}
    assert record["peak_rss_gb"] >= record["rss_end_gb"] > 0


def test_phase_roles_name_every_phase():
    assert set(PHASE_ROLES) == set(PHASES)


@pytest.mark.skipif(not PROC, reason="needs /proc")
def test_every_phase_records_its_memory_and_starts_without_models_it_does_not_use(
    tmp_path, tiny_model_dir, monkeypatch
):
    torch.set_num_threads(1)
    seen: dict[str, object] = {}
    trims: dict[tuple[str, str], int] = {}
    current = [""]
    real_trim = resident.trim_heap

    def counted(where):
        def trim():
            trims[where, current[0]] = trims.get((where, current[0]), 0) + 1
            return real_trim()

        return trim

    monkeypatch.setattr(resident, "trim_heap", counted("training"))  # the training callbacks' trim
    monkeypatch.setattr("ttcs.generation.trim_heap", counted("sampling"))  # the sampler's, after each batch

    def watch(name, phase):
        def wrapped(ctx, t):
            current[0] = name
            # what is still cached when the phase starts: only its own roles
            assert set(ctx._models) <= set(PHASE_ROLES[name]), (name, list(ctx._models))
            assert set(ctx._backends) <= set(PHASE_ROLES[name]), (name, list(ctx._backends))
            if name == "solver":
                gc.collect()
                assert seen["synthesizer"]() is None, "the Synthesizer outlived the curriculum phase"
            out = phase(ctx, t)
            if name == "curriculum":
                seen["synthesizer"] = weakref.ref(ctx._models["synthesizer"][1])
            return out

        return wrapped

    monkeypatch.setattr(loop, "PHASES", {name: watch(name, fn) for name, fn in PHASES.items()})
    run(compose_cfg(*tiny_run(tiny_model_dir)), tmp_path)
    state = RunDir(tmp_path).state["phases"]
    assert list(state) == [
        "iter_00/eval",
        "iter_01/synthesizer",
        "iter_01/curriculum",
        "iter_01/solver",
        "iter_01/eval",
    ]
    for key, entry in state.items():
        assert entry["peak_rss_gb"] >= entry["rss_end_gb"] > 0, key
    assert "synthesizer" in seen
    # freed transients leave the heap during the phases too: after every optimizer step of both trainings (and
    # every micro-batch), after every sampled batch
    cfg = compose_cfg(*tiny_run(tiny_model_dir))
    assert trims["training", "solver"] >= cfg.train.solver.steps
    assert trims["training", "synthesizer"] >= cfg.train.synthesizer.steps
    assert trims["sampling", "eval"] >= 1 and trims["sampling", "curriculum"] >= 1
