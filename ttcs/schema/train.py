"""The ``train`` group: the training budget and GRPO hyper-parameters of both roles and the curriculum.

Every key is declared once here, with its type, its default and its meaning; the defaults are the paper's values
(Qwen2.5-Math on a GPU) where both roles share them. ``conf/train/gpu.yaml`` is the paper preset (the values where
the Synthesizer differs from the Solver), ``cpu.yaml`` and ``debug.yaml`` list their changes over it; docs/config.md
lists every key. Keys marked ``trl=True`` reach TRL's `GRPOConfig` under the same name (`ttcs.grpo`), ``grpo: {}``
passes further GRPOConfig fields; both are checked against GRPOConfig's fields before a run starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ttcs.schema.rules import (
    BAND_RULE,
    Enabled,
    Integer,
    Number,
    OneOf,
    band,
    group,
    imported,
    iterations,
    key,
    micro_batch,
    template,
    updates_per_step,
)


@dataclass
class LoraConfig:
    """A LoRA adapter instead of full fine-tuning, merged into the weights before saving (`ttcs.grpo`)."""

    enabled: bool = key(False, "Train a LoRA adapter instead of all weights (paper: full fine-tuning)")
    r: int = key(64, "Adapter rank", Integer(1))
    alpha: float = key(128, "Adapter scale numerator (scale = alpha / r)", Number(0, low_open=True))
    dropout: float = key(0.05, "Dropout on the adapter input", Number(0, 1, high_open=True))
    target_modules: Any = key("all-linear", "Modules that get an adapter (a peft name or a list of module names)")


@dataclass
class DynamicSamplingConfig:
    """DAPO's dynamic sampling (`ttcs.frontier`): fill every Solver step with questions whose groups lie in the band."""

    enabled: bool = key(True, "Before each step, measure candidates' vote share with the Solver; train on in-band ones")
    oversample: float = key(3, "Candidates drawn per draw, as a multiple of batch_questions (paper: 3)", Number(1))
    max_draws: int = key(10, "Most draws per step before it trains on what it has (paper: 10)", Integer(1))


@dataclass
class RoleConfig:
    """The GRPO keys both roles share (`ttcs.grpo.build_grpo_config`)."""

    steps: int = key(15, "GRPO optimizer steps per iteration; each step generates a fresh batch", Integer(1))
    batch_questions: int = key(64, "Questions (references, for the Synthesizer) per optimizer step", Integer(1))
    group_size: int = key(8, "Samples per question G: one majority vote (a GRPO group)", Integer(2))
    max_completion_length: int = key(3072, "Longest sampled completion while training, in tokens", Integer(1), trl=True)
    temperature: float = key(1.0, "Sampling temperature of the training samples", Number(0, low_open=True), trl=True)
    top_p: float = key(
        0.99, "Nucleus sampling of the training samples; 1.0 = off", Number(0, 1, low_open=True), trl=True
    )
    learning_rate: float = key(1.0e-6, "AdamW learning rate (paper: 1e-6)", Number(0), trl=True)
    lr_scheduler: str = key("constant", "Learning-rate schedule over the phase's steps (a transformers scheduler name)")
    weight_decay: float = key(0.0, "AdamW weight decay", Number(0), trl=True)
    max_grad_norm: float = key(1.0, "Gradient clipping by global norm", Number(0, low_open=True), trl=True)
    epsilon: float = key(
        0.2, "PPO clip range of the probability ratio (paper: 0.2)", Number(0, low_open=True), trl=True
    )
    beta: float = key(
        0.01, "KL coefficient to the phase's starting model (TRL's k3); 0 = no reference", Number(0), trl=True
    )
    loss_type: str = key("dapo", "TRL loss aggregation; dapo = token-mean over the step (paper: token-mean)", trl=True)
    scale_rewards: Any = key(
        "group",
        "Advantage scaling: group (divide by the group's std) | batch | none",
        OneOf(("group", "batch", "none", True, False)),
        trl=True,
    )
    updates_per_step: int = key(
        2, "Optimizer updates per step: mini-batches the step's batch is cut into", updates_per_step
    )
    micro_batch: int = key(
        16, "Completions per forward/backward pass on one process (the rest accumulates)", micro_batch
    )
    bf16: bool = key(True, "bf16 autocast over fp32 master weights; applies only on a GPU")
    gradient_checkpointing: bool = key(True, "Recompute activations in the backward pass (time for memory)", trl=True)
    use_vllm: bool = key(False, "TRL's own vLLM engine (off: with backend=vllm ttcs's one engine generates rollouts)")
    vllm_mode: str = key(
        "colocate", "TRL's vLLM mode when use_vllm: colocate | server", OneOf(("colocate", "server")), trl=True
    )
    model_init_kwargs: dict[str, Any] | None = key(
        {"dtype": "bfloat16"},
        "How TRL loads the KL reference model (dtype bfloat16: half the memory); null = as the policy",
        trl=True,
    )
    report_to: str = key(
        "tensorboard", "Where TRL reports its logs besides metrics.jsonl: none | tensorboard | wandb", trl=True
    )
    save_strategy: str = key("no", "TRL checkpoints during the phase: no (the phase saves its final model itself)")
    lora: LoraConfig = group(LoraConfig, "LoRA instead of full fine-tuning", Enabled())
    grpo: dict[str, Any] = key(
        {}, "Further GRPOConfig fields passed as they are, e.g. {mask_truncated_completions: true}"
    )


