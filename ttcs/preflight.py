"""The preflight: every check that can fail before the first phase, run before anything is written.

`preflight(cfg, run_dir)` checks, in order: the config (unknown keys, types, each key's rule), the keys handed to
TRL (against `GRPOConfig`'s own fields), the backend (vLLM installed where it is asked for, a GPU where one is
named), the launch (processes and devices), the data (read and parsed), the model (a model directory, a GGUF, the
embedded model, a hub id reachable), the longest prompt plus its new tokens within the model's context, the memory
plan, the free disk for the checkpoints the run will hold at once (``keep_checkpoints``), and whether an existing run directory can be resumed
with this config. A failure raises a `ttcs.errors.UserError` of one line; what cannot be checked here (the hub when
offline, a model not yet downloaded or converted) is reported as not checked, never as failed. Nothing is written:
no run directory, no ``.hydra/``, no ``state.json``, no model cache.

`Plan` is what ``ttcs dry_run=true`` prints: the method, its phases, optimizer steps, generations and tokens per
step, the memory plan, the checkpoints and the run directory.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import DictConfig

from ttcs.config import trained_iterations, typed, validate_config
from ttcs.errors import ConfigError, UserError
from ttcs.schema import Config

logger = logging.getLogger(__name__)

OK, NOT_CHECKED = "ok", "not checked"
# A dry run's verdict on a check that the run itself would fail on this machine (free disk), which may not be the
# machine that runs it.
SHORT_HERE = "short here"


@dataclass
class Plan:
    """What a run would do, and what the preflight checked; `lines` renders it for the terminal."""

    cfg: Config
    run_dir: Path
    checks: list[tuple[str, str, str]] = field(default_factory=list)  # (what, ok | not checked, detail)
    facts: dict = field(default_factory=dict)  # what later checks and the plan read: problems, model config, ...

    def note(self, what: str, status: str, detail: str) -> None:
        self.checks.append((what, status, detail))

    def lines(self) -> list[str]:
        return plan_lines(self)


def preflight(cfg: DictConfig | Config, run_dir: str | Path) -> Plan:
    """Run every check on `cfg` for a run in `run_dir`; raise a `UserError` (one line) on the first failure."""
    if not isinstance(cfg, Config):
        validate_config(cfg)
        cfg = typed(cfg)
    plan = Plan(cfg, Path(run_dir))
    plan.note("config", OK, "every key declared, typed and within its rule")
    for check in (
        check_trl,
        check_backend,
        check_launch_plan,
        check_data,
        check_model,
        check_context,
        check_memory_plan,
        check_disk,
        check_resume,
    ):
        check(plan)
    return plan


# ----------------------------------------------------------------------------- the checks, in order


def check_trl(plan: Plan) -> None:
    """Every name ttcs hands to TRL's GRPOConfig is one of its fields (for the roles the method trains)."""
    from ttcs.grpo import check_generation_plan, check_launch, check_trl_keys

    for role in trained_roles(plan.cfg):
        check_trl_keys(getattr(plan.cfg.train, role), f"train.{role}")
    check_generation_plan(plan.cfg)
    check_launch(plan.cfg)
    plan.note("TRL keys", OK, "GRPOConfig has every field handed to it")


def check_backend(plan: Plan) -> None:
    """vLLM where it is asked for, a GPU where the config names one."""
    import torch

    from ttcs.generation import backend_name, vllm_available, vllm_device

    cfg = plan.cfg
    if cfg.device and str(cfg.device).startswith("cuda") and not torch.cuda.is_available():
        missing = f"device={cfg.device}: no CUDA GPU here; use device=null (cuda when available, else cpu)"
        if not cfg.dry_run:
            raise ConfigError(missing)
        plan.note("device", NOT_CHECKED, f"{missing.split(';')[0]}: the machine that runs it needs one")
    if cfg.backend.name == "vllm" and not vllm_available():
        missing = (
            "backend=vllm: vLLM is not installed (pip install 'ttcs[gpu]' on a CUDA GPU, or make setup-vllm for its "
            "CPU build); or use backend=hf"
        )
        if not cfg.dry_run:
            raise ConfigError(missing)
        plan.facts["backend"] = "vllm"
        plan.note("backend", NOT_CHECKED, "vllm: not installed here; the machine that runs it needs it")
        return
    name = backend_name(cfg.backend)
    where = vllm_device() if name == "vllm" else ("cuda" if torch.cuda.is_available() else "cpu")
    plan.facts["backend"] = name
    plan.facts["where"] = str(cfg.device or where)
    plan.note("backend", OK, f"{name} on {where}")


