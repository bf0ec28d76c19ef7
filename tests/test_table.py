"""`ttcs-table` aggregation from fixture run directories."""

import json

import pytest
from ttcs_eval.table import main

VERSIONS = {"ttcs": "0.1.0", "torch": "2.13.0", "git_commit": "abc123"}


def make_run(root, name, method, data, score_key, iterations, seed=0, overrides=(), uses_labels=None):
    d = root / name
    (d / ".hydra").mkdir(parents=True)
    (d / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    its = [
        {"iteration": i, "eval": {"avg_at_k": a, "maj_at_k": m, "greedy": g, "k": 4, "n": 10}}
        for i, (a, m, g) in enumerate(iterations)
    ]
    res = {
        "method": method,
        "score": score_key,
        "model": "tiny",
        "data": data,
        "seed": seed,
        "versions": VERSIONS,
        "iterations": its,
    }
    if uses_labels is not None:
        res["uses_labels"] = uses_labels
    (d / "results.json").write_text(json.dumps(res))
    return d


@pytest.fixture()
def sweep(tmp_path):
    make_run(tmp_path, "b1", "base", "aime24", "avg_at_k", [(10.0, 20.0, 5.0)], overrides=["data=aime24"])
    make_run(tmp_path, "b2", "base", "amc23", "avg_at_k", [(30.0, 40.0, 25.0)])
    make_run(tmp_path, "s1", "self_consistency", "aime24", "maj_at_k", [(10.0, 20.0, 5.0)])
    make_run(tmp_path, "s2", "self_consistency", "amc23", "maj_at_k", [(30.0, 40.0, 25.0)])
    make_run(tmp_path, "t1", "ttrl", "aime24", "avg_at_k", [(10.0, 20.0, 5.0), (16.0, 22.0, 9.0)], seed=0)
    make_run(tmp_path, "t2", "ttrl", "aime24", "avg_at_k", [(10.0, 20.0, 5.0), (20.0, 26.0, 9.0)], seed=1)
    return tmp_path


def read_rows(md):
    return [line for line in md.splitlines() if line.startswith("| ")]


def test_paper_layout_and_values(sweep, tmp_path, capsys):
    csv_path, md_path = tmp_path / "t.csv", tmp_path / "t.md"
    assert main([str(sweep), "--csv", str(csv_path), "--md", str(md_path)]) == 0
    rows = read_rows(capsys.readouterr().out)
    assert rows[0] == "| method | model | seeds | aime24 | amc23 | AVG |"
    assert "| base | tiny | 1 | 10.0 | 30.0 | 20.0 |" in rows
    assert "| self_consistency | tiny | 1 | 20.0 | 40.0 | 30.0 |" in rows  # maj@k is its score
    # last iteration; 2 seeds (16, 20): mean 18, std 2.83, standard error 2.83 / sqrt(2) = 2.0
    assert "| ttrl | tiny | 2 | 18.0 ± 2.0 | — | 18.0* |" in rows
    assert csv_path.read_text().splitlines()[0] == "method,model,seeds,aime24,amc23,AVG"
    footer = md_path.read_text()
    assert "overrides [data=aime24]" in footer and "commit abc123" in footer and "seed 1" in footer


def test_first_iteration_and_metric_choice(sweep, capsys):
    assert main([str(sweep), "--iteration", "first", "--metric", "greedy"]) == 0
    rows = read_rows(capsys.readouterr().out)
    assert "| ttrl | tiny | 2 | 5.0 ± 0.0 | — | 5.0* |" in rows


def test_no_runs_and_broken_file(tmp_path, capsys):
    assert main([str(tmp_path)]) == 2
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "results.json").write_text("{not json")
    assert main([str(tmp_path)]) == 2
    assert "unreadable results file" in capsys.readouterr().err


