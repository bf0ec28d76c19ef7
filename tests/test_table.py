"""`ttcs-table` from run directories built here: what it pools, what it leaves out, and its three formats."""

import csv
import io
import json

import pytest
from ttcs_eval.table import main

VERSIONS = {"ttcs": "0.1.0", "torch": "2.13.0", "git_commit": "abc123"}
TRAINS = {"ttrl": ["solver"], "oracle": ["solver"], "ttcs": ["synthesizer", "curriculum", "solver"]}


def nest(flat):
    """{'a.b': 1} -> {'a': {'b': 1}}: the shape of .hydra/config.yaml."""
    out = {}
    for key, value in flat.items():
        node = out
        *parents, last = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value
    return out


def make_run(
    root,
    name,
    method,
    data,
    score_key,
    iterations,
    seed=0,
    overrides=(),
    uses_labels=None,
    config=None,
    finished_phases=None,
    model="tiny",
    hydra_config=True,
):
    """A run directory as ttcs writes it: .hydra/config.yaml, state.json, results.json.

    `iterations` are the (avg@k, maj@k, greedy) of the evaluated iterations; the config asks for as many iterations
    as were evaluated (a method without phases: iteration 0 only), unless `config` says otherwise; state.json
    records every phase of the evaluated iterations, or `finished_phases`.
    """
    d = root / name
    (d / ".hydra").mkdir(parents=True)
    (d / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    phases = TRAINS.get(method, [])
    flat = {
        "method.name": method,
        "method.score": score_key,
        "method.phases": phases,
        "method.gamma": 1.2,
        "method.uses_labels": bool(uses_labels),
        "model.name": model,
        "model.path": f"/models/{model}",
        "data.name": data,
        "data.source": data,
        "backend.name": "hf",
        "backend.progress": True,
        "backend.batch_size": 64,
        "train.iterations": max(len(iterations) - 1, 1),
        "train.solver.steps": 15,
        "train.solver.report_to": "tensorboard",
        "eval.k": 8,
        "eval.temperature": 0.6,
        "report.enabled": True,
        "health.on_alarm": "warn",
        "seed": seed,
        "run_name": "${method.name}-${model.name}-${data.name}-seed${seed}",
        "threads": "auto",
        "verbose": False,
        "dry_run": False,
        **(config or {}),
    }
    if hydra_config:
        (d / ".hydra" / "config.yaml").write_text(json.dumps(nest(flat), indent=1))  # JSON is YAML
    if finished_phases is None:
        finished_phases = [
            f"iter_{t:02d}/{p}" for t in range(len(iterations)) for p in (phases if t else []) + ["eval"]
        ]
    fingerprint = {k: v for k, v in flat.items() if k.split(".")[0] not in ("backend", "report", "health", "threads")}
    (d / "state.json").write_text(
        json.dumps({"phases": {p: {"seconds": 1} for p in finished_phases}, "config": fingerprint})
    )
    its = [
        {"iteration": i, "eval": {"avg_at_k": a, "maj_at_k": m, "greedy": g, "k": 4, "n": 10}}
        for i, (a, m, g) in enumerate(iterations)
    ]
    res = {
        "method": method,
        "score": score_key,
        "model": model,
        "data": data,
        "seed": seed,
        "versions": VERSIONS,
        "iterations": its,
    }
    if uses_labels is not None:
        res["uses_labels"] = uses_labels
    (d / "results.json").write_text(json.dumps(res))
    return d


def edit_results(d, **changes):
    res = json.loads((d / "results.json").read_text())
    (d / "results.json").write_text(json.dumps({**res, **changes}))


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
    assert rows[0] == "| method | model | seeds | runs | aime24 | amc23 | AVG |"
    assert "| base | tiny | 1 | 2 | 10.0 | 30.0 | 20.0 |" in rows
    assert "| self_consistency | tiny | 1 | 2 | 20.0 | 40.0 | 30.0 |" in rows  # maj@k is its score
    # last iteration; 2 seeds (16, 20): mean 18, std 2.83, standard error 2.83 / sqrt(2) = 2.0; no amc23: no AVG
    assert "| ttrl | tiny | 2 | 2 | 18.0 ± 2.0 | — | — |" in rows
    assert len(rows) == 4
    assert csv_path.read_text().splitlines()[0] == "method,model,seeds,runs,aime24,amc23,AVG"
    footer = md_path.read_text()
    assert "overrides [data=aime24]" in footer and "commit abc123" in footer and "seed 1" in footer
    assert "given only where every set has a value" in footer
    assert "Left out" not in footer and "Not pooled" not in footer


def test_first_iteration_and_metric_choice(sweep, capsys):
    assert main([str(sweep), "--iteration", "first", "--metric", "greedy"]) == 0
    rows = read_rows(capsys.readouterr().out)
    assert "| ttrl | tiny | 2 | 2 | 5.0 ± 0.0 | — | — |" in rows


def test_no_runs_and_broken_file(tmp_path, capsys):
    assert main([str(tmp_path)]) == 2
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "results.json").write_text("{not json")
    assert main([str(tmp_path)]) == 2
    assert "unreadable results file" in capsys.readouterr().err


