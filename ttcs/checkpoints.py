"""Which checkpoints a run keeps (``keep_checkpoints``), and the most it holds on disk at once.

Every training phase saves its role's whole model as ``checkpoints/<role>/iter_XX/``
(`ttcs.grpo.finish_training`). The next phase of that role starts from the last one (`ttcs.context.RunContext
.model_path`), and so does a resumed run. Which of them stay is ``keep_checkpoints``:

==========  ==========================================================================================
``all``     every checkpoint: trained roles x iterations
``last``    the last finished checkpoint of each trained role: what resuming the run needs, and what
            further iterations would start from
``kept``    (the default) ``last``, and the Solver of the label-free iteration to keep (``results.json``'s
            ``keep``, `ttcs.keep`; iteration 0 is the base model, which the run never copies). One model is
            stored once: the last checkpoint that is also the kept one is one directory
``none``    ``last`` while the run goes on; once every iteration has finished, nothing. No trained model is
            left, and the run can no longer be extended (a further iteration would have no model to start from)
==========  ==========================================================================================

`prune` runs on the writing process only (`ttcs.rundir.RunDir.writer`), after each phase is recorded in
``state.json``, so a kill at any moment leaves what a resume needs: a checkpoint is deleted only when the phase
that saved a newer one of its role is in ``state.json``, and that newer checkpoint and ``state.json`` are first
flushed to disk (fsync). It never touches the checkpoint of a phase ``state.json`` does not list as finished (a
phase killed after its save: its rerun replaces it). A deletion renames the directory out of the way first
(``.iter_XX.deleting``, one atomic rename), so a kill in the middle of it never leaves a half model under a
checkpoint's name; the next `prune` finishes it.

``kept`` follows the choice as each iteration ends: a checkpoint is deleted once it is neither the last nor the
current choice. The choice pools every iteration's samples, so a later iteration can move it back to one whose
checkpoint is already gone; ``results.json``'s ``keep.checkpoint`` then says null (the kept iteration's evaluation
still stands) and the log says why.

`peak` is the most checkpoints a policy holds at once (the preflight's disk check and the dry run's plan): a new
checkpoint is written before the old one goes, so a role briefly holds two, and under ``kept`` a Solver older than
the last two may be held beside them.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

from ttcs.rundir import RunDir

logger = logging.getLogger(__name__)

POLICIES = ("all", "last", "kept", "none")
# The roles whose checkpoints the policies know, in the order an iteration trains them.
ROLES = ("synthesizer", "solver")
# The role whose kept iteration ``kept`` keeps (`ttcs.keep` chooses a Solver).
KEPT_ROLE = "solver"
_ITER_DIR = re.compile(r"^iter_(\d{2})$")
_DELETING = re.compile(r"^\.iter_\d{2}\.deleting$")


def on_disk(rundir: RunDir) -> dict[str, list[int]]:
    """Role -> the iterations whose checkpoint directory exists, in order."""
    found: dict[str, list[int]] = {}
    for role in ROLES:
        parent = rundir.root / "checkpoints" / role
        if parent.is_dir():
            its = sorted(int(m.group(1)) for p in parent.iterdir() if p.is_dir() and (m := _ITER_DIR.match(p.name)))
            if its:
                found[role] = its
    return found


def held(
    rundir: RunDir, policy: str, keep_iteration: int | None, *, finished: bool
) -> tuple[dict[str, set[int]], dict[str, set[int]]]:
    """(what stays, what goes): role -> iterations, among the checkpoints on disk.

    Only a checkpoint whose phase ``state.json`` lists as finished can go, and never the last finished one of its
    role, except under ``none`` once the run has `finished` every iteration.
    """
    if policy not in POLICIES:
        raise ValueError(f"keep_checkpoints={policy}: must be one of {', '.join(POLICIES)}")
    stay: dict[str, set[int]] = {}
    go: dict[str, set[int]] = {}
    for role, its in on_disk(rundir).items():
        done = [t for t in its if rundir.is_done(f"iter_{t:02d}/{role}")]
        needed = set(its) - set(done)  # an unfinished phase's checkpoint: its rerun replaces it
        if policy == "all":
            needed |= set(done)
        elif done and not (policy == "none" and finished):
            needed.add(max(done))
            if policy == "kept" and role == KEPT_ROLE and keep_iteration in done:
                needed.add(keep_iteration)
        stay[role] = needed
        go[role] = set(its) - needed
    return stay, go


def prune(rundir: RunDir, policy: str, keep_iteration: int | None, *, finished: bool = False) -> list[Path]:
    """Delete the checkpoints `policy` does not keep (`held`); the writing process only. Returns what it deleted.

    Args:
        keep_iteration: the iteration ``results.json``'s ``keep`` names now (None: no choice yet).
        finished: every iteration of the run has finished (``none`` then deletes the last ones too).
    """
    if not rundir.writer:
        return []
    _finish_deletions(rundir)
    stay, go = held(rundir, policy, keep_iteration, finished=finished)
    if not any(go.values()):
        return []
    # What a resume reads must be on disk before anything it could fall back to goes: the checkpoints that stay and
    # state.json (renamed into place by ttcs.rundir.write_json_atomic; its directory entry synced here).
    for role, its in stay.items():
        for t in sorted(its):
            _sync_tree(rundir.checkpoint_dir(role, t))
    _sync_dir(rundir.root)
    deleted = []
    for role, its in go.items():
        for t in sorted(its):
            path = rundir.checkpoint_dir(role, t)
            doomed = path.with_name(f".{path.name}.deleting")
            shutil.rmtree(doomed, ignore_errors=True)
            path.rename(doomed)  # atomic: the name is gone before any of its files
            _sync_dir(path.parent)
            shutil.rmtree(doomed)
            deleted.append(path)
            logger.info("keep_checkpoints=%s: deleted %s", policy, path.relative_to(rundir.root))
    for role in go:  # an emptied role directory, then an emptied checkpoints/
        _remove_if_empty(rundir.root / "checkpoints" / role)
    _remove_if_empty(rundir.root / "checkpoints")
    return deleted


def kept_checkpoint(rundir: RunDir, base_model: str, keep_iteration: int | None) -> str | None:
    """Where the kept iteration's Solver is: the base model for iteration 0, its checkpoint (relative to the run
    directory) while that exists, else None."""
    if keep_iteration is None:
        return None
    if keep_iteration == 0:
        return base_model
    path = rundir.checkpoint_dir(KEPT_ROLE, keep_iteration)
    return path.relative_to(rundir.root).as_posix() if path.is_dir() else None


def peak(roles: Sequence[str], iterations: int, policy: str) -> tuple[int, int]:
    """(the most checkpoints held at once, those left after the run) for `roles` trained each of `iterations`.

    A role's new checkpoint is saved before its previous one is deleted; under ``kept`` the worst case is counted,
    a kept Solver older than the last two (iteration 1 kept to the end).
    """
    if policy == "all":
        return len(roles) * iterations, len(roles) * iterations
    kept = 1 if policy == "kept" else None
    holding: dict[str, set[int]] = {role: set() for role in roles}
    most = 0
    for t in range(1, iterations + 1):
        for role in roles:
            holding[role].add(t)
            most = max(most, sum(len(its) for its in holding.values()))
            holding[role] = {t} | ({kept} if role == KEPT_ROLE and kept in holding[role] else set())
    after = 0 if policy == "none" else sum(len(its) for its in holding.values())
    return most, after


def _finish_deletions(rundir: RunDir) -> None:
    """Remove what a deletion killed half-way left (``.iter_XX.deleting``)."""
    for role in ROLES:
        parent = rundir.root / "checkpoints" / role
        if parent.is_dir():
            for p in parent.iterdir():
                if _DELETING.match(p.name):
                    shutil.rmtree(p, ignore_errors=True)


def _sync_tree(path: Path) -> None:
    """fsync every file under `path`, then the directories that name them."""
    if not path.is_dir():
        return
    for p in sorted(path.rglob("*")):
        if p.is_file():
            fd = os.open(p, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    for d in (path, path.parent, path.parent.parent):
        _sync_dir(d)


def _sync_dir(path: Path) -> None:
    """fsync a directory's entries (a rename in it); a no-op where directories cannot be opened (Windows)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _remove_if_empty(path: Path) -> None:
    try:
        path.rmdir()
    except OSError:
        pass
