"""The config: where the Hydra config tree lives, and one check of a composed config before anything loads.

`CONFIG_DIR` is the ``conf/`` tree: the repository's ``conf/`` in a source checkout
(``pip install -e .``; ``ttcs/conf`` is a link to it), the copy shipped inside the
package (``ttcs/conf/``) in an installed wheel. `validate_config(cfg)` refuses impossible values (a band out of order,
a group of one sample, a batch that does not split into micro-batches, a local model
path that does not exist, ...) with a `ConfigError` of one line that names the key, the
value and what is allowed; `ttcs.loop.run` calls it first, so a bad command line fails
in a second instead of after the model has loaded.

Example:
    >>> from omegaconf import OmegaConf
    >>> try:
    ...     validate_config(OmegaConf.create({"eval": {"k": 0}}))
    ... except ConfigError as err:
    ...     print(err)
    eval.k=0: must be an integer >= 1
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from ttcs.threads import RULE as THREADS_RULE
from ttcs.threads import is_valid_setting


def _find_config_dir() -> Path:
    """The installed copy (``ttcs/conf``) when there is one, else the source tree's ``conf/``."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "conf", here.parent / "conf"):  # in a checkout ttcs/conf links to conf/
        if (candidate / "config.yaml").is_file():
            return candidate.resolve()
    return here.parent / "conf"


CONFIG_DIR = _find_config_dir()
PROMPTS_DIR = CONFIG_DIR / "prompts"

# The phases a method may list, in the only order the loop runs them.
KNOWN_PHASES = ("synthesizer", "curriculum", "solver")
# Names accepted by ttcs.models.resolve_dtype (kept here so that validation imports no torch).
DTYPE_NAMES = ("float32", "fp32", "bfloat16", "bf16", "float16", "fp16", "auto")
# A Hugging Face hub id: "name" or "org/name" (a path with more parts is a local path).
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
_MISSING = object()


class ConfigError(ValueError):
    """An impossible config value, in one line: ``key=value: what is allowed``."""


def validate_config(cfg: DictConfig) -> None:
    """Check every key the run reads; raise `ConfigError` on the first impossible value.

    Only the groups present are checked, so a partial config (a test's) can be validated.
    """
    if "threads" in cfg:
        _check_threads(cfg)
    for group, check in (("model", _check_model), ("data", _check_data), ("backend", _check_backend),
                         ("eval", _check_eval), ("train", _check_train), ("method", _check_method)):
        if group in cfg:
            check(cfg)


# ----------------------------------------------------------------------------- rules


def _check_threads(cfg) -> None:
    if not is_valid_setting(cfg.threads):
        _fail("threads", cfg.threads, f"{THREADS_RULE} (torch's CPU threads)")


def _fail(key: str, value: Any, rule: str):
    shown = OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value
    raise ConfigError(f"{key}={shown}: {rule}")


def _value(cfg, key: str) -> Any:
    value = OmegaConf.select(cfg, key, default=_MISSING)
    if value is _MISSING:
        raise ConfigError(f"{key} is missing: the run reads it")
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def integer(cfg, key: str, low: int, *, optional: bool = False) -> None:
    value = _value(cfg, key)
    if optional and value is None:
        return
    if not (isinstance(value, int) and not isinstance(value, bool)) or value < low:
        _fail(key, value, f"must be an integer >= {low}" + (" or null" if optional else ""))


def number(cfg, key: str, low: float, high: float | None = None, *, low_open: bool = False,
           high_open: bool = False, optional: bool = False) -> None:
    """A number in the interval [low, high] (open ends as flagged; high None = unbounded)."""
    value = _value(cfg, key)
    if optional and value is None:
        return
    ok = _is_number(value) and (value > low if low_open else value >= low)
    if high is not None:
        ok = ok and (value < high if high_open else value <= high)
    if not ok:
        if high is None:
            rule = f"must be a number {'>' if low_open else '>='} {low}"
        else:
            rule = f"must be a number in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        _fail(key, value, rule + (" or null" if optional else ""))


