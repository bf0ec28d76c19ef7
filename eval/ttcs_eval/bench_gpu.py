"""`ttcs-bench-gpu`: one short ttcs iteration on a randomly initialised Qwen2.5-Math-1.5B, phase by phase.

Needs torch and transformers, no weights and no hub: the architecture is the model's own
config (``data/qwen2.5-math-1.5b-config.json``: hidden 1536, 28 layers, 12 heads, 2 KV heads,
MLP 8960, vocabulary 151,936, rope theta 10,000, 4,096 positions, tied embeddings), the
weights are random and the tokenizer is built here (characters, padded to the model's
vocabulary). On a CUDA GPU it runs `ttcs` (method ttcs, the ``debug`` schedule resized by
the options below) in bf16 with ``backend=hf``, then again with ``backend=vllm`` when vLLM
is installed, and prints for every phase: seconds, peak GPU memory (PyTorch's allocator peak
and the device's, sampled every 0.1 s), generated tokens per second, and the mean GRPO step
time. Without CUDA it runs the same iteration on a tiny configuration (hidden 64, 2 layers)
in fp32 — how it is tested.

A random model writes gibberish, so completions run to the token limit: the numbers show
the cost of full-length generations, not of a real run's answers.

Usage::

    ttcs-bench-gpu                                   # hf, then vllm when installed
    ttcs-bench-gpu --backend hf --max-new-tokens 1024 --questions 16 --json bench.json
"""

from __future__ import annotations

import argparse
import json
import string
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

CONFIG_FILE = Path(__file__).resolve().parent / "data" / "qwen2.5-math-1.5b-config.json"
TINY = dict(
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    vocab_size=512,
    max_position_embeddings=1024,
)
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@dataclass
class PhaseResult:
    """One phase of one backend's run."""

    backend: str
    phase: str
    seconds: float
    torch_peak_gb: float | None
    device_peak_gb: float | None
    generated_tokens: int
    tokens_per_second: float
    grpo_step_seconds: float | None


def architecture(tiny: bool) -> dict:
    """The config.json values of Qwen2.5-Math-1.5B (or the tiny stand-in)."""
    values = json.loads(CONFIG_FILE.read_text())
    return {**values, **TINY} if tiny else values


def build_tokenizer(vocab_size: int):
    """A character-level tokenizer padded with filler tokens to `vocab_size` ids, with a ChatML template."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    chars = list(dict.fromkeys(string.printable))
    vocab = {t: i for i, t in enumerate(SPECIALS + chars)}
    vocab.update({f"<w{i}>": i for i in range(len(vocab), vocab_size)})
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<|endoftext|>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tok.decoder = decoders.Fuse()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        padding_side="left",
        additional_special_tokens=SPECIALS[1:],
    )
    fast.chat_template = CHATML
    return fast


def build_model_dir(out: Path, *, tiny: bool, dtype: torch.dtype) -> Path:
    """Save a randomly initialised model of the architecture, and its tokenizer, as a local HF directory."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    values = {k: v for k, v in architecture(tiny).items() if k not in ("architectures", "model_type")}
    tokenizer = build_tokenizer(values["vocab_size"])
    config = Qwen2Config(**values, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        model = Qwen2ForCausalLM(config).to(dtype)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    del model
    return out


def overrides(model_dir: Path, backend: str, args: argparse.Namespace, cuda: bool) -> list[str]:
    """The ``ttcs`` overrides of one benchmark run: the debug schedule at the benchmark's sizes."""
    q, g, t, s = args.questions, args.group_size, args.max_new_tokens, args.steps
    gpu = str(cuda).lower()
    return [
        "method=ttcs",
        "train=debug",
        "data=arith",
        f"data.options.n={q}",
        f"model.path={model_dir}",
        "model.name=random-qwen2.5-math-1.5b",
        f"model.dtype={'bfloat16' if cuda else 'float32'}",
        f"backend={backend}",
        "backend.progress=false",
        "eval.k=4",
        f"eval.max_new_tokens={t}",
        f"train.solver.steps={s}",
        f"train.solver.batch_questions={q}",
        f"train.solver.group_size={g}",
        f"train.solver.micro_batch={g}",
        f"train.solver.max_completion_length={t}",
        f"train.solver.bf16={gpu}",
        f"train.solver.gradient_checkpointing={gpu}",
        f"train.synthesizer.steps={s}",
        f"train.synthesizer.batch_questions={q}",
        "train.synthesizer.group_size=4",
        "train.synthesizer.micro_batch=4",
        f"train.synthesizer.max_completion_length={t}",
        "train.synthesizer.solver_samples=4",
        f"train.synthesizer.solver_max_new_tokens={t}",
        f"train.synthesizer.bf16={gpu}",
        f"train.synthesizer.gradient_checkpointing={gpu}",
        f"train.curriculum.total={2 * q}",
    ]


class DevicePeak:
    """Samples the device's used memory (all processes, vLLM included) on a thread; `peak_gb` when stopped."""

    def __init__(self, every: float = 0.1):
        self.every, self.peak = every, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            free, total = torch.cuda.mem_get_info()
            self.peak = max(self.peak, total - free)
            self._stop.wait(self.every)

    def __enter__(self) -> DevicePeak:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_gb(self) -> float:
        return self.peak / 1e9


class PhaseMonitor:
    """The `ttcs.loop.run` monitor: seconds and memory peaks of every phase (its generated tokens are in
    ``state.json``: `summarize`)."""

    def __init__(self):
        self.phases: list[dict] = []

    @contextmanager
    def __call__(self, key: str) -> Iterator[None]:
        cuda = torch.cuda.is_available()
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        with DevicePeak() if cuda else _no_peak() as device:
            yield
        if cuda:
            torch.cuda.synchronize()
        self.phases.append(
            {
                "phase": key,
                "seconds": time.perf_counter() - t0,
                "torch_peak_gb": torch.cuda.max_memory_allocated() / 1e9 if cuda else None,
                "device_peak_gb": device.peak_gb if device else None,
            }
        )


@contextmanager
def _no_peak() -> Iterator[None]:
    yield None


def step_rows(run_dir: Path, phase: str) -> list[dict]:
    from ttcs.rundir import RunDir

    return [m for m in RunDir(run_dir).metrics() if m.get("phase") == phase and m.get("seconds") is not None]


def summarize(backend: str, monitor: PhaseMonitor, run_dir: Path, cfg) -> list[PhaseResult]:
    """Per phase: the generated tokens the run recorded in ``state.json`` (the main process's, through ttcs's
    backends), plus TRL's own rollouts when TRL generated them (backend hf)."""
    from ttcs.rundir import RunDir

    results, state = [], RunDir(run_dir)
    for p in monitor.phases:
        role = p["phase"].split("/")[1]
        rows = step_rows(run_dir, role) if role in ("solver", "synthesizer") else []
        tokens = state.phase_info(p["phase"])["generated_tokens"]
        if rows and backend == "hf":
            node = cfg.train[role]
            per_update = node.batch_questions * node.group_size / node.get("updates_per_step", 1)
            tokens += int(sum((r.get("completion_length") or 0) * per_update for r in rows))
        step = sum(r["seconds"] for r in rows) / len(rows) if rows else None
        results.append(
            PhaseResult(
                backend,
                p["phase"],
                round(p["seconds"], 2),
                _round(p["torch_peak_gb"]),
                _round(p["device_peak_gb"]),
                tokens,
                round(tokens / max(p["seconds"], 1e-9), 1),
                None if step is None else round(step, 2),
            )
        )
    return results


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 2)