def test_the_killed_default_run_and_a_debug_run_are_not_pooled(tmp_path, capsys):
    # A ttcs run killed after its base evaluation (iteration 0 of 1) and a finished run of another config
    # (train=debug's shorter training): once pooled as "seeds 1 | 26.8 ± 26.8".
    killed = make_run(tmp_path, "default", "ttcs", "arith", "avg_at_k", [(40.0, 0, 0)], config={"train.iterations": 1})
    make_run(
        tmp_path,
        "debug",
        "ttcs",
        "arith",
        "avg_at_k",
        [(40.0, 0, 0), (13.6, 0, 0)],
        config={"train.iterations": 1, "train.solver.steps": 2},
    )
    assert main([str(tmp_path)]) == 0
    captured = capsys.readouterr()
    rows = read_rows(captured.out)
    assert rows[1:] == ["| ttcs | tiny | 1 | 1 | 13.6 | 13.6 |"]
    assert (
        f"- `{killed}`: unfinished: 1 of 5 phases finished (iterations 0-0 of 0-1 evaluated; next iter_01/synthesizer)"
        in captured.out
    )
    assert "left out 1 run(s)" in captured.err and str(killed) in captured.err
    assert f"`{killed}`:" not in captured.out.split("Runs:")[1]  # not among the runs used


def test_finished_means_every_phase_every_iteration_and_no_stop(tmp_path, capsys):
    make_run(tmp_path, "ok", "base", "arith", "avg_at_k", [(50.0, 60.0, 40.0)])
    empty = make_run(tmp_path, "empty", "base", "aime24", "avg_at_k", [], finished_phases=[])
    # every phase finished, but the run was killed before results.json took the last evaluation
    lagging = make_run(tmp_path, "lag", "ttrl", "arith", "avg_at_k", [(1.0, 0, 0), (2.0, 0, 0)])
    edit_results(lagging, iterations=json.loads((lagging / "results.json").read_text())["iterations"][:1])
    stopped = make_run(tmp_path, "stop", "ttrl", "arith", "avg_at_k", [(1.0, 0, 0)], config={"train.iterations": 3})
    edit_results(stopped, stopped={"after": "iter_01/solver", "reason": "majority_collapse"})
    no_state = make_run(tmp_path, "nostate", "ttrl", "arith", "avg_at_k", [(1.0, 0, 0), (5.0, 0, 0)])
    (no_state / "state.json").unlink()
    assert main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert read_rows(out)[1:] == ["| base | tiny | 1 | 1 | 50.0 | 50.0 |"]  # aime24: no finished run, no column
    assert "Left out (4 run(s)):" in out
    assert f"`{empty}`: unfinished: 0 of 1 phases finished (no iteration of 0-0 evaluated; next iter_00/eval)" in out
    assert f"`{lagging}`: unfinished: results.json holds iterations [0] of 0-1" in out
    assert f"`{stopped}`: unfinished: stopped by a health alarm after iter_01/solver (majority_collapse)" in out
    assert f"`{no_state}`: unfinished: no state.json" in out


