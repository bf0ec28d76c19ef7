"""`ttcs-bench-health` on hand-made run directories: the collapse step by gold, the first alarm, lead, false alarms and
the regret of the label-free checkpoint choice."""

from __future__ import annotations

import json

import pytest
from ttcs_eval.bench_health import evaluate_rules, find_runs, gold_fall, main, sweep

from ttcs.monitor import Rule

FLIPS = Rule("flips", "solver", "label_flip_rate", ">=", 0.5, source="test")


def make_run(root, name, seed, evals, flips, answers, method="ttrl"):
    """A run: `evals` (avg@k after each iteration), two Solver steps per iteration with the given flip rates, and
    each iteration's evaluation answers to one question whose gold answer is 1."""
    d = root / name
    (d / "eval").mkdir(parents=True)
    metrics, step_flips = [], iter(flips)
    for t, value in enumerate(evals):
        if t > 0:
            metrics += [
                {"phase": "solver", "iteration": t, "step": s, "label_flip_rate": next(step_flips)} for s in (1, 2)
            ]
        metrics.append({"phase": "eval", "iteration": t, "avg_at_k": value})
        rows = [{"id": "q", "gold": "1", "answers": answers[t]}]
        (d / "eval" / f"iter_{t:02d}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (d / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in metrics))
    config = {"data.verifier": "math", "train.iterations": len(evals) - 1, "method.phases": ["solver"]}
    (d / "state.json").write_text(json.dumps({"phases": {f"iter_{len(evals) - 1:02d}/eval": {}}, "config": config}))
    (d / "results.json").write_text(json.dumps({"method": method, "seed": seed, "iterations": []}))
    return d


@pytest.fixture
def runs(tmp_path):
    # healthy: rises, a high flip rate once (a false alarm for the rule)
    make_run(tmp_path, "h0", 0, [50.0, 55.0, 60.0], [0.1, 0.6, 0.1, 0.1], [["1", "2"], ["1", "1"], ["1", "1"]])
    make_run(tmp_path, "h1", 1, [50.0, 52.0, 54.0], [0.1, 0.1, 0.1, 0.1], [["1", "2"], ["1", "1"], ["1", "1"]])
    # collapse: 60 -> 40 at the evaluation after Solver step 4; the flips fire at step 3: a lead of 1 step
    make_run(tmp_path, "c0", 0, [50.0, 60.0, 40.0], [0.1, 0.1, 0.8, 0.2], [["1", "1"], ["1", "1"], ["2", "2"]])
    # collapse the rule misses
    make_run(tmp_path, "c1", 1, [50.0, 44.0, 40.0], [0.1, 0.1, 0.1, 0.1], [["1", "1"], ["1", "2"], ["2", "2"]])
    # an unfinished run is left out
    d = make_run(tmp_path, "u", 2, [50.0, 10.0], [0.9, 0.9], [["1", "2"], ["2", "2"]])
    (d / "state.json").write_text(json.dumps({"phases": {}, "config": {"train.iterations": 3, "method.phases": ["x"]}}))
    return find_runs([str(tmp_path)])


def test_gold_fall_is_the_first_evaluation_a_margin_below_the_best_before(runs):
    by_name = {r.path.name: r for r in runs}
    assert gold_fall(by_name["h0"], 5.0) is None
    assert gold_fall(by_name["c0"], 5.0) == 4  # Solver steps done before the evaluation that fell
    assert gold_fall(by_name["c1"], 5.0) == 2
    assert gold_fall(by_name["c1"], 10.0) == 4  # 40 is 10 below 50


def test_false_alarms_catches_and_leads(runs):
    e = evaluate_rules(runs, [FLIPS], 5.0)
    assert [r.path.name for r in e["false_alarms"]] == ["h0"]
    assert sorted(r.path.name for r in e["collapsed"]) == ["c0", "c1"]
    assert sorted(e["leads"], key=str) == [1, None]  # c0 caught one step ahead, c1 missed


def test_the_sweep_ranks_a_rule_without_false_alarms_first(runs):
    tuning = [r for r in runs if r.seed == 0]  # h0 and c0
    best_rule, best = sweep(tuning, 5.0)[0]
    assert best["false_alarms"] == [] and best["leads"] and best["leads"][0] is not None and best["leads"][0] >= 0


def test_the_report_names_seeds_roles_and_regret(runs, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("ttcs.monitor.RULES", (FLIPS,))
    out_md = tmp_path / "h.md"
    assert main([str(tmp_path), "--tune-seeds", "0", "--md", str(out_md)]) == 0
    out = capsys.readouterr().out
    assert out == out_md.read_text() + "\n"
    # c0: the flips at step 3 exclude iteration 2 from the choice; the consensus picks 0 (ties go early): regret 10
    setting = f"{tmp_path.name}/ttrl"
    assert (
        f"| {setting} | ttrl seed 0 | tuning | 50.0 → 60.0 → 40.0 | 4 | flips, 3 | +1 | 0 / 1 / 2 | 10.0 | -10.0 |"
        in out
    )
    assert f"| {setting} | ttrl seed 1 | reported | 50.0 → 44.0 → 40.0 | 2 | none | missed |" in out
    assert "| all (tuning) | 0 | 1/2 | 1/1 | 1/1 |" in out and f"| {setting} (reported) | 1 | 1/2 | 0/1 | 0/1 |" in out
