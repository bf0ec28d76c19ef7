"""report.md from a fixture run directory: table, plots, reward curves, sample variants."""

import json

from ttcs.report import format_results_table, write_report


def test_report_from_a_run_directory(tmp_path):
    results = {
        "method": "ttcs",
        "model": "tiny",
        "data": "arith",
        "seed": 0,
        "run_name": "r",
        "versions": {"ttcs": "0"},
        "iterations": [
            {
                "iteration": 0,
                "eval": {"avg_at_k": 10.0, "avg_at_k_stderr": 1.0, "maj_at_k": 20.0, "greedy": None, "k": 4, "n": 8},
            },
            {
                "iteration": 1,
                "eval": {"avg_at_k": 12.5, "avg_at_k_stderr": 1.5, "maj_at_k": 25.0, "greedy": 12.5, "k": 4, "n": 8},
                "pseudo_label_accuracy": 0.5,
            },
        ],
    }
    (tmp_path / "results.json").write_text(json.dumps(results))
    metrics = [
        {"phase": "synthesizer", "reward_mean": 0.2},
        {"phase": "solver", "reward_mean": 0.4},
        {"phase": "solver", "reward_mean": 0.5},
        {"phase": "eval"},
    ]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in metrics))
    (tmp_path / "curriculum").mkdir()
    rec = {
        "reference_id": "q1",
        "reference_question": "What is 2 + 3?",
        "question": "Ann has 4 pens and buys 5.",
        "claimed_answer": "9",
        "consistency": 0.5,
        "reward": {"total": 0.9, "capability": 1.0},
    }
    (tmp_path / "curriculum" / "iter_01.jsonl").write_text(
        json.dumps(rec) + "\n" + json.dumps({"question": None}) + "\n"
    )
    text = write_report(tmp_path).read_text()
    assert "| 0 | 10.0 ± 1.0 | 20.0 | n/a | n/a |" in text
    assert "| 1 | 12.5 ± 1.5 | 25.0 | 12.5 | 50.0 |" in text
    assert (tmp_path / "accuracy.png").stat().st_size > 1000 and (tmp_path / "rewards.png").stat().st_size > 1000
    assert "Ann has 4 pens and buys 5." in text and "What is 2 + 3?" in text and '"total": 0.9' in text


def test_table_header_uses_k():
    table = format_results_table({"method": "base", "iterations": [{"iteration": 0, "eval": {"k": 8, "n": 1}}]})
    assert "| iteration | avg@8 | maj@8 |" in table
