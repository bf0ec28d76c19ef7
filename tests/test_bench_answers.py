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
    assert suites == {"ttcs", "math-verify", "lighteval", "traps"}
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
    row = scores[0]
    assert row.family == "math-verify"
    assert row.ttcs.right == 0  # the headline is the defaults evaluation uses: strict about variable names
    assert row.ttcs_upstream is not None and row.math_verify_upstream is not None
    assert row.ttcs_upstream.right == 1 and row.math_verify_upstream.right == 1  # configured as upstream: strict=False
    table = markdown_table(scores, by="suite")
    assert "upstream settings: ttcs right (false +)" in table.splitlines()[0]
    assert "| 1/1 (100%) (0) |" in table
    headline_only, _ = run_benchmark(cases, by="suite", upstream=False)
    assert headline_only[0].ttcs_upstream is None and "upstream settings" not in markdown_table(headline_only)


def test_the_trap_suite_is_real_completions_with_their_provenance():
    from ttcs_eval.bench_answers import TRAPS

    with open(TRAPS, encoding="utf-8") as lines:
        records = [json.loads(line) for line in lines]
    assert len(records) >= 100 and {r["suite"] for r in records} == {"traps"}
    assert {"restatement"} <= {r["family"] for r in records}
    assert sum(not r["label"] for r in records) >= 100  # traps: wrong answers a grader once counted correct
    for record in records:
        source = record["source"]
        assert source["file"].startswith("eval/iter_") and source["id"] and source["command"].startswith("ttcs")
        assert isinstance(record["numeric_answer"], bool) and record["read_then"]


def test_a_restatement_is_a_false_positive_of_math_verify_and_not_of_ttcs():
    # from the learning-rate collapse's evaluation (trap_cases.jsonl); math-verify reads `8 + 1` as 9
    cases = [Case("restatement", "9", "The answer is 8 + 1.\n\nTo start, 8 + 1 =", False, "traps", numeric_answer=True)]
    scores, _ = run_benchmark(cases, by="suite", upstream=False)
    assert scores[0].ttcs.false_positives == 0 and scores[0].math_verify.false_positives == 1


def test_direct_compares_the_completion_itself():
    cases = [Case("bare", "5", "so it is 5", True)]  # words: no answer when compared directly
    assert run_benchmark(cases, upstream=False)[0][0].ttcs.right == 1
    assert run_benchmark(cases, upstream=False, direct=True)[0][0].ttcs.right == 0


def test_trap_candidates_come_from_what_a_run_recorded(tmp_path):
    from ttcs_eval.trap_cases import candidates

    (tmp_path / "eval").mkdir()
    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "config.yaml").write_text("data:\n  name: arith_frontier\n  numeric_answer: true\n")
    (tmp_path / ".hydra" / "overrides.yaml").write_text("- seed=3\n")
    row = {
        "id": "q1",
        "gold": "63",
        "completions": ["The answer is 7 × 9.", "The answer is 63.", "so it is (63)", "The answer is 62."],
        "answers": ["7 × 9", "63", "63", "62"],
        "correct": [True, True, True, False],
        "greedy_completion": None,
    }
    (tmp_path / "eval" / "iter_01.jsonl").write_text(json.dumps(row) + "\n")
    found = list(candidates([tmp_path]))
    assert [c["completion"] for c in found] == [
        "The answer is 7 × 9.",
        "so it is (63)",
    ]  # not read as a number; unmarked
    assert found[0]["numeric_answer"] is True and found[0]["label"] is None
    assert found[0]["source"] == {
        "run": tmp_path.name,
        "file": "eval/iter_01.jsonl",
        "id": "q1",
        "sample": 0,
        "overrides": ["seed=3"],
    }
