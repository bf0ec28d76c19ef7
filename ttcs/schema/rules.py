"""What one config key may hold: the rules the schema (`ttcs.schema`) attaches to its keys, and `key`, the one
declaration of a key (its default, its meaning in one line, its rule).

A rule is a callable ``(cfg, key)`` that raises `ConfigError` with one line ``key=value: what is allowed``; those
with parameters are small frozen dataclasses. Rules read the composed config (an OmegaConf node), so that one rule
can look at a sibling key (a micro-batch must divide its role's batch) and a partial config (a test's) can be
checked. Conditions (`When`, `ForPhases`, `ForRecipe`, ...) apply a rule only where the run reads the key.

Example:
    >>> from omegaconf import OmegaConf
    >>> try:
    ...     Integer(1)(OmegaConf.create({"eval": {"k": 0}}), "eval.k")
    ... except ConfigError as err:
    ...     print(err)
    eval.k=0: must be an integer >= 1
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from ttcs.errors import ConfigError
from ttcs.prompts import builtin_templates, template_path
from ttcs.threads import RULE as THREADS_RULE
from ttcs.threads import is_valid_setting
from ttcs.verify import available_verifiers

# The phases a method may list, in the only order the loop runs them.
KNOWN_PHASES = ("synthesizer", "curriculum", "solver")
# Names accepted by ttcs.models.resolve_dtype (kept here so that validation imports no torch).
DTYPE_NAMES = ("float32", "fp32", "bfloat16", "bf16", "float16", "fp16", "auto")
# A Hugging Face hub id: "name" or "org/name" (a path with more parts is a local path).
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
_MISSING = object()


def key(default: Any, meaning: str, rule: Callable | None = None, *, trl: bool = False) -> Any:
    """The one declaration of a config key: its default, its meaning in one line, the rule its values obey, and
    whether TRL's `GRPOConfig` receives it under the same name (``trl=True``; ttcs checks the name against
    GRPOConfig's fields before a run starts). Used as a dataclass field's default; the type is the annotation."""
    metadata = {"meaning": meaning, "rule": rule, "trl": trl}
    if isinstance(default, list | dict):
        return dataclasses.field(default_factory=lambda: copy.deepcopy(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def group(factory: Callable[[], Any], meaning: str, rule: Callable | None = None) -> Any:
    """The declaration of a nested group of keys (a dataclass); `rule` may gate its checks (`When`)."""
    return dataclasses.field(default_factory=factory, metadata={"meaning": meaning, "rule": rule, "trl": False})


# ----------------------------------------------------------------------------- reading and refusing


def shown(value: Any) -> str:
    """A value as the command line writes it (true, not True; null, not None; [0.8, 0.2])."""
    if OmegaConf.is_config(value):
        value = OmegaConf.to_container(value, resolve=True)
    if value is None:
        return "null"
    return str(value).lower() if isinstance(value, bool) else str(value)


def _fail(key: str, value: Any, rule: str):
    raise ConfigError(f"{key}={shown(value)}: {rule}")


def _value(cfg, key: str) -> Any:
    value = OmegaConf.select(cfg, key, default=_MISSING)
    if value is _MISSING:
        raise ConfigError(f"{key} is missing: the run reads it")
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _sibling(key: str, name: str) -> str:
    """The key `name` beside `key` (``train.solver.band``, ``steps`` -> ``train.solver.steps``)."""
    return key.rsplit(".", 1)[0] + "." + name


# ----------------------------------------------------------------------------- rules: what one key may hold
# A rule is a callable (cfg, key) that raises ConfigError; those with parameters are small dataclasses.


@dataclass(frozen=True)
class Integer:
    """An integer >= `low` (or null, when `nullable`)."""

    low: int
    nullable: bool = False

    def __call__(self, cfg, key: str) -> None:
        value = _value(cfg, key)
        if self.nullable and value is None:
            return
        if not (isinstance(value, int) and not isinstance(value, bool)) or value < self.low:
            _fail(key, value, f"must be an integer >= {self.low}" + (" or null" if self.nullable else ""))


@dataclass(frozen=True)
class Number:
    """A number in the interval [low, high] (open ends as flagged; high None = unbounded)."""

    low: float
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def __call__(self, cfg, key: str) -> None:
        value = _value(cfg, key)
        ok = _is_number(value) and (value > self.low if self.low_open else value >= self.low)
        if self.high is not None:
            ok = ok and (value < self.high if self.high_open else value <= self.high)
        if ok:
            return
        if self.high is None:
            _fail(key, value, f"must be a number {'>' if self.low_open else '>='} {self.low}")
        _fail(
            key,
            value,
            f"must be a number in {'(' if self.low_open else '['}{self.low}, {self.high}"
            f"{')' if self.high_open else ']'}",
        )


@dataclass(frozen=True)
class OneOf:
    """One of `options`: a tuple, or a function that returns them (for names defined in modules that import
    this one)."""

    options: Sequence[Any] | Callable[[], Sequence[Any]]

    def __call__(self, cfg, key: str) -> None:
        value = _value(cfg, key)
        options = self.options() if callable(self.options) else self.options
        if not any(value == o and isinstance(value, bool) == isinstance(o, bool) for o in options):  # True is not 1
            _fail(
                key,
                value,
                "must be one of " + ", ".join(str(o).lower() if isinstance(o, bool) else str(o) for o in options),
            )


def flag(cfg, key: str) -> None:
    """true or false."""
    value = _value(cfg, key)
    if not isinstance(value, bool):
        _fail(key, value, "must be true or false")


def text(cfg, key: str) -> None:
    """A non-empty text, or null (an absent key reads as null)."""
    value = OmegaConf.select(cfg, key, default=None)
    if value is not None and (not isinstance(value, str) or not value):
        _fail(key, value, "must be a non-empty text or null")


def prefill(cfg, key: str) -> None:
    """A text that starts a reply: a string, "" (or null) for none."""
    value = OmegaConf.select(cfg, key, default=None)
    if value is not None and not isinstance(value, str):
        _fail(key, value, 'must be a text ("" for none)')


BAND_RULE = "must be [low, high] with 0 <= low < high <= 1, or null"


def is_band(pair: Sequence[Any]) -> bool:
    """Whether ``pair`` is a band [low, high] of a group's mean reward: two numbers, 0 <= low < high <= 1.

    low < high: a band holds the groups between its ends (the paper's [0.25, 0.75]); a point is no band.
    `band` checks the config's, `ttcs.rewards.solver.get_majority_reward` the one it is given.

    Example:
        >>> is_band([0.25, 0.75]), is_band([0.5, 0.5]), is_band([0, 1.5])
        (True, False, False)
    """
    return len(pair) == 2 and all(map(_is_number, pair)) and 0 <= pair[0] < pair[1] <= 1


def band(cfg, key: str) -> None:
    """The closed band [low, high] of a group's mean reward (`is_band`), or null (no filter)."""
    value = _value(cfg, key)
    if value is None:
        return
    pair = list(value) if OmegaConf.is_list(value) else None
    if not (pair and is_band(pair)):
        _fail(key, value, BAND_RULE)


def template(cfg, key: str) -> None:
    """A Synthesizer prompt: a text file, or a built-in template's name."""
    value = _value(cfg, key)
    if not isinstance(value, str) or template_path(value) is None:
        _fail(key, value, f"must be a text file or a built-in template ({', '.join(builtin_templates())})")


def threads(cfg, key: str) -> None:
    """torch's CPU threads: auto or a count (`ttcs.threads`)."""
    value = _value(cfg, key)
    if not is_valid_setting(value):
        _fail(key, value, f"{THREADS_RULE} (torch's CPU threads)")


def health_rules(cfg, key: str) -> None:
    """Changes to the health monitor's rules (`ttcs.monitor.configured_rules`): a mapping, or null for none."""
    value = OmegaConf.select(cfg, key, default=None)
    if value is None:
        return
    from ttcs.monitor import configured_rules  # the monitor's rules know their own names

    changes = OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value
    if not isinstance(changes, dict):
        _fail(key, value, "must map rule names to {threshold: x, window: n} or false")
        return
    try:
        configured_rules(changes)
    except (ValueError, TypeError, AttributeError) as err:
        if str(err).startswith(f"{key}."):  # names the entry itself: "health.rules.x: no such rule; ..."
            raise ConfigError(str(err)) from None
        _fail(key, value, str(err))


def model_path(cfg, key: str) -> None:
    """A hub id, an existing local model directory or .gguf file, or embedded:<name>."""
    path = _value(cfg, key)
    if not isinstance(path, str) or not path:
        _fail(key, path, "must be a hub id, a local model directory, a .gguf file or embedded:<name>")
    if path.startswith("embedded:"):
        return
    if not Path(path).expanduser().exists() and not _HUB_ID.match(path):
        _fail(key, path, "no such local file or directory (and not a hub id like org/name)")
    if path.endswith(".gguf") and not Path(path).expanduser().is_file():
        _fail(key, path, "no such .gguf file")


def dtype(cfg, key: str) -> None:
    """A weights dtype name `ttcs.models.resolve_dtype` reads, or null."""
    value = _value(cfg, key)
    if value is not None and str(value).lower() not in DTYPE_NAMES:
        _fail(key, value, "must be one of " + ", ".join(DTYPE_NAMES))


def data_file(cfg, key: str) -> None:
    """An existing local data file, or null (data.source is read instead)."""
    path = _value(cfg, key)
    if path is not None and not Path(str(path)).expanduser().is_file():
        _fail(key, path, "no such file (a local .parquet, .jsonl or .json file, or null to use data.source)")


def verifier(cfg, key: str) -> None:
    """An installed verifier's name (unchecked when none is registered: ttcs is not installed, and
    `get_verifier` explains that at run time)."""
    known = available_verifiers()
    if known:
        OneOf(known)(cfg, key)


def phases(cfg, key: str) -> None:
    """Some of `KNOWN_PHASES`, each once, in the loop's order."""
    value = _value(cfg, key)
    listed = list(value) if OmegaConf.is_list(value) else None
    if listed is None or listed != [p for p in KNOWN_PHASES if p in listed]:
        _fail(key, value, f"must list some of {', '.join(KNOWN_PHASES)}, each once, in that order")


def iterations(cfg, key: str) -> None:
    """Training iterations: at least 1 for a method with phases; an evaluation-only method never reads them."""
    if OmegaConf.select(cfg, "method.phases", default=None):
        Integer(1)(cfg, key)


def _step_completions(cfg, key: str) -> int:
    """The completions of one optimizer step of the role that holds `key`: batch_questions x group_size."""
    return _value(cfg, _sibling(key, "batch_questions")) * _value(cfg, _sibling(key, "group_size"))


def updates_per_step(cfg, key: str) -> None:
    """An integer >= 1 that cuts the step's batch_questions x group_size completions into equal mini-batches."""
    Integer(1)(cfg, key)
    updates = _value(cfg, key)
    completions = _step_completions(cfg, key)
    if completions % updates:
        _fail(
            key,
            updates,
            f"must divide batch_questions x group_size = {completions} completions into equal mini-batches",
        )


def micro_batch(cfg, key: str) -> None:
    """An integer >= 1 that splits a mini-batch into equal micro-batches on every launched process."""
    Integer(1)(cfg, key)
    micro = _value(cfg, key)
    completions = _step_completions(cfg, key)
    mini, processes = completions // _value(cfg, _sibling(key, "updates_per_step")), launched_processes()
    if micro_batch_split(mini, micro, processes):
        return
    if processes == 1:
        _fail(
            key,
            micro,
            f"must divide the mini-batch of {mini} completions (batch_questions x group_size / updates_per_step)",
        )
    _fail(
        key,
        micro,
        f"the mini-batch of {mini} completions (batch_questions x group_size / "
        f"updates_per_step) does not split into micro-batches on {processes} processes; " + split_hint(mini, processes),
    )


# ----------------------------------------------------------------------------- conditions


@dataclass(frozen=True)
class IfSet:
    """`rule`, when the key is present and not null."""

    rule: Callable

    def __call__(self, cfg, key: str) -> None:
        if OmegaConf.select(cfg, key, default=None) is not None:
            self.rule(cfg, key)


@dataclass(frozen=True)
class When:
    """`rule`, only when the key `switch` beside the key is set: the run reads the key only then
    (``claim_max_new_tokens`` when ``claim_prefill``)."""

    switch: str
    rule: Callable

    def __call__(self, cfg, key: str) -> None:
        if OmegaConf.select(cfg, _sibling(key, self.switch)):
            self.rule(cfg, key)


@dataclass(frozen=True)
class Enabled:
    """For a group of keys: whether they are read (and so checked), by the group's own switch key
    (``lora.enabled``); a group without this rule is always checked."""

    switch: str = "enabled"

    def __call__(self, cfg, key: str) -> bool:
        return bool(OmegaConf.select(cfg, f"{key}.{self.switch}"))


@dataclass(frozen=True)
class ForPhases:
    """`rule`, only for a method that lists one of `phases` (the others never read the key)."""

    phases: tuple[str, ...]
    rule: Callable

    def __call__(self, cfg, key: str) -> None:
        listed = _value(cfg, _sibling(key, "phases"))
        if any(p in listed for p in self.phases):
            self.rule(cfg, key)


@dataclass(frozen=True)
class ForRecipe:
    """`rule`, only for a recipe (``recipe.name``) listed in `recipes` (the others never read the key)."""

    recipes: tuple[str, ...]
    rule: Callable

    def __call__(self, cfg, key: str) -> None:
        if _value(cfg, _sibling(key, "name")) in self.recipes:
            self.rule(cfg, key)


def imported(module: str, name: str) -> Callable[[], Sequence[Any]]:
    """A module's list of names, imported when a check runs: a partial config should import no more than its
    checks need."""
    return lambda: getattr(importlib.import_module(module), name)


# ----------------------------------------------------------------------------- the batch split, shared with ttcs.grpo


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
        return (
            f"{mini} completions do not divide among {processes} processes: launch a process count that "
            f"divides {mini} ({', '.join(map(str, counts))}), or change batch_questions / group_size / "
            "updates_per_step"
        )
    fits = [m for m in range(1, mini // processes + 1) if (mini // processes) % m == 0]
    return f"micro_batch must divide {mini // processes} (completions per process): one of {', '.join(map(str, fits))}"
