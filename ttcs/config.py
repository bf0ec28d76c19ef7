"""The config: where the Hydra config tree lives, and one check of a composed config before anything loads.

`CONFIG_DIR` (found by `ttcs.prompts`, whose templates live in it) is the ``conf/`` tree: the repository's
``conf/`` in a source checkout (``pip install -e .``; ``ttcs/conf`` is a link to it), the copy shipped inside the
package (``ttcs/conf/``) in an installed wheel. Its YAML files are presets over the typed schema (`ttcs.schema`),
where every key is declared once with its type, default, meaning and rule.

`check_config(cfg)` refuses a key the schema does not declare (``+train.solver.setps=3`` included) and an
impossible value (a band out of order, a group of one sample, a batch that does not split into micro-batches, a
local model path that does not exist, ...) with a `ConfigError` of one line that names the key, the value and what
is allowed; `typed(cfg)` then turns the composed node into the `ttcs.schema.Config` the run receives.

Example:
    >>> from omegaconf import OmegaConf
    >>> try:
    ...     validate_config(OmegaConf.create({"eval": {"k": 0}}))
    ... except ConfigError as err:
    ...     print(err)
    eval.k=0: must be an integer >= 1
    >>> try:
    ...     validate_config(OmegaConf.create({"eval": {"kk": 4}}))
    ... except ConfigError as err:
    ...     print(err)
    eval.kk=4: no such key (did you mean eval.k?); eval has: k, temperature, top_p, max_new_tokens, greedy, score
"""

from __future__ import annotations

import dataclasses
import difflib
from typing import Any

from omegaconf import DictConfig, OmegaConf

from ttcs.errors import ConfigError as ConfigError
from ttcs.prompts import CONFIG_DIR as CONFIG_DIR  # the config tree's home; it is also the prompts'
from ttcs.schema import Config, nested, schema_fields
from ttcs.schema.rules import BAND_RULE as BAND_RULE
from ttcs.schema.rules import DTYPE_NAMES as DTYPE_NAMES
from ttcs.schema.rules import KNOWN_PHASES as KNOWN_PHASES
from ttcs.schema.rules import is_band as is_band
from ttcs.schema.rules import launched_processes as launched_processes
from ttcs.schema.rules import micro_batch_split as micro_batch_split
from ttcs.schema.rules import shown as shown
from ttcs.schema.rules import split_hint as split_hint

_MISSING = object()
# Top-level keys of a composed config that are not the run's: Hydra's own node.
_NOT_SCHEMA = ("hydra",)


def trained_iterations(cfg: Any) -> int:
    """Training iterations after the base evaluation: ``train.iterations`` for a method with phases, else none."""
    return int(cfg.train.iterations) if list(cfg.method.phases) else 0


def validate_config(cfg: DictConfig) -> None:
    """Refuse the first key `cfg` holds that the schema does not declare, then the first value its key's rule
    does not allow; each with a `ConfigError` of one line.

    Only the groups present are checked, so a partial config (a test's) can be validated.
    """
    check_unknown_keys(cfg, Config)
    check_rules(cfg, Config)


def check_unknown_keys(node: Any, schema: type, prefix: str = "") -> None:
    """Refuse a key under `node` that `schema` does not declare, naming the keys it does (and the nearest)."""
    declared = {f.name: kind for f, kind in schema_fields(schema)}
    for name in node:
        name = str(name)
        path = f"{prefix}{name}"
        if not prefix and name in _NOT_SCHEMA:
            continue
        if name not in declared:
            value = OmegaConf.select(node, name, default=None, throw_on_resolution_failure=False)
            shown = OmegaConf.to_container(value) if OmegaConf.is_config(value) else value
            raise ConfigError(unknown_key(path, shown))
        sub = nested(declared[name])
        child = node._get_node(name) if isinstance(node, DictConfig) else None
        if sub is not None and isinstance(child, DictConfig) and not child._is_none():
            check_unknown_keys(child, sub, path + ".")


