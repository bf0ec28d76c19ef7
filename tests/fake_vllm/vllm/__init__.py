"""A stand-in for the `vllm` package, for CPU tests: `LLM` and `SamplingParams` with vLLM's signatures.

The signatures are those of vLLM's ``vllm/entrypoints/llm.py`` (``LLM.__init__``, ``generate``,
``reset_prefix_cache``, ``sleep``, ``wake_up``) and ``vllm/sampling_params.py`` (the fields
ttcs and TRL use, with vLLM's defaults). The engine samples from a real transformers model
loaded from ``model``, so the weights loaded into it decide what it writes; the model sits
where the colocated worker's model sits in vLLM
(``llm.llm_engine.model_executor.driver_worker.model_runner.model``) and has its
``load_weights``. It refuses what vLLM cannot do (generating or loading weights while
asleep, sleeping without sleep mode) and records everything in `RECORD`:
engines built, weight loads (with a checksum of what was loaded), sleeps, wakes, and
every generate call with its sampling parameters.

Tests put ``tests/fake_vllm`` on ``sys.path`` (the ``fake_vllm`` fixture in conftest.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

__version__ = "0.31.0"

# Keyword arguments of vLLM's EngineArgs that ttcs or TRL pass through LLM(**kwargs).
ENGINE_KWARGS = {
    "enable_sleep_mode",
    "enable_chunked_prefill",
    "distributed_executor_backend",
    "max_model_len",
    "max_num_seqs",
    "max_num_batched_tokens",
    "enable_prefix_caching",
    "logprobs_mode",
    "model_impl",
}


@dataclass
class Record:
    """What every fake engine of this process did, in order."""

    engines: list = field(default_factory=list)
    events: list = field(default_factory=list)

    def clear(self) -> None:
        self.engines.clear()
        self.events.clear()

    def of(self, kind: str) -> list:
        return [e for e in self.events if e[0] == kind]


RECORD = Record()


@dataclass(kw_only=True)
class SamplingParams:
    """vLLM's sampling parameters (the subset ttcs and TRL pass), with vLLM's defaults and checks."""

    n: int = 1
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    repetition_penalty: float = 1.0
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    min_p: float = 0.0
    seed: int | None = None
    stop: str | list[str] | None = None
    stop_token_ids: list[int] | None = None
    ignore_eos: bool = False
    max_tokens: int | None = 16
    min_tokens: int = 0
    logprobs: int | None = None
    skip_special_tokens: bool = True

    def __post_init__(self):
        if not isinstance(self.n, int) or self.n < 1:
            raise ValueError(f"n must be an int >= 1, got {self.n!r}")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise ValueError(f"temperature must be >= 0 and top_p in (0, 1], got {self.temperature}, {self.top_p}")
        if self.top_k < -1:
            raise ValueError(f"top_k must be -1 or 0 (disable), or at least 1, got {self.top_k}")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise ValueError(f"max_tokens must be at least 1, got {self.max_tokens}")


@dataclass
class CompletionOutput:
    index: int
    text: str
    token_ids: list[int]
    cumulative_logprob: float | None = None
    logprobs: Any = None
    finish_reason: str | None = None


@dataclass
class RequestOutput:
    request_id: str
    prompt: str | None
    prompt_token_ids: list[int]
    outputs: list[CompletionOutput]
    finished: bool = True


class _Model:
    """The worker's model: a transformers model behind vLLM's ``load_weights``."""

    def __init__(self, llm: LLM, hf_model):
        self.llm, self.hf = llm, hf_model

    def load_weights(self, weights) -> set[str]:
        if self.llm.asleep:
            raise RuntimeError("load_weights on a sleeping engine writes to unmapped memory")
        params = dict(self.hf.named_parameters())
        loaded, checksum = set(), 0.0
        with torch.no_grad():
            for name, tensor in weights:
                if name == "lm_head.weight" and name not in params:
                    continue  # tied to the embeddings, as vLLM skips it
                params[name].copy_(tensor)  # KeyError on a name the checkpoint format does not have
                loaded.add(name)
                checksum += float(tensor.double().sum())
        RECORD.events.append(("load_weights", self.llm.id, len(loaded), checksum))
        return loaded


class _Namespace:
    def __init__(self, **attrs):
        self.__dict__.update(attrs)


class LLM:
    """vLLM's offline engine, sampling on the CPU with a transformers model."""

    def __init__(
        self,
        model: str,
        *,
        runner: str = "auto",
        convert: str = "auto",
        tokenizer: str | None = None,
        tokenizer_mode: str = "auto",
        skip_tokenizer_init: bool = False,
        trust_remote_code: bool = False,
        allowed_local_media_path: str = "",
        allowed_media_domains: list[str] | None = None,
        tensor_parallel_size: int = 1,
        dtype: str = "auto",
        quantization: str | None = None,
        revision: str | None = None,
        tokenizer_revision: str | None = None,
        seed: int = 0,
        gpu_memory_utilization: float = 0.9,
        swap_space: float = 4,
        cpu_offload_gb: float = 0,
        enforce_eager: bool = False,
        enable_return_routed_experts: bool = False,
        disable_custom_all_reduce: bool = False,
        hf_token: bool | str | None = None,
        hf_overrides: Any = None,
        mm_processor_kwargs: dict | None = None,
        pooler_config: Any = None,
        structured_outputs_config: Any = None,
        profiler_config: Any = None,
        attention_config: Any = None,
        kv_cache_memory_bytes: int | None = None,
        compilation_config: Any = None,
        logits_processors: list | None = None,
        **kwargs: Any,
    ) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        unknown = set(kwargs) - ENGINE_KWARGS
        if unknown:
            raise TypeError(f"EngineArgs got unexpected keyword arguments {sorted(unknown)}")
        if not 0 < gpu_memory_utilization <= 1:
            raise ValueError(f"gpu_memory_utilization must be in (0, 1], got {gpu_memory_utilization}")
        self.id = len(RECORD.engines)
        self.init = dict(
            model=model,
            tensor_parallel_size=tensor_parallel_size,
            dtype=dtype,
            seed=seed,
            gpu_memory_utilization=gpu_memory_utilization,
            enforce_eager=enforce_eager,
            **kwargs,
        )
        self.sleep_mode = bool(kwargs.get("enable_sleep_mode", False))
        self.asleep = False
        self.tokenizer = AutoTokenizer.from_pretrained(tokenizer or model)
        hf = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32).train(False)
        model_runner = _Namespace(model=_Model(self, hf))
        self.llm_engine = _Namespace(model_executor=_Namespace(driver_worker=_Namespace(model_runner=model_runner)))
        RECORD.engines.append(self)
        RECORD.events.append(("init", self.id, self.init))

    @property
    def hf_model(self):
        return self.llm_engine.model_executor.driver_worker.model_runner.model.hf

    def generate(
        self,
        prompts,
        sampling_params=None,
        *,
        use_tqdm=True,
        lora_request=None,
        priority=None,
        tokenization_kwargs=None,
    ) -> list[RequestOutput]:
        if self.asleep:
            raise RuntimeError("generate on a sleeping engine")
        prompts = [prompts] if isinstance(prompts, str | dict) else list(prompts)
        params = sampling_params or SamplingParams()
        params = list(params) if isinstance(params, list | tuple) else [params] * len(prompts)
        if len(params) != len(prompts):
            raise ValueError(f"{len(prompts)} prompts but {len(params)} sampling params")
        RECORD.events.append(("generate", self.id, len(prompts), params))
        return [self._request(i, p, sp) for i, (p, sp) in enumerate(zip(prompts, params, strict=True))]

    def _request(self, i: int, prompt, sp: SamplingParams) -> RequestOutput:
        if isinstance(prompt, dict):
            ids, text = list(prompt["prompt_token_ids"]), None
        else:
            ids, text = self.tokenizer(prompt, add_special_tokens=True)["input_ids"], prompt
        eos = self.tokenizer.eos_token_id
        outs = []
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            torch.manual_seed(sp.seed if sp.seed is not None else self.init["seed"] + i)
            for k in range(sp.n):
                new = self._sample(ids, sp)
                if eos in new:
                    new = new[: new.index(eos) + 1]  # vLLM keeps the EOS id in token_ids, not in the text
                outs.append(
                    CompletionOutput(
                        k,
                        self.tokenizer.decode(new, skip_special_tokens=True),
                        new,
                        finish_reason="stop" if eos in new else "length",
                    )
                )
        return RequestOutput(str(i), text, ids, outs)

    def _sample(self, ids: list[int], sp: SamplingParams) -> list[int]:
        greedy = sp.temperature == 0
        kwargs = dict(
            do_sample=not greedy,
            max_new_tokens=sp.max_tokens or 16,
            pad_token_id=self.tokenizer.pad_token_id,
            eos_token_id=self.tokenizer.eos_token_id,
        )
        if not greedy:
            kwargs.update(temperature=sp.temperature, top_p=sp.top_p, top_k=max(sp.top_k, 0))
        out = self.hf_model.generate(
            torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long), **kwargs
        )
        return out[0, len(ids) :].tolist()

    def reset_prefix_cache(self, reset_running_requests: bool = False, reset_connector: bool = False) -> bool:
        RECORD.events.append(("reset_prefix_cache", self.id))
        return True

    def sleep(self, level: int = 1):
        if not self.sleep_mode:
            raise ValueError("Sleep mode is not enabled: build the engine with enable_sleep_mode=True")
        if level not in (1, 2):
            raise ValueError(f"sleep level must be 1 or 2, got {level}")
        self.reset_prefix_cache()
        self.asleep = True
        RECORD.events.append(("sleep", self.id, level))

    def wake_up(self, tags: list[str] | None = None):
        if tags is not None and not set(tags) <= {"weights", "kv_cache"}:
            raise ValueError(f"wake_up tags must be among ('weights', 'kv_cache'), got {tags}")
        self.asleep = False
        RECORD.events.append(("wake_up", self.id, tags))