def choice(cfg, key: str, options: Sequence[Any]) -> None:
    value = _value(cfg, key)
    if not any(value == o and isinstance(value, bool) == isinstance(o, bool) for o in options):  # True is not 1
        _fail(key, value, "must be one of " + ", ".join(str(o).lower() if isinstance(o, bool) else str(o)
                                                        for o in options))


def flag(cfg, key: str) -> None:
    value = _value(cfg, key)
    if not isinstance(value, bool):
        _fail(key, value, "must be true or false")


# ----------------------------------------------------------------------------- groups


def _check_method(cfg) -> None:
    m = cfg.method
    phases = _value(cfg, "method.phases")
    listed = list(phases) if OmegaConf.is_list(phases) else None
    if listed is None or listed != [p for p in KNOWN_PHASES if p in listed]:
        _fail("method.phases", phases, f"must list some of {', '.join(KNOWN_PHASES)}, each once, in that order")
    choice(cfg, "method.score", ("avg_at_k", "maj_at_k", "greedy"))
    integer(cfg, "method.iterations", 1 if listed else 0)
    if "solver" in listed and "solver_reward" in m:
        choice(cfg, "method.solver_reward", ("vote", "gold"))
    if "synthesizer" in listed or "curriculum" in listed:
        number(cfg, "method.gamma", 0, low_open=True)
        number(cfg, "method.repetition_threshold", 0, 1)
        number(cfg, "method.curriculum_ratio", 0, 1)
        for key in ("copy_penalty", "repetition_penalty", "frozen_synthesizer"):
            flag(cfg, f"method.{key}")
        _check_template(cfg, "method.synthesizer_template")


def _check_template(cfg, key: str) -> None:
    from ttcs.prompts import builtin_templates, template_path

    value = _value(cfg, key)
    if not isinstance(value, str) or template_path(value) is None:
        _fail(key, value, f"must be a text file or a built-in template ({', '.join(builtin_templates())})")


def _check_model(cfg) -> None:
    path = _value(cfg, "model.path")
    if not isinstance(path, str) or not path:
        _fail("model.path", path, "must be a hub id, a local model directory, a .gguf file or embedded:<name>")
    if not path.startswith("embedded:") and not Path(path).expanduser().exists() and not _HUB_ID.match(path):
        _fail("model.path", path, "no such local file or directory (and not a hub id like org/name)")
    if not path.startswith("embedded:") and path.endswith(".gguf") and not Path(path).expanduser().is_file():
        _fail("model.path", path, "no such .gguf file")
    dtype = _value(cfg, "model.dtype")
    if dtype is not None and str(dtype).lower() not in DTYPE_NAMES:
        _fail("model.dtype", dtype, "must be one of " + ", ".join(DTYPE_NAMES))
    choice(cfg, "model.chat_template", ("auto", True, False))


def _check_data(cfg) -> None:
    from ttcs.prompts import INSTRUCTIONS
    from ttcs.verify import available_verifiers

    path = _value(cfg, "data.path")
    if path is not None and not Path(str(path)).expanduser().is_file():
        _fail("data.path", path, "no such file (a local .parquet, .jsonl or .json file, or null to use data.source)")
    integer(cfg, "data.limit", 1, optional=True)
    choice(cfg, "data.prompt", tuple(INSTRUCTIONS))
    known = available_verifiers()
    if known:  # none registered means ttcs is not installed: get_verifier explains that at run time
        choice(cfg, "data.verifier", known)


def _check_backend(cfg) -> None:
    choice(cfg, "backend.name", ("auto", "hf", "vllm"))
    integer(cfg, "backend.batch_size", 1)
    number(cfg, "backend.gpu_memory_utilization", 0, 1, low_open=True)
    choice(cfg, "backend.tensor_parallel_size", (1,))
    choice(cfg, "backend.sleep_level", (1, 2))
    choice(cfg, "backend.dtype", ("auto", "float32", "bfloat16", "float16"))
    integer(cfg, "backend.max_model_len", 1, optional=True)


