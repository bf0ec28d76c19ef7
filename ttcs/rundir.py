"""The run directory: where one run keeps its state, metrics, results and checkpoints.

Which directory a run uses is Hydra's choice (``hydra.run.dir``; under ``accelerate launch``
every process takes the main process's, `ttcs.cli.shared_run_dir`). Every path *inside* it
comes from `RunLayout` (which `RunDir` extends): one method per file, and `LAYOUT`, the
patterns of every file a run leaves there (outputs/README.md describes each file)::

    state.json        phases finished so far (resume reads it) and the config they ran under
    metrics.jsonl     one JSON line per event (phase, step, rewards, losses, seconds)
    results.json      method, model, data, seed, versions, per-iteration evaluation
    eval/iter_XX.jsonl, curriculum/iter_XX.jsonl, curriculum/iter_XX_train.jsonl, solver/iter_XX_votes.jsonl,
    checkpoints/{synthesizer,solver}/iter_XX/ (those keep_checkpoints keeps, `ttcs.checkpoints`),
    trl/{synthesizer,solver}_iter_XX/ (TRL's output_dir),
    run.log, run.rank<r>.log, .hydra/ (Hydra's), report.md and its plots

Every write that another process might read is atomic (write a temporary file, then
rename) or an append of whole flushed lines. A phase that was cut short (a kill at any
instant) is redone from its start: `RunDir.begin_phase` first cuts the files that phases
extend line by line (`APPEND_LOGS`) back to their sizes when the last phase finished, so
the rerun neither repeats nor loses a line, and a torn last line disappears with the rest.

In a run of several processes (``accelerate launch``) only the main process writes: the
others open the directory with ``writer=False`` and keep the same state in memory
(`ttcs.loop` hands them the main process's ``state.json`` and, as each phase finishes, the
main process's record of it, log sizes included), so every rank agrees on what is finished
while each file is written, measured and cut back by one process.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ttcs.errors import UserError

logger = logging.getLogger(__name__)


# Files that phases extend line by line, relative to the run directory (glob patterns).
APPEND_LOGS = ("metrics.jsonl", "curriculum/iter_[0-9][0-9].jsonl", "solver/iter_[0-9][0-9]_votes.jsonl")
_ITER = "iter_[0-9][0-9]"
# Every file a run may leave in its run directory, relative to it (fnmatch patterns: ``*`` also matches ``/``), and
# who writes it. The methods of `RunLayout` name each one; nothing else writes there.
LAYOUT = {
    "state.json": "RunDir: the phases finished and the config",
    "metrics.jsonl": "RunDir.log_metrics",
    "results.json": "ttcs.loop: the results",
    f"eval/{_ITER}.jsonl": "ttcs.loop.eval_phase",
    f"curriculum/{_ITER}.jsonl": "the Synthesizer and curriculum phases: every variant",
    f"curriculum/{_ITER}_train.jsonl": "the curriculum phase: the Solver's training set",
    f"solver/{_ITER}_votes.jsonl": "the Solver phase's reward: every group's vote",
    f"checkpoints/*/{_ITER}/*": "ttcs.grpo.finish_training: a trained model",
    "checkpoints/*/.iter_[0-9][0-9].deleting/*": "ttcs.checkpoints.prune: a checkpoint a kill caught being deleted",
    "trl/*_iter_[0-9][0-9]/*": "TRL, under its output_dir",
    "run.log": "Hydra's job log (the main process's)",
    "run.rank[0-9]*.log": "the log of another process of a multi-process run (ttcs.cli)",
    ".hydra/*": "Hydra: the composed config and overrides",
    "report.md": "ttcs.report",
    "*.png": "ttcs.report: the report's plots",
}


class ConfigMismatchError(UserError, RuntimeError):
    """The run directory holds a run made with a different configuration."""


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write JSON so that readers see either the old or the new file, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2, default=str)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


def append_jsonl(path: Path, record: dict) -> None:
    """Append one JSON line and flush it to disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        f.write(json.dumps(record, default=str) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_jsonl(path: Path) -> list[dict]:
    """Read whole JSON lines; a torn last line (a run killed mid-write) is dropped with a warning."""
    if not path.exists():
        return []
    records = []
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if i == len(lines) - 1:
                logger.warning("%s: dropping a torn last line (the run was interrupted while writing it)", path)
            else:
                raise
    return records


class RunLayout:
    """The path of every file in the run directory `root` (see `LAYOUT`); creates and reads nothing."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.state_path = self.root / "state.json"
        self.metrics_path = self.root / "metrics.jsonl"
        self.results_path = self.root / "results.json"
        self.report_path = self.root / "report.md"
        self.hydra_config_path = self.root / ".hydra" / "config.yaml"

    def eval_path(self, iteration: int) -> Path:
        return self.root / "eval" / f"iter_{iteration:02d}.jsonl"

    def curriculum_path(self, iteration: int) -> Path:
        """Every variant of an iteration (the Synthesizer phase's, then the curriculum phase's)."""
        return self.root / "curriculum" / f"iter_{iteration:02d}.jsonl"

    def curriculum_paths(self) -> list[Path]:
        """The `curriculum_path` of every iteration that has one, in order."""
        return sorted((self.root / "curriculum").glob("iter_[0-9][0-9].jsonl"))

    def curriculum_train_path(self, iteration: int) -> Path:
        """The Solver's training set of an iteration, written by the curriculum phase."""
        return self.root / "curriculum" / f"iter_{iteration:02d}_train.jsonl"

    def votes_path(self, iteration: int) -> Path:
        """Every group vote of the Solver phase of an iteration, one line per group, appended by its reward."""
        return self.root / "solver" / f"iter_{iteration:02d}_votes.jsonl"

    def checkpoint_dir(self, role: str, iteration: int) -> Path:
        return self.root / "checkpoints" / role / f"iter_{iteration:02d}"

    def trl_dir(self, role: str, iteration: int) -> Path:
        """TRL's ``output_dir`` for the `role` phase of `iteration`."""
        return self.root / "trl" / f"{role}_iter_{iteration:02d}"

    def rank_log_path(self, rank: int) -> Path:
        """The log of process `rank` (not the main process) of a multi-process run."""
        return self.root / f"run.rank{rank}.log"

    def plot_path(self, name: str) -> Path:
        """A plot of the report (``accuracy``, ``rewards``)."""
        return self.root / f"{name}.png"

    def owns(self, relative: str | Path) -> bool:
        """Whether a path relative to the run directory is one that `LAYOUT` names."""
        return any(fnmatch.fnmatchcase(Path(relative).as_posix(), pattern) for pattern in LAYOUT)


def resume_mismatch(root: Path, state: dict, fingerprint: dict, resume_safe: tuple[str, ...] = ()) -> str | None:
    """Why a run directory with `state` cannot be resumed with the config `fingerprint`, or None when it can.

    A run none of whose phases finished has nothing to protect: any config may start it again (a start that failed
    does not lock its directory). Keys under the top-level groups `resume_safe` are left out of the comparison, also
    where the saved fingerprint holds them (a run started before a group became safe to change).
    """
    saved = state.get("config")
    if saved is None or not state.get("phases"):
        return None
    saved = {k: v for k, v in saved.items() if k.split(".", 1)[0] not in resume_safe}
    diff = {k: (saved.get(k), v) for k, v in fingerprint.items() if saved.get(k) != v}
    diff.update({k: (v, None) for k, v in saved.items() if k not in fingerprint})
    if not diff:
        return None
    shown = "; ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in sorted(diff.items())[:5])
    return (
        f"{root} holds a run with a different config ({shown}); pass a new run_name=..., or delete that directory "
        "to start over"
    )


class RunDir(RunLayout):
    """Paths and persistent state of one run.

    Args:
        root: the run directory.
        writer: False on the processes of a multi-process run that must not write: state
            changes stay in memory, the write methods below do nothing, `begin_phase` cuts
            nothing back.
    """

    def __init__(self, root: str | Path, *, writer: bool = True):
        super().__init__(root)
        self.writer = writer
        # Called with every metrics.jsonl row as it is written (the health monitor reads them live)
        self.metric_listeners: list[Callable[[dict], Any]] = []
        self.root.mkdir(parents=True, exist_ok=True)
        self.state: dict = json.loads(self.state_path.read_text()) if self.state_path.exists() else {"phases": {}}

    # -- state -------------------------------------------------------------------------
    def check_config(self, fingerprint: dict, resume_safe: tuple[str, ...] = ()) -> None:
        """Refuse to resume a run that was made with a different configuration (`resume_mismatch`); record the
        config of a run that starts, or that starts again after no phase of it had finished."""
        reason = resume_mismatch(self.root, self.state, fingerprint, resume_safe)
        if reason:
            raise ConfigMismatchError(reason)
        if not self.state.get("phases") and self.state.get("config") != fingerprint:
            self.state["config"] = fingerprint
            self._save_state()

    def is_done(self, phase: str) -> bool:
        return phase in self.state["phases"]

    def begin_phase(self, phase: str) -> None:
        """Before `phase` runs (again): drop what an unfinished run of it appended to the logs (writer only)."""
        if not self.writer:
            return
        finished = list(self.state["phases"].values())
        sizes = finished[-1].get("log_bytes") if finished else {}
        if sizes is not None:  # None: a run directory from before log sizes were recorded
            for path in self._append_logs():
                keep, size = sizes.get(path.relative_to(self.root).as_posix(), 0), path.stat().st_size
                if size > keep:
                    logger.info(
                        "resume: %s was cut short; dropping the %d bytes it had appended to %s",
                        phase,
                        size - keep,
                        path.relative_to(self.root),
                    )
                    os.truncate(path, keep)

    def phase_record(self, **info: Any) -> dict:
        """The state.json entry of a phase finishing now: the time, `info` (any small summary worth keeping) and the
        log sizes (None on a process that does not write: it has not measured them)."""
        return {"finished_at": time.time(), **info, "log_bytes": self.log_sizes() if self.writer else None}

    def mark_done(self, phase: str, record: dict | None = None, /, **info: Any) -> None:
        """Record a finished phase atomically: `record` as given (in a multi-process run, the main process's
        `phase_record`, the same on every rank), else ``phase_record(**info)``."""
        self.state["phases"][phase] = dict(record) if record is not None else self.phase_record(**info)
        self._save_state()

    def phase_info(self, phase: str) -> dict:
        return self.state["phases"].get(phase, {})

    def _save_state(self) -> None:
        self.write_json(self.state_path, self.state)

    # -- writes (on the writing process only) --------------------------------------------
    def write_json(self, path: Path, obj: Any) -> None:
        """`write_json_atomic` (state.json, results.json), on the writing process only."""
        if self.writer:
            write_json_atomic(path, obj)

    def append_jsonl(self, path: Path, record: dict) -> None:
        """Append one JSON line to a log of the run (one of `APPEND_LOGS`), on the writing process only."""
        if not self.writer:
            return
        append_jsonl(path, record)

    def write_jsonl(self, path: Path, records: list[dict]) -> None:
        """Write a whole JSON-lines file atomically (readers see all of it or the previous file), on the writing
        process only."""
        if not self.writer:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        with open(tmp, "w") as f:
            f.write("".join(json.dumps(r, default=str) + "\n" for r in records))
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)

    def log_metrics(self, phase: str, **values: Any) -> None:
        """One line of metrics.jsonl (the phase, a timestamp and the values), then handed to `metric_listeners`
        (on the writing process only)."""
        if not self.writer:
            return
        row = {"phase": phase, "time": round(time.time(), 3), **values}
        self.append_jsonl(self.metrics_path, row)
        for listener in self.metric_listeners:
            listener(row)

    def metrics(self) -> list[dict]:
        return read_jsonl(self.metrics_path)

    def finished_metrics(self) -> list[dict]:
        """The metrics.jsonl rows of the finished phases: up to the size the last finished phase recorded, so not the
        rows an interrupted phase appended (which `begin_phase` cuts back when it runs again)."""
        finished = list(self.state["phases"].values())
        sizes = finished[-1].get("log_bytes") if finished else {}
        if sizes is None or not self.metrics_path.exists():
            return self.metrics()  # a run directory from before log sizes were recorded
        keep = sizes.get(self.metrics_path.relative_to(self.root).as_posix(), 0)
        with open(self.metrics_path, "rb") as f:
            head = f.read(keep).decode()
        return [json.loads(line) for line in head.splitlines() if line.strip()]

    def log_sizes(self) -> dict[str, int]:
        """The byte size of each of `APPEND_LOGS` now, by path relative to the run directory."""
        return {p.relative_to(self.root).as_posix(): p.stat().st_size for p in self._append_logs()}

    def _append_logs(self) -> list[Path]:
        return sorted(p for pattern in APPEND_LOGS for p in self.root.glob(pattern) if p.is_file())
