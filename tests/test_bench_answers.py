"""`ttcs-bench-answers` on a few cases: the data file is well formed, and the table comes out."""

from __future__ import annotations

import json

from ttcs_eval.bench_answers import DATA, Case, load_cases, main, markdown_table, run_benchmark


def test_the_data_file_is_labelled_and_covers_both_verdicts():
    cases = load_cases()
    assert len(cases) >= 100
    families = {c.family for c in cases}
    assert {"several_boxes", "roles", "tolerance", "free_text", "plain_text"} <= families
    for family in families:
        assert {c.label for c in cases if c.family == family} == {True, False}, family
    with open(DATA, encoding="utf-8") as lines:
        for line in lines:
            assert set(json.loads(line)) >= {"family", "gold", "completion", "label"}


def test_family_filter():
    assert {c.family for c in load_cases(families=["roles"])} == {"roles"}


def test_benchmark_scores_both_checkers_per_family():
    cases = [Case("demo", "1/2", r"so \boxed{0.5}", True), Case("demo", "2", r"so \boxed{3}", False),
             Case("boxes", "1, -2", r"$\boxed{1}$ and $\boxed{-2}$", True)]
    scores, warm_up = run_benchmark(cases)
    assert [s.family for s in scores] == ["demo", "boxes"] and warm_up >= 0
    demo = scores[0]
    assert demo.cases == 2 and demo.ttcs.right == 2 and demo.ttcs.false_positives == 0
    assert scores[1].ttcs.right == 1
    table = markdown_table(scores)
    assert table.splitlines()[0].startswith("| family | cases | ttcs right | math-verify right")
    assert "| **all** | 3 |" in table


def test_main_prints_a_markdown_table(capsys, tmp_path):
    path = tmp_path / "cases.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in [
        {"family": "f", "gold": "5", "completion": r"\boxed{5}", "label": True},
        {"family": "f", "gold": "5", "completion": r"\boxed{6}", "label": False},
    ]))
    assert main(["--cases", str(path), "-v"]) == 0
    out = capsys.readouterr().out
    assert "| f | 2 | 2/2 (100%) |" in out and "2 cases" in out