def _check_eval(cfg) -> None:
    integer(cfg, "eval.k", 1)
    number(cfg, "eval.temperature", 0)  # 0 = greedy samples
    number(cfg, "eval.top_p", 0, 1, low_open=True)
    integer(cfg, "eval.max_new_tokens", 1)
    flag(cfg, "eval.greedy")
    if OmegaConf.select(cfg, "eval.score") is not None:
        choice(cfg, "eval.score", ("avg_at_k", "greedy"))


def _check_train(cfg) -> None:
    from ttcs.voting import ANSWER_POLICIES

    choice(cfg, "train.answer_policy", ANSWER_POLICIES)
    for role in ("solver", "synthesizer"):
        if role in cfg.train:
            _check_grpo(cfg, f"train.{role}")
    if "solver" in cfg.train:
        _check_solver(cfg, "train.solver")
    if "synthesizer" in cfg.train:
        _check_synthesizer(cfg, "train.synthesizer")
    if "curriculum" in cfg.train:
        _check_curriculum(cfg, "train.curriculum")


def _check_grpo(cfg, node: str) -> None:
    """The GRPO keys both roles share, and the split of a step into mini- and micro-batches."""
    for key in ("steps", "batch_questions", "micro_batch", "max_completion_length", "updates_per_step"):
        integer(cfg, f"{node}.{key}", 1)
    integer(cfg, f"{node}.group_size", 2)  # a group of one sample has no advantage to learn from
    number(cfg, f"{node}.temperature", 0, low_open=True)  # GRPO samples; TRL divides the logits by it
    number(cfg, f"{node}.top_p", 0, 1, low_open=True)
    number(cfg, f"{node}.learning_rate", 0)
    number(cfg, f"{node}.weight_decay", 0)
    number(cfg, f"{node}.max_grad_norm", 0, low_open=True)
    number(cfg, f"{node}.epsilon", 0, low_open=True)
    number(cfg, f"{node}.beta", 0)
    choice(cfg, f"{node}.scale_rewards", ("group", "batch", "none", True, False))
    completions = _value(cfg, f"{node}.batch_questions") * _value(cfg, f"{node}.group_size")
    updates = _value(cfg, f"{node}.updates_per_step")
    if completions % updates:
        _fail(f"{node}.updates_per_step", updates, f"must divide batch_questions x group_size = {completions} "
              "completions into equal mini-batches")
    mini, micro = completions // updates, _value(cfg, f"{node}.micro_batch")
    processes = launched_processes()
    if processes == 1 and not micro_batch_split(mini, micro, processes):
        _fail(f"{node}.micro_batch", micro, f"must divide the mini-batch of {mini} completions "
              "(batch_questions x group_size / updates_per_step)")
    if processes > 1 and not micro_batch_split(mini, micro, processes):
        _fail(f"{node}.micro_batch", micro, f"the mini-batch of {mini} completions (batch_questions x group_size / "
              f"updates_per_step) does not split into micro-batches on {processes} processes; "
              + split_hint(mini, processes))
    if OmegaConf.select(cfg, f"{node}.lora.enabled"):
        integer(cfg, f"{node}.lora.r", 1)
        number(cfg, f"{node}.lora.alpha", 0, low_open=True)
        number(cfg, f"{node}.lora.dropout", 0, 1, high_open=True)


def launched_processes() -> int:
    """How many processes the launch started, read without torch: ``WORLD_SIZE``, which ``accelerate launch``
    (torchrun) sets for each of them; 1 for a plain run."""
    try:
        return max(1, int(os.environ.get("WORLD_SIZE", "1")))
    except ValueError:
        return 1