def check_launch_plan(plan: Plan) -> None:
    """The processes of the launch fit the devices: one GPU per process on a GPU machine."""
    import torch

    from ttcs.config import launched_processes

    processes = launched_processes()
    local = int(os.environ.get("LOCAL_WORLD_SIZE", processes))
    if torch.cuda.is_available() and local > torch.cuda.device_count():
        raise ConfigError(
            f"{local} processes on this machine but {torch.cuda.device_count()} GPU(s): launch at most one process "
            "per GPU (accelerate launch --num_processes N)"
        )
    plan.facts["processes"] = processes
    plan.note("launch", OK, f"{processes} process(es)")


def check_data(plan: Plan) -> None:
    """The test set reads and parses: a built-in is generated, a local file read; a hub set is only looked up."""
    from ttcs.data import _source_kind, hub_offline, hub_reachable, load_data_config

    data = plan.cfg.data
    source = data.path or data.source
    if _source_kind(source) == "hub":
        if not plan.cfg.dry_run and not hub_offline() and not hub_reachable():
            from ttcs.data import DataError

            raise DataError(
                f"data.path={source}: cannot reach the Hugging Face hub; pass a local .parquet/.jsonl/.json file with "
                "data.path=... (or set HF_HUB_OFFLINE=1 to use a cached copy; dry_run=true reports it unchecked)"
            )
        if hub_offline() or not hub_reachable():
            plan.note("data", NOT_CHECKED, f"{source}: a hub dataset and the hub is out of reach here")
        else:
            plan.note("data", NOT_CHECKED, f"{source}: a hub dataset, read when the run starts (the hub is reachable)")
        return
    problems = load_data_config(data)
    plan.facts["problems"] = problems
    plan.note("data", OK, f"{len(problems)} problems from {source}")


def check_model(plan: Plan) -> None:
    """The model is there: a local directory with config.json, a .gguf file, the embedded model's package or cache,
    or a hub id the hub (or the local cache) can give. Reads its config (its context and shape) where it can."""
    from ttcs.data import hub_offline, hub_reachable
    from ttcs.models import (
        EMBEDDED_MODELS,
        EMBEDDED_PREFIX,
        ModelLoadError,
        _find_gguf_in_installed_package,
        default_cache_dir,
    )

    path = plan.cfg.model.path
    if path.startswith(EMBEDDED_PREFIX):
        name = path[len(EMBEDDED_PREFIX) :]
        if name not in EMBEDDED_MODELS:
            raise ModelLoadError(f"model.path={path}: unknown embedded model; available: {', '.join(EMBEDDED_MODELS)}")
        cached = default_cache_dir() / "models" / name
        if (cached / "config.json").is_file():
            return _read_model(plan, str(cached), f"embedded {name}, converted in {cached}")
        _, module, member = EMBEDDED_MODELS[name]
        found = "in its installed package" if _find_gguf_in_installed_package(module, member) else "fetched from PyPI"
        plan.note("model", NOT_CHECKED, f"embedded {name}: converted on first use ({found}); its context is read then")
        return
    local = Path(path).expanduser()
    if local.suffix == ".gguf" or local.exists():
        from ttcs.models import resolve_model_path

        where, gguf = resolve_model_path(path)
        if gguf:
            plan.note("model", OK, f"GGUF file {local}")
            return
        return _read_model(plan, where, f"local directory {where}")
    if hub_offline() or not hub_reachable():
        from huggingface_hub import try_to_load_from_cache

        in_cache = try_to_load_from_cache(path, "config.json")
        if isinstance(in_cache, str):
            return _read_model(plan, str(Path(in_cache).parent), f"hub id {path}, from the local cache")
        if not plan.cfg.dry_run:
            raise ModelLoadError(
                f"model.path={path}: cannot reach the Hugging Face hub and the model is not in the local cache; pass "
                "a local directory with model.path=... (dry_run=true reports it unchecked)"
            )
        if plan.cfg.model.architecture:  # the preset's copy of the model's config.json sizes the plan
            from transformers import AutoConfig

            fields = dict(plan.cfg.model.architecture)
            plan.facts["model_config"] = AutoConfig.for_model(fields.pop("model_type"), **fields)
            plan.note("model", NOT_CHECKED, f"hub id {path}: out of reach here; sized from model.architecture")
            return
        plan.note("model", NOT_CHECKED, f"hub id {path}: the hub is out of reach here and the model is not cached")
        return
    from ttcs.models import check_hub_model

    check_hub_model(path)
    plan.note("model", OK, f"hub id {path}: the hub is reachable (downloaded when the run starts)")


