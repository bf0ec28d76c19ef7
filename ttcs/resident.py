"""Resident memory (RSS) of this process, phase by phase.

`ttcs.loop.run` resets the kernel's peak-RSS mark when a phase begins (`reset_peak`) and
reads it when the phase has ended and its garbage is collected (`phase_memory`): each
phase's entry in ``state.json`` then holds ``peak_rss_gb`` (the most this process held
resident at any moment of the phase) and ``rss_end_gb`` (what it still held after it).
Both come from ``/proc/self/status`` (``VmHWM``, ``VmRSS``); the peak is reset by writing
``5`` to ``/proc/self/clear_refs`` (Linux 4.0 and later), so it costs nothing while the
phase runs. Where that file cannot be written the peak is the process's since its start,
and the entry says so (``peak_rss_since_start: true``); without ``/proc`` both are None.
docs/memory.md explains what each phase of the default job holds against these numbers.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import re
from pathlib import Path

STATUS = Path("/proc/self/status")
CLEAR_REFS = Path("/proc/self/clear_refs")
GB = 1e9


def status_kb(key: str, status: Path = STATUS) -> int | None:
    """A ``kB`` field of ``/proc/self/status`` (``VmRSS``, ``VmHWM``), or None where there is none."""
    try:
        match = re.search(rf"^{key}:\s+(\d+)\s+kB", status.read_text(), re.MULTILINE)
    except OSError:
        return None
    return int(match.group(1)) if match else None


def rss_gb() -> float | None:
    """What this process holds resident now, in GB (1e9 bytes)."""
    kb = status_kb("VmRSS")
    return None if kb is None else round(kb * 1024 / GB, 2)


def peak_rss_gb() -> float | None:
    """The most this process has held resident since the last `reset_peak` (or its start), in GB."""
    kb = status_kb("VmHWM")
    return None if kb is None else round(kb * 1024 / GB, 2)


def reset_peak() -> bool:
    """Start a new peak-RSS mark at what the process holds now; False where the kernel does not allow it."""
    try:
        CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def trim_heap() -> bool:
    """Hand the C heap's free pages back to the kernel (glibc's ``malloc_trim``); False where there is no glibc.

    Freed tensors go back to glibc's heap, which keeps much of it mapped: without this, a process that
    has freed a phase's models and activations still shows them resident, and a later phase's peak
    counts them again.
    """
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return False
    trim.argtypes = [ctypes.c_size_t]
    trim(0)
    return True


def heap_trim_callback():
    """A `transformers.TrainerCallback` that calls `trim_heap` after every micro-batch and optimizer step.

    A training step's transient tensors (on a CPU above all TRL's tiled log-probability kernel, whose fallback
    without Triton allocates several copies of a tokens x 32768 tile in its backward pass) are freed into glibc's
    heap, which keeps them; the next step allocates anew beside them, so without a trim the peak climbs from step
    to step. Nothing is computed differently.
    """
    from transformers import TrainerCallback

    class TrimHeap(TrainerCallback):
        def on_substep_end(self, args, state, control, **kwargs):
            trim_heap()

        def on_step_end(self, args, state, control, **kwargs):
            trim_heap()

    return TrimHeap()


def phase_memory(peak_reset: bool) -> dict:
    """The ``state.json`` keys of a phase that has just ended: its peak and what remains resident, in GB."""
    record = {"peak_rss_gb": peak_rss_gb(), "rss_end_gb": rss_gb()}
    if not peak_reset and record["peak_rss_gb"] is not None:
        record["peak_rss_since_start"] = True
    return record
