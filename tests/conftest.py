"""Shared fixtures: a tiny tokenizer and a tiny random Qwen2 model built here, never downloaded; a fake vLLM."""

from __future__ import annotations

import os
import socket
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

import ttcs.schema  # noqa: F401  registers the config schema that conf/config.yaml composes over

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# Property-based tests: few examples, the same ones every run, no example database; each test
# asserts its own time limits instead of hypothesis' deadline. `--hypothesis-profile=thorough` digs deeper.
_HYPOTHESIS = dict(
    deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
settings.register_profile("ttcs", max_examples=30, derandomize=True, **_HYPOTHESIS)
settings.register_profile("thorough", max_examples=1000, **_HYPOTHESIS)
settings.load_profile("ttcs")

REPO_ROOT = Path(__file__).resolve().parents[1]
FAKE_VLLM = Path(__file__).resolve().parent / "fake_vllm"
CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
_CORPUS = [
    "What is 3 + 4? Reason step by step and put the final answer in \\boxed{}.",
    "The answer is \\boxed{7}. So 12 - 5 = 7 and 6 * 7 = 42, x = 5, \\frac{1}{2}.",
    "Solve for x: 3x + 5 = 20. Subtract 5, divide by 3, x = 5. Final answer \\boxed{5}",
    "<question>Tom has 3 apples and buys 4 more. How many apples?</question> \\boxed{7}",
    "0 1 2 3 4 5 6 7 8 9 + - * / = ( ) { } [ ] ^ . , ? ! : ; ' \" a b c d e f g h i j k l m n o p q r s t u v w x y z",
]


class ParityVerifier:
    """A stand-in verifier that gives a random model a split vote: the answer is the parity of the text."""

    name = "parity"

    def extract(self, text):
        return str(sum(map(ord, text)) % 2) if text else None

    def equivalent(self, a, b):
        return a == b

    def canonical(self, a):
        return a


def build_tiny_tokenizer(chat_template: str | None = CHATML):
    """A byte-level BPE tokenizer trained on a few lines: small vocabulary, covers any text."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>", bos_token=None, padding_side="left"
    )
    if chat_template:
        fast.chat_template = chat_template
    return fast


def build_tiny_model(tokenizer, seed: int = 0, heads: int = 4, kv_heads: int = 2):
    """A randomly initialised Qwen2 with hidden size 64 and 2 layers (~60k parameters).

    vLLM's CPU attention refuses head_dim 16 (64 / 4 heads): real-engine tests take ``heads=2, kv_heads=1``.
    """
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=512,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
        tie_word_embeddings=True,
    )
    return Qwen2ForCausalLM(config)


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """Two torch threads on two shared cores make tiny matmuls ~100x slower (spinning workers); one is plenty."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A local HF directory with the tiny model and tokenizer, as a user would pass with model.path=."""
    out = tmp_path_factory.mktemp("tiny-qwen2")
    tokenizer = build_tiny_tokenizer()
    build_tiny_model(tokenizer).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture()
def tiny_tokenizer():
    return build_tiny_tokenizer()


@pytest.fixture()
def tiny_model(tiny_tokenizer):
    return build_tiny_model(tiny_tokenizer)


@contextmanager
def fake_vllm_installed():
    """`tests/fake_vllm` importable as `vllm` and reported usable (no GPU here), with a clean record.

    The engine sets the torch.distributed rendezvous variables that vLLM's external launcher
    reads; they are put back as they were afterwards.
    """
    import sys

    import trl.trainer.grpo_trainer  # noqa: F401 - first, so that TRL's import-time checks see no vLLM

    import ttcs.generation

    keys = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
    before = {k: os.environ.get(k) for k in keys}
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(FAKE_VLLM))
        mp.delitem(sys.modules, "vllm", raising=False)
        import vllm

        vllm.RECORD.clear()
        mp.setattr(ttcs.generation, "vllm_available", lambda: True)
        try:
            yield vllm
        finally:
            sys.modules.pop("vllm", None)
            for k, v in before.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


@pytest.fixture()
def fake_vllm():
    with fake_vllm_installed() as vllm:
        yield vllm


def accelerate_launch(processes: int) -> list[str]:
    """The arguments after ``python`` that start `processes` CPU processes under ``accelerate launch``: --multi_gpu
    picks the torchrun launcher, and with no GPU visible the processes run on CPU over gloo, on a free port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return [
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",
        "--num_processes",
        str(processes),
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        str(port),
    ]


def console(monkeypatch, cwd, *args):
    """`ttcs <args>` in this process (the console script's main); the SystemExit message (the printed line) or None
    when it returned."""
    from ttcs import cli

    monkeypatch.chdir(cwd)
    monkeypatch.setattr("sys.argv", ["ttcs", *args])
    try:
        cli.main()
    except SystemExit as done:
        return done.code
    return None


def tiny_run(model_dir, method: str = "ttcs", backend: str = "hf") -> list[str]:
    """The overrides of a tiny run: `method` on the tiny model in `model_dir` (``train=debug``), a 3-question set,
    2 evaluation samples of 6 tokens, no progress bars."""
    return [
        f"method={method}",
        "train=debug",
        f"model.path={model_dir}",
        "model.name=tiny",
        "data.options.n=3",
        "eval.k=2",
        "eval.max_new_tokens=6",
        f"backend={backend}",
        "backend.progress=false",
    ]