def _read_model(plan: Plan, where: str, what: str) -> None:
    from transformers import AutoConfig, AutoTokenizer

    from ttcs.models import ModelLoadError

    try:
        plan.facts["model_config"] = AutoConfig.from_pretrained(where)
        plan.facts["tokenizer"] = AutoTokenizer.from_pretrained(where)
    except (OSError, ValueError) as err:
        raise ModelLoadError(
            f"model.path={plan.cfg.model.path}: cannot read its config or tokenizer: {str(err).splitlines()[0]}"
        ) from None
    plan.note("model", OK, what)


def check_context(plan: Plan) -> None:
    """The longest prompt plus the most new tokens asked for it fit the model's context (or backend.max_model_len)."""
    tokenizer, config, problems = (plan.facts.get(k) for k in ("tokenizer", "model_config", "problems"))
    cfg = plan.cfg
    limit = (cfg.backend.max_model_len or getattr(config, "max_position_embeddings", None)) if config else None
    if config is not None and not limit:
        plan.note("context", NOT_CHECKED, "the model's config names no context length")
        return
    if tokenizer is None or config is None or not problems:
        if limit:  # the prompts cannot be measured, but new tokens alone can overflow the context
            _check_new_tokens(plan, limit)
            return
        plan.note("context", NOT_CHECKED, "needs the model's tokenizer and the test set here")
        return
    from ttcs.prompts import load_template, solver_prompt
    from ttcs.recipes import get_recipe
    from ttcs.types import Problem
    from ttcs.variants import synthesizer_prompt

    prefill = get_recipe(cfg.recipe).solver_prefill

    def solver_tokens(problem: Problem) -> int:
        """The tokens of the Solver's prompt for `problem`, its prefill included."""
        prompt = solver_prompt(
            tokenizer,
            problem,
            kind=cfg.data.prompt,
            chat_template=cfg.model.chat_template,
            system_prompt=cfg.model.system_prompt,
        )
        return len(tokenizer(prompt + prefill).input_ids)

    solver = max(solver_tokens(p) for p in problems)
    needs = {"the longest test prompt + eval.max_new_tokens": solver + cfg.eval.max_new_tokens}
    phases = cfg.method.phases if cfg.train.iterations else []
    if "solver" in phases:
        needs["the longest test prompt + train.solver.max_completion_length"] = (
            solver + cfg.train.solver.max_completion_length
        )
    if "synthesizer" in phases or "curriculum" in phases:
        template = load_template(cfg.method.synthesizer_template)
        reference = max(problems, key=lambda p: len(p.question)).question if "{reference}" in template else None
        synth = len(
            tokenizer(
                synthesizer_prompt(
                    tokenizer,
                    template,
                    reference,
                    chat_template=cfg.model.chat_template,
                    prefill=cfg.train.synthesizer.prefill,
                )
            ).input_ids
        )
        longest = max(cfg.train.synthesizer.max_completion_length, cfg.train.curriculum.max_new_tokens)
        needs["the longest Synthesizer prompt + its longest output"] = synth + longest
    if "synthesizer" in phases:  # a variant's question is unknown: the Solver prompt around an empty one bounds it
        wrapper = solver_tokens(Problem(id="", question="", answer=None, source="preflight"))
        needs["the Solver prompt around a variant + train.synthesizer.solver_max_new_tokens"] = (
            wrapper + cfg.train.synthesizer.solver_max_new_tokens
        )
    assert limit is not None
    for what, tokens in needs.items():
        if tokens > limit:
            raise ConfigError(
                f"{what} = {tokens} tokens, over the model's context of {limit}: lower the new tokens (e.g. "
                "eval.max_new_tokens, train.solver.max_completion_length) or data.limit the long questions"
            )
    plan.facts["context"] = (limit, max(needs.values()))
    plan.note("context", OK, f"longest request {max(needs.values())} of {limit} tokens")


