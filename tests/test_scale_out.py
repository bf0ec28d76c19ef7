"""A whole ttcs iteration on two CPU processes (`accelerate launch`, gloo) against the same config on one.

Each phase runs once (one ``== iter_XX/phase ==`` line in run.log), every output file holds
the lines the one-process run writes, the base evaluation is the very same (the hf backend
seeds each batch, wherever it runs), both processes end with the same weights, and a rerun
of the same launch resumes and redoes nothing. ``method=ttrl`` runs in the default suite
(about a minute); ``method=ttcs`` and the refused config are ``slow``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import accelerate_launch

from ttcs.rundir import read_jsonl

PHASES = {
    "ttrl": ["iter_00/eval", "iter_01/solver", "iter_01/eval"],
    "ttcs": ["iter_00/eval", "iter_01/synthesizer", "iter_01/curriculum", "iter_01/solver", "iter_01/eval"],
}
# Logs and the report are prose, not records: their lines follow what was sampled (checked apart).
NOT_RECORDS = ("run.log", "run.rank1.log", "report.md")
N_QUESTIONS = 3


def overrides(model_dir, method: str) -> list[str]:
    # exact_match reads the last line of a random model's text, so votes split and the Solver's weights move
    return [
        f"method={method}",
        "train=debug",
        f"model.path={model_dir}",
        "model.name=tiny",
        f"data.options.n={N_QUESTIONS}",
        "data.verifier=exact_match",
        "eval.k=2",
        "eval.max_new_tokens=6",
        "backend=hf",
        "backend.progress=false",
    ]


def launch(
    run_dir: Path,
    args: list[str],
    processes: int,
    env: dict | None = None,
    program: tuple[str, ...] = ("-m", "ttcs.cli"),
) -> subprocess.CompletedProcess:
    """`python -m ttcs.cli` (or `program`), or the same under `accelerate launch` on `processes` CPU processes."""
    cli = [*program, *args, f"hydra.run.dir={run_dir}"]
    if processes == 1:
        cmd = [sys.executable, *cli]
    else:
        cmd = [sys.executable, *accelerate_launch(processes), *cli]
    env = {
        **(os.environ if env is None else env),
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "CUDA_VISIBLE_DEVICES": "",
    }
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, cwd=run_dir.parent)


def record_files(run_dir: Path) -> dict[str, int]:
    """Every file of the run the loop writes (not Hydra's, not checkpoints or plots), with its line count."""
    skip = (".hydra", "checkpoints", "trl")
    return {
        str(p.relative_to(run_dir)): len(p.read_text().splitlines())
        for p in sorted(run_dir.rglob("*"))
        if p.is_file() and p.parts[len(run_dir.parts)] not in skip and p.suffix != ".png" and p.name not in NOT_RECORDS
    }


def digests(log: str) -> dict[str, str]:
    return dict(re.findall(r"(\w+) weights after training: sha256 (\w+) on process", log))


def headers(log: str) -> list[str]:
    return re.findall(r"== (iter_\d\d/\w+) ==", log)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_model_dir):
    """method -> (one-process run dir, two-process run dir, the two-process rerun), each method run once."""
    made = {}

    def get(method: str):
        if method not in made:
            root = tmp_path_factory.mktemp(f"scale-{method}")
            one, two = root / "one", root / "two"
            for run_dir, n in ((one, 1), (two, 2)):
                out = launch(run_dir, overrides(tiny_model_dir, method), n)
                assert out.returncode == 0, out.stderr[-4000:]
            first = {"log": (two / "run.log").read_text(), "files": record_files(two)}
            rerun = launch(two, overrides(tiny_model_dir, method), 2)
            assert rerun.returncode == 0, rerun.stderr[-4000:]
            made[method] = (one, two, first)
        return made[method]

    return get


METHODS = ["ttrl", pytest.param("ttcs", marks=pytest.mark.slow)]


