"""The co-evolution loop: iteration 0 evaluates the base model, then T iterations of phases.

Each iteration runs the phases the method names (``synthesizer``, ``curriculum``,
``solver``, in that order) and then evaluates the Solver. Every phase ends with a
checkpoint and a line in ``state.json``; rerunning the same command skips what is
finished and says so. Baselines are the same loop with phases switched off:
``base``/``self_consistency`` (iteration 0 only), ``ttrl`` (Solver only), ``r_zero`` and
``ttcs`` (all phases).

This module is the schedule and the resume only: each phase lives in a module of its own
(`PHASES`: `ttcs.synthesizer`, `ttcs.curriculum`, `ttcs.solver`, `ttcs.evaluation`) and
receives the run's `ttcs.context.RunContext`.

Run it through the CLI (``ttcs method=ttrl``) or call `run(cfg, run_dir)`. Under
``accelerate launch --num_processes N`` every process runs this same loop: generation
outside TRL is split over the processes and gathered (`ttcs.dist`), TRL trains one replica
per process, only the main process writes the run directory, and all of them wait for it
at the end of every phase. The main process reads ``state.json`` and hands it to the
others, so every process skips the same finished phases on a rerun.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from omegaconf import DictConfig
from transformers import set_seed

from ttcs import checkpoints, dist
from ttcs.config import plain, trained_iterations, typed, validate_config
from ttcs.context import RunContext
from ttcs.curriculum import curriculum_phase
from ttcs.data import load_data_config
from ttcs.evaluation import eval_phase
from ttcs.grpo import check_generation_plan, check_launch, free_memory
from ttcs.health import CURRICULUM_SIGNALS
from ttcs.keep import choose_iteration
from ttcs.memory import check_run_memory
from ttcs.models import load_tokenizer
from ttcs.monitor import Alarm, Monitor, configured_rules
from ttcs.provenance import provenance
from ttcs.resident import phase_memory, reset_peak
from ttcs.rundir import RunDir, read_jsonl
from ttcs.schema import Config
from ttcs.seeds import seed_for
from ttcs.solver import solver_phase
from ttcs.synthesizer import synthesizer_phase
from ttcs.threads import apply_threads
from ttcs.verify import get_verifier

logger = logging.getLogger(__name__)

# Config keys that may change between a run and its resumption without invalidating it.
RESUME_SAFE_KEYS = (
    "backend",
    "dry_run",
    "health",
    "hydra",
    "keep_checkpoints",
    "run_name",
    "report",
    "threads",
    "verbose",
)

# Each phase a method may list (`ttcs.config.KNOWN_PHASES`), and the evaluation that ends every iteration.
PHASES: dict[str, Callable[[RunContext, int], dict | None]] = {
    "synthesizer": synthesizer_phase,
    "curriculum": curriculum_phase,
    "solver": solver_phase,
    "eval": eval_phase,
}

# The models each phase uses (`RunContext.model`, `RunContext.backend`): the others are let go before it starts.
PHASE_ROLES: dict[str, tuple[str, ...]] = {
    "synthesizer": ("synthesizer", "solver"),
    "curriculum": ("synthesizer", "solver"),
    "solver": ("solver",),
    "eval": ("solver",),
}


def config_fingerprint(cfg: Config) -> dict:
    """The part of the config that must not change when a run is resumed, flattened to key paths."""
    resolved = plain(cfg)
    flat: dict = {}

    def walk(node, prefix):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{prefix}.{k}" if prefix else str(k))
        else:
            flat[prefix] = node

    walk({k: v for k, v in resolved.items() if k not in RESUME_SAFE_KEYS}, "")
    return flat


def table_score(cfg: Config) -> str:
    """The metric tables show for this run: the method's own (maj@k for self-consistency), or the evaluation
    protocol's (``eval.score``: greedy pass@1 on the sets the paper scores greedily) for methods scored by avg@k."""
    if cfg.method.score == "avg_at_k":
        return cfg.eval.score or "avg_at_k"
    return cfg.method.score


def iteration_health(ctx: RunContext, t: int) -> dict:
    """Iteration `t`'s label-free health (`ttcs.health`) for results.json: the Solver phase's signals, with
    ``synthesizer`` (its phase's means over generations) and ``curriculum`` (the diversity of its parsed variants)."""
    health = dict(ctx.rundir.phase_info(f"iter_{t:02d}/solver").get("health") or {})
    synthesizer = ctx.rundir.phase_info(f"iter_{t:02d}/synthesizer").get("health")
    if synthesizer:
        health["synthesizer"] = synthesizer
    curriculum = ctx.rundir.phase_info(f"iter_{t:02d}/curriculum")
    if "distinct_share" in curriculum:
        health["curriculum"] = {key: curriculum.get(key) for key in CURRICULUM_SIGNALS}
    return health


