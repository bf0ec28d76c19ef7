"""The memory plan's arithmetic for Qwen2.5-Math-1.5B and 7B (the numbers docs/gpu.md shows) and the start-of-run
check that stops a run which cannot fit, saying what to change."""

from __future__ import annotations

import pytest
from conftest import REPO_ROOT
from hydra import compose, initialize_config_dir
from transformers import Qwen2Config

from ttcs.memory import MemoryPlanError, check_memory, phase_plan, shape_of

QWEN_1_5B = dict(
    vocab_size=151936,
    hidden_size=1536,
    intermediate_size=8960,
    num_hidden_layers=28,
    num_attention_heads=12,
    num_key_value_heads=2,
    tie_word_embeddings=True,
)
QWEN_7B = dict(
    vocab_size=152064,
    hidden_size=3584,
    intermediate_size=18944,
    num_hidden_layers=28,
    num_attention_heads=28,
    num_key_value_heads=4,
    tie_word_embeddings=False,
)


def compose_cfg(*items):
    with initialize_config_dir(config_dir=str(REPO_ROOT / "conf"), version_base="1.3"):
        return compose(config_name="config", overrides=["train=gpu", "backend=vllm", *items])


def test_shape_of_qwen_math_1_5b():
    shape = shape_of(Qwen2Config(**QWEN_1_5B))
    assert shape.params == 1_543_714_304 and shape.head_dim == 128
    assert (shape.layers, shape.kv_heads) == (28, 2)


def test_plan_for_one_80gb_gpu_matches_the_docs():
    cfg = compose_cfg()
    rows = phase_plan(
        shape_of(Qwen2Config(**QWEN_1_5B)),
        gpu_gb=80,
        engine_share=0.35,
        solver=cfg.train.solver,
        synthesizer=cfg.train.synthesizer,
    )
    totals = {(r["phase"], r["step"].split(" ")[0]): round(r["total"], 1) for r in rows}
    assert totals == {
        ("evaluation, curriculum, dynamic sampling", "generation"): 28.0,
        ("Synthesizer phase", "generation"): 49.6,
        ("Synthesizer phase", "backward"): 32.8,
        ("Solver phase", "generation"): 49.6,
        ("Solver phase", "backward"): 43.4,
    }
    doc = (REPO_ROOT / "docs" / "gpu.md").read_text()
    assert all(f"| {total} |" in doc for total in totals.values())
    assert round(rows[1]["items"]["AdamW moments (fp32)"], 1) == 12.3 and "gradients (fp32)" not in rows[1]["items"]


def test_the_1_5b_run_fits_and_the_7b_run_stops_with_what_to_change():
    cfg = compose_cfg()
    check_memory(cfg, shape=shape_of(Qwen2Config(**QWEN_1_5B)), gpu_gb=80, uses_engine=True)
    with pytest.raises(MemoryPlanError, match="lora.enabled=true"):
        check_memory(cfg, shape=shape_of(Qwen2Config(**QWEN_7B)), gpu_gb=80, uses_engine=True)
    lora = compose_cfg("train.solver.lora.enabled=true", "train.synthesizer.lora.enabled=true", "model.dtype=bfloat16")
    check_memory(lora, shape=shape_of(Qwen2Config(**QWEN_7B)), gpu_gb=80, uses_engine=True)


def test_sharded_parameters_are_refused_with_the_engine(monkeypatch):
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    with pytest.raises(MemoryPlanError, match="sharded"):
        check_memory(compose_cfg(), shape=shape_of(Qwen2Config(**QWEN_1_5B)), gpu_gb=80, uses_engine=True)
