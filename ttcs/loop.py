"""The co-evolution loop: iteration 0 evaluates the base model, then T iterations of phases.

Each iteration runs the phases the method names (``synthesizer``, ``curriculum``,
``solver``, in that order) and then evaluates the Solver. Every phase ends with a
checkpoint and a line in ``state.json``; rerunning the same command skips what is
finished and says so. Baselines are the same loop with phases switched off:
``base``/``self_consistency`` (iteration 0 only), ``ttrl`` (Solver only), ``r_zero`` and
``ttcs`` (all phases).

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
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from transformers import set_seed

from ttcs import dist
from ttcs.config import KNOWN_PHASES, validate_config
from ttcs.data import load_data_config
from ttcs.engine import get_rollout_func
from ttcs.evaluation import evaluate
from ttcs.generation import VLLMBackend, backend_name, make_backend, make_engine
from ttcs.grpo import check_generation_plan, check_launch, free_memory
from ttcs.memory import check_run_memory
from ttcs.models import load_model, load_tokenizer, resolve_model_path
from ttcs.prompts import solver_prompt
from ttcs.provenance import provenance
from ttcs.rundir import RunDir
from ttcs.seeds import seed_for
from ttcs.threads import apply_threads
from ttcs.verify import get_verifier
from ttcs.voting import vote_answer

logger = logging.getLogger(__name__)

# Config keys that may change between a run and its resumption without invalidating it.
RESUME_SAFE_KEYS = ("backend", "hydra", "run_name", "report", "threads")


@dataclass
class RunContext:
    """What every phase needs: the config, the run directory, the test problems and the verifier.

    With ``backend=vllm`` it also holds the process's one vLLM engine (`ttcs.engine`), built
    once from the base model; every generation of the run goes through it, each role's
    weights loaded in place.
    """

    cfg: DictConfig
    rundir: RunDir
    problems: list
    verifier: object
    tokenizer: object = None
    engine: object = None
    _models: dict = field(default_factory=dict)
    _backends: dict = field(default_factory=dict)

    def model_path(self, role: str, iteration: int) -> str:
        """Where the `role` model of the end of `iteration` lives (the base model before any training)."""
        for t in range(iteration, 0, -1):
            ckpt = self.rundir.checkpoint_dir(role, t)
            if self.rundir.is_done(f"iter_{t:02d}/{role}") and ckpt.is_dir():
                return str(ckpt)
        return self.cfg.model.path

    def model(self, role: str, iteration: int):
        """The `role` model as of `iteration`, loaded once and kept while it stays current."""
        path = self.model_path(role, iteration)
        cached = self._models.get(role)
        if cached is None or cached[0] != path:
            self._models[role] = (path, load_model(path, dtype=self.cfg.model.dtype, device=self.cfg.get("device")))
        return self._models[role][1]

    def set_model(self, role: str, path: str, model) -> None:
        """Keep a trained model for the hf backend, which samples that very object.

        With the engine the weights are on disk and the engine loads them, so the model is let
        go: it would hold its fp32 weights on the GPU through the next phase.
        """
        if self.uses_engine():
            self._models.pop(role, None)
        else:
            self._models[role] = (path, model)

    def forget_model(self, role: str) -> None:
        """Let go of the `role` model: its next use loads it from disk."""
        self._models.pop(role, None)
        self._backends.pop(role, None)

    @property
    def solver_prefill(self) -> str:
        """Text that starts every Solver answer (``train.solver.prefill``); completions continue it."""
        return self.cfg.train.solver.get("prefill") or ""

    def vote_answer(self, completion: str) -> str | None:
        """The answer a Solver completion (which continues the prefill) gives a vote, under ``train.answer_policy``."""
        return vote_answer(self.solver_prefill + completion, self.verifier, self.cfg.train.answer_policy)

    def prompts(self, problems) -> list[str]:
        """The Solver's prompts, ending with the Solver prefill: the same for evaluation, training and scoring."""
        m = self.cfg.model
        return [solver_prompt(self.tokenizer, p, kind=self.cfg.data.prompt, chat_template=m.chat_template,
                              system_prompt=m.get("system_prompt")) + self.solver_prefill for p in problems]

    def uses_engine(self) -> bool:
        return backend_name(self.cfg.backend) == "vllm"

    def start_engine(self):
        """The process's one vLLM engine, built from the base model on first use and never again."""
        if self.engine is None:
            path, _ = resolve_model_path(self.cfg.model.path)
            self.engine = make_engine(self.cfg.backend, path, seed=seed_for(self.cfg.seed, "engine"))
        return self.engine

    def backend(self, role: str, iteration: int):
        """The generation backend over the `role` model of `iteration`.

        vLLM: a view of the one engine that loads this model's weights before it samples.
        hf: the model object itself, kept while it stays current.
        Either way every call is split over the processes of a multi-process run, which must
        all make it together (`ttcs.dist.map_sharded`).
        """
        path = self.model_path(role, iteration)
        if self.uses_engine():
            weights = resolve_model_path(path)[0] if path == self.cfg.model.path else path
            return VLLMBackend(self.start_engine(), weights, shard=True)
        cached = self._backends.get(role)
        if cached is not None and cached[0] == path:
            return cached[1]
        backend = make_backend(self.cfg.backend, model=self.model(role, iteration), tokenizer=self.tokenizer,
                               model_path=path, shard=True)
        self._backends[role] = (path, backend)
        return backend

    @contextmanager
    def training(self, role: str):
        """Around one TRL trainer's life; yields its ``rollout_func`` (None: TRL generates with transformers).

        With the engine: it sleeps while the trainer is built and between its generations,
        and it generates TRL's rollouts with the `role` policy's current weights.
        """
        if not self.uses_engine():
            yield None
            return
        engine = self.start_engine()
        with engine.training():
            yield get_rollout_func(engine, role)


