"""`ttcs-bench-gpu` on the CPU: the tiny configuration runs one ttcs iteration per backend (hf, and vllm on the
fake engine) and reports every phase; the shipped architecture is Qwen2.5-Math-1.5B's."""

from __future__ import annotations

import json

from conftest import fake_vllm_installed
from ttcs_eval.bench_gpu import architecture, build_tokenizer, main

PHASES = ["iter_00/eval", "iter_01/synthesizer", "iter_01/curriculum", "iter_01/solver", "iter_01/eval"]


def test_the_shipped_architecture_is_qwen2_5_math_1_5b():
    from transformers import Qwen2Config

    from ttcs.memory import shape_of

    values = architecture(tiny=False)
    config = Qwen2Config(**{k: v for k, v in values.items() if k not in ("architectures", "model_type")})
    assert (
        config.hidden_size,
        config.num_hidden_layers,
        config.num_attention_heads,
        config.num_key_value_heads,
        config.intermediate_size,
        config.vocab_size,
    ) == (1536, 28, 12, 2, 8960, 151936)
    assert config.rope_parameters["rope_theta"] == 10000 and config.max_position_embeddings == 4096
    assert config.tie_word_embeddings and shape_of(config).params == 1_543_714_304


def test_the_tokenizer_covers_the_vocabulary_and_round_trips_text():
    tok = build_tokenizer(600)
    assert len(tok) == 600
    text = "Solve 3x + 5 = 20.\n\\boxed{5}"
    assert tok.decode(tok(text)["input_ids"]) == text


def test_bench_on_cpu_reports_every_phase_for_both_backends(tmp_path, capsys):
    out = tmp_path / "bench.json"
    with fake_vllm_installed() as vllm:
        assert main(["--questions", "2", "--group-size", "2", "--max-new-tokens", "4", "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert "| backend | phase | seconds | peak GPU GB (torch) | peak GPU GB (device) | generated tok/s |" in table
    phases = json.loads(out.read_text())["phases"]
    assert [(p["backend"], p["phase"]) for p in phases] == [("hf", k) for k in PHASES] + [("vllm", k) for k in PHASES]
    assert all(p["seconds"] > 0 and p["generated_tokens"] > 0 and p["torch_peak_gb"] is None for p in phases)
    steps = {(p["backend"], p["phase"]): p["grpo_step_seconds"] for p in phases}
    assert all(steps[(b, k)] > 0 for b in ("hf", "vllm") for k in ("iter_01/synthesizer", "iter_01/solver"))
    assert len(vllm.RECORD.engines) == 1
