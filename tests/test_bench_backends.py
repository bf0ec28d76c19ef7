"""`ttcs-bench-backends`: the command of each cell and the table it prints (the runs themselves are benchmarks)."""

from __future__ import annotations

from pathlib import Path

from ttcs_eval.bench_backends import command, format_table


def test_each_cell_sets_the_backend_and_the_dtype_of_model_and_engine():
    cmd = command("base", "vllm", "bfloat16", Path("/tmp/run"), ["eval.k=4"])
    assert cmd[1:3] == ["-m", "ttcs.cli"] and "method=base" in cmd and cmd[-1] == "eval.k=4"
    assert {"backend=vllm", "model.dtype=bfloat16", "backend.dtype=bfloat16", "hydra.run.dir=/tmp/run"} <= set(cmd)
    assert not any(c.startswith("method=") for c in command("default", "hf", "float32", Path("/x"), []))


def test_table_has_a_column_per_phase_and_shows_failures():
    rows = [
        {
            "job": "base",
            "backend": "hf",
            "dtype": "float32",
            "wall_seconds": 70.0,
            "phases": {"iter_00/eval": 60.5},
            "eval": {"avg_at_k": 53.6, "maj_at_k": 58.3, "greedy": 66.7},
        },
        {"job": "base", "backend": "vllm", "dtype": "float32", "wall_seconds": 3.0, "error": "no vLLM"},
    ]
    lines = format_table(rows).splitlines()
    assert "iter_00/eval" in lines[0] and len(lines) == 4
    assert "| 60.5 | 70.0 | 53.6 / 58.3 / 66.7 |" in lines[2] and lines[3].endswith("| 3.0 | no vLLM |")