def micro_batch_split(mini: int, micro_batch: int, processes: int) -> int:
    """The micro-batch each process takes of a mini-batch of `mini` completions (0: it does not split).

    Each process takes ``mini / processes`` completions in micro-batches of at most
    ``micro_batch``; the split must be exact. `ttcs.grpo.build_grpo_config` builds the
    trainer's batch sizes from it, and the config check refuses what it cannot split.

    Example:
        >>> micro_batch_split(32, 16, 1), micro_batch_split(32, 16, 4), micro_batch_split(32, 3, 1)
        (16, 8, 0)
    """
    micro = min(micro_batch, mini // processes)
    return micro if micro >= 1 and mini % (micro * processes) == 0 else 0


def split_hint(mini: int, processes: int) -> str:
    """What would split a mini-batch of `mini` completions over `processes` processes."""
    if mini % processes:
        counts = [n for n in range(1, min(mini, 64) + 1) if mini % n == 0]
        return (f"{mini} completions do not divide among {processes} processes: launch a process count that "
                f"divides {mini} ({', '.join(map(str, counts))}), or change batch_questions / group_size / "
                "updates_per_step")
    fits = [m for m in range(1, mini // processes + 1) if (mini // processes) % m == 0]
    return f"micro_batch must divide {mini // processes} (completions per process): one of {', '.join(map(str, fits))}"


def _check_solver(cfg, node: str) -> None:
    band = _value(cfg, f"{node}.band")
    if band is not None:
        pair = list(band) if OmegaConf.is_list(band) else None
        if not (pair and len(pair) == 2 and all(map(_is_number, pair)) and 0 <= pair[0] < pair[1] <= 1):
            _fail(f"{node}.band", band, "must be [low, high] with 0 <= low < high <= 1, or null")
    if OmegaConf.select(cfg, f"{node}.dynamic_sampling.enabled"):
        number(cfg, f"{node}.dynamic_sampling.oversample", 1)
        integer(cfg, f"{node}.dynamic_sampling.max_draws", 1)


def _check_synthesizer(cfg, node: str) -> None:
    integer(cfg, f"{node}.solver_samples", 2)  # the self-consistency of one sample is always 1
    integer(cfg, f"{node}.solver_max_new_tokens", 1)
    number(cfg, f"{node}.solver_temperature", 0, low_open=True)  # greedy answers always agree
    number(cfg, f"{node}.solver_top_p", 0, 1, low_open=True)
    integer(cfg, f"{node}.solver_top_k", 0)
    flag(cfg, f"{node}.lenient_format")
    if OmegaConf.select(cfg, f"{node}.problem_gate", default=None) is not None:
        flag(cfg, f"{node}.problem_gate")
    claim = OmegaConf.select(cfg, f"{node}.claim_prefill", default=None)
    if claim is not None:
        if not isinstance(claim, str) or not claim:
            _fail(f"{node}.claim_prefill", claim, "must be a non-empty text or null")
        integer(cfg, f"{node}.claim_max_new_tokens", 1)
    if OmegaConf.select(cfg, f"{node}.claim_check", default=None) is not None:
        from ttcs.rewards.synthesizer import CLAIM_CHECKS

        choice(cfg, f"{node}.claim_check", CLAIM_CHECKS)
    _check_template(cfg, f"{node}.template")


def _check_curriculum(cfg, node: str) -> None:
    from ttcs.curriculum import DEDUPE_MODES

    integer(cfg, f"{node}.variants_per_question", 1)
    integer(cfg, f"{node}.total", 1, optional=True)
    number(cfg, f"{node}.temperature", 0)
    number(cfg, f"{node}.top_p", 0, 1, low_open=True)
    integer(cfg, f"{node}.top_k", 0)
    integer(cfg, f"{node}.max_new_tokens", 1)
    choice(cfg, f"{node}.dedupe", DEDUPE_MODES)
    number(cfg, f"{node}.near_threshold", 0, 1, low_open=True)
    integer(cfg, f"{node}.max_size", 1, optional=True)