def unknown_key(path: str, value: Any) -> str:
    """The line that refuses the undeclared key `path`: the nearest declared name, and every name beside it."""
    parent, _, name = path.rpartition(".")
    schema: type = Config
    walked: list[str] = []
    for part in parent.split(".") if parent else []:
        walked.append(part)
        sub = nested({f.name: kind for f, kind in schema_fields(schema)}.get(part))
        if sub is None:  # a mapping of free entries (train.solver.grpo, health.rules): Hydra's + adds one
            mapping = ".".join(walked)
            return (
                f"{path}={shown(value)}: {mapping} has no such entry; add one with a leading +: +{path}={shown(value)}"
            )
        schema = sub
    declared = [f.name for f in dataclasses.fields(schema)]
    near = difflib.get_close_matches(name, declared, n=1)
    hint = f" (did you mean {parent + '.' if parent else ''}{near[0]}?)" if near else ""
    return f"{path}={shown(value)}: no such key{hint}; {parent or 'the config'} has: {', '.join(declared)}"


def check_rules(cfg: DictConfig, schema: type, prefix: str = "") -> None:
    """Apply each declared key's rule to its value, where the key is present; a group whose rule says it is not
    read (`ttcs.schema.rules.Enabled`) is not checked."""
    for f, kind in schema_fields(schema):
        path = f"{prefix}{f.name}"
        if OmegaConf.select(cfg, path, default=_MISSING) is _MISSING:
            continue
        rule = f.metadata.get("rule")
        sub = nested(kind)
        if sub is None:
            # an interpolation (method.synthesizer_template: ${train.synthesizer.template}) is checked at its source,
            # so the line names the key the user set
            if rule is not None and not _interpolated(cfg, path):
                rule(cfg, path)
        elif rule is None or rule(cfg, path):
            check_rules(cfg, sub, path + ".")


def _interpolated(cfg: DictConfig, path: str) -> bool:
    parent, _, name = path.rpartition(".")
    node = OmegaConf.select(cfg, parent) if parent else cfg
    return isinstance(node, DictConfig) and OmegaConf.is_interpolation(node, name)


def typed(cfg: DictConfig | Config) -> Config:
    """The run's config as the schema's dataclasses (interpolations resolved), from a composed node; a node
    composed without the schema (a test's) is merged over it first."""
    if isinstance(cfg, Config):
        return cfg
    node: Any = OmegaConf.masked_copy(cfg, [str(k) for k in cfg if k not in _NOT_SCHEMA]) if "hydra" in cfg else cfg
    if OmegaConf.get_type(node) is not Config:
        node = OmegaConf.merge(OmegaConf.structured(Config), node)
    result = OmegaConf.to_object(node)
    assert isinstance(result, Config)
    return result


def plain(node: Any) -> dict[str, Any]:
    """A config node (an OmegaConf node or a schema dataclass) as a plain dict, interpolations resolved."""
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        return dataclasses.asdict(node)
    value = OmegaConf.to_container(node, resolve=True)
    if not isinstance(value, dict):
        raise ConfigError(f"expected a mapping, got {type(value).__name__}: {value!r}")
    return value  # type: ignore[return-value]  # a DictConfig's keys are strings


def as_schema(schema: type, node: Any) -> Any:
    """`node` as the schema dataclass `schema`: itself when it is one, else a mapping (an OmegaConf node or a dict,
    a test's or a library caller's) merged over the schema's defaults, refused with a `ConfigError` when it holds a
    key the schema does not declare or a value of the wrong type.

    Example:
        >>> from ttcs.schema.train import SolverConfig
        >>> as_schema(SolverConfig, {"steps": 2}).steps, as_schema(SolverConfig, {"steps": 2}).group_size
        (2, 8)
    """
    if isinstance(node, schema):
        return node
    from omegaconf.errors import OmegaConfBaseException

    try:
        return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(schema), node or {}))
    except OmegaConfBaseException as err:
        raise ConfigError(f"{schema.__name__}: {str(err).splitlines()[0]}") from None
