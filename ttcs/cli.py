"""The `ttcs` command: check everything, then run one method (Hydra main).

Examples::

    ttcs                                   # the default job on the embedded model and built-in set
    ttcs dry_run=true experiment=paper_aime24_qwen1.5b   # check a command and print its plan; writes nothing
    ttcs method=base data=aime24 data.path=/data/aime24.parquet
    ttcs -m method=base,self_consistency data=arith,amc23    # a sweep; then: ttcs-table outputs/sweep
    accelerate launch --config_file launch/ddp.yaml -m ttcs.cli ...   # one process per GPU

Before Hydra creates a run directory, `main` composes the command's config (every job of a sweep) and runs the
preflight (`ttcs.preflight`): unknown keys and options, types, rules, data, model, backend, launch, context, memory,
disk and resume. A mistake ends in one line on stderr and exit status 1, and nothing is written; with
``dry_run=true`` the plan is printed and nothing runs. A mistake found later (where a run directory exists, also in
its ``run.log``) ends the same way; each is a `ttcs.errors.UserError`. Any other exception is a bug and keeps its
traceback.

Under ``accelerate launch`` each process runs Hydra on its own; they all take the main process's run directory (a
time-stamped ``hydra.run.dir`` could differ by a second between them), only the main process writes ``run.log``,
``report.md`` and the table, and each other process logs to ``run.rank<r>.log`` beside it.
"""

from __future__ import annotations

import itertools
import logging
import re
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from ttcs import config
from ttcs.errors import ConfigError, UserError, one_line

logger = logging.getLogger("ttcs")
# The repository's conf/ in a source checkout, the copy inside the package in an installed wheel.
CONFIG_DIR = str(config.CONFIG_DIR)
# Hydra's own flags: with any of these the command is Hydra's (help, printing the config, shell completion, another
# config tree), and Hydra answers it as it is.
_HYDRA_FLAGS = (
    "-h",
    "--help",
    "--hydra-help",
    "-c",
    "--cfg",
    "--info",
    "--version",
    "-sc",
    "--shell-completion",
    "-cd",
    "--config-dir",
    "-cp",
    "--config-path",
    "-cn",
    "--config-name",
    "-p",
    "--package",
    "--resolve",
    "--experimental-rerun",
)
_MULTIRUN = ("-m", "--multirun")


def main() -> None:
    """The console script: the preflight of every job of the command, then Hydra runs it (or, dry, the plans)."""
    argv = sys.argv[1:]
    if not any(a.split("=", 1)[0] in _HYDRA_FLAGS for a in argv):
        plans = _checked(argv)
        if plans and plans[0].cfg.dry_run:
            for plan in plans:
                print("\n".join(plan.lines()) + "\n")
            from ttcs.preflight import SHORT_HERE

            short = sum(status == SHORT_HERE for plan in plans for _, status, _ in plan.checks)
            warning = f"; {short} check(s) would stop it on this machine (short here)" if short else ""
            print(f"dry run: {len(plans)} run(s) checked; nothing was written{warning}")
            return
    hydra_main()


def _checked(argv: list[str]):
    """The preflight's plan for each job the command line names; exits with one line on the first mistake."""
    from ttcs.preflight import preflight

    try:
        jobs = compose_jobs(argv)
        distinct_run_dirs(jobs)
        return [preflight(cfg, run_dir) for cfg, run_dir in jobs]
    except UserError as err:
        raise SystemExit(f"ttcs: {one_line(err)}") from None


def compose_jobs(argv: list[str]) -> list[tuple[DictConfig, Path]]:
    """Each job's composed config and run directory, as Hydra will compose them (a sweep's every combination)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.utils import setup_globals

    multirun = any(a in _MULTIRUN for a in argv)
    overrides = [a for a in argv if a not in _MULTIRUN]
    setup_globals()  # Hydra's resolvers (${now:...}) for run directories
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except Exception as err:  # Hydra's OverrideParseException; its base class is not exported
        raise ConfigError(f"cannot parse the command line: {one_line(err)}") from None
    for override in parsed:
        _strict_flag(override)
    choices = [
        [f"{o.get_key_element()}={value}" for value in o.sweep_string_iterator()]
        if multirun and o.is_sweep_override()
        else [str(o.input_line)]
        for o in parsed
    ]
    jobs = []
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        for combination in itertools.product(*choices):
            cfg = _compose(compose, list(combination))
            run = Path(cfg.hydra.sweep.dir) / str(cfg.hydra.sweep.subdir) if multirun else Path(cfg.hydra.run.dir)
            jobs.append((cfg, run))
    return jobs


def distinct_run_dirs(jobs: list[tuple[DictConfig, Path]]) -> None:
    """Refuse a sweep two of whose runs would write one run directory (the second would resume, or be refused by,
    the first): ``run_name`` must tell them apart."""
    seen: dict[Path, DictConfig] = {}
    for cfg, run_dir in jobs:
        first = seen.setdefault(Path(run_dir).resolve(), cfg)
        if first is not cfg:
            a, b = (" ".join(c.hydra.overrides.task) for c in (first, cfg))
            raise ConfigError(
                f"run_name={cfg.run_name}: the runs [{a}] and [{b}] of this sweep would share the run directory "
                f"{run_dir}; put the key that differs in run_name (by default ${{method.name}}-${{model.name}}-${{data.name}}-seed${{seed}})"
            )


# What Hydra reads as true or false; it would read any other integer (`copy_penalty=2`) as true.
_FLAG_WORDS = {"true", "false", "yes", "no", "on", "off", "1", "0"}


def _strict_flag(override) -> None:
    """Refuse a value Hydra would quietly turn into true for a true-or-false key."""
    from ttcs.schema import key_type

    if override.is_delete() or key_type(override.key_or_group) is not bool:
        return
    values = list(override.sweep_string_iterator()) if override.is_sweep_override() else [override.value()]
    for value in values:
        if str(value).lower() not in _FLAG_WORDS:
            raise ConfigError(f"{override.key_or_group}={config.shown(value)}: must be true or false")


def _compose(compose, overrides: list[str]) -> DictConfig:
    """Hydra's composition of one job, its errors as one `ConfigError` line naming the key, value and what is allowed."""
    from hydra.errors import ConfigCompositionException, MissingConfigException

    try:
        return compose("config", overrides=overrides, return_hydra_config=True)
    except MissingConfigException as err:
        return _missing_option(err, overrides)
    except ConfigCompositionException as err:
        key = str(getattr(err.__cause__, "full_key", "") or "")
        if key.startswith("hydra.") and "not in" in str(err.__cause__):
            raise ConfigError(_unknown_hydra_key(compose, key, overrides)) from None
        raise ConfigError(composition_line(err, overrides)) from None


