"""Several processes under `accelerate launch`: who writes, how work is split, how results come back.

Under ``accelerate launch --num_processes N -m ttcs.cli ...`` every process (rank) runs the
whole loop. TRL trains one policy replica per rank; outside TRL, the ranks share the work
and agree on its outcome through the few calls here, which are thin wrappers over
accelerate's `PartialState` and its `gather_object` / `broadcast_object_list`:

* `is_main` — only the main process writes the run directory (`ttcs.rundir.RunDir` asks it).
* `shard` / `gather` — each rank takes a contiguous slice of a list (accelerate's
  `split_between_processes`), and `gather` concatenates every rank's results in rank order,
  so the gathered list is in the order a one-process run builds. `map_sharded` does both.
* `gather_slices` — every rank's items plus where this rank's slice starts (TRL hands each
  rank a slice of a batch; rewards that need the whole batch gather it and answer for their slice).
* `broadcast` / `on_main` — main's value (or main's exception) on every rank: the resume
  state, the run directory.
* `barrier` — ranks wait for the main process at phase boundaries; `local_main_first` lets
  one process per machine fill a cache (the embedded model's conversion) before the others read it.
* `agree` — check that every rank holds the same value (e.g. a digest of the trained weights).

Every function is a no-op (or the identity) in a one-process run, and every one of them is
a collective when there are several: all ranks must call it, in the same order.

Example:
    >>> map_sharded(lambda part: [x * x for x in part], [1, 2, 3])  # one process: all of it here
    [1, 4, 9]
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import torch

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


def _state():
    from accelerate import PartialState

    # cpu=True matters: without it a CPU process launched by `accelerate launch` sees no distributed setup.
    return PartialState(cpu=not torch.cuda.is_available())


def num_processes() -> int:
    """How many processes `accelerate launch` started (1 for a plain run)."""
    return _state().num_processes


def rank() -> int:
    """This process's index, 0 on the main process."""
    return _state().process_index


def is_main() -> bool:
    """True on the one process that writes files (always, in a one-process run)."""
    return _state().is_main_process


def barrier() -> None:
    """Wait until every process gets here."""
    if num_processes() > 1:
        _state().wait_for_everyone()


@contextmanager
def local_main_first() -> Iterator[None]:
    """The block runs on each machine's first process, then on that machine's others."""
    if num_processes() == 1:
        yield
        return
    with _state().local_main_process_first():
        yield


def shard(items: Sequence[T]) -> list[T]:
    """This rank's contiguous slice of `items` (the first ``len % N`` ranks take one more; a slice may be empty)."""
    items = list(items)
    state = _state()
    if state.num_processes == 1:
        return items
    with state.split_between_processes(items) as mine:
        return list(mine)


def gather(mine: Sequence[T]) -> list[T]:
    """Every rank's list, concatenated in rank order: after `shard`, the original order."""
    if num_processes() == 1:
        return list(mine)
    from accelerate.utils import gather_object

    return list(gather_object(list(mine)))


def map_sharded(fn: Callable[[list[T]], Sequence[R]], items: Sequence[T]) -> list[R]:
    """``fn(items)`` with the work split over the ranks: each applies `fn` to its slice, all get the whole result.

    `fn` maps a list to a list of the same length, element by element (it is called with an
    empty list on a rank whose slice is empty).
    """
    return gather(fn(shard(items)))


def gather_slices(mine: Sequence[T]) -> tuple[list[T], int]:
    """Every rank's items in rank order, and the index where this rank's items start in that list."""
    if num_processes() == 1:
        return list(mine), 0
    from accelerate.utils import gather_object

    # One element per rank (a list inside a list), so the slice boundaries survive the gather.
    per_rank = gather_object([list(mine)])
    offset = sum(len(part) for part in per_rank[: rank()])
    return [x for part in per_rank for x in part], offset


def broadcast(value: Any) -> Any:
    """The main process's `value` on every rank (picklable values only)."""
    if num_processes() == 1:
        return value
    from accelerate.utils import broadcast_object_list

    return broadcast_object_list([value], from_process=0)[0]


def on_main(fn: Callable[[], R]) -> R:
    """Run `fn` on the main process only; every rank returns its result, or raises its exception.

    For decisions one process must take alone (reading and checking ``state.json``): the
    other ranks would otherwise wait forever for a main process that stopped with an error.
    """
    outcome: tuple[bool, Any] = (True, None)
    if is_main():
        try:
            outcome = (True, fn())
        except Exception as err:  # handed to every rank, raised on all of them below
            outcome = (False, err)
    ok, value = broadcast(outcome)
    if not ok:
        raise value
    return value


def agree(value: Any, what: str) -> None:
    """Raise when the ranks hold different `value`s; `what` names it in the error."""
    if num_processes() == 1:
        return
    values = gather([value])
    if any(v != values[0] for v in values):
        shown = ", ".join(f"rank {r}: {v!r}" for r, v in enumerate(values))
        raise RuntimeError(f"the {len(values)} processes disagree on {what} ({shown})")