def run_backend(backend: str, args: argparse.Namespace, work: Path, model_dir: Path) -> list[PhaseResult]:
    """One short ttcs iteration with `backend`, monitored phase by phase."""
    from hydra import compose, initialize_config_dir

    from ttcs.cli import CONFIG_DIR
    from ttcs.loop import run

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides(model_dir, backend, args, torch.cuda.is_available()))
    monitor, run_dir = PhaseMonitor(), work / f"run-{backend}"
    run(cfg, run_dir, monitor=monitor)
    return summarize(backend, monitor, run_dir, cfg)


def format_table(results: Sequence[PhaseResult]) -> str:
    head = "| backend | phase | seconds | peak GPU GB (torch) | peak GPU GB (device) | generated tok/s | GRPO step s |"
    lines = [head, "|" + "---|" * 7]
    for r in results:
        cells = [
            r.backend,
            r.phase,
            r.seconds,
            r.torch_peak_gb,
            r.device_peak_gb,
            r.tokens_per_second,
            r.grpo_step_seconds,
        ]
        lines.append("| " + " | ".join("n/a" if c is None else str(c) for c in cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Build the random model, run the iteration per backend, print the table (and write --json)."""
    from ttcs.generation import vllm_available

    parser = argparse.ArgumentParser(prog="ttcs-bench-gpu", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--backend",
        choices=("all", "hf", "vllm"),
        default="all",
        help="all = hf, then vllm when it is installed and a GPU is present",
    )
    parser.add_argument("--questions", type=int, default=None, help="test questions = questions per step (8; CPU 2)")
    parser.add_argument("--group-size", type=int, default=None, help="Solver samples per question (8; CPU 4)")
    parser.add_argument("--max-new-tokens", type=int, default=None, help="every generation's length (512; CPU 8)")
    parser.add_argument("--steps", type=int, default=None, help="GRPO steps per training phase (2; CPU 1)")
    parser.add_argument("--tiny", action="store_true", help="the tiny configuration even on a GPU")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    cuda = torch.cuda.is_available()
    tiny = args.tiny = args.tiny or not cuda
    for name, gpu_default, cpu_default in (
        ("questions", 8, 2),
        ("group_size", 8, 4),
        ("max_new_tokens", 512, 8),
        ("steps", 2, 1),
    ):
        if getattr(args, name) is None:
            setattr(args, name, cpu_default if tiny else gpu_default)
    backends = ["hf", "vllm"] if args.backend == "all" else [args.backend]
    backends = [b for b in backends if b == "hf" or vllm_available() or args.backend == "vllm"]
    results: list[PhaseResult] = []
    with tempfile.TemporaryDirectory(prefix="ttcs-bench-gpu-") as tmp:
        work = Path(tmp)
        model_dir = build_model_dir(work / "model", tiny=tiny, dtype=torch.bfloat16 if cuda else torch.float32)
        for backend in backends:
            results += run_backend(backend, args, work, model_dir)
    device = torch.cuda.get_device_name() if cuda else "CPU (tiny configuration)"
    print(
        f"ttcs-bench-gpu on {device}: {args.questions} questions, G={args.group_size}, "
        f"{args.max_new_tokens} new tokens, {args.steps} GRPO step(s) per phase\n"
    )
    print(format_table(results))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "device": device,
                    "args": {k: str(v) for k, v in vars(args).items()},
                    "phases": [asdict(r) for r in results],
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
