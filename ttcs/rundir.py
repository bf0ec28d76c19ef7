"""The run directory: where one run keeps its state, metrics, results and checkpoints.

Layout (outputs/README.md describes each file)::

    state.json        phases finished so far (resume reads it) and the config they ran under
    metrics.jsonl     one JSON line per event (phase, step, rewards, losses, seconds)
    results.json      method, model, data, seed, versions, per-iteration evaluation
    eval/iter_XX.jsonl, curriculum/iter_XX.jsonl, checkpoints/{synthesizer,solver}/iter_XX/

Every write that another process might read is atomic (write a temporary file, then
rename) or an append of whole flushed lines, so a run killed at any instant leaves
files that a rerun can trust.

In a run of several processes (``accelerate launch``) only the main process writes: the
others open the directory with ``writer=False`` and keep the same state in memory
(`ttcs.loop` hands them the main process's ``state.json``), so every rank agrees on what
is finished while each file is written once.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


class ConfigMismatchError(RuntimeError):
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


class RunDir:
    """Paths and persistent state of one run.

    Args:
        root: the run directory.
        writer: False on the processes of a multi-process run that must not write: state
            changes stay in memory, and the write methods below do nothing.
    """

    def __init__(self, root: str | Path, *, writer: bool = True):
        self.root = Path(root)
        self.writer = writer
        self.root.mkdir(parents=True, exist_ok=True)
        self.state_path = self.root / "state.json"
        self.metrics_path = self.root / "metrics.jsonl"
        self.results_path = self.root / "results.json"
        self.state: dict = json.loads(self.state_path.read_text()) if self.state_path.exists() else {"phases": {}}

    # -- paths -------------------------------------------------------------------------
    def eval_path(self, iteration: int) -> Path:
        return self.root / "eval" / f"iter_{iteration:02d}.jsonl"

    def curriculum_path(self, iteration: int) -> Path:
        return self.root / "curriculum" / f"iter_{iteration:02d}.jsonl"

    def checkpoint_dir(self, role: str, iteration: int) -> Path:
        return self.root / "checkpoints" / role / f"iter_{iteration:02d}"

    # -- state -------------------------------------------------------------------------
    def check_config(self, fingerprint: dict) -> None:
        """Refuse to resume a run that was made with a different configuration."""
        saved = self.state.get("config")
        if saved is None:
            self.state["config"] = fingerprint
            self._save_state()
            return
        diff = {k: (saved.get(k), v) for k, v in fingerprint.items() if saved.get(k) != v}
        diff.update({k: (v, None) for k, v in saved.items() if k not in fingerprint})
        if diff:
            shown = "; ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in sorted(diff.items())[:5])
            raise ConfigMismatchError(
                f"{self.root} holds a run with a different config ({shown}); "
                "pass a new run_name=..., or delete that directory to start over")

    def is_done(self, phase: str) -> bool:
        return phase in self.state["phases"]

    def mark_done(self, phase: str, **info: Any) -> None:
        """Record a finished phase (with any small summary worth keeping) atomically."""
        self.state["phases"][phase] = {"finished_at": time.time(), **info}
        self._save_state()

    def phase_info(self, phase: str) -> dict:
        return self.state["phases"].get(phase, {})

    def _save_state(self) -> None:
        self.write_json(self.state_path, self.state)

    # -- files (written by the writer only) ----------------------------------------------
    def write_json(self, path: Path, obj: Any) -> None:
        """`write_json_atomic`, on the writing process only."""
        if self.writer:
            write_json_atomic(path, obj)

    def write_jsonl(self, path: Path, records: list[dict]) -> None:
        """Replace `path` atomically with one JSON line per record, on the writing process only."""
        if not self.writer:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text("".join(json.dumps(r, default=str) + "\n" for r in records))
        tmp.replace(path)

    def append_jsonl(self, path: Path, record: dict) -> None:
        """`append_jsonl`, on the writing process only."""
        if self.writer:
            append_jsonl(path, record)

    # -- logs --------------------------------------------------------------------------
    def log_metrics(self, phase: str, **values: Any) -> None:
        """One line of metrics.jsonl: the phase, a timestamp and the values."""
        self.append_jsonl(self.metrics_path, {"phase": phase, "time": round(time.time(), 3), **values})

    def metrics(self) -> list[dict]:
        return read_jsonl(self.metrics_path)
