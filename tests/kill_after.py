"""`python tests/kill_after.py <ttcs arguments>`: the `ttcs` command, SIGKILLed at an exact write to its run directory.

With ``TTCS_TEST_KILL_AFTER="<phase key>:<n>"`` set (e.g. ``iter_01/solver:1``) the process that writes the run
directory (the main process of a multi-process run) kills itself right after its n-th write within that phase
(``RunDir.append_jsonl`` or ``RunDir.write_jsonl``; 0: as the phase starts, once `RunDir.begin_phase` has cut the
logs back), so that a test can cut a real run short at a chosen point (tests/test_kill_resume.py). Unset, it is the
plain command. The hook lives here, patched onto `RunDir`, so that the package carries no test-only code.
"""

from __future__ import annotations

import os
import signal

KILL_AFTER_ENV = "TTCS_TEST_KILL_AFTER"


def install(target: str, setattr=setattr, kill=os.kill) -> None:
    """Patch `RunDir` so that the writer kills its process at `target` ("<phase key>:<n>").

    A test in-process passes pytest's ``monkeypatch.setattr`` (undone after it) and a `kill` that records."""
    from ttcs.rundir import RunDir

    begin_phase, mark_done = RunDir.begin_phase, RunDir.mark_done
    append_jsonl, write_jsonl = RunDir.append_jsonl, RunDir.write_jsonl

    def maybe_kill(rundir: RunDir) -> None:
        phase = getattr(rundir, "_kill_phase", None)
        if rundir.writer and phase and target == f"{phase}:{rundir._kill_writes}":
            kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))

    def counted(write):
        def wrapper(self, *args, **kwargs):
            write(self, *args, **kwargs)
            if self.writer:  # only real writes count
                self._kill_writes = getattr(self, "_kill_writes", 0) + 1
                maybe_kill(self)

        return wrapper

    def patched_begin_phase(self, phase, *args, **kwargs):
        begin_phase(self, phase, *args, **kwargs)
        if self.writer:
            self._kill_phase, self._kill_writes = phase, 0
            maybe_kill(self)

    def patched_mark_done(self, *args, **kwargs):
        mark_done(self, *args, **kwargs)
        self._kill_phase = None

    setattr(RunDir, "begin_phase", patched_begin_phase)
    setattr(RunDir, "mark_done", patched_mark_done)
    setattr(RunDir, "append_jsonl", counted(append_jsonl))
    setattr(RunDir, "write_jsonl", counted(write_jsonl))


def main() -> None:
    target = os.environ.get(KILL_AFTER_ENV)
    if target:
        install(target)
    from ttcs.cli import main as ttcs_main

    ttcs_main()


if __name__ == "__main__":
    main()
