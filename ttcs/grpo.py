"""GRPO plumbing shared by the Solver and the Synthesizer phases: TRL config, LoRA, checkpoints.

TRL's `GRPOConfig` is built here, at the boundary, from a ``train.solver`` or ``train.synthesizer`` node (the
schema's `ttcs.schema.train.RoleConfig`; GRPOConfig itself cannot be a Hydra structured config: some of its fields
are union-typed). The keys the schema marks ``trl=True`` pass to `GRPOConfig` under the same name, ``grpo: {...}``
passes further fields, and the rest are interpreted here; `check_trl_keys` checks every passed name against
GRPOConfig's own fields before a run starts.
"""

from __future__ import annotations

import dataclasses
import difflib
import gc
import hashlib
import logging
import shutil
from collections.abc import Mapping
from pathlib import Path

import torch

from ttcs import dist
from ttcs.config import ConfigError, as_schema, micro_batch_split, shown, split_hint
from ttcs.generation import backend_name
from ttcs.memory import sharded_launch
from ttcs.resident import trim_heap
from ttcs.schema.train import LoraConfig, RoleConfig, SolverConfig, SynthesizerConfig

logger = logging.getLogger(__name__)

# GRPOConfig fields ttcs sets itself from its own keys (a ``grpo: {...}`` entry may not set them too).
DERIVED_FIELDS = (
    "output_dir",
    "seed",
    "max_steps",
    "num_generations",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "steps_per_generation",
    "lr_scheduler_type",
    "bf16",
    "use_vllm",
    "logging_steps",
    "save_strategy",
    "log_completions",
    "use_cpu",
)


def trl_fields(node: RoleConfig) -> dict:
    """The keys of a role's node that GRPOConfig receives under the same name (``trl=True`` in the schema)."""
    return {f.name: getattr(node, f.name) for f in dataclasses.fields(node) if f.metadata.get("trl")}


def check_trl_keys(node: RoleConfig, where: str) -> None:
    """Refuse, before anything loads, a name handed to TRL's GRPOConfig that it does not have: a schema key marked
    ``trl=True`` (after a TRL upgrade) or a ``grpo: {...}`` entry; and a ``grpo`` entry for a field ttcs sets."""
    from trl import GRPOConfig

    known = {f.name for f in dataclasses.fields(GRPOConfig)}
    for name in trl_fields(node):
        if name not in known:
            raise ConfigError(f"{where}.{name}: TRL's GRPOConfig has no such field (installed trl too old or new?)")
    for name, value in node.grpo.items():
        if name in DERIVED_FIELDS:
            raise ConfigError(
                f"{where}.grpo.{name}={shown(value)}: ttcs sets this GRPOConfig field itself from its own keys"
            )
        if name not in known:
            near = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {near[0]}?)" if near else ""
            raise ConfigError(f"{where}.grpo.{name}={shown(value)}: TRL's GRPOConfig has no such field{hint}")


def world_size(cuda: bool) -> int:
    """Number of processes `accelerate launch` started (1 for a plain run)."""
    from accelerate import PartialState

    # cpu=True matters: without it a CPU process launched by `accelerate launch` sees no distributed setup.
    return PartialState(cpu=not cuda).num_processes


def role_config(node) -> RoleConfig:
    """``train.<role>`` as a schema dataclass: itself, or a mapping read as the Solver's, the Synthesizer's or the
    shared `RoleConfig`, whichever declares all of its keys."""
    if isinstance(node, RoleConfig):
        return node
    keys = set(node)
    for schema in (RoleConfig, SolverConfig, SynthesizerConfig):
        if keys <= {f.name for f in dataclasses.fields(schema)}:
            return as_schema(schema, node)
    return as_schema(RoleConfig, node)  # refuses the first key no role declares


