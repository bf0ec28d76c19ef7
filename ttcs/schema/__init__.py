"""The config schema: one typed declaration per key, registered with Hydra's ConfigStore as ``ttcs_schema``.

``conf/config.yaml`` starts its defaults list with ``ttcs_schema``, so every YAML file under ``conf/`` (a group's
options, an experiment preset) is a preset merged over these dataclasses: a value of the wrong type is refused as
it is merged, and `ttcs.config.check_config` refuses every key the schema does not declare (Hydra lets ``+key=``
add one even to a structured config) and every value its rule does not allow. The run receives `Config` itself
(`ttcs.config.typed`), not an OmegaConf node.

Each key is a dataclass field made by `ttcs.schema.rules.key`: its type (the annotation), its default, its meaning
in one line and its rule. `describe` lists them (docs/config.md is its output).

Example:
    >>> rows = {name: meaning for name, _, _, meaning in describe(Config)}
    >>> rows["train.solver.group_size"]
    'Samples per question G: one majority vote (a GRPO group)'
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from hydra.core.config_store import ConfigStore

from ttcs.schema.rules import OneOf, group, imported, key, threads
from ttcs.schema.run import (
    BackendConfig,
    DataConfig,
    EvalConfig,
    HealthConfig,
    MethodConfig,
    ModelConfig,
    RecipeConfig,
    ReportConfig,
)
from ttcs.schema.train import TrainConfig

SCHEMA_NAME = "ttcs_schema"


@dataclass
class Config:
    """One run of one method on one model and one test set."""

    method: MethodConfig = group(MethodConfig, "Which method runs")
    model: ModelConfig = group(ModelConfig, "The base model")
    data: DataConfig = group(DataConfig, "The test set")
    backend: BackendConfig = group(BackendConfig, "The generation engine")
    recipe: RecipeConfig = group(RecipeConfig, "How the method adapts to the model")
    train: TrainConfig = group(TrainConfig, "Training budget and GRPO hyper-parameters")
    eval: EvalConfig = group(EvalConfig, "Scoring against the gold answers")
    report: ReportConfig = group(ReportConfig, "The run's report")
    health: HealthConfig = group(HealthConfig, "The label-free health monitor")
    seed: int = key(0, "Global seed: data generation, sampling and training all derive from it")
    run_name: str = key(
        "${method.name}-${model.name}-${data.name}-seed${seed}",
        "Name of the run directory under outputs/; rerunning with the same name resumes that run",
    )
    device: str | None = key(None, "Device for training and hf generation; null = cuda when available, else cpu")
    threads: Any = key("auto", "torch's CPU threads: auto (the idle cores, split among processes) or a count", threads)
    keep_checkpoints: str = key(
        "kept",
        "Checkpoints a run keeps: all | last (of each trained role: resuming needs it) | kept (last, and the Solver "
        "of the label-free iteration to keep) | none (last until the run finishes, then none: no extension)",
        OneOf(imported("ttcs.checkpoints", "POLICIES")),
    )
    dry_run: bool = key(False, "Check everything, print the plan and exit without writing anything")
    verbose: bool = key(False, "Show library warnings and TRL's raw log lines in the terminal, not only in run.log")


def register() -> None:
    """Register `Config` with Hydra's ConfigStore (done on import: Hydra composes ``conf/config.yaml`` over it)."""
    ConfigStore.instance().store(name=SCHEMA_NAME, node=Config)


def schema_fields(schema: type) -> Iterator[tuple[dataclasses.Field, Any]]:
    """Each field of a schema dataclass with its resolved type (the annotations are strings here)."""
    hints = typing.get_type_hints(schema)
    for f in dataclasses.fields(schema):
        yield f, hints[f.name]


def nested(kind: Any) -> type | None:
    """The dataclass a field's type names, or None for a leaf key."""
    return kind if isinstance(kind, type) and dataclasses.is_dataclass(kind) else None


