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
    cases = [
        Case("demo", "1/2", r"so \boxed{0.5}", True),
        Case("demo", "2", r"so \boxed{3}", False),
        Case("boxes", "1, -2", r"$\boxed{1}$ and $\boxed{-2}$", True),
    ]
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
    path.write_text(
        "".join(
            json.dumps(c) + "\n"
            for c in [
                {"family": "f", "gold": "5", "completion": r"\boxed{5}", "label": True},
                {"family": "f", "gold": "5", "completion": r"\boxed{6}", "label": False},
            ]
        )
    )
    assert main(["--cases", str(path), "-v"]) == 0
    out = capsys.readouterr().out
    assert "| f | 2 | 2/2 (100%) |" in out and "2 cases" in out


def test_upstream_suites_are_stored_as_attributed_data():
    from ttcs_eval.bench_answers import UPSTREAM

    for path, repo, licence in zip(
        UPSTREAM, ("huggingface/Math-Verify", "huggingface/lighteval"), ("Apache-2.0", "MIT"), strict=True
    ):
        with open(path, encoding="utf-8") as lines:
            records = [json.loads(line) for line in lines]
        assert len(records) >= 200
        for record in records:
            assert record["upstream"]["repo"] == repo and len(record["upstream"]["commit"]) == 40
            assert record["upstream"]["file"].startswith("tests/") and record["upstream"]["test"].startswith("test_")
            assert record["licence"].startswith(licence)
            assert set(record["settings"]) >= {"match_types", "precision", "strict", "allow_set_relation_comp"}
        assert {r["label"] for r in records} == {True, False}


def test_load_suites_and_the_options_of_an_upstream_case():
    from ttcs_eval.bench_answers import load_suites, ttcs_options

    suites = {c.suite for c in load_suites()}
    assert suites == {"ttcs", "math-verify", "lighteval"}
    lighteval = load_suites(["lighteval"])
    assert lighteval and all(c.suite == "lighteval" and c.settings for c in lighteval)
    options = ttcs_options({"match_types": ["latex"], "precision": 5, "strict": False, "allow_set_relation_comp": True})
    assert options == {
        "scoring_targets": ("latex",),
        "float_rounding": 5,
        "strict": False,
        "allow_set_relation_comp": True,
    }
    assert ttcs_options({}) == {}


def test_an_upstream_case_is_scored_as_its_test_configures_it():
    settings = tuple(
        sorted(
            {
                "match_types": ("latex", "expr"),
                "precision": 6,
                "strict": False,
                "allow_set_relation_comp": False,
                "boxed_match_priority": 0,
                "language": "ENGLISH",
            }.items()
        )
    )
    cases = [Case("test_strict", "$f(x)$", "$f(y)$", True, "math-verify", settings)]
    scores, _ = run_benchmark(cases, by="suite")
    assert scores[0].family == "math-verify" and scores[0].ttcs.right == 1 and scores[0].math_verify.right == 1
    defaults, _ = run_benchmark(cases, by="suite", configured=False)
    assert defaults[0].ttcs.right == 0  # unconfigured, ttcs is strict about variable names