def keep_choice(ctx: RunContext, evaluated: list[int], alarms: list[Alarm]) -> dict | None:
    """The iteration to keep (`ttcs.keep.choose_iteration`) from the evaluation files of the evaluated iterations
    (their answers only) and the iterations whose phases raised an alarm."""
    evals = {t: read_jsonl(ctx.rundir.eval_path(t)) for t in evaluated}
    return choose_iteration(evals, ctx.verifier, alarmed={a.iteration for a in alarms})


def build_results(ctx: RunContext, monitor: Monitor | None = None, stopped: dict | None = None) -> dict:
    """results.json, rebuilt from state.json (and the run directory's files) so it always matches what finished:
    with the monitor's ``alarms``, the label-free ``keep`` choice and, when ``health.on_alarm=stop`` ended the run,
    ``stopped``."""
    cfg = ctx.cfg
    entries = []
    for t in range(0, trained_iterations(cfg) + 1):
        info = ctx.rundir.phase_info(f"iter_{t:02d}/eval")
        if not info:
            break
        entry = {"iteration": t, "eval": info["eval"]}
        solver = ctx.rundir.phase_info(f"iter_{t:02d}/solver")
        if "pseudo_label_accuracy" in solver:
            entry["pseudo_label_accuracy"] = solver["pseudo_label_accuracy"]
        health = iteration_health(ctx, t)
        if health:
            entry["health"] = health
        entries.append(entry)
    alarms = monitor.alarms if monitor is not None else []
    results = {
        "method": cfg.method.name,
        "score": table_score(cfg),
        "model": cfg.model.name,
        "data": cfg.data.name,
        "uses_labels": cfg.method.uses_labels,
        "seed": cfg.seed,
        "run_name": cfg.run_name,
        "versions": provenance(),
        "iterations": entries,
        "alarms": [a.to_dict() for a in alarms],
        "keep": keep_choice(ctx, [e["iteration"] for e in entries], alarms) if len(entries) > 1 else None,
    }
    if stopped is not None:
        results["stopped"] = stopped
    return results


def run(
    cfg: Config | DictConfig, run_dir: str | Path, *, monitor: Callable[[str], AbstractContextManager] | None = None
) -> dict:
    """Run (or resume) the method of `cfg` in `run_dir`; returns the results dict (also written to results.json).

    `monitor(phase_key)`, when given, is a context manager entered around every phase
    (benchmarks use it to time phases and sample memory).
    """
    if not isinstance(cfg, Config):  # a composed node (a test's, a library caller's): checked, then typed
        validate_config(cfg)  # on every rank, before any collective: each refuses a bad config alike and stops
        cfg = typed(cfg)
    rundir = open_rundir(run_dir, config_fingerprint(cfg))
    check_generation_plan(cfg)
    check_launch(cfg)
    apply_threads(cfg.threads, processes=dist.num_processes())
    set_seed(seed_for(cfg.seed, "global"))
    phases = list(cfg.method.phases)
    problems = load_data_config(cfg.data)
    logger.info(
        "%d test problems from %s; method %s; run directory %s%s",
        len(problems),
        cfg.data.name,
        cfg.method.name,
        rundir.root,
        _processes_note(),
    )
    ctx = RunContext(cfg, rundir, problems, get_verifier(cfg.data.verifier))
    with dist.local_main_first():  # the embedded model is converted once per machine, then read by the others
        ctx.tokenizer = load_tokenizer(cfg.model.path)
    check_run_memory(cfg, uses_engine=ctx.uses_engine())
    if ctx.uses_engine():
        ctx.start_engine()  # before any trainer: vLLM needs its share of the GPU free when it starts
    health_monitor = start_monitor(rundir, configured_rules(cfg.health.rules))
    on_alarm = cfg.health.on_alarm
    stopped = None
    for t in range(0, trained_iterations(cfg) + 1):
        for name in (phases if t > 0 else []) + ["eval"]:
            key = f"iter_{t:02d}/{name}"
            if rundir.is_done(key):
                logger.info("resume: %s already finished, skipping it", key)
                continue
            stopped = stop_reason(health_monitor, rundir, on_alarm)
            if stopped is not None:
                break
            logger.info("== %s ==", key)
            rundir.begin_phase(key)  # the main process cuts back what a killed run of this phase appended ...
            dist.barrier()  # ... before any process reads the run directory in it
            ctx.keep_models(PHASE_ROLES[name])  # e.g. the Synthesizer, which the Solver phase does not use
            free_memory()
            peak_reset = reset_peak()  # the phase's peak RSS, not the run's
            with monitor(key) if monitor else nullcontext():
                t0, tokens = time.time(), ctx.generated_tokens()
                info = {"eval": PHASES[name](ctx, t)} if name == "eval" else (PHASES[name](ctx, t) or {})
                free_memory()  # the phase's trainer, optimizer and reference model are unreachable now
            info.update(phase_memory(peak_reset))
            logger.info("%s: peak %s GB resident, %s GB after it", key, info["peak_rss_gb"], info["rss_end_gb"])
            # The main process's record (its timings, tokens and the log sizes it measured) on every rank, so all
            # hold one state.
            rundir.mark_done(
                key,
                dist.broadcast(
                    rundir.phase_record(
                        seconds=round(time.time() - t0, 1), generated_tokens=ctx.generated_tokens() - tokens, **info
                    )
                ),
            )
            rundir.write_json(rundir.results_path, keep_checkpoints(ctx, build_results(ctx, health_monitor)))
            dist.barrier()  # the next phase reads what the main process wrote in this one
        if stopped is not None:
            break
    results = keep_checkpoints(ctx, build_results(ctx, health_monitor, stopped), finished=stopped is None)
    rundir.write_json(rundir.results_path, results)
    return results


