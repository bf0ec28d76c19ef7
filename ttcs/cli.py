"""The `ttcs` command: run one method (Hydra main).

Examples::

    ttcs                                   # the default job on the embedded model and built-in set
    ttcs method=base data=aime24 data.path=/data/aime24.parquet
    ttcs -m method=base,self_consistency data=arith,amc23    # a sweep; then: ttcs-table outputs/sweep
    accelerate launch --config_file launch/ddp.yaml -m ttcs.cli ...   # one process per GPU

Under ``accelerate launch`` each process runs Hydra on its own; they all take the main
process's run directory (a time-stamped ``hydra.run.dir`` could differ by a second between
them), only the main process writes ``run.log``, ``report.md`` and the table, and each other
process logs to ``run.rank<r>.log`` beside it.

A mistake on the command line or in its inputs (an impossible config value, a data file that
does not parse, a model path or hub id that cannot be loaded, a resumed run with another config)
ends in one line on stderr and exit status 1, not a traceback: each is one of `USER_ERRORS`.
Any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from ttcs import config
from ttcs.data import DataError

logger = logging.getLogger("ttcs")
# The repository's conf/ in a source checkout, the copy inside the package in an installed wheel.
CONFIG_DIR = str(config.CONFIG_DIR)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="config")
def main(cfg: DictConfig) -> None:
    try:
        # Before the heavy imports below (ttcs.dist imports torch): a bad value fails in a second. Under accelerate
        # launch every process checks the same config and exits alike, before any collective it could hang in.
        config.validate_config(cfg)
    except config.ConfigError as err:
        raise SystemExit(f"ttcs: invalid config: {err}") from None
    try:
        _run(cfg)
    except user_errors() as err:
        raise SystemExit(f"ttcs: {one_line(err)}") from None


def user_errors() -> tuple[type[Exception], ...]:
    """The exceptions a user causes, each raised with a message that says what to change.

    Imported here, not at the top: ttcs.models, ttcs.memory and ttcs.rundir import torch or
    transformers, which the config check above must not wait for.
    """
    from ttcs.memory import MemoryPlanError
    from ttcs.models import ModelLoadError
    from ttcs.rundir import ConfigMismatchError
    from ttcs.verify import UnknownVerifierError

    return config.ConfigError, DataError, ModelLoadError, ConfigMismatchError, MemoryPlanError, UnknownVerifierError


def one_line(err: BaseException) -> str:
    """The error's message on one line (a KeyError's str() is its repr, quotes included)."""
    text = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
    return " ".join(str(text).split())


def _run(cfg: DictConfig) -> None:
    # Imported here, like user_errors' imports: they load torch, which main()'s config check must not wait for.
    from ttcs import dist
    from ttcs.loop import run
    from ttcs.report import format_results_table, write_report

    run_dir = shared_run_dir(HydraConfig.get().runtime.output_dir)
    results = run(cfg, run_dir)
    if not dist.is_main():
        return
    if cfg.report.enabled:
        write_report(run_dir)
    table = format_results_table(results)
    print(f"\n{table}\n\nrun directory: {run_dir}")


def shared_run_dir(own: str) -> str:
    """The main process's run directory, on every process; the other processes log to their own file in it."""
    from ttcs import dist  # imports torch: see _run
    from ttcs.rundir import RunLayout

    run_dir = dist.broadcast(own)
    if dist.is_main():
        return run_dir
    if Path(run_dir).resolve() != Path(own).resolve():
        logger.warning(
            "process %d: Hydra chose %s, the main process %s; using the main process's (set a fixed "
            "hydra.run.dir to avoid the stray directory)",
            dist.rank(),
            own,
            run_dir,
        )
    _log_to_own_file(RunLayout(run_dir).rank_log_path(dist.rank()))
    return run_dir


def _log_to_own_file(path: Path) -> None:
    """Move the root logger's file handlers (Hydra's run.log) to `path`, same format and level."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, logging.FileHandler)]:
        own = logging.FileHandler(path)
        own.setFormatter(handler.formatter)
        own.setLevel(handler.level)
        root.removeHandler(handler)
        handler.close()
        root.addHandler(own)


if __name__ == "__main__":
    main()
