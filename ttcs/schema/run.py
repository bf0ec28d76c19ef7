"""The config groups of a run besides ``train``: model, data, backend, eval, recipe, method, health, report.

Each key is declared once here, with its type, its default and its meaning; the YAML files under ``conf/<group>/``
are presets over these declarations (a data set's source, a model's hub id). docs/config.md lists every key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omegaconf import MISSING

from ttcs.schema.rules import (
    ForPhases,
    ForRecipe,
    IfSet,
    Integer,
    Number,
    OneOf,
    When,
    data_file,
    dtype,
    flag,
    health_rules,
    imported,
    key,
    model_path,
    phases,
    prefill,
    template,
    text,
    verifier,
)

# Keys a method with a Synthesizer or curriculum phase reads.
_WITH_VARIANTS = ("synthesizer", "curriculum")
# The recipes that read the small-model keys (`ttcs.recipes.small_model`).
_SMALL_MODEL = ("small_model",)


@dataclass
class ModelConfig:
    """The base model both the Solver and the Synthesizer start from (`ttcs.models`)."""

    name: str = key(MISSING, "The model's short name in run names and tables")
    path: str = key(MISSING, "A hub id, a local model directory, a .gguf file, or embedded:<name>", model_path)
    chat_template: Any = key(
        "auto", "Wrap prompts in the tokenizer's chat template: auto | true | false", OneOf(("auto", True, False))
    )
    system_prompt: str | None = key(None, "A system message before every prompt; null = none")
    dtype: str | None = key("float32", "The weights' dtype (fp32 masters; bf16 autocast is train.<role>.bf16)", dtype)
    architecture: dict[str, Any] | None = key(
        None,
        "The model's config.json fields that size it (model_type, layers, widths, context): a dry run without the "
        "model sizes its memory, disk and context plan from them; null = read from the model only",
    )


@dataclass
class DataConfig:
    """The test set (`ttcs.data.load_data_config`): a built-in, a local file or a hub dataset."""

    name: str = key(MISSING, "The set's short name in run names and tables")
    source: str = key(MISSING, "A built-in set (arith), or a hub dataset id")
    path: str | None = key(
        None, "A local .parquet, .jsonl or .json file read instead of source; null = source", data_file
    )
    split: str | None = key(None, "The hub dataset's split")
    subset: str | None = key(None, "The hub dataset's configuration (datasets.load_dataset(..., name=subset))")
    limit: int | None = key(None, "Read only the first N problems; null = all", Integer(1, nullable=True))
    verifier: str = key(
        "math", "The verifier plugin that reads and compares answers (entry points ttcs.verifiers)", verifier
    )
    prompt: str = key(
        "math",
        "The instruction after each question: math | multiple_choice",
        OneOf(imported("ttcs.prompts", "INSTRUCTIONS")),
    )
    numeric_answer: bool = key(False, "Every gold answer is a number: an unevaluated expression is scored wrong")
    options: dict[str, Any] = key({}, "The built-in generator's options (arith: n, seed, levels, ops)")


@dataclass
class BackendConfig:
    """The generation engine (`ttcs.generation`, `ttcs.engine`)."""

    name: str = key(
        "auto", "auto (vLLM when installed and a GPU is present, else hf) | hf | vllm", OneOf(("auto", "hf", "vllm"))
    )
    batch_size: int = key(64, "Prompts per transformers generate call (hf)", Integer(1))
    progress: bool = key(True, "Show a progress bar over generation")
    gpu_memory_utilization: float = key(
        0.35, "vLLM: the share of the GPU its engine reserves", Number(0, 1, low_open=True)
    )
    dtype: str = key("auto", "vLLM: the engine's weights dtype", OneOf(("auto", "float32", "bfloat16", "float16")))
    tensor_parallel_size: int = key(1, "vLLM: one engine per process; more GPUs with accelerate launch", OneOf((1,)))
    sleep_level: int = key(
        1, "vLLM sleep mode while TRL trains: 1 offloads the weights, 2 discards them", OneOf((1, 2))
    )
    max_model_len: int | None = key(
        None, "vLLM: the engine's context; null = prompt + longest generation", Integer(1, nullable=True)
    )
    enforce_eager: bool = key(False, "vLLM: no CUDA graphs (less memory, slower)")


@dataclass
class EvalConfig:
    """How the Solver is scored against the gold answers (`ttcs.evaluation`)."""

    k: int = key(8, "Samples per question: avg@k and maj@k", Integer(1))
    temperature: float = key(0.6, "Sampling temperature of the k samples; 0 = greedy", Number(0))
    top_p: float = key(1.0, "Nucleus sampling of the k samples; 1.0 = off", Number(0, 1, low_open=True))
    max_new_tokens: int = key(16, "Longest evaluated answer, in tokens (paper: 3072)", Integer(1))
    greedy: bool = key(True, "Also score one greedy answer per question", flag)
    score: str | None = key(
        "avg_at_k", "The score tables show for avg@k methods: avg_at_k | greedy", IfSet(OneOf(("avg_at_k", "greedy")))
    )


@dataclass
class RecipeConfig:
    """How the method adapts to the model (`ttcs.recipes`): paper | small_model (the CPU setting's adaptations)."""

    name: str = key("paper", "The recipe: paper | small_model", OneOf(imported("ttcs.recipes", "RECIPE_NAMES")))
    answer_policy: str = key(
        "any",
        "small_model: which answers a vote counts: boxed | any",
        ForRecipe(_SMALL_MODEL, OneOf(imported("ttcs.recipes.small_model", "ANSWER_POLICIES"))),
    )
    solver_prefill: str = key(
        "", 'small_model: text that starts every Solver answer; "" = none', ForRecipe(_SMALL_MODEL, prefill)
    )
    lenient_format: bool = key(
        True, "small_model: read a variant without its closing tags", ForRecipe(_SMALL_MODEL, flag)
    )
    problem_gate: bool = key(
        True, "small_model: pay a variant only if it states a problem", ForRecipe(_SMALL_MODEL, flag)
    )
    claim_prefill: str | None = key(
        None,
        "small_model: prefill of the Synthesizer's claim stage; null = no claim stage",
        ForRecipe(_SMALL_MODEL, text),
    )
    claim_max_new_tokens: int = key(
        8, "small_model: longest claimed answer, in tokens", ForRecipe(_SMALL_MODEL, When("claim_prefill", Integer(1)))
    )
    claim_check: str = key(
        "off",
        "small_model: keep a variant when its claim: off | exists | agrees (with the Solver's vote)",
        ForRecipe(_SMALL_MODEL, OneOf(imported("ttcs.recipes.small_model", "CLAIM_CHECKS"))),
    )


@dataclass
class MethodConfig:
    """Which method runs (`ttcs.loop`): base | self_consistency | ttrl | r_zero | ttcs | oracle | wrong_vote."""

    name: str = key(MISSING, "The method's name in run names and tables")
    score: str = key(
        "avg_at_k",
        "The method's score in tables: avg_at_k | maj_at_k | greedy",
        OneOf(("avg_at_k", "maj_at_k", "greedy")),
    )
    phases: list[str] = key(
        [], "The phases of each iteration, in order: some of synthesizer, curriculum, solver", phases
    )
    synthesizer_template: str = key(
        "${train.synthesizer.template}", "The Synthesizer prompt this method uses", ForPhases(_WITH_VARIANTS, template)
    )
    gamma: float = key(
        1.2,
        "Exponent of the capability reward (4 s (1 - s))^gamma",
        ForPhases(_WITH_VARIANTS, Number(0, low_open=True)),
    )
    copy_penalty: bool = key(True, "Penalise variants that copy their reference", ForPhases(_WITH_VARIANTS, flag))
    repetition_penalty: bool = key(
        True, "Penalise variants that repeat others of the batch", ForPhases(_WITH_VARIANTS, flag)
    )
    repetition_threshold: float = key(
        0.5, "BLEU distance under which two variants are repeats", ForPhases(_WITH_VARIANTS, Number(0, 1))
    )
    frozen_synthesizer: bool = key(
        False, "Skip the Synthesizer's training: a static Synthesizer (ablation)", ForPhases(_WITH_VARIANTS, flag)
    )
    curriculum_ratio: float = key(
        0.5, "Share of variants in the Solver's training set", ForPhases(_WITH_VARIANTS, Number(0, 1))
    )
    solver_reward: str = key(
        "vote",
        "The Solver's label: vote (the method) | gold (oracle) | wrong_vote (a control)",
        ForPhases(("solver",), OneOf(("vote", "gold", "wrong_vote"))),
    )
    wrong_share: float = key(
        0.0, "wrong_vote: the share of questions whose label is a wrong answer", ForPhases(("solver",), Number(0, 1))
    )
    uses_labels: bool = key(False, "Whether the method reads the gold answers (marked in tables)")


@dataclass
class HealthConfig:
    """The label-free health monitor (`ttcs.monitor`, docs/health.md)."""

    on_alarm: str = key(
        "warn",
        "warn = log an alarm and go on; stop = end the run after the phase",
        OneOf(imported("ttcs.monitor", "ON_ALARM")),
    )
    rules: dict[str, Any] = key(
        {}, "Changes to the monitor's rules: <rule>: {threshold: x, window: n}, or <rule>: false", health_rules
    )


@dataclass
class ReportConfig:
    """The run's report (`ttcs.report`)."""

    enabled: bool = key(True, "Write report.md with plots at the end of the run")