def config_fingerprint(cfg: DictConfig) -> dict:
    """The part of the config that must not change when a run is resumed, flattened to key paths."""
    plain = OmegaConf.to_container(cfg, resolve=True)
    flat: dict = {}

    def walk(node, prefix):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{prefix}.{k}" if prefix else str(k))
        else:
            flat[prefix] = node

    walk({k: v for k, v in plain.items() if k not in RESUME_SAFE_KEYS}, "")
    return flat


def eval_phase(ctx: RunContext, iteration: int) -> dict:
    """Evaluate the Solver of `iteration` on the test problems; write eval/iter_XX.jsonl."""
    e = ctx.cfg.eval
    t0 = time.time()
    summary, results = evaluate(ctx.problems, ctx.prompts(ctx.problems), ctx.backend("solver", iteration),
                                ctx.verifier, k=e.k, temperature=e.temperature, top_p=e.top_p,
                                max_new_tokens=e.max_new_tokens, greedy=e.greedy, seed=seed_for(ctx.cfg.seed, "eval", iteration),
                                prefix=ctx.solver_prefill)
    ctx.rundir.write_jsonl(ctx.rundir.eval_path(iteration), [r.as_dict() for r in results])
    summary["seconds"] = round(time.time() - t0, 1)
    ctx.rundir.log_metrics("eval", iteration=iteration, **summary)
    logger.info("iteration %d eval: avg@%d %.1f ± %.1f, maj@%d %.1f, greedy %s (%.0fs)", iteration, summary["k"],
                summary["avg_at_k"], summary["avg_at_k_stderr"], summary["k"], summary["maj_at_k"],
                "n/a" if summary["greedy"] is None else f"{summary['greedy']:.1f}", summary["seconds"])
    return summary


def _phase_runner(name: str):
    if name == "solver":
        from ttcs.solver import solver_phase
        return solver_phase
    if name == "synthesizer":
        from ttcs.synthesizer import synthesizer_phase
        return synthesizer_phase
    if name == "curriculum":
        from ttcs.synthesizer import curriculum_phase
        return curriculum_phase
    raise ValueError(f"unknown phase {name!r}; known phases: {', '.join(KNOWN_PHASES)}")


def table_score(cfg: DictConfig) -> str:
    """The metric tables show for this run: the method's own (maj@k for self-consistency), or the evaluation
    protocol's (``eval.score``: greedy pass@1 on the sets the paper scores greedily) for methods scored by avg@k."""
    if cfg.method.score == "avg_at_k":
        return cfg.eval.get("score") or "avg_at_k"
    return cfg.method.score