def test_unfinished_run_is_skipped(tmp_path, capsys):
    make_run(tmp_path, "ok", "base", "arith", "avg_at_k", [(50.0, 60.0, 40.0)])
    make_run(tmp_path, "empty", "base", "aime24", "avg_at_k", [])
    assert main([str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert "no finished evaluation" in captured.err and "| base | tiny | 1 | 50.0 | 50.0 |" in captured.out


def test_methods_that_use_labels_are_marked_and_seeds_give_a_standard_error(tmp_path, capsys):
    for seed, acc in enumerate((40.0, 50.0, 60.0)):
        make_run(
            tmp_path,
            f"o{seed}",
            "oracle",
            "arith",
            "avg_at_k",
            [(10.0, 10.0, 10.0), (acc, acc, acc)],
            seed=seed,
            uses_labels=True,
        )
    make_run(tmp_path, "b", "base", "arith", "avg_at_k", [(10.0, 10.0, 10.0)], uses_labels=False)
    assert main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    # 40, 50, 60: mean 50, std 10, standard error 10 / sqrt(3) = 5.77
    assert "| oracle ‡ | tiny | 3 | 50.0 ± 5.8 | 50.0 |" in read_rows(out)
    assert "| base | tiny | 1 | 10.0 | 10.0 |" in read_rows(out)
    assert "‡ trains on the gold answers" in out


def test_paper_numbers_beside_ours_with_their_source(tmp_path, capsys):
    make_run(tmp_path, "a", "ttcs", "aime24", "avg_at_k", [(10.0, 20.0, 5.0), (21.0, 30.0, 9.0)])
    make_run(tmp_path, "b", "base", "amc23", "avg_at_k", [(40.0, 50.0, 45.0)])
    for d in (tmp_path / "a", tmp_path / "b"):  # the paper's model
        res = json.loads((d / "results.json").read_text())
        (d / "results.json").write_text(json.dumps({**res, "model": "qwen2.5-math-1.5b"}))
    assert main([str(tmp_path), "--paper"]) == 0
    out = capsys.readouterr().out
    rows = read_rows(out)
    assert rows[0] == "| method | model | seeds | aime24 | amc23 | AVG |"
    assert "| ttcs | qwen2.5-math-1.5b | 1 | 21.0 | — | 21.0* |" in rows
    assert "| ttcs (paper) | qwen2.5-math-1.5b | — | 19.79 | 62.50 | 41.49† |" in rows
    assert "| base (paper) | qwen2.5-math-1.5b | — | missing | missing | 17.30† |" in rows
    assert not any("qwen2.5-math-7b" in r for r in rows)  # only the models in the table
    assert "arXiv 2601.22628), Table 1" in out and "missing = not given there" in out


def test_paper_numbers_from_a_file_and_a_broken_one(tmp_path, capsys):
    make_run(tmp_path / "runs", "t", "ttcs", "aime24", "avg_at_k", [(10.0, 20.0, 5.0)])
    good = tmp_path / "p.json"
    good.write_text(
        json.dumps({"source": "a test", "rows": [{"method": "ttcs", "model": "tiny", "scores": {"aime24": 1.5}}]})
    )
    assert main([str(tmp_path / "runs"), "--paper", str(good)]) == 0
    assert "| ttcs (paper) | tiny | — | 1.50 | missing |" in capsys.readouterr().out
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"rows": []}))
    assert main([str(tmp_path / "runs"), "--paper", str(bad)]) == 2
    assert "needs `source` and `rows`" in capsys.readouterr().err


def test_checkpoints_show_last_kept_and_best_by_gold_side_by_side(tmp_path, capsys):
    # three iterations: best by gold is 1 (30), the run kept 2 (25) without labels, the last is 3 (5)
    d = make_run(tmp_path, "r", "ttrl", "aime24", "avg_at_k", [(10.0, 0, 0), (30.0, 0, 0), (25.0, 0, 0), (5.0, 0, 0)])
    res = json.loads((d / "results.json").read_text())
    res["keep"] = {"iteration": 2, "criterion": "consensus", "why": "x"}
    (d / "results.json").write_text(json.dumps(res))
    make_run(tmp_path, "old", "base", "aime24", "avg_at_k", [(12.0, 0, 0)])  # no keep record: its last iteration
    assert main([str(tmp_path), "--checkpoints"]) == 0
    out = capsys.readouterr().out
    rows = read_rows(out)
    assert rows[1:] == [
        "| base (last) | tiny | 1 | 12.0 | 12.0 |",
        "| base (kept, label-free) | tiny | 1 | 12.0 | 12.0 |",
        "| base (best, gold) | tiny | 1 | 12.0 | 12.0 |",
        "| ttrl (last) | tiny | 1 | 5.0 | 5.0 |",
        "| ttrl (kept, label-free) | tiny | 1 | 25.0 | 25.0 |",
        "| ttrl (best, gold) | tiny | 1 | 30.0 | 30.0 |",
    ]
    assert "best iteration by gold (an upper bound" in out
    assert out.count("`" + str(d) + "`") == 1  # each run once in the provenance footer
    assert main([str(d), "--iteration", "kept"]) == 0
    assert "| ttrl (kept, label-free) | tiny | 1 | 25.0 | 25.0 |" in read_rows(capsys.readouterr().out)