def test_runs_that_differ_in_a_key_are_separate_rows_naming_it(tmp_path, capsys):
    for seed, acc in enumerate((10.0, 20.0)):
        make_run(tmp_path, f"k8-{seed}", "ttrl", "arith", "avg_at_k", [(0, 0, 0), (acc, 0, 0)], seed=seed)
    make_run(tmp_path, "k32", "ttrl", "arith", "avg_at_k", [(0, 0, 0), (90.0, 0, 0)], config={"eval.k": 32})
    make_run(tmp_path, "b", "base", "arith", "avg_at_k", [(5.0, 0, 0)])
    assert main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert read_rows(out)[1:] == [
        "| base | tiny | 1 | 1 | 5.0 | 5.0 |",
        "| ttrl [a] | tiny | 1 | 1 | 90.0 | 90.0 |",  # eval.k 32 sorts before 8 (as text)
        "| ttrl [b] | tiny | 2 | 2 | 15.0 ± 5.0 | 15.0 |",
    ]
    assert (
        "ttrl · tiny: rows [a], [b] are runs of different configs, never pooled; they differ in 1 key(s): eval.k ([a] 32, [b] 8)"
        in out
    )


def test_keys_that_cannot_change_results_are_pooled_over(tmp_path, capsys):
    harmless = [
        {"threads": 1, "verbose": True},
        {"backend.progress": False, "report.enabled": False, "keep_checkpoints": "all"},
        {"train.solver.report_to": "none", "health.on_alarm": "stop", "dry_run": False, "seed": 7},
    ]
    for i, config in enumerate(harmless):
        make_run(tmp_path, f"t{i}", "ttrl", "arith", "avg_at_k", [(0, 0, 0), (10.0 * i, 0, 0)], seed=i, config=config)
    # a method without phases never reads its training keys
    make_run(tmp_path, "b0", "base", "arith", "avg_at_k", [(4.0, 0, 0)], seed=0, config={"train.solver.steps": 2})
    make_run(tmp_path, "b1", "base", "arith", "avg_at_k", [(6.0, 0, 0)], seed=1, config={"train.iterations": 15})
    assert main([str(tmp_path)]) == 0
    rows = read_rows(capsys.readouterr().out)
    # seeds 0, 1, 7: 0, 10, 20: mean 10, std 10, standard error 10 / sqrt(3) = 5.77
    assert rows[1:] == ["| base | tiny | 2 | 2 | 5.0 ± 1.0 | 5.0 |", "| ttrl | tiny | 3 | 3 | 10.0 ± 5.8 | 10.0 |"]


def test_a_key_that_can_change_results_splits_and_ignore_pools_on_request(tmp_path, capsys):
    make_run(tmp_path, "a", "base", "arith", "avg_at_k", [(4.0, 0, 0)], seed=0, config={"backend.batch_size": 8})
    make_run(tmp_path, "b", "base", "arith", "avg_at_k", [(6.0, 0, 0)], seed=1)
    make_run(tmp_path, "c", "base", "arith", "avg_at_k", [(8.0, 0, 0)], seed=2, config={"model.path": "org/tiny"})
    assert main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert len(read_rows(out)) == 4
    assert (
        "differ in 2 key(s): backend.batch_size ([a] 64, [b] 64, [c] 8); model.path ([a] /models/tiny, [b] org/tiny, [c] /models/tiny)"
        in out
    )
    assert main([str(tmp_path), "--ignore", "model.path", "--ignore", "backend.*"]) == 0
    out = capsys.readouterr().out
    assert read_rows(out)[1:] == ["| base | tiny | 3 | 3 | 6.0 ± 1.2 | 6.0 |"]
    assert "as asked (--ignore), model.path, backend.*" in out


def test_seeds_are_counted_and_runs_of_one_seed_are_one_value(tmp_path, capsys):
    # seed 0 twice (30 and 50: one value, 40), seeds 1 and 2 once (10, 30): values 40, 10, 30
    for name, seed, acc in (("r0", 0, 30.0), ("again/r0", 0, 50.0), ("r1", 1, 10.0), ("r2", 2, 30.0)):
        make_run(tmp_path, name, "ttrl", "arith", "avg_at_k", [(0, 0, 0), (acc, 0, 0)], seed=seed)
    make_run(tmp_path, "o", "ttrl", "other", "avg_at_k", [(0, 0, 0), (70.0, 0, 0)], seed=0)
    assert main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    # mean 26.67; std of (40, 10, 30) = 15.28; standard error 15.28 / sqrt(3) = 8.82
    assert read_rows(out)[1:] == ["| ttrl | tiny | 1–3 | 5 | 26.7 ± 8.8 | 70.0 | 48.3 |"]
    assert "ttrl · tiny on arith: 4 runs, 3 seeds; runs of one seed are averaged into one value first (seed 0:" in out
    assert "Pooled over code versions" not in out
    edit_results(tmp_path / "r1", versions={**VERSIONS, "git_commit": "def456"})
    assert main([str(tmp_path)]) == 0
    assert "- ttrl · tiny on arith: commits abc123, def456" in capsys.readouterr().out