def _unknown_hydra_key(compose, key: str, overrides: list[str]) -> str:
    """Hydra's own keys (hydra.run.dir, ...) are Hydra's schema, not ttcs's: the keys beside the misspelt one are read
    from a composition without it."""
    import difflib

    given = next((o for o in overrides if _override_key(o) == key), key)
    rest = [o for o in overrides if o != given]
    parent, _, name = key.rpartition(".")
    node = OmegaConf.select(compose("config", overrides=rest, return_hydra_config=True), parent)
    declared = [str(k) for k in node] if isinstance(node, DictConfig) else []
    near = difflib.get_close_matches(name, declared, n=1)
    hint = f" (did you mean {parent}.{near[0]}?)" if near else ""
    return f"{given}: no such key{hint}; {parent} has: {', '.join(declared)}"


def _override_key(override: str) -> str:
    return override.lstrip("+~").split("=", 1)[0]


def _missing_option(err, overrides: list[str]):
    group, _, option = str(err.missing_cfg_file).rpartition("/")
    given = next((o for o in overrides if _override_key(o) == group), f"{group}={option}")
    options = ", ".join(err.options or []) or "none"
    raise ConfigError(f"{given}: no such option; the options of {group}: {options}")


def composition_line(err: Exception, overrides: list[str]) -> str:
    """One line for Hydra's refusal of an override: the key, the value, what is allowed."""
    from omegaconf.errors import ConfigAttributeError, ConfigKeyError, ValidationError

    cause = err.__cause__
    appended = re.search(r"An item is already at '([^']+)'", str(err))
    if appended:  # `+key=value` for a key the schema declares: Hydra's hint (`++`) would bypass nothing useful
        given = next((o for o in overrides if _override_key(o) == appended[1]), appended[1])
        return f"{given}: {appended[1]} is a key of the config already: set it without the +"
    key = getattr(cause, "full_key", None)
    given = next((o for o in overrides if key and _override_key(o) == key), key or "")
    if isinstance(cause, ConfigAttributeError | ConfigKeyError) and key and not key.startswith("hydra."):
        below = next((o for o in overrides if _override_key(o).startswith(f"{key}.")), None)
        if below is not None:  # `health.rules.new.threshold=1` under a mapping without the entry `new`
            return config.unknown_key(_override_key(below), below.split("=", 1)[1] if "=" in below else None)
        value = given.split("=", 1)[1] if "=" in given else None
        return config.unknown_key(key, value)
    if isinstance(cause, ValidationError) and key:
        return f"{given}: {_type_rule(cause)}"
    return one_line(err) + (f": {one_line(cause)}" if cause else "")


def _type_rule(cause) -> str:
    text = str(cause).splitlines()[0]
    for word, rule in (
        ("is not Optional", "must not be null"),
        ("Integer", "must be an integer"),
        ("bool", "must be true or false"),
        ("Float", "must be a number"),
        ("ListConfig", "must be a list, e.g. [0.25,0.75]"),
        ("DictConfig", "must be a mapping, e.g. {a: 1}"),
        ("str", "must be a text"),
    ):
        if word in text:
            return rule
    return text


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="config")
def hydra_main(cfg: DictConfig) -> None:
    """Hydra's task function: the run, its user errors as one line (also in run.log)."""
    from ttcs.terminal import quiet_terminal

    try:
        # Cheap, before the heavy imports below (ttcs.dist imports torch); under accelerate launch every process
        # checks the same config and exits alike, before any collective it could hang in.
        config.validate_config(cfg)
        with quiet_terminal(verbose=bool(cfg.verbose)):
            _run(config.typed(cfg))
    except UserError as err:
        logger.error("%s", one_line(err))  # run.log; the terminal gets the line below
        raise SystemExit(f"ttcs: {one_line(err)}") from None


def _run(cfg) -> None:
    # Imported here: they load torch, which the config check must not wait for.
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