def build_grpo_config(
    node: RoleConfig | Mapping,
    *,
    output_dir: str | Path,
    seed: int,
    train_size: int,
    cuda: bool | None = None,
    processes: int | None = None,
):
    """The `GRPOConfig` for one phase, from ``train.<role>`` (a mapping is read as the schema's `RoleConfig`).

    One *step* is one generation: ``batch_questions`` prompts × ``group_size`` samples,
    generated once and cut into ``updates_per_step`` mini-batches, one optimizer update
    each (the paper's PPO mini-batches: 2 for the Solver, 4 for the Synthesizer). In TRL
    terms ``max_steps = steps × updates_per_step`` optimizer steps and
    ``steps_per_generation = updates_per_step × gradient_accumulation_steps``. Each
    mini-batch is split into micro-batches of ``micro_batch`` completions per process
    (gradient accumulation). A set smaller than ``batch_questions`` trains on all of it.
    """
    from trl import GRPOConfig

    node = role_config(node)
    cuda = torch.cuda.is_available() if cuda is None else cuda
    processes = processes or world_size(cuda)
    g = node.group_size
    updates = node.updates_per_step
    questions = min(node.batch_questions, train_size)
    completions = questions * g
    if updates < 1 or completions % updates:
        raise ValueError(
            f"{questions} prompts x {g} samples = {completions} completions per step do not split into "
            f"updates_per_step={updates} equal mini-batches; change batch_questions or updates_per_step"
        )
    mini = completions // updates
    micro = micro_batch_split(mini, node.micro_batch, processes)
    if not micro:
        raise ValueError(
            f"{questions} prompts x {g} samples = {completions} completions per step "
            f"({updates} mini-batch(es) of {mini}) do not split into micro-batches of "
            f"{node.micro_batch} on {processes} process(es); {split_hint(mini, processes)}"
        )
    accumulation = mini // (micro * processes)
    fields = trl_fields(node)
    use_vllm = node.use_vllm
    if use_vllm and not cuda:
        logger.warning("use_vllm needs a GPU; generating with transformers instead")
        use_vllm = False
    fields.update(
        output_dir=str(output_dir),
        seed=seed,
        max_steps=node.steps * updates,
        num_generations=g,
        per_device_train_batch_size=micro,
        gradient_accumulation_steps=accumulation,
        steps_per_generation=accumulation * updates,
        lr_scheduler_type=node.lr_scheduler,
        bf16=node.bf16 and cuda,
        use_vllm=use_vllm,
        logging_steps=1,
        save_strategy=node.save_strategy,
        log_completions=False,
        use_cpu=not cuda,
    )
    fields.update(node.grpo)
    return GRPOConfig(**fields)


def build_lora_config(lora: LoraConfig | Mapping | None):
    """A peft `LoraConfig` when ``lora.enabled``, else None (full fine-tuning)."""
    lora_cfg: LoraConfig = as_schema(LoraConfig, lora)
    if not lora_cfg.enabled:
        return None
    import peft

    return peft.LoraConfig(
        r=lora_cfg.r,
        lora_alpha=int(lora_cfg.alpha),
        lora_dropout=lora_cfg.dropout,
        target_modules=lora_cfg.target_modules,
        task_type="CAUSAL_LM",
    )


def trained_model(trainer):
    """The trained model, unwrapped, LoRA merged in, ready for generation and saving."""
    model = trainer.accelerator.unwrap_model(trainer.model)
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    if getattr(model, "supports_gradient_checkpointing", False):
        # the Trainer may have turned it on; generation wants the cache (transformers 5.x renamed the method)
        disable = getattr(model, "activation_checkpointing_disable", None) or model.gradient_checkpointing_disable
        disable()
    model.config.use_cache = True
    return model


def finish_training(trainer, ctx, role: str, iteration: int):
    """After `trainer.train()`: unwrap the model, save it as the `role` checkpoint of `iteration` (main process),
    hand it to the context, and let go of the trainer's optimizer, scheduler and reference model.

    With several processes every one of them must call it. Replicas (DDP, ZeRO-1/2) are checked
    to hold the same weights (`weights_digest`); when accelerate shards the parameters (ZeRO-3,
    FSDP) the whole weights are gathered for the save and the next phase loads them from disk.

    Returns:
        (the trained model, its checkpoint path, the number of optimizer steps taken).
    """
    accelerator = trainer.accelerator
    sharded = parameters_sharded(accelerator)
    # A collective (every rank); model_wrapped is the DeepSpeed engine or the FSDP module, which gather the weights.
    state_dict = accelerator.get_state_dict(trainer.model_wrapped) if sharded else None
    model = trained_model(trainer)
    path = ctx.rundir.checkpoint_dir(role, iteration)
    if accelerator.num_processes > 1 and not sharded:
        digest = weights_digest(model)
        logger.info("%s weights after training: sha256 %s on process %d", role, digest, accelerator.process_index)
        dist.agree(digest, f"the {role}'s weights after training")
        logger.info("%s weights are identical on the %d processes", role, accelerator.num_processes)
    if accelerator.is_main_process:
        save_checkpoint(model, ctx.tokenizer, path, state_dict=state_dict)
    accelerator.wait_for_everyone()
    steps = trainer.state.global_step
    release_trainer(trainer)
    # The next phase's KL reference: TRL builds it with from_pretrained(config._name_or_path), so point that at
    # this checkpoint (the next phase's starting point), not at the path the weights were first loaded from.
    model.config._name_or_path = str(path)
    if sharded:
        ctx.forget_model(role)  # this process holds a shard: the next phase loads the whole model from `path`
    else:
        ctx.set_model(role, str(path), model)
    return model, path, steps


