"""The terminal of a run: ttcs's own lines and one progress bar per phase, nothing else.

transformers' progress bars (loading and writing weights) are switched off unless ``verbose=true``.

Library warnings (transformers' FutureWarnings, TRL's notices), the ``datasets``/``transformers`` loggers and TRL's
raw per-step log dicts go to ``run.log`` only; ``verbose=true`` shows them in the terminal too. Errors of any
library still reach the terminal.

`quiet_terminal` is entered around a run by the CLI; `quiet_progress` swaps a trainer's progress bar for one that
writes TRL's log dicts to ``run.log`` instead of between the bars.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

logger = logging.getLogger(__name__)
# The logger TRL's per-step log dicts are written to (run.log; the terminal with verbose=true).
TRAINER_LOGS = "ttcs.trainer_logs"


class OwnLines(logging.Filter):
    """Lets through ttcs's own records (but not the trainer's raw logs) and any library's errors."""

    def filter(self, record: logging.LogRecord) -> bool:
        own = record.name == "ttcs" or record.name.startswith("ttcs.") or record.name == "__main__"
        return (own and record.name != TRAINER_LOGS) or record.levelno >= logging.ERROR


@contextmanager
def quiet_terminal(verbose: bool = False) -> Iterator[None]:
    """Within it, the terminal shows only `OwnLines`; the log file keeps every record (with ``verbose``, so does the
    terminal)."""
    import datasets
    import transformers

    libraries = ("transformers", "datasets")
    # their records reach the root logger's handlers (run.log) instead of their own stderr handler
    transformers.utils.logging.get_logger()  # each library adds its stderr handler on first use: add it now
    datasets.utils.logging.get_logger()
    own_handlers = {name: logging.getLogger(name).handlers[:] for name in libraries}
    for name in libraries:
        library = logging.getLogger(name)
        for handler in own_handlers[name]:
            library.removeHandler(handler)
        library.propagate = True
    logging.captureWarnings(True)  # warnings.warn -> the "py.warnings" logger -> run.log
    # transformers' own bars (loading and writing weights) are not a phase's: only ttcs's bars stay
    bars = transformers.utils.logging.is_progress_bar_enabled()
    if not verbose:
        transformers.utils.logging.disable_progress_bar()
    consoles = [] if verbose else [h for h in logging.getLogger().handlers if _is_console(h)]
    quiet = OwnLines()
    for handler in consoles:
        handler.addFilter(quiet)
    try:
        yield
    finally:
        for handler in consoles:
            handler.removeFilter(quiet)
        logging.captureWarnings(False)
        if bars:
            transformers.utils.logging.enable_progress_bar()
        for name in libraries:
            library = logging.getLogger(name)
            library.propagate = False
            for handler in own_handlers[name]:
                library.addHandler(handler)


def _is_console(handler: logging.Handler) -> bool:
    return isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler)


def quiet_progress(trainer) -> None:
    """Replace the trainer's progress bar by one that sends TRL's log dicts to `TRAINER_LOGS` (the bar stays)."""
    from transformers.trainer_callback import ProgressCallback

    class LoggedProgress(ProgressCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if state.is_world_process_zero and logs:
                logging.getLogger(TRAINER_LOGS).info("%s", {k: v for k, v in logs.items() if k != "total_flos"})

    if trainer.pop_callback(ProgressCallback) is not None:
        trainer.add_callback(LoggedProgress)