def _check_new_tokens(plan: Plan, limit: int) -> None:
    """Without the tokenizer: the most new tokens of any request leave room for a prompt in the context."""
    cfg = plan.cfg
    asks = {"eval.max_new_tokens": cfg.eval.max_new_tokens}
    phases = cfg.method.phases if cfg.train.iterations else []
    if "solver" in phases:
        asks["train.solver.max_completion_length"] = cfg.train.solver.max_completion_length
    if "synthesizer" in phases:
        asks["train.synthesizer.max_completion_length"] = cfg.train.synthesizer.max_completion_length
        asks["train.synthesizer.solver_max_new_tokens"] = cfg.train.synthesizer.solver_max_new_tokens
    if "curriculum" in phases:
        asks["train.curriculum.max_new_tokens"] = cfg.train.curriculum.max_new_tokens
    name, most = max(asks.items(), key=lambda item: item[1])
    if most >= limit:
        raise ConfigError(
            f"{name}={most}: leaves no room for a prompt in the model's context of {limit} tokens: lower it (every "
            f"request is its prompt plus its new tokens), or raise backend.max_model_len where the model allows"
        )
    plan.facts["context"] = (limit, most)
    plan.note("context", NOT_CHECKED, f"prompts not measured here: {name}={most} leaves {limit - most} of {limit}")


def check_memory_plan(plan: Plan) -> None:
    """The GPU memory plan (`ttcs.memory`) on this GPU; without one, the plan for an 80 GB GPU is shown, unchecked."""
    import torch

    from ttcs.memory import MemoryPlanError, check_memory, shape_of

    config = plan.facts.get("model_config")
    if config is None:
        plan.note("memory", NOT_CHECKED, "needs the model's config here")
        return
    shape = shape_of(config)
    plan.facts["params"] = shape.params
    if plan.facts.get("where") == "cpu":
        plan.note("memory", NOT_CHECKED, "a CPU run: the GPU memory plan does not apply")
        return
    uses_engine = plan.facts.get("backend") == "vllm"
    if torch.cuda.is_available():
        gpu_gb = torch.cuda.get_device_properties(torch.cuda.current_device()).total_memory / 1e9
        plan.facts["memory"] = (check_memory(plan.cfg, shape=shape, gpu_gb=gpu_gb, uses_engine=uses_engine), gpu_gb)
        plan.note("memory", OK, f"the plan fits this {gpu_gb:.0f} GB GPU")
        return
    try:
        plan.facts["memory"] = (check_memory(plan.cfg, shape=shape, gpu_gb=80, uses_engine=uses_engine), 80)
    except MemoryPlanError as err:
        plan.facts["memory_warning"] = str(err)
    plan.note("memory", NOT_CHECKED, "no GPU here: the plan above is for one 80 GB GPU")


def check_disk(plan: Plan) -> None:
    """Free disk for the checkpoints the run will hold at its peak: the trained roles' full weights, as many at once
    as ``keep_checkpoints`` keeps (`ttcs.checkpoints.peak`), not every iteration's unless it keeps all."""
    from ttcs.checkpoints import peak

    params = plan.facts.get("params")
    if params is None:
        plan.note("disk", NOT_CHECKED, "needs the model's size")
        return
    cfg = plan.cfg
    width = 2 if "16" in str(cfg.model.dtype) else 4
    roles = trained_roles(cfg)
    iterations = trained_iterations(cfg)
    count, after = peak(roles, iterations, cfg.keep_checkpoints)
    need = count * params * width
    root = plan.run_dir.resolve()
    while not root.exists():
        root = root.parent
    free = shutil.disk_usage(root).free
    plan.facts["checkpoints"] = (count, need, len(roles) * iterations, after)
    held = (
        f"at most {count} checkpoint(s) at once (keep_checkpoints={cfg.keep_checkpoints}) of "
        f"{params * width / 1e9:.2f} GB = {need / 1e9:.1f} GB"
    )
    if need > free and cfg.dry_run:  # checked on a laptop for a cluster: this disk may not be the run's
        plan.note(
            "disk",
            SHORT_HERE,
            f"{held}, but {root} has {free / 1e9:.1f} GB free: the run would stop here before it starts",
        )
        return
    if need > free:
        hint = "keep fewer (keep_checkpoints=last), " if cfg.keep_checkpoints in ("all", "kept") else ""
        raise ConfigError(
            f"the run holds {held}, but {root} has {free / 1e9:.1f} GB free: free disk, {hint}or put the run "
            "elsewhere (hydra.run.dir=...)"
        )
    plan.note("disk", OK, f"{held}, of {free / 1e9:.0f} GB free")


