"""Run directory state: atomic writes, torn-line tolerance, config fingerprint checks, rollback of a cut-short phase."""

import json

import kill_after
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
    RunDir(tmp_path).check_config({"seed": 0, "eval.k": 8})  # no phase finished: a failed start locks nothing
    rundir = RunDir(tmp_path)
    rundir.check_config({"seed": 0, "eval.k": 4})
    rundir.mark_done("iter_00/eval", {"done": True})
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


def test_a_phase_cut_short_loses_its_appended_lines_before_it_runs_again(tmp_path):
    rd = RunDir(tmp_path)
    rd.begin_phase("iter_00/eval")
    rd.log_metrics("eval", iteration=0)
    rd.mark_done("iter_00/eval")
    rd.begin_phase("iter_01/synthesizer")  # killed after two lines, one of them torn
    rd.append_jsonl(rd.curriculum_path(1), {"variant": 1})
    rd.log_metrics("synthesizer", step=1)
    with open(rd.metrics_path, "a") as f:
        f.write('{"phase": "synth')
    again = RunDir(tmp_path)
    again.begin_phase("iter_01/synthesizer")
    assert [m["phase"] for m in again.metrics()] == ["eval"]
    assert rd.metrics_path.read_text().endswith("}\n")
    assert rd.curriculum_path(1).read_text() == ""
    again.append_jsonl(again.curriculum_path(1), {"variant": 1})
    again.mark_done("iter_01/synthesizer")
    assert again.phase_info("iter_01/synthesizer")["log_bytes"]["curriculum/iter_01.jsonl"] > 0


def test_a_process_that_does_not_write_cuts_nothing_back_and_counts_nothing(tmp_path, monkeypatch):
    """Under accelerate launch the other ranks' RunDir(writer=False): begin_phase is a no-op there (only the main
    process cuts the logs back) and their writes write nothing."""
    main = RunDir(tmp_path)
    main.begin_phase("iter_00/eval")
    main.log_metrics("eval", iteration=0)
    main.mark_done("iter_00/eval")
    main.begin_phase("iter_01/solver")
    main.log_metrics("solver", step=1)  # a phase cut short: one line beyond the recorded size
    size = main.metrics_path.stat().st_size
    other = RunDir(tmp_path, writer=False)
    other.begin_phase("iter_01/solver")  # would cut the line on a writer
    other.log_metrics("solver", step=1)
    other.write_jsonl(other.eval_path(1), [{"id": 1}])
    assert main.metrics_path.stat().st_size == size and not other.eval_path(1).exists()
    record = other.phase_record(seconds=1.0)
    assert record["log_bytes"] is None  # it measured nothing: the loop hands it the main process's record
    other.mark_done("iter_01/solver", {"finished_at": 1.0, "seconds": 1.0, "log_bytes": {"metrics.jsonl": 7}})
    assert other.phase_info("iter_01/solver")["log_bytes"] == {"metrics.jsonl": 7}
    assert list(RunDir(tmp_path).state["phases"]) == ["iter_00/eval"]  # state.json untouched by it


def test_mark_done_takes_a_given_record_as_is(tmp_path):
    rd = RunDir(tmp_path)
    rd.log_metrics("eval", iteration=0)
    record = rd.phase_record(seconds=2.0, eval={"score": 0.5})
    assert record["log_bytes"] == {"metrics.jsonl": rd.metrics_path.stat().st_size}
    rd.mark_done("iter_00/eval", record)
    assert RunDir(tmp_path).phase_info("iter_00/eval") == json.loads(json.dumps(record))


@pytest.mark.parametrize(
    "target, fires_at",
    [
        ("iter_01/solver:0", "begin"),
        ("iter_01/solver:2", "write 2"),
        ("iter_01/eval:1", None),
        ("iter_00/eval:1", None),
    ],
)
def test_the_test_kill_hook_counts_the_writers_writes_within_the_phase(tmp_path, monkeypatch, target, fires_at):
    """tests/kill_after.py (the hook tests/test_kill_resume.py runs the CLI under): the writer's n-th write of a phase
    (0: as it begins) kills; a process that does not write, writes outside the phase and write_json never do."""
    kills = []
    kill_after.install(target, setattr=monkeypatch.setattr, kill=lambda pid, sig: kills.append(where[0]))
    where = ["before"]
    done = RunDir(tmp_path)
    done.begin_phase("iter_00/eval")
    done.mark_done("iter_00/eval")
    done.log_metrics("eval", iteration=0)  # after mark_done: outside any phase
    for rundir in (RunDir(tmp_path, writer=False), RunDir(tmp_path)):
        where[0] = "begin"
        rundir.begin_phase("iter_01/solver")
        rundir.write_json(rundir.results_path, {})  # not counted
        where[0] = "write 1"
        rundir.log_metrics("solver", step=1)
        where[0] = "write 2"
        rundir.write_jsonl(rundir.eval_path(1), [{"id": 1}])
        if not rundir.writer:
            assert kills == []
    assert kills == ([fires_at] if fires_at else [])


def test_a_resume_safe_group_in_the_saved_fingerprint_is_not_compared(tmp_path):
    # a run started when `health` was still part of the fingerprint resumes once it is resume-safe
    rundir = RunDir(tmp_path)
    rundir.check_config({"seed": 0, "health.on_alarm": "warn"})
    rundir.mark_done("iter_00/eval", {"done": True})
    RunDir(tmp_path).check_config({"seed": 0}, ("health",))
    with pytest.raises(ConfigMismatchError):
        RunDir(tmp_path).check_config({"seed": 0})


def test_finished_metrics_leave_out_the_rows_of_an_interrupted_phase(tmp_path):
    rundir = RunDir(tmp_path)
    assert rundir.finished_metrics() == []
    rundir.log_metrics("eval", iteration=0)
    rundir.mark_done("iter_00/eval")
    rundir.log_metrics("solver", iteration=1, step=1)  # a phase killed after one row
    assert [r["phase"] for r in rundir.metrics()] == ["eval", "solver"]
    assert [r["phase"] for r in RunDir(tmp_path).finished_metrics()] == ["eval"]
    rundir.mark_done("iter_01/solver")
    assert [r["phase"] for r in RunDir(tmp_path).finished_metrics()] == ["eval", "solver"]
