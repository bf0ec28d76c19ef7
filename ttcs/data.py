"""Test problems: read a local file, a Hugging Face dataset or a built-in set into `Problem`s.

`load_problems(source)` takes

- a local ``.parquet``, ``.jsonl`` or ``.json`` file, in the verl/TTRL layout (``prompt`` chat
  messages, ``reward_model.ground_truth``, ``data_source``, ``extra_info.index``) or a plain
  one (``problem``/``question``/``input`` + ``answer``/``final_answer``/``target``..., or a
  ``solution`` whose last ``\\boxed{...}`` is the answer), multiple choice included
  (``options``/``choices`` + a letter, ``answer_index`` or ``answer_letter``);
- a Hugging Face dataset id, read with ``datasets.load_dataset`` (fails fast and clearly
  when the hub cannot be reached: pass a local file with ``data.path=...`` instead);
- a built-in name: ``arith`` (see `ttcs.arith`).

The layout is detected from the columns. Anything malformed raises `DataError` with one
line naming the file and the problem. `load_data_config(cfg)` does the same from the
Hydra ``data`` node (``conf/data/*.yaml``).

Example:
    >>> from ttcs.data import load_problems
    >>> problems = load_problems("arith", n=4, seed=0)
    >>> problems[0].id, problems[0].source
    ('arith-L1-0000', 'arith')
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import socket
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import getproxies

from ttcs_verifiers import last_boxed as _last_boxed

from ttcs.arith import generate_arith
from ttcs.errors import UserError
from ttcs.types import Problem

logger = logging.getLogger(__name__)

FILE_SUFFIXES = (".parquet", ".jsonl", ".json")
BUILTINS = ("arith",)
QUESTION_KEYS = ("problem", "question", "Problem", "Question", "input", "query")
ANSWER_KEYS = ("answer", "final_answer", "Answer", "target", "expected_answer", "ground_truth")
CHOICE_KEYS = ("options", "choices")
ID_KEYS = ("id", "unique_id", "problem_id", "question_id", "uuid", "idx")
RECORD_KEYS = ("data", "records", "rows", "problems", "examples")
# Long texts that only repeat the answer: kept out of Problem.meta.
_HEAVY_KEYS = ("solution", "cot_content", "reasoning")
_OTHER_DATA_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".yaml", ".yml", ".arrow", ".gz", ".zip", ".tar")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
_LETTER = re.compile(r"^\(?([A-Z])\)?\.?$")


class DataError(UserError, ValueError):
    """A data source that cannot be read: one line naming the file (or dataset) and the problem."""


# ------------------------------------------------------------------------- public API


def load_problems(
    source: str | os.PathLike,
    *,
    split: str | None = None,
    limit: int | None = None,
    name: str | None = None,
    subset: str | None = None,
    **builtin_options: Any,
) -> list[Problem]:
    """Read test problems from a local file, a Hugging Face dataset id or a built-in name.

    Args:
        source: a ``.parquet``/``.jsonl``/``.json`` path, a hub id (``HuggingFaceH4/MATH-500``)
            or a built-in name (``arith``).
        split: the hub split (default: ``test`` when there is one, else the only split).
        limit: keep only the first ``limit`` problems.
        name: display name of the dataset: ``Problem.source`` where rows carry no
            ``data_source``, and the prefix of generated ids.
        subset: the hub configuration (``datasets.load_dataset(..., name=subset)``).
        **builtin_options: options of a built-in generator (``n``, ``seed``, ``levels`` for arith).

    Returns:
        The problems, in file order, with unique ids.

    Raises:
        DataError: missing/unsupported/malformed file, unreachable hub, bad rows.

    Example:
        >>> len(load_problems("arith", n=8, levels=[1]))
        8
    """
    if limit is not None and limit < 0:
        raise DataError(f"{source}: limit must be >= 0, got {limit}")
    kind = _source_kind(source)
    if kind != "builtin" and builtin_options:
        raise DataError(f"{source}: options {sorted(builtin_options)} apply only to built-in sources {BUILTINS}")
    if kind == "builtin":
        problems = _load_builtin(str(source), builtin_options)
        return problems if limit is None else problems[:limit]
    if kind == "file":
        path = Path(source).expanduser()
        origin, rows, default = str(path), _read_file(path), name or path.stem
    else:
        origin, rows, default = str(source), _read_hub(str(source), split, subset, limit), name or str(source)
    if limit is not None:
        rows = rows[:limit]
    return rows_to_problems(rows, origin=origin, default_source=default)


def load_data_config(cfg: Any) -> list[Problem]:
    """Load the problems a Hydra ``data`` node (``conf/data/*.yaml``) describes.

    Uses ``path`` when set, else ``source``; passes ``split``, ``limit`` and (for built-ins)
    ``options``; ``name`` becomes ``Problem.source`` where the rows carry no ``data_source``.

    Example:
        >>> cfg = {"name": "arith", "source": "arith", "path": None, "split": None, "limit": 4,
        ...        "options": {"n": 8, "seed": 1}}
        >>> len(load_data_config(cfg))
        4
    """
    node = _as_dict(cfg)
    for key in ("name", "source"):
        if not node.get(key):
            raise DataError(f"data config: missing required key '{key}' (keys found: {sorted(node)})")
    source = node.get("path") or node["source"]
    options = dict(node.get("options") or {}) if _source_kind(source) == "builtin" else {}
    return load_problems(
        source,
        split=node.get("split"),
        limit=node.get("limit"),
        name=node["name"],
        subset=node.get("subset"),
        **options,
    )


# --------------------------------------------------------------------- source routing


def _source_kind(source: str | os.PathLike) -> str:
    """``builtin``, ``file`` or ``hub``: explicit paths, existing files and data suffixes are files."""
    if isinstance(source, os.PathLike):
        return "file"
    text = str(source)
    if text in BUILTINS:
        return "builtin"
    suffix = Path(text).suffix.lower()
    looks_like_path = text.startswith(("/", ".", "~")) or "\\" in text or text.count("/") > 1
    if Path(text).expanduser().exists() or looks_like_path or suffix in FILE_SUFFIXES + _OTHER_DATA_SUFFIXES:
        return "file"
    if _HUB_ID.match(text):
        return "hub"
    raise DataError(f"{text}: not a file, a Hugging Face dataset id or a built-in name {BUILTINS}")


def _load_builtin(source: str, options: dict) -> list[Problem]:
    try:
        return generate_arith(**options)
    except (TypeError, ValueError) as err:
        raise DataError(f"{source}: bad options {options}: {_first_line(err)}") from err


# ---------------------------------------------------------------------- local files


def _read_file(path: Path) -> list[dict]:
    """Rows of a local file as plain Python dicts."""
    if path.suffix.lower() not in FILE_SUFFIXES:
        raise DataError(f"{path}: unsupported file type '{path.suffix}' (use {', '.join(FILE_SUFFIXES)})")
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty")
    reader = {".parquet": _read_parquet, ".jsonl": _read_jsonl, ".json": _read_json}[path.suffix.lower()]
    try:
        rows = reader(path)
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not UTF-8 text (byte {err.start})") from err
    if not rows:
        raise DataError(f"{path}: no rows")
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise DataError(f"{path}: row {index} is a {type(row).__name__}, expected an object")
    return [_plain(dict(row)) for row in rows]


def _read_parquet(path: Path) -> list[dict]:
    import pandas as pd

    try:
        frame = pd.read_parquet(path)
    except Exception as err:  # pyarrow raises many types for a corrupt file; all mean the same here
        raise DataError(f"{path}: not a readable parquet file ({_first_line(err)})") from err
    return frame.to_dict("records")


def _read_jsonl(path: Path) -> list[Any]:
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise DataError(f"{path}: line {number} is not valid JSON ({err.msg})") from err
    return rows


def _read_json(path: Path) -> list[Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DataError(f"{path}: not valid JSON ({err.msg} at line {err.lineno})") from err
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        for key in RECORD_KEYS:
            if isinstance(data.get(key), list):
                return data[key]
        if data and all(isinstance(value, list) for value in data.values()):
            return _columns_to_rows(path, data)
    raise DataError(
        f"{path}: expected a list of objects, an object with one of {list(RECORD_KEYS)}, "
        f"or an object of equal-length columns"
    )


def _columns_to_rows(path: Path, columns: dict[str, list]) -> list[dict]:
    lengths = {len(values) for values in columns.values()}
    if len(lengths) != 1:
        raise DataError(f"{path}: columns have different lengths {sorted(lengths)}")
    return [dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)]


# ---------------------------------------------------------------------- hub datasets


def hub_offline() -> bool:
    """Whether the user put Hugging Face in offline mode (their own variables, read as HF reads them)."""
    import huggingface_hub.constants as hf_constants

    flags = (os.environ.get(var, "").upper() for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))
    return bool(hf_constants.HF_HUB_OFFLINE) or any(flag in ("1", "ON", "YES", "TRUE") for flag in flags)


def hub_reachable(timeout: float = 3.0) -> bool:
    """One TCP connect to the hub endpoint: without it `datasets` retries for ~25 s before failing.

    Behind a proxy a direct connect proves nothing, so then the hub is assumed reachable.
    """
    import huggingface_hub.constants as hf_constants

    if getproxies().get("https"):
        return True
    url = urlparse(hf_constants.ENDPOINT)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def _read_hub(dataset_id: str, split: str | None, subset: str | None, limit: int | None) -> list[dict]:
    hint = "pass a local .parquet/.jsonl/.json file with data.path=..."
    offline = hub_offline()
    if not offline and not hub_reachable():
        raise DataError(
            f"{dataset_id}: cannot reach the Hugging Face hub; {hint} (or set HF_HUB_OFFLINE=1 to use a cached copy)"
        )
    import datasets

    try:
        loaded = datasets.load_dataset(dataset_id, name=subset, split=split)
    except Exception as err:  # datasets raises ConnectionError, FileNotFoundError, ValueError, hub errors...
        reason = "offline and not in the local cache" if offline else _first_line(err)
        raise DataError(f"{dataset_id}: cannot load from the Hugging Face hub ({reason}); {hint}") from err
    if isinstance(loaded, Mapping):  # a DatasetDict: no split was named
        loaded = loaded[_pick_split(dataset_id, list(loaded))]
    if limit is not None:
        loaded = loaded.select(range(min(limit, len(loaded))))
    rows = [_plain(dict(row)) for row in loaded]
    if not rows:
        raise DataError(f"{dataset_id}: no rows")
    return rows


def _pick_split(dataset_id: str, splits: list[str]) -> str:
    if "test" in splits:
        return "test"
    if len(splits) == 1:
        return splits[0]
    raise DataError(f"{dataset_id}: several splits {splits}; name one with data.split=...")


# ------------------------------------------------------------------------ row parsing


def rows_to_problems(rows: Sequence[Mapping], *, origin: str, default_source: str) -> list[Problem]:
    """Turn rows (plain dicts) into Problems, detecting the layout from the columns.

    Args:
        rows: one dict per problem.
        origin: the file or dataset the rows came from (named in every error).
        default_source: ``Problem.source`` where a row has no ``data_source``; prefix of generated ids.
    """
    columns = sorted({key for row in rows for key in row})
    has_question = any(key in columns for key in QUESTION_KEYS)
    verl = "reward_model" in columns or ("prompt" in columns and not has_question)
    if not verl and not has_question:
        raise DataError(
            f"{origin}: no question column (expected one of {list(QUESTION_KEYS)} or a verl "
            f"'prompt'); columns found: {columns}"
        )
    parse = _parse_verl_row if verl else _parse_plain_row
    problems, seen = [], set()
    for index, row in enumerate(rows):
        try:
            problem = parse(row, index, default_source)
        except _RowError as err:
            raise DataError(f"{origin}: row {index}: {err}") from err
        if problem.id in seen:
            raise DataError(f"{origin}: duplicate id '{problem.id}' (row {index})")
        seen.add(problem.id)
        problems.append(problem)
    return problems


class _RowError(Exception):
    """A problem with one row; `rows_to_problems` adds the file and the row number."""


def _parse_verl_row(row: Mapping, index: int, default_source: str) -> Problem:
    question = _last_user_message(row.get("prompt"))
    reward = row.get("reward_model") or {}
    if not isinstance(reward, Mapping):
        raise _RowError(f"reward_model is a {type(reward).__name__}, expected an object with ground_truth")
    source = _text_or_none(row.get("data_source")) or default_source
    extra_info = row.get("extra_info")
    extra: Mapping = extra_info if isinstance(extra_info, Mapping) else {}
    id_key = _first_key(row, ID_KEYS)
    if id_key:
        problem_id = str(row[id_key])
    elif extra.get("index") is not None:
        problem_id = f"{source}-{extra['index']}"
    else:
        problem_id = f"{default_source}-{index}"
    meta = {key: value for key, value in extra.items() if _is_scalar(value) and key != "index"}
    if isinstance(row.get("ability"), str):
        meta["ability"] = row["ability"]
    if isinstance(reward.get("style"), str):
        meta["style"] = reward["style"]
    return Problem(
        id=problem_id, question=question, answer=_answer_text(reward.get("ground_truth")), source=source, meta=meta
    )


def _last_user_message(prompt: Any) -> str:
    if isinstance(prompt, str):
        return _check_question(prompt)
    if not isinstance(prompt, list):
        raise _RowError(f"prompt is a {type(prompt).__name__}, expected a list of chat messages")
    for message in reversed(prompt):
        if isinstance(message, Mapping) and message.get("role") == "user":
            return _check_question(message.get("content"))
    raise _RowError("prompt has no message with role 'user'")


def _parse_plain_row(row: Mapping, index: int, default_source: str) -> Problem:
    question_key = _first_key(row, QUESTION_KEYS)
    if question_key is None:
        raise _RowError(f"no question (none of {list(QUESTION_KEYS)} is set)")
    question = _check_question(row[question_key])
    choices = _choices(row)
    answer_key = _first_key(row, ANSWER_KEYS)
    answer: str | None
    if choices is not None:
        answer = _choice_letter(row, answer_key, choices)
    else:
        answer = _answer_text(row[answer_key]) if answer_key else None
        if answer is None and isinstance(row.get("solution"), str):
            answer = last_boxed(row["solution"])
    id_key = _first_key(row, ID_KEYS)
    problem_id = str(row[id_key]) if id_key else f"{default_source}-{index}"
    used = {
        question_key,
        answer_key,
        id_key,
        "data_source",
        "answer_letter",
        "answer_index",
        *CHOICE_KEYS,
        *_HEAVY_KEYS,
    }
    meta = {key: value for key, value in row.items() if key not in used and _is_scalar(value)}
    source = _text_or_none(row.get("data_source")) or default_source
    return Problem(id=problem_id, question=question, answer=answer, source=source, choices=choices, meta=meta)


def _check_question(value: Any) -> str:
    if not isinstance(value, str):
        raise _RowError(f"question is a {type(value).__name__}, expected a string")
    if not value.strip():
        raise _RowError("empty question")
    return value.strip()


def _choices(row: Mapping) -> tuple[str, ...] | None:
    key = _first_key(row, CHOICE_KEYS)
    if key is None:
        return None
    if not isinstance(row[key], list) or not row[key]:
        raise _RowError(f"'{key}' is a {type(row[key]).__name__}, expected a non-empty list of options")
    return tuple(str(option) for option in row[key])


def _choice_letter(row: Mapping, answer_key: str | None, choices: tuple[str, ...]) -> str:
    """The gold letter of a multiple-choice row, from ``answer_letter``, ``answer_index`` or the answer.

    An integer answer is an index (MMLU); a string is a letter (``C``, ``(C)``), else an option's text.
    """
    value = next(
        (row[key] for key in ("answer_letter", "answer_index") if row.get(key) is not None),
        row.get(answer_key) if answer_key else None,
    )
    if isinstance(value, int) and not isinstance(value, bool):
        position = value
    elif isinstance(value, str) and (letter := _LETTER.match(value.strip())):
        position = ord(letter.group(1)) - ord("A")
    elif isinstance(value, str) and value.strip() in choices:
        position = choices.index(value.strip())
    else:
        raise _RowError(f"multiple-choice answer {value!r} is neither a letter, an index nor one of the options")
    if not 0 <= position < len(choices):
        raise _RowError(f"multiple-choice answer {value!r} is out of range for {len(choices)} options")
    return chr(ord("A") + position)


# --------------------------------------------------------------------------- helpers


def last_boxed(text: str) -> str | None:
    """Content of the last well-formed ``\\boxed{...}`` (or ``\\fbox{...}``) in ``text``; None when there is none.

    The verifiers' extractor (linear in the text, ``\\{`` taken as a literal brace), with an
    empty box read as no answer.

    Example:
        >>> last_boxed(r"so \\boxed{1} then \\boxed{\\frac{1}{2}}")
        '\\\\frac{1}{2}'
    """
    return _last_boxed(text) or None


def _answer_text(value: Any) -> str | None:
    """A gold answer as text: numbers to str, lists to their element(s) joined by ", ", ``$`` stripped."""
    if value is None:
        return None
    if isinstance(value, list):
        parts = [part for part in (_answer_text(item) for item in value) if part is not None]
        return ", ".join(parts) if parts else None
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, (bool, int)):
        return str(value)
    if not isinstance(value, str):
        raise _RowError(f"answer is a {type(value).__name__}, expected a string, number or list")
    return _strip_math_delimiters(value.strip()) or None


_DOLLAR_SPAN = re.compile(r"(?<!\\)(\$\$?)(.+?)(?<!\\)\1", re.DOTALL)
_SEPARATORS_ONLY = re.compile(r"[\s,;]*(?:and[\s,;]+)*", re.IGNORECASE)


def _strip_math_delimiters(text: str) -> str:
    """``$...$`` removed when the answer is nothing but math spans: ``$69$,$84$`` -> ``69, 84``.

    Each span is kept whole and the spans are joined by ", " (OlympiadBench writes multi-part
    answers as ``$a$,$b$``); an answer with words outside its math (``$5$ apples``) is kept
    as given, and an escaped ``\\$`` is a dollar sign, not a delimiter.
    """
    spans = [m.group(2).strip() for m in _DOLLAR_SPAN.finditer(text)]
    if not spans or not _SEPARATORS_ONLY.fullmatch(_DOLLAR_SPAN.sub(" ", text)):
        return text
    return ", ".join(spans)


def _plain(value: Any) -> Any:
    """numpy arrays/scalars (parquet read by pandas) to lists and Python scalars; NaN to None."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if type(value).__module__ == "numpy":
        return _plain(value.tolist())  # ndarray -> list, numpy scalar -> Python scalar
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _first_key(row: Mapping, keys: tuple[str, ...]) -> str | None:
    """The first of ``keys`` that the row sets (present and not None)."""
    return next((key for key in keys if row.get(key) is not None), None)


def _text_or_none(value: Any) -> str | None:
    return (value.strip() or None) if isinstance(value, str) else None


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool))


def _as_dict(cfg: Any) -> dict:
    import dataclasses

    from omegaconf import DictConfig, OmegaConf

    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        return dataclasses.asdict(cfg)

    if isinstance(cfg, DictConfig):
        resolved = OmegaConf.to_container(cfg, resolve=True)
        if isinstance(resolved, dict):  # always, for a DictConfig; the check tells the type checker
            return resolved
    if isinstance(cfg, Mapping):
        return dict(cfg)
    raise DataError(f"data config: expected a mapping, got {type(cfg).__name__}")


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0]}" if lines else type(err).__name__