def key_type(path: str, schema: type = Config) -> Any:
    """The declared type of the dotted key `path`, or None where the schema does not declare it."""
    kind: Any = schema
    for part in path.split("."):
        sub = nested(kind)
        if sub is None:
            return None
        kind = {f.name: k for f, k in schema_fields(sub)}.get(part)
    return kind


def describe(schema: type = Config, prefix: str = "") -> Iterator[tuple[str, str, str, str]]:
    """Every leaf key under `schema`: (dotted name, type, default, meaning), in declaration order."""
    for f, kind in schema_fields(schema):
        name = f"{prefix}{f.name}"
        sub = nested(kind)
        if sub is not None:
            yield from describe(sub, name + ".")
            continue
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        shown = "(required)" if default == "???" else _as_typed(default)
        yield name, _type_name(kind), shown, f.metadata.get("meaning", "")


def _as_typed(value: Any) -> str:
    """A default as it is typed on the command line: true, null, [0.25,0.75], {dtype: bfloat16}."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | tuple):
        return "[" + ",".join(_as_typed(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_as_typed(v)}" for k, v in value.items()) + "}"
    if value == "":
        return '""'
    return str(value)


def reference() -> str:
    """docs/config.md: every key of the schema, group by group (``python -m ttcs.schema > docs/config.md``)."""
    lines = [
        "# Configuration reference",
        "",
        "<!-- Generated by `python -m ttcs.schema > docs/config.md` from the schema in ttcs/schema/; a test keeps it in",
        "sync. Edit the schema, not this page. -->",
        "",
        "Every key ttcs reads, with its type, its default and its meaning. The defaults are the schema's; the YAML files",
        "under `conf/` are presets over it (the `train=cpu` default job changes many of the `train` keys; `ttcs --cfg",
        "job <overrides>` prints the composed values of a command). A key that is not listed here is refused, with or",
        "without a leading `+`; a value of the wrong type or out of its range is refused in one line before anything is",
        "written. `(required)`: the group's presets set it. A `train.solver`/`train.synthesizer` key marked TRL is passed",
        "to TRL's `GRPOConfig` under the same name; `train.<role>.grpo` takes further `GRPOConfig` fields (`+train.solver."
        "grpo.<field>=...`), checked against TRL's own fields before the run starts.",
        "",
    ]
    for f, kind in schema_fields(Config):
        sub = nested(kind)
        if sub is None:
            continue
        lines += [f"## `{f.name}`: {f.metadata.get('meaning', '')}", "", _first_line(sub.__doc__), ""]
        lines += _table(sub, f.name + ".")
    lines += ["## Top-level keys", ""]
    lines += _table(Config, "", leaves_only=True)
    return "\n".join(lines)


def _first_line(doc: str | None) -> str:
    return " ".join((doc or "").strip().split("\n\n")[0].split())


def _table(schema: type, prefix: str, leaves_only: bool = False) -> list[str]:
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    trl = _trl_keys(schema, prefix)
    for name, kind, default, meaning in describe(schema, prefix):
        if leaves_only and "." in name:
            continue
        mark = " (TRL)" if name in trl else ""
        cell, said, typ = default.replace("|", "\\|"), meaning.replace("|", "\\|"), kind.replace(" | ", " or ")
        rows.append(f"| `{name}` | {typ} | `{cell}` | {said}{mark} |")
    return [*rows, ""]


def _trl_keys(schema: type, prefix: str) -> set[str]:
    keys = set()
    for f, kind in schema_fields(schema):
        sub = nested(kind)
        if sub is not None:
            keys |= _trl_keys(sub, f"{prefix}{f.name}.")
        elif f.metadata.get("trl"):
            keys.add(prefix + f.name)
    return keys


def _type_name(kind: Any) -> str:
    text = str(kind).replace("typing.", "")
    return kind.__name__ if isinstance(kind, type) else text


register()