def parameters_sharded(accelerator) -> bool:
    """True when accelerate splits the parameters themselves over the processes (DeepSpeed ZeRO-3, FSDP)."""
    from accelerate.utils import DistributedType

    if accelerator.distributed_type == DistributedType.FSDP:
        return True
    plugin = getattr(accelerator.state, "deepspeed_plugin", None)
    return accelerator.distributed_type == DistributedType.DEEPSPEED and plugin is not None and plugin.zero_stage == 3


def weights_digest(model) -> str:
    """sha256 over every tensor of the state dict (names and bytes, in order): equal digests, equal weights."""
    h = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().reshape(-1).contiguous().view(torch.uint8).cpu().numpy().tobytes())
    return h.hexdigest()


def rollout_kwargs(rollout) -> dict:
    """GRPOTrainer keyword arguments for a ``rollout_func`` (none when TRL generates with transformers)."""
    return {} if rollout is None else {"rollout_func": rollout}


# Trainer (and callback-handler) attributes that hold GPU memory past the end of a phase.
_HELD = ("model", "model_wrapped", "optimizer", "lr_scheduler", "ref_model", "train_dataloader")


def release_trainer(trainer) -> None:
    """Drop every reference the trainer and its accelerator hold to the model, optimizer and reference model.

    The caller's frame still holds the trainer until the phase returns, so its state is cut
    loose here: AdamW's moments (8 bytes a parameter) and the reference model are freed at
    once, not one phase later.
    """
    trainer.accelerator.free_memory()  # accelerate's own lists of prepared models, optimizers, schedulers
    for holder in (trainer, trainer.callback_handler):
        for name in _HELD:
            if getattr(holder, name, None) is not None:
                setattr(holder, name, None)
    free_memory()


def free_memory() -> None:
    """Collect garbage and hand cached CUDA blocks and the C heap's free pages back (`ttcs.resident.trim_heap`), so
    the next phase (or vLLM) finds the memory free."""
    gc.collect()
    trim_heap()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def check_generation_plan(cfg) -> None:
    """Stop at once, saying what to change, when the config would put two vLLM engines in one process.

    TRL's colocate mode builds a new `vllm.LLM` inside every GRPOTrainer (two per iteration)
    and vLLM does not reliably free a deleted one; with ``backend=vllm`` ttcs's own engine
    generates TRL's rollouts instead (`ttcs.engine.get_rollout_func`).
    """
    engine = backend_name(cfg.backend) == "vllm"
    for role in ("solver", "synthesizer"):
        node = getattr(cfg.train, role)
        if not node.use_vllm:
            continue
        if node.vllm_mode == "colocate":
            raise ConfigError(
                f"train.{role}.use_vllm=true (colocate) builds TRL's own vLLM engine in every trainer, "
                f"a second engine in this process; set train.{role}.use_vllm=false (with backend=vllm "
                "ttcs's engine generates TRL's rollouts), or vllm_mode=server with `trl vllm-serve` on "
                "other GPUs"
            )
        if engine:
            raise ConfigError(
                f"backend=vllm generates train.{role}'s rollouts with ttcs's engine; "
                f"set train.{role}.use_vllm=false, or use backend=hf with TRL's vLLM server"
            )


def check_launch(cfg) -> None:
    """Stop at once when the launch shards the parameters (ZeRO-3, FSDP) and a role trains a LoRA adapter.

    A checkpoint is the merged model, and merging an adapter needs whole weights, which no
    process of a sharded launch holds.
    """
    launch = sharded_launch()
    if not launch:
        return
    for role in ("solver", "synthesizer"):
        if getattr(cfg.train, role).lora.enabled:
            raise ConfigError(
                f"train.{role}.lora.enabled=true under {launch}: the adapter cannot be merged into "
                "sharded weights; use launch/ddp.yaml or launch/zero2.yaml, or full fine-tuning"
            )


def save_checkpoint(model, tokenizer, path: Path, *, state_dict: dict | None = None) -> Path:
    """Save a plain HF directory atomically: a kill mid-save leaves no half checkpoint at `path`.

    `state_dict` replaces the model's own (the whole weights gathered from a sharded model).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, state_dict=state_dict)
    tokenizer.save_pretrained(tmp)
    if path.exists():  # written by a run that was killed before it recorded the phase as finished
        shutil.rmtree(path)
    tmp.rename(path)
    return path
