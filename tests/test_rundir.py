"""Run directory state: atomic writes, torn-line tolerance, config fingerprint checks."""

import json

import pytest

from ttcs.rundir import ConfigMismatchError, RunDir, append_jsonl, read_jsonl


def test_phases_persist(tmp_path):
    rd = RunDir(tmp_path)
    rd.mark_done("iter_00/eval", eval={"avg_at_k": 10.0})
    again = RunDir(tmp_path)
    assert again.is_done("iter_00/eval") and not again.is_done("iter_01/solver")
    assert again.phase_info("iter_00/eval")["eval"]["avg_at_k"] == 10.0


def test_config_mismatch_refused(tmp_path):
    RunDir(tmp_path).check_config({"seed": 0, "eval.k": 4})
    RunDir(tmp_path).check_config({"seed": 0, "eval.k": 4})
    with pytest.raises(ConfigMismatchError, match="eval.k: 4 -> 8"):
        RunDir(tmp_path).check_config({"seed": 0, "eval.k": 8})


def test_torn_last_line_dropped_but_middle_corruption_raises(tmp_path):
    f = tmp_path / "m.jsonl"
    append_jsonl(f, {"a": 1})
    append_jsonl(f, {"a": 2})
    with open(f, "a") as fh:
        fh.write('{"a": 3, "b"')
    assert read_jsonl(f) == [{"a": 1}, {"a": 2}]
    f.write_text('{"a": 1}\n{bad\n{"a": 2}\n')
    with pytest.raises(json.JSONDecodeError):
        read_jsonl(f)


def test_metrics_lines(tmp_path):
    rd = RunDir(tmp_path)
    rd.log_metrics("solver", step=1, reward_mean=0.5)
    rd.log_metrics("solver", step=2, reward_mean=0.6)
    assert [m["step"] for m in rd.metrics()] == [1, 2]
    assert all(m["phase"] == "solver" and "time" in m for m in rd.metrics())