@pytest.mark.parametrize("method", METHODS)
def test_each_phase_runs_once_and_every_file_is_written_once(runs, method):
    one, two, first = runs(method)
    assert headers((one / "run.log").read_text()) == PHASES[method]
    assert headers(first["log"]) == PHASES[method], "one phase header per phase in the main log"
    assert headers((two / "run.rank1.log").read_text())[: len(PHASES[method])] == PHASES[method]
    assert first["files"] == record_files(one), "the same files with the same line counts as on one process"
    for t in (0, 1):
        assert len(read_jsonl(two / "eval" / f"iter_{t:02d}.jsonl")) == N_QUESTIONS
    # The hf backend seeds each batch by its position, so the base model's evaluation is the same on 1 or 2.
    assert (two / "eval" / "iter_00.jsonl").read_text() == (one / "eval" / "iter_00.jsonl").read_text()
    state = json.loads((two / "state.json").read_text())
    assert list(state["phases"]) == PHASES[method]
    assert [it["iteration"] for it in json.loads((two / "results.json").read_text())["iterations"]] == [0, 1]
    assert (two / "report.md").is_file()


@pytest.mark.parametrize("method", METHODS)
def test_both_processes_end_with_the_saved_weights(runs, method, tiny_model_dir):
    from transformers import AutoModelForCausalLM

    from ttcs.grpo import weights_digest

    _, two, first = runs(method)
    main, other = digests(first["log"]), digests((two / "run.rank1.log").read_text())
    roles = ["solver"] + (["synthesizer"] if method == "ttcs" else [])
    assert sorted(main) == sorted(roles) and main == {r: other[r] for r in roles}
    saved = weights_digest(AutoModelForCausalLM.from_pretrained(two / "checkpoints" / "solver" / "iter_01"))
    assert main["solver"] == saved
    assert saved != weights_digest(AutoModelForCausalLM.from_pretrained(tiny_model_dir)), "training moved nothing"


@pytest.mark.parametrize("method", METHODS)
def test_a_rerun_on_two_processes_resumes_and_redoes_nothing(runs, method):
    _, two, first = runs(method)
    log = (two / "run.log").read_text()
    assert headers(log) == headers(first["log"]), "the rerun started no phase"
    for key in PHASES[method]:
        assert f"resume: {key} already finished" in log
        assert f"resume: {key} already finished" in (two / "run.rank1.log").read_text()
    assert record_files(two) == first["files"]


@pytest.mark.slow
def test_a_changed_config_stops_both_processes(runs, tiny_model_dir):
    _, two, _ = runs("ttrl")
    out = launch(two, [*overrides(tiny_model_dir, "ttrl"), "eval.k=3"], 2)
    assert out.returncode != 0
    # the main process refuses the changed config and hands the refusal to the other: both end in the one-line error
    assert out.stderr.count("holds a run with a different config") >= 2, out.stderr[-3000:]


@pytest.mark.slow
def test_killed_mid_phase_on_two_processes_then_rerun_matches_the_uninterrupted_run(runs, tmp_path, tiny_model_dir):
    """The kill hook set for both processes: the main process (the one that writes, so the one that counts) kills
    itself right after the Solver's first metrics line (its third write, after the first step's two votes), the launcher takes the other one down; the same launch
    again cuts that line back, redoes the Solver and the last evaluation, and ends as the uninterrupted launch."""
    from test_kill_resume import KILL_AFTER_ENV, KILL_LAUNCHER, same, strict_lines, untimed

    _, reference, first = runs("ttrl")
    run_dir = tmp_path / "two"
    env = {**os.environ, KILL_AFTER_ENV: "iter_01/solver:3"}
    killed = launch(run_dir, overrides(tiny_model_dir, "ttrl"), 2, env=env, program=(KILL_LAUNCHER,))
    assert killed.returncode != 0, killed.stderr[-3000:]
    assert list(json.loads((run_dir / "state.json").read_text())["phases"]) == ["iter_00/eval"]
    assert [m["phase"] for m in read_jsonl(run_dir / "metrics.jsonl")][-1] == "solver"  # the line to cut back
    out = launch(run_dir, overrides(tiny_model_dir, "ttrl"), 2)
    assert out.returncode == 0, out.stderr[-4000:]
    log = (run_dir / "run.log").read_text()
    assert headers(log) == ["iter_00/eval", "iter_01/solver", "iter_01/solver", "iter_01/eval"]
    assert "resume: iter_01/solver was cut short; dropping the" in log
    assert "was cut short" not in (run_dir / "run.rank1.log").read_text(), "only the main process cuts back"
    assert record_files(run_dir) == first["files"]
    for name in ("eval/iter_00.jsonl", "eval/iter_01.jsonl", "solver/iter_01_votes.jsonl", "metrics.jsonl"):
        got, want = strict_lines(run_dir / name), strict_lines(reference / name)
        assert len(got) == len(want), name
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert same(untimed(g), untimed(w)), f"{name} line {i + 1}: {untimed(g)} != {untimed(w)}"
    state = json.loads((run_dir / "state.json").read_text())["phases"]
    assert list(state) == PHASES["ttrl"]
    assert state["iter_01/solver"]["log_bytes"]["metrics.jsonl"] < (run_dir / "metrics.jsonl").stat().st_size