def build_results(ctx: RunContext) -> dict:
    """results.json, rebuilt from state.json so it always matches what finished."""
    cfg = ctx.cfg
    iterations = []
    for t in range(0, cfg.method.iterations + 1):
        info = ctx.rundir.phase_info(f"iter_{t:02d}/eval")
        if not info:
            break
        entry = {"iteration": t, "eval": info["eval"]}
        solver = ctx.rundir.phase_info(f"iter_{t:02d}/solver")
        if "pseudo_label_accuracy" in solver:
            entry["pseudo_label_accuracy"] = solver["pseudo_label_accuracy"]
        iterations.append(entry)
    return {"method": cfg.method.name, "score": table_score(cfg), "model": cfg.model.name, "data": cfg.data.name,
            "uses_labels": bool(cfg.method.get("uses_labels", False)), "seed": cfg.seed,
            "run_name": cfg.get("run_name"), "versions": provenance(),
            "iterations": iterations}


def run(cfg: DictConfig, run_dir: str | Path, *, monitor: Callable[[str], AbstractContextManager] | None = None) -> dict:
    """Run (or resume) the method of `cfg` in `run_dir`; returns the results dict (also written to results.json).

    `monitor(phase_key)`, when given, is a context manager entered around every phase
    (benchmarks use it to time phases and sample memory).
    """
    validate_config(cfg)  # on every rank, before any collective: each refuses a bad config alike and stops
    rundir = open_rundir(run_dir, config_fingerprint(cfg))
    check_generation_plan(cfg)
    check_launch(cfg)
    apply_threads(cfg.get("threads", "auto"), processes=dist.num_processes())
    set_seed(seed_for(cfg.seed, "global"))
    phases = list(cfg.method.phases)
    problems = load_data_config(cfg.data)
    logger.info("%d test problems from %s; method %s; run directory %s%s", len(problems), cfg.data.name,
                cfg.method.name, rundir.root, _processes_note())
    ctx = RunContext(cfg, rundir, problems, get_verifier(cfg.data.verifier))
    with dist.local_main_first():  # the embedded model is converted once per machine, then read by the others
        ctx.tokenizer = load_tokenizer(cfg.model.path)
    check_run_memory(cfg, uses_engine=ctx.uses_engine())
    if ctx.uses_engine():
        ctx.start_engine()  # before any trainer: vLLM needs its share of the GPU free when it starts
    for t in range(0, cfg.method.iterations + 1):
        for name in (phases if t > 0 else []) + ["eval"]:
            key = f"iter_{t:02d}/{name}"
            if rundir.is_done(key):
                logger.info("resume: %s already finished, skipping it", key)
                continue
            logger.info("== %s ==", key)
            rundir.begin_phase(key)  # the main process cuts back what a killed run of this phase appended ...
            dist.barrier()  # ... before any process reads the run directory in it
            with monitor(key) if monitor else nullcontext():
                t0 = time.time()
                info = {"eval": eval_phase(ctx, t)} if name == "eval" else (_phase_runner(name)(ctx, t) or {})
                free_memory()  # the phase's trainer, optimizer and reference model are unreachable now
            # The main process's record (its timings, the log sizes it measured) on every rank, so all hold one state.
            rundir.mark_done(key, dist.broadcast(rundir.phase_record(seconds=round(time.time() - t0, 1), **info)))
            rundir.write_json(rundir.results_path, build_results(ctx))
            dist.barrier()  # the next phase reads what the main process wrote in this one
    results = build_results(ctx)
    rundir.write_json(rundir.results_path, results)
    return results


def open_rundir(run_dir: str | Path, fingerprint: dict) -> RunDir:
    """The run directory, checked against the config; with several processes, the main process's view of it.

    The main process reads ``state.json`` and refuses a different config (every process
    then raises the same error); the others receive its state and never write.
    """
    rundir = RunDir(run_dir, writer=dist.is_main())

    def check() -> dict:
        rundir.check_config(fingerprint)
        return rundir.state

    rundir.state = dist.on_main(check)
    return rundir


def _processes_note() -> str:
    n = dist.num_processes()
    return "" if n == 1 else f"; {n} processes, this is process {dist.rank()}"