def check_resume(plan: Plan) -> None:
    """An existing run directory resumes only with its own config (read, never written here)."""
    from ttcs.loop import RESUME_SAFE_KEYS, config_fingerprint
    from ttcs.rundir import ConfigMismatchError, RunLayout, resume_mismatch

    state_path = RunLayout(plan.run_dir).state_path
    if not state_path.is_file():
        plan.note("run directory", OK, f"new: {plan.run_dir}")
        return
    try:
        state = json.loads(state_path.read_text())
    except (OSError, ValueError) as err:
        raise ConfigMismatchError(f"{state_path}: unreadable ({err}); delete it or pass a new run_name=...") from None
    reason = resume_mismatch(plan.run_dir, state, config_fingerprint(plan.cfg), RESUME_SAFE_KEYS)
    if reason:
        raise ConfigMismatchError(reason)
    done = len(state.get("phases") or {})
    plan.note(
        "run directory",
        OK,
        f"resumes {plan.run_dir} after {done} finished phase(s)"
        if done
        else f"starts {plan.run_dir} again (no phase finished)",
    )


def trained_roles(cfg: Config) -> list[str]:
    """The roles whose weights the method trains (and checkpoints)."""
    phases = cfg.method.phases
    roles = ["synthesizer"] if "synthesizer" in phases and not cfg.method.frozen_synthesizer else []
    return roles + (["solver"] if "solver" in phases else [])


# ----------------------------------------------------------------------------- the dry run's plan


def plan_lines(plan: Plan) -> list[str]:
    """The plan a dry run prints: what runs, how much it generates and trains, memory, disk, the checks."""
    cfg = plan.cfg
    phases = list(cfg.method.phases)
    iterations = trained_iterations(cfg)
    problems = plan.facts.get("problems")
    n = len(problems) if problems else None
    lines = [
        f"method {cfg.method.name} on {cfg.model.name} ({cfg.model.path}), data {cfg.data.name}, seed {cfg.seed}",
        f"run directory: {plan.run_dir}",
        f"iterations: {iterations} after the base evaluation; each: {' -> '.join(phases + ['eval']) if phases else 'eval only'}",
    ]
    k = cfg.eval.k + (1 if cfg.eval.greedy else 0)
    lines.append(
        f"  eval: {n if n is not None else '?'} questions x {k} samples (<= {cfg.eval.max_new_tokens} new tokens each)"
        f" at iteration 0{' and after each iteration' if iterations else ''}"
    )
    for role in ("synthesizer", "solver"):
        if role not in phases:
            continue
        node = getattr(cfg.train, role)
        completions = node.batch_questions * node.group_size
        line = (
            f"  {role}: {node.steps} steps x {node.updates_per_step} optimizer update(s) = {node.steps * node.updates_per_step} "
            f"updates; each step generates {node.batch_questions} x {node.group_size} = {completions} completions "
            f"(<= {node.max_completion_length} tokens, <= {completions * node.max_completion_length} tokens a step)"
        )
        if role == "synthesizer":
            line += f", then {completions} x {node.solver_samples} Solver answers to score them (<= {node.solver_max_new_tokens} tokens each)"
        lines.append(line)
    if "curriculum" in phases:
        c = cfg.train.curriculum
        total = c.total if c.total is not None else f"{c.variants_per_question} per test question"
        lines.append(
            f"  curriculum: {total} variants (<= {c.max_new_tokens} tokens each), mixed at ratio {cfg.method.curriculum_ratio}"
        )
    memory = plan.facts.get("memory")
    if memory:
        rows, gpu_gb = memory
        lines.append(f"memory plan per process on one {gpu_gb:.0f} GB GPU:")
        lines += [f"  {r['phase']}, {r['step']}: {r['total']:.1f} GB" for r in rows]
    if plan.facts.get("memory_warning"):
        lines.append(f"  would not fit an 80 GB GPU: {plan.facts['memory_warning']}")
    if "checkpoints" in plan.facts:
        count, need, written, after = plan.facts["checkpoints"]
        lines.append(
            f"checkpoints: keep_checkpoints={cfg.keep_checkpoints}: at most {count} on disk at once, "
            f"{need / 1e9:.1f} GB ({written} saved over the run, {after} left at its end)"
        )
    lines.append("checks:")
    lines += [f"  {what}: {status} ({detail})" for what, status, detail in plan.checks]
    return lines


__all__ = ["NOT_CHECKED", "OK", "Plan", "UserError", "preflight"]