def test_sets_with_their_own_settings_share_a_row_and_are_named(tmp_path, capsys):
    make_run(tmp_path, "a", "ttcs", "aime24", "avg_at_k", [(0, 0, 0), (20.0, 0, 0)], config={"eval.k": 32})
    make_run(tmp_path, "m", "ttcs", "amc23", "greedy", [(0, 0, 0), (0, 0, 60.0)], config={"eval.k": 16})
    assert main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert read_rows(out)[1:] == ["| ttcs | tiny | 1 | 2 | 20.0 | 60.0 | 40.0 |"]
    assert "ttcs · tiny: each set's runs share one config, but the sets' configs differ in eval.k, method.score" in out


def test_config_from_state_json_when_hydra_wrote_none(tmp_path, capsys):
    make_run(tmp_path, "a", "base", "arith", "avg_at_k", [(4.0, 0, 0)], hydra_config=False)
    make_run(tmp_path, "b", "base", "arith", "avg_at_k", [(6.0, 0, 0)], seed=1, hydra_config=False)
    bare = make_run(tmp_path, "c", "base", "arith", "avg_at_k", [(8.0, 0, 0)], seed=2, hydra_config=False)
    state = json.loads((bare / "state.json").read_text())
    (bare / "state.json").write_text(json.dumps({"phases": state["phases"]}))
    assert main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert read_rows(out)[1:] == ["| base | tiny | 2 | 2 | 5.0 ± 1.0 | 5.0 |"]
    assert f"`{bare}`: no .hydra/config.yaml and no config in state.json" in out


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
    assert "| oracle ‡ | tiny | 3 | 3 | 50.0 ± 5.8 | 50.0 |" in read_rows(out)
    assert "| base | tiny | 1 | 1 | 10.0 | 10.0 |" in read_rows(out)
    assert "‡ trains on the gold answers" in out


def test_csv_and_latex_layout(sweep, tmp_path, capsys):
    make_run(sweep, "o", "oracle", "amc23", "avg_at_k", [(0, 0, 0), (75.0, 0, 0)], uses_labels=True)
    csv_path, tex = tmp_path / "t.csv", tmp_path / "t.tex"
    assert main([str(sweep), "--csv", str(csv_path), "--latex", str(tex)]) == 0
    capsys.readouterr()
    table = list(csv.reader(io.StringIO(csv_path.read_text())))
    assert table[0] == ["method", "model", "seeds", "runs", "aime24", "amc23", "AVG"]
    assert ["ttrl", "tiny", "2", "2", "18.0 ± 2.0", "—", "—"] in table and len(table) == 5
    lines = tex.read_text().splitlines()
    body = lines[lines.index(r"\begin{tabular}{llrrccc}") :]
    assert body[1:4] == [r"\toprule", r"method & model & seeds & runs & aime24 & amc23 & AVG \\", r"\midrule"]
    assert r"self\_consistency & tiny & 1 & 2 & 20.0 & 40.0 & 30.0 \\" in body
    assert r"ttrl & tiny & 2 & 2 & 18.0 $\pm$ 2.0 & -- & -- \\" in body
    assert r"oracle $^\ddagger$ & tiny & 1 & 1 & -- & 75.0 & -- \\" in body
    assert body[-2:] == [r"\bottomrule", r"\end{tabular}"]
    assert all(line.startswith("%") for line in lines[: lines.index(body[0])])  # the notes, as comments
    assert any("commit abc123" in line for line in lines if line.startswith("%"))