def keep_checkpoints(ctx: RunContext, results: dict, *, finished: bool = False) -> dict:
    """Delete the checkpoints ``keep_checkpoints`` does not keep (`ttcs.checkpoints.prune`: the main process, after
    the phase is in state.json) and name where the kept iteration's Solver is (``keep.checkpoint``); `finished`: every
    iteration has run."""
    keep = results.get("keep")
    iteration = keep["iteration"] if keep else None
    checkpoints.prune(ctx.rundir, ctx.cfg.keep_checkpoints, iteration, finished=finished)
    if keep:
        keep["checkpoint"] = checkpoints.kept_checkpoint(ctx.rundir, ctx.cfg.model.path, iteration)
        if keep["checkpoint"] is None and ctx.cfg.keep_checkpoints == "kept" and ctx.rundir.writer:
            logger.warning(
                "the iteration to keep is now %d, whose Solver checkpoint is no longer on disk (keep_checkpoints=%s)",
                iteration,
                ctx.cfg.keep_checkpoints,
            )
    return results


def start_monitor(rundir: RunDir, rules) -> Monitor:
    """The health monitor (`ttcs.monitor`) with `rules` on the main process: fed every metrics row as it is written,
    after the rows of the phases an interrupted run finished (replayed, their alarms kept but not announced again;
    the rows of a phase it did not finish are cut back and written again)."""
    monitor = Monitor(rules, announce=lambda alarm: logger.warning("%s", alarm.line()))
    if rundir.writer:
        monitor.replay(rundir.finished_metrics())
        if monitor.alarms:
            logger.warning("resume: this run raised %d health alarm(s) before", len(monitor.alarms))
        rundir.metric_listeners.append(monitor.observe)
    return monitor


def stop_reason(monitor: Monitor, rundir: RunDir, on_alarm: str) -> dict | None:
    """With ``health.on_alarm=stop`` and an alarm raised (the main process's monitor decides for every process), why
    the run stops before its next phase; else None."""
    if on_alarm != "stop":
        return None
    alarms = dist.broadcast([a.to_dict() for a in monitor.alarms] if rundir.writer else None)
    if not alarms:
        return None
    finished = list(rundir.state["phases"])
    stopped = {
        "after": finished[-1] if finished else None,
        "reason": "; ".join(sorted({a["rule"] for a in alarms})),
        "alarms": len(alarms),
        "resume": "rerun the same command with health.on_alarm=warn to go on",
    }
    logger.warning(
        "health.on_alarm=stop: stopping after %s (alarm: %s); %s",
        stopped["after"],
        stopped["reason"],
        stopped["resume"],
    )
    return stopped


def open_rundir(run_dir: str | Path, fingerprint: dict) -> RunDir:
    """The run directory, checked against the config; with several processes, the main process's view of it.

    The main process reads ``state.json`` and refuses a different config (every process
    then raises the same error); the others receive its state and never write.
    """
    rundir = RunDir(run_dir, writer=dist.is_main())

    def check() -> dict:
        rundir.check_config(fingerprint, RESUME_SAFE_KEYS)
        return rundir.state

    rundir.state = dist.on_main(check)
    return rundir


def _processes_note() -> str:
    n = dist.num_processes()
    return "" if n == 1 else f"; {n} processes, this is process {dist.rank()}"