def launch_two_machines(run_dir: Path, args: list[str]) -> list[subprocess.CompletedProcess]:
    """The same command on two "machines" of this host (accelerate's --num_machines 2, one process each), as on a
    cluster: node 0's address and port, each node its --machine_rank, one run directory both see."""
    base = accelerate_launch(2)  # a free port; --num_machines 1 replaced below
    base[base.index("--num_machines") + 1] = "2"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    env["CUDA_VISIBLE_DEVICES"] = ""
    nodes = [
        subprocess.Popen(
            [sys.executable, *base, "--machine_rank", str(rank), "--main_process_ip", "127.0.0.1", "-m", "ttcs.cli"]
            + [*args, f"hydra.run.dir={run_dir}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=run_dir.parent,
        )
        for rank in (0, 1)
    ]
    done = []
    for node in nodes:
        out, err = node.communicate(timeout=600)
        done.append(subprocess.CompletedProcess(node.args, node.returncode, out, err))
    return done


def test_two_machines_write_exactly_the_files_of_one(runs, tmp_path, tiny_model_dir):
    """Two nodes (`accelerate launch --num_machines 2`, gloo on this host): one writer across both, the same files
    with the same line counts as one process, and the base evaluation the very same."""
    one, _, _ = runs("ttrl")
    run_dir = tmp_path / "nodes"
    for node in launch_two_machines(run_dir, overrides(tiny_model_dir, "ttrl")):
        assert node.returncode == 0, node.stderr[-4000:]
    assert headers((run_dir / "run.log").read_text()) == PHASES["ttrl"]
    assert headers((run_dir / "run.rank1.log").read_text()) == PHASES["ttrl"], "node 1 ran every phase, writing nothing"
    assert record_files(run_dir) == record_files(one)
    assert (run_dir / "eval" / "iter_00.jsonl").read_text() == (one / "eval" / "iter_00.jsonl").read_text()
    assert digests((run_dir / "run.log").read_text()) == digests((run_dir / "run.rank1.log").read_text())
    assert list(json.loads((run_dir / "state.json").read_text())["phases"]) == PHASES["ttrl"]


def test_a_refused_config_stops_both_processes_at_once(tmp_path, tiny_model_dir):
    """Every process validates the same config before any collective (and before it imports torch), so each refuses
    it with the one-line message and exits: none is left waiting for another (the launcher ends any process still
    running once the first exits). The split of a step over the launched processes is part of the check
    (accelerate launch sets WORLD_SIZE in each)."""
    args = [*overrides(tiny_model_dir, "ttrl"), "train.solver.batch_questions=3", "train.solver.micro_batch=4"]
    t0 = time.time()
    out = launch(tmp_path / "run", args, 2)
    assert out.returncode != 0
    assert time.time() - t0 < 120, "a process waited for the other"
    refusal = (
        "ttcs: train.solver.micro_batch=4: the mini-batch of 12 completions (batch_questions x "
        "group_size / updates_per_step) does not split into micro-batches on 2 processes"
    )
    assert out.stderr.count(refusal) >= 1, out.stderr[-3000:]
    assert "ConfigError" not in out.stderr  # a refusal, not a traceback
    assert not (tmp_path / "run" / "state.json").exists()