def test_paper_numbers_beside_ours_with_their_source(tmp_path, capsys):
    make_run(
        tmp_path, "a", "ttcs", "aime24", "avg_at_k", [(10.0, 20.0, 5.0), (21.0, 30.0, 9.0)], model="qwen2.5-math-1.5b"
    )
    make_run(tmp_path, "b", "base", "amc23", "avg_at_k", [(40.0, 50.0, 45.0)], model="qwen2.5-math-1.5b")
    tex = tmp_path / "t.tex"
    assert main([str(tmp_path), "--paper", "--latex", str(tex)]) == 0
    out = capsys.readouterr().out
    rows = read_rows(out)
    assert rows[0] == "| method | model | seeds | runs | aime24 | amc23 | AVG |"
    assert "| ttcs | qwen2.5-math-1.5b | 1 | 1 | 21.0 | — | — |" in rows
    assert "| ttcs (paper) | qwen2.5-math-1.5b | — | — | 19.79 | 62.50 | 41.49† |" in rows
    assert "| base (paper) | qwen2.5-math-1.5b | — | — | missing | missing | 17.30† |" in rows
    assert not any("qwen2.5-math-7b" in r for r in rows)  # only the models in the table
    assert "arXiv 2601.22628), Table 1" in out and "missing = not given there" in out
    lines = tex.read_text().splitlines()
    ours = lines.index(r"ttcs & qwen2.5-math-1.5b & 1 & 1 & 21.0 & -- & -- \\")
    assert lines[ours + 1] == r"\midrule" and lines[ours + 2].startswith("base (paper) &")  # the paper's rows apart
    assert r"ttcs (paper) & qwen2.5-math-1.5b & -- & -- & 19.79 & 62.50 & 41.49$^\dagger$ \\" in lines


def test_paper_numbers_from_a_file_and_a_broken_one(tmp_path, capsys):
    make_run(tmp_path / "runs", "t", "ttcs", "aime24", "avg_at_k", [(0, 0, 0), (10.0, 20.0, 5.0)])
    good = tmp_path / "p.json"
    good.write_text(
        json.dumps({"source": "a test", "rows": [{"method": "ttcs", "model": "tiny", "scores": {"aime24": 1.5}}]})
    )
    assert main([str(tmp_path / "runs"), "--paper", str(good)]) == 0
    assert "| ttcs (paper) | tiny | — | — | 1.50 | missing |" in capsys.readouterr().out
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"rows": []}))
    assert main([str(tmp_path / "runs"), "--paper", str(bad)]) == 2
    assert "needs `source` and `rows`" in capsys.readouterr().err


def test_checkpoints_show_last_kept_and_best_by_gold_side_by_side(tmp_path, capsys):
    # three iterations: best by gold is 1 (30), the run kept 2 (25) without labels, the last is 3 (5)
    d = make_run(tmp_path, "r", "ttrl", "aime24", "avg_at_k", [(10.0, 0, 0), (30.0, 0, 0), (25.0, 0, 0), (5.0, 0, 0)])
    edit_results(d, keep={"iteration": 2, "criterion": "consensus", "why": "x"})
    make_run(tmp_path, "old", "base", "aime24", "avg_at_k", [(12.0, 0, 0)])  # no keep record: its last iteration
    assert main([str(tmp_path), "--checkpoints"]) == 0
    out = capsys.readouterr().out
    rows = read_rows(out)
    assert rows[1:] == [
        "| base (last) | tiny | 1 | 1 | 12.0 | 12.0 |",
        "| base (kept, label-free) | tiny | 1 | 1 | 12.0 | 12.0 |",
        "| base (best, gold) | tiny | 1 | 1 | 12.0 | 12.0 |",
        "| ttrl (last) | tiny | 1 | 1 | 5.0 | 5.0 |",
        "| ttrl (kept, label-free) | tiny | 1 | 1 | 25.0 | 25.0 |",
        "| ttrl (best, gold) | tiny | 1 | 1 | 30.0 | 30.0 |",
    ]
    assert "best iteration by gold (an upper bound" in out
    assert out.count("`" + str(d) + "`") == 1  # each run once in the provenance footer
    assert "iterations last 3, kept 2, best 1" in out
    assert main([str(d), "--iteration", "kept"]) == 0
    assert "| ttrl (kept, label-free) | tiny | 1 | 1 | 25.0 | 25.0 |" in read_rows(capsys.readouterr().out)