@dataclass
class SolverConfig(RoleConfig):
    """The Solver phase (`ttcs.solver`): GRPO on the Solver, rewarded by its own majority vote."""

    band: list[float] | None = key(
        [0.25, 0.75], f"Keep a group only if its mean reward lies in [low, high]; null keeps all. {BAND_RULE}", band
    )
    dynamic_sampling: DynamicSamplingConfig = group(DynamicSamplingConfig, "Dynamic sampling (DAPO)", Enabled())


@dataclass
class SynthesizerConfig(RoleConfig):
    """The Synthesizer phase (`ttcs.synthesizer`): GRPO on the Synthesizer, rewarded by the Solver's self-consistency."""

    template: str = key(
        "synthesizer", "Synthesizer prompt: a name under conf/prompts/ or a text file with {reference}", template
    )
    prefill: str = key("[Design]\n", 'Text that starts every Synthesizer answer, written into the prompt; "" = none')
    solver_samples: int = key(
        10, "Solver samples per variant to measure its self-consistency s (paper: 10)", Integer(2)
    )
    solver_max_new_tokens: int = key(4096, "Longest Solver answer when scoring a variant, in tokens", Integer(1))
    solver_temperature: float = key(1.0, "Sampling temperature of those Solver answers", Number(0, low_open=True))
    solver_top_p: float = key(1.0, "Nucleus sampling of those Solver answers; 1.0 = off", Number(0, 1, low_open=True))
    solver_top_k: int = key(40, "Top-k sampling of those Solver answers; 0 = off (paper: 40)", Integer(0))


@dataclass
class CurriculumConfig:
    """The curriculum phase (`ttcs.curriculum`): variants sampled from the updated Synthesizer, filtered, mixed."""

    variants_per_question: int = key(4, "Variants sampled per test question, used when total is null", Integer(1))
    total: int | None = key(
        500, "Total variants to sample over the test questions; null = variants_per_question", Integer(1, nullable=True)
    )
    temperature: float = key(1.0, "Sampling temperature of the curriculum variants", Number(0))
    top_p: float = key(0.95, "Nucleus sampling of the curriculum variants; 1.0 = off", Number(0, 1, low_open=True))
    top_k: int = key(50, "Top-k sampling of the curriculum variants; 0 = off", Integer(0))
    max_new_tokens: int = key(4096, "Longest curriculum sample, in tokens", Integer(1))
    dedupe: str = key(
        "exact",
        "Duplicate filter: exact (the paper) | near (also near duplicates and copies)",
        OneOf(imported("ttcs.curriculum", "DEDUPE_MODES")),
    )
    near_threshold: float = key(
        0.9,
        "Character similarity at which two variants are near duplicates (dedupe: near)",
        Number(0, 1, low_open=True),
    )
    max_size: int | None = key(None, "Cap on the Solver's training set size; null = no cap", Integer(1, nullable=True))


@dataclass
class TrainConfig:
    """Training budget and GRPO hyper-parameters: cpu (two CPU cores) | gpu (the paper) | debug (tiny)."""

    iterations: int = key(15, "Co-evolution iterations after the base evaluation, for methods that train", iterations)
    solver: SolverConfig = group(SolverConfig, "The Solver phase")
    synthesizer: SynthesizerConfig = group(SynthesizerConfig, "The Synthesizer phase")
    curriculum: CurriculumConfig = group(CurriculumConfig, "The curriculum phase")
