"""How many CPU threads torch uses: all free cores, and no more.

PyTorch's CPU kernels split each operation over a pool of threads that wait for each other
at its end. When another process already keeps a core busy, a thread on that core runs only
part of the time and every operation waits for it; generation, made of many small
operations, suffers most (measured on 2 cores with one other busy job: sampling 16 tokens took
14 s with 1 thread and 42 s with 2). So ``threads: auto`` (the default) gives torch the cores
that are not busy when the run starts: the cores this process may use, divided among the
processes of an ``accelerate launch``, minus the cores other processes kept busy over the
half second before (from ``/proc/stat``; the load average where that is missing), and at
least one. Measured at the start of each run, while the run itself is still idle.
"""

from __future__ import annotations

import logging
import os
import time

logger = logging.getLogger(__name__)


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS reports it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _cpu_times() -> tuple[int, int] | None:
    """(busy, total) jiffies of all CPUs from /proc/stat, or None where it cannot be read."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    if len(fields) < 4:
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already counted in user time
    return total - idle, total


def busy_cores(window: float = 0.5) -> float:
    """How many cores other processes keep busy: measured over ``window`` seconds (load average as a fallback)."""
    first = _cpu_times()
    if first is not None:
        time.sleep(window)
        second = _cpu_times()
        if second is not None and second[1] > first[1]:
            return (os.cpu_count() or 1) * (second[0] - first[0]) / (second[1] - first[1])
    try:
        return os.getloadavg()[0]
    except OSError:
        return 0.0


RULE = "must be auto or a positive integer"  # what `threads` may be; the config check says the same


def is_auto(setting) -> bool:
    """Whether ``setting`` asks for `choose_threads`'s automatic count."""
    return isinstance(setting, str) and setting.strip().lower() == "auto"


def is_valid_setting(setting) -> bool:
    """``auto`` or a positive integer (not a bool)."""
    return is_auto(setting) or (isinstance(setting, int) and not isinstance(setting, bool) and setting >= 1)


def choose_threads(setting, *, cores: int | None = None, load: float | None = None, processes: int = 1) -> int:
    """The torch thread count for ``setting``: a positive integer as given, or ``auto``.

    Example:
        >>> choose_threads("auto", cores=2, load=0.1), choose_threads("auto", cores=2, load=1.3)
        (2, 1)
        >>> choose_threads(4, cores=2, load=0.0), choose_threads("auto", cores=8, load=0.2, processes=2)
        (4, 4)
    """
    if is_auto(setting):
        cores = available_cores() if cores is None else cores
        load = busy_cores() if load is None else load
        share = cores / max(1, processes)
        busy = load / max(1, processes)
        return max(1, min(int(share), round(share - busy)))
    if not is_valid_setting(setting):
        raise ValueError(f"threads={setting!r}: {RULE}")
    return setting


def apply_threads(setting, *, processes: int = 1) -> int:
    """Set torch's intra-op thread count from ``setting`` (see `choose_threads`) and log it."""
    import torch

    auto = is_auto(setting)
    load = busy_cores() if auto else None
    n = choose_threads(setting, load=load, processes=processes)
    if n != torch.get_num_threads():
        torch.set_num_threads(n)
    if auto:
        logger.info(
            "torch uses %d CPU thread(s): threads=auto, %d cores, %.1f busy with other work, %d process(es)",
            n,
            available_cores(),
            load,
            processes,
        )
    else:
        logger.info("torch uses %d CPU thread(s) (threads=%d)", n, n)
    return n
