"""The `ttcs` command end to end on a tiny model: a Hydra multirun of two methods, then `ttcs-table`."""

import json
import os
import subprocess
import sys

from ttcs_eval.table import main as table_main


def test_multirun_then_table(tmp_path, tiny_model_dir, capsys):
    sweep = tmp_path / "sweep"
    cmd = [
        sys.executable,
        "-m",
        "ttcs.cli",
        "-m",
        "method=base,self_consistency",
        f"model.path={tiny_model_dir}",
        "model.name=tiny",
        "data.options.n=3",
        "eval.k=2",
        "eval.max_new_tokens=4",
        "backend=hf",
        "backend.progress=false",
        f"hydra.sweep.dir={sweep}",
    ]
    out = subprocess.run(
        cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"}
    )
    assert out.returncode == 0, out.stderr[-3000:]
    # .submitit/: the launcher's job files
    runs = sorted(p.name for p in sweep.iterdir() if p.is_dir() and not p.name.startswith("."))
    assert runs == ["base-tiny-arith_frontier-seed0", "self_consistency-tiny-arith_frontier-seed0"]
    for name in runs:
        run_dir = sweep / name
        results = json.loads((run_dir / "results.json").read_text())
        assert results["iterations"][0]["eval"]["n"] == 3
        assert len((run_dir / "eval" / "iter_00.jsonl").read_text().splitlines()) == 3
        for f in ("run.log", "report.md", "state.json", "metrics.jsonl", ".hydra/config.yaml", ".hydra/overrides.yaml"):
            assert (run_dir / f).is_file(), f
        assert "| 0 |" in (run_dir / "report.md").read_text()
    assert "| iteration | avg@2 | maj@2 | greedy |" in out.stdout  # the before/after table is printed
    assert table_main([str(sweep)]) == 0
    printed = capsys.readouterr().out
    assert "| method | model | seeds | runs | arith_frontier | AVG |" in printed
    assert "| base | tiny |" in printed and "| self_consistency | tiny |" in printed
    assert "overrides [method=base" in printed


def _ttcs(args, cwd, env=None):
    cmd = [
        sys.executable,
        "-m",
        "ttcs.cli",
        "method=base",
        "backend=hf",
        "eval.k=1",
        "eval.max_new_tokens=2",
        f"hydra.run.dir={cwd / 'run'}",
        *args,
    ]
    return subprocess.run(
        cmd,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})},
    )


def _assert_one_line(out, *expected):
    assert out.returncode == 1, out.stderr[-3000:]
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ttcs: "), out.stderr[-3000:]  # no traceback, no log noise
    assert "Traceback" not in out.stderr and all(text in lines[0] for text in expected), lines


def test_a_bad_data_file_ends_in_one_line(tmp_path, tiny_model_dir):
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"question": "1+1?", "answer": "2"}\n{"question": oops\n')
    no_question = tmp_path / "no_question.jsonl"
    no_question.write_text('{"q": "1+1?", "answer": "2"}\n')
    for path, expected in [
        (broken, "line 2 is not valid JSON"),
        (no_question, "no question column"),
        (tmp_path / "missing.jsonl", "no such file"),
    ]:
        out = _ttcs(
            [
                f"model.path={tiny_model_dir}",
                f"data.path={path}",
                f"run_name={path.stem}",
                f"hydra.run.dir={tmp_path / path.stem}",
            ],
            tmp_path,
        )
        _assert_one_line(out, str(path), expected)


def test_a_bad_model_path_ends_in_one_line(tmp_path):
    not_a_model = tmp_path / "not_a_model"
    not_a_model.mkdir()
    _assert_one_line(_ttcs([f"model.path={not_a_model}"], tmp_path), "not a Hugging Face model directory")


def test_an_unreachable_hub_ends_in_one_line_at_once(tmp_path):
    # Nothing listens on port 9: the hub cannot be reached, and the empty cache has no copy.
    env = {"HF_HUB_OFFLINE": "0", "HF_ENDPOINT": "http://127.0.0.1:9", "HF_HOME": str(tmp_path / "hf")}
    out = _ttcs(["model.path=no-such-org/no-such-model"], tmp_path, env)
    _assert_one_line(out, "no-such-org/no-such-model", "cannot reach the Hugging Face hub", "model.path=")
    out = _ttcs(["data=aime24", "hydra.run.dir=" + str(tmp_path / "data")], tmp_path, env)
    _assert_one_line(out, "cannot reach the Hugging Face hub", "data.path=")


def test_only_the_projects_own_errors_are_shortened():
    """A user error is one of ttcs's own exception types; any other exception is a bug and keeps its traceback."""
    import inspect

    import ttcs.config
    import ttcs.data
    import ttcs.memory
    import ttcs.models
    import ttcs.preflight
    import ttcs.rundir
    import ttcs.verify
    from ttcs.errors import UserError, one_line

    modules = (ttcs.config, ttcs.data, ttcs.memory, ttcs.models, ttcs.preflight, ttcs.rundir, ttcs.verify)
    raised = {
        cls
        for module in modules
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, Exception) and cls.__module__.startswith("ttcs.") and not cls.__name__.startswith("_")
    }
    assert len(raised) >= 6 and all(issubclass(cls, UserError) for cls in raised), raised
    assert one_line(KeyError("unknown verifier 'x'\n  more")) == "unknown verifier 'x' more"


def test_help_names_ttcs_and_lists_only_config_groups(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "ttcs.cli", "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("ttcs: test-time curriculum synthesis") and "powered by Hydra" not in out.stdout
    groups = out.stdout.split("== Configuration groups ==")[1].split("== Config ==")[0]
    listed = {line.split(":")[0] for line in groups.splitlines() if ": " in line}
    assert listed == {"backend", "data", "eval", "experiment", "method", "model", "recipe", "train"}, listed
    assert "launch/ddp.yaml" in out.stdout  # the launch configs are named where they are: not a config group
