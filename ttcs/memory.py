"""The GPU memory plan: what each phase holds on one GPU, in GB, from the model's shape and the config.

Arithmetic, not measurement (``ttcs-bench-gpu`` measures): bytes per parameter for weights,
gradients and AdamW, bytes per token for the KV cache and the activations. docs/gpu.md's
tables are `phase_plan`'s rows for Qwen2.5-Math-1.5B; `check_memory` stops a run at its
start when the training state and the engine alone cannot fit the GPU, and says what to
change. The activation figure assumes TRL's fused LM head (the full-vocabulary logits are
never materialised) and is an estimate only.

Example:
    >>> shape = Shape(params=1_543_714_304, layers=28, hidden=1536, intermediate=8960, kv_heads=2, head_dim=128)
    >>> round(training_state(shape, beta=0.01)["AdamW moments (fp32)"], 1)
    12.3
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

from ttcs.errors import UserError

logger = logging.getLogger(__name__)

GB = 1e9
# Share of the GPU the plan may fill; the rest is CUDA contexts, allocator slack and fragmentation.
HEADROOM = 0.95


class MemoryPlanError(UserError, RuntimeError):
    """The run cannot fit the GPU; the message says what to change."""


@dataclass(frozen=True)
class Shape:
    """The sizes of a decoder that decide its memory."""

    params: int
    layers: int
    hidden: int
    intermediate: int
    kv_heads: int
    head_dim: int


def shape_of(config) -> Shape:
    """A `Shape` from a transformers config; parameters counted on the meta device (nothing allocated)."""
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    heads = config.num_attention_heads
    return Shape(
        params=sum(p.numel() for p in model.parameters()),
        layers=config.num_hidden_layers,
        hidden=config.hidden_size,
        intermediate=config.intermediate_size,
        kv_heads=getattr(config, "num_key_value_heads", heads),
        head_dim=getattr(config, "head_dim", None) or config.hidden_size // heads,
    )


def training_state(shape: Shape, *, beta: float, lora: bool = False, weight_bytes: int = 4) -> dict[str, float]:
    """GB held by a trainer for the whole phase: fp32 master weights, gradients, AdamW's two moments, the
    bf16 KL reference (beta > 0, no LoRA). With LoRA the base is frozen and the adapters are negligible."""
    p = shape.params
    if lora:
        return {f"frozen weights ({weight_bytes * 8}-bit)": weight_bytes * p / GB}
    state = {"weights (fp32)": 4 * p / GB, "gradients (fp32)": 4 * p / GB, "AdamW moments (fp32)": 8 * p / GB}
    if beta > 0:
        state["KL reference (bf16)"] = 2 * p / GB
    return state


def activations_gb(shape: Shape, *, tokens: int, micro_batch: int, checkpointing: bool) -> float:
    """Estimated activation memory of one micro-batch's backward pass.

    Under bf16 autocast one layer keeps about 16 hidden-sized and 4 intermediate-sized bf16
    tensors per token; with gradient checkpointing only each layer's fp32 input is kept and
    one layer is recomputed at a time.
    """
    layer = tokens * (16 * shape.hidden + 4 * shape.intermediate) * 2
    per_sequence = shape.layers * tokens * shape.hidden * 4 + layer if checkpointing else shape.layers * layer
    return micro_batch * per_sequence / GB


def phase_plan(
    shape: Shape,
    *,
    gpu_gb: float,
    engine_share: float,
    solver: Any,
    synthesizer: Any,
    weight_bytes: int = 4,
    solver_prompt_tokens: int = 256,
    synthesizer_prompt_tokens: int = 1100,
) -> list[dict]:
    """Rows (phase, step, resident GB by item, total) for one process on one GPU with ttcs's engine.

    While a trainer generates (its rollouts, the Synthesizer's scoring) the engine is awake
    and the gradients are freed; during the backward pass the engine sleeps (its weights in
    CPU memory, its KV cache dropped). Not counted: what a sleeping engine keeps on the GPU
    (CUDA context and graphs) and PyTorch's allocator slack.
    """
    engine = {"vLLM engine (awake)": engine_share * gpu_gb}
    rows = [_row("evaluation, curriculum, dynamic sampling", "generation", engine)]
    for name, node, prompt in (
        ("Synthesizer", synthesizer, synthesizer_prompt_tokens),
        ("Solver", solver, solver_prompt_tokens),
    ):
        state = training_state(
            shape,
            beta=node.beta,
            weight_bytes=weight_bytes,
            lora=node.lora.enabled,
        )
        no_grads = {k: v for k, v in state.items() if not k.startswith("gradients")}
        acts = activations_gb(
            shape,
            tokens=prompt + node.max_completion_length,
            micro_batch=node.micro_batch,
            checkpointing=node.gradient_checkpointing,
        )
        rows.append(_row(f"{name} phase", "generation (engine awake)", {**no_grads, **engine}))
        rows.append(_row(f"{name} phase", "backward (engine asleep)", {**state, "activations (estimate)": acts}))
    return rows


def _row(phase: str, step: str, items: dict[str, float]) -> dict:
    return {"phase": phase, "step": step, "items": items, "total": sum(items.values())}


def sharded_launch() -> str | None:
    """'deepspeed-zero3' or 'fsdp' when accelerate shards the parameters themselves, else None."""
    if os.environ.get("ACCELERATE_USE_FSDP", "").lower() == "true":
        return "fsdp"
    if os.environ.get("ACCELERATE_USE_DEEPSPEED", "").lower() == "true":
        return "deepspeed-zero3" if os.environ.get("ACCELERATE_DEEPSPEED_ZERO_STAGE") == "3" else None
    return None


def check_memory(cfg, *, shape: Shape, gpu_gb: float, uses_engine: bool) -> list[dict]:
    """Raise `MemoryPlanError` when the plan's fixed part (training state + engine) exceeds the GPU; log the plan.

    Sharded launches are refused with the engine (it loads whole weights from the policy);
    under DeepSpeed ZeRO-1/2 the optimizer state is split over processes and this check,
    which assumes it is not, only logs.
    """
    launch = sharded_launch()
    if uses_engine and launch:
        raise MemoryPlanError(
            f"backend=vllm with {launch}: the engine loads the policy's whole weights, which a "
            "sharded model does not hold on one GPU; use DDP or DeepSpeed ZeRO-1/2, or backend=hf"
        )
    share = float(cfg.backend.gpu_memory_utilization) if uses_engine else 0.0
    weight_bytes = 2 if "16" in str(cfg.model.dtype) else 4
    rows = phase_plan(
        shape,
        gpu_gb=gpu_gb,
        engine_share=share,
        solver=cfg.train.solver,
        synthesizer=cfg.train.synthesizer,
        weight_bytes=weight_bytes,
    )
    for r in rows:
        logger.info(
            "memory plan: %s, %s: %.1f GB of %.0f (%s)",
            r["phase"],
            r["step"],
            r["total"],
            gpu_gb,
            ", ".join(f"{k} {v:.1f}" for k, v in r["items"].items()),
        )
    fixed = max(r["total"] - r["items"].get("activations (estimate)", 0.0) for r in rows)
    if fixed > HEADROOM * gpu_gb and not os.environ.get("ACCELERATE_USE_DEEPSPEED"):
        raise MemoryPlanError(
            f"{shape.params / 1e9:.2f}B parameters: the training state and the engine need {fixed:.0f} GB of this "
            f"{gpu_gb:.0f} GB GPU before any activation. Change one of: train.solver.lora.enabled=true "
            "train.synthesizer.lora.enabled=true model.dtype=bfloat16 (LoRA on a frozen bf16 base); DeepSpeed ZeRO-2 "
            "over N GPUs (accelerate launch --config_file <zero2.yaml> -m ttcs.cli ...); a smaller "
            "backend.gpu_memory_utilization"
        )
    return rows


def check_run_memory(cfg, *, uses_engine: bool) -> None:
    """`check_memory` for the run's model on this process's GPU; nothing to check without CUDA."""
    import torch
    from transformers import AutoConfig

    from ttcs.models import resolve_model_path  # imports torch, which the plan's arithmetic never needs

    if not torch.cuda.is_available():
        return
    config = AutoConfig.from_pretrained(resolve_model_path(cfg.model.path)[0])
    gpu_gb = torch.cuda.get_device_properties(torch.cuda.current_device()).total_memory / GB
    check_memory(cfg, shape=shape_of(config), gpu_gb=gpu_gb, uses_engine=uses_engine)
