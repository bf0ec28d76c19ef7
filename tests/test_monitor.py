"""The health monitor (`ttcs.monitor`), the label-free checkpoint choice (`ttcs.keep`), health.on_alarm=stop in the
loop (stop, rerun, go on), the wrong-vote collapse, the report's health panel, ttcs-table --checkpoints and
ttcs-bench-health."""

from __future__ import annotations

import json
import logging

import pytest
import torch
from conftest import tiny_run
from test_loop import compose_cfg
from ttcs_eval.bench_health import health_cost

from ttcs.config import ConfigError, validate_config
from ttcs.keep import choose_iteration, consensus_scores
from ttcs.loop import run
from ttcs.monitor import Monitor, Rule, configured_rules, scan
from ttcs.report import health_lines, write_report
from ttcs.rewards.solver import score_groups, wrong_question, wrong_rewards
from ttcs.rundir import RunDir
from ttcs.verify import get_verifier

MATH = get_verifier("math")


def rows(values, signal="label_flip_rate", phase="solver", iteration=1):
    return [{"phase": phase, "iteration": iteration, "step": s, signal: v} for s, v in enumerate(values, 1)]


# ----------------------------------------------------------------------------- rules and the monitor


def test_a_rule_fires_once_per_streak_of_its_window_and_rearms_after_a_break():
    rule = Rule("r", "solver", "label_flip_rate", ">=", 0.3, window=2)
    alarms = scan(rows([0.4, 0.5, 0.6, 0.1, 0.3, 0.3]), [rule])
    assert [(a.since_step, a.step, a.value, a.phase_row) for a in alarms] == [(1, 2, 0.5, 2), (5, 6, 0.3, 6)]


def test_a_missing_value_breaks_a_streak_and_other_phases_are_not_read():
    rule = Rule("r", "solver", "x", "<=", 0.1, window=2)
    mixed = [
        {"phase": "solver", "iteration": 1, "step": 1, "x": 0.0},
        {"phase": "solver", "iteration": 1, "step": 2, "x": None},
        {"phase": "solver", "iteration": 1, "step": 3, "x": 0.0},
        {"phase": "synthesizer", "iteration": 2, "step": 1, "x": 0.0},
        {"phase": "eval", "iteration": 1, "avg_at_k": 3.0},
    ]
    assert scan(mixed, [rule]) == []
    # rows of the next iteration continue the streak: the iteration and step where it began are kept
    mixed.append({"phase": "solver", "iteration": 2, "step": 1, "x": 0.05})
    (alarm,) = scan(mixed, [rule])
    assert (alarm.since_iteration, alarm.since_step, alarm.iteration, alarm.step, alarm.phase_row) == (1, 3, 2, 1, 4)
    assert "x 0.05 <= 0.1 for 2 solver rows since iter_01/solver step 3" in alarm.line()


def test_replayed_rows_raise_their_alarms_without_announcing_them():
    heard = []
    rule = Rule("r", "solver", "label_flip_rate", ">=", 0.3)
    monitor = Monitor([rule], announce=heard.append)
    monitor.replay(rows([0.5, 0.1]))
    assert len(monitor.alarms) == 1 and heard == []
    monitor.observe(rows([0.9])[0])  # a new streak
    assert len(monitor.alarms) == 2 and len(heard) == 1


def test_rules_refuse_a_bad_op_or_window():
    with pytest.raises(ValueError, match="op"):
        Rule("r", "solver", "x", ">", 1.0)
    with pytest.raises(ValueError, match="window"):
        Rule("r", "solver", "x", ">=", 1.0, window=0)


def test_configured_rules_change_a_threshold_or_switch_a_rule_off(monkeypatch):
    monkeypatch.setattr(
        "ttcs.monitor.RULES", (Rule("a", "solver", "x", ">=", 1.0), Rule("b", "solver", "y", "<=", 0.0))
    )
    rules = configured_rules({"a": {"threshold": 2, "window": 3}, "b": False})
    assert [(r.name, r.threshold, r.window) for r in rules] == [("a", 2.0, 3)]
    with pytest.raises(ValueError, match="no such rule"):
        configured_rules({"c": False})
    with pytest.raises(ValueError, match="threshold and/or window"):
        configured_rules({"a": {"op": "<="}})


def test_the_config_refuses_an_unknown_on_alarm_or_rule():
    with pytest.raises(ConfigError, match="health.on_alarm"):
        validate_config(compose_cfg("health.on_alarm=halt"))
    with pytest.raises(ConfigError, match="no such rule"):
        validate_config(compose_cfg("+health.rules={nope: false}"))


# ----------------------------------------------------------------------------- the checkpoint to keep


def test_the_kept_iteration_agrees_most_with_the_pooled_majority_and_skips_alarmed_ones():
    evals = {
        0: [{"id": "a", "answers": ["1/2", "0.5", "3", None]}, {"id": "b", "answers": ["7", "7", "8", "8"]}],
        1: [{"id": "a", "answers": ["0.5", "0.5", "0.5", "3"]}, {"id": "b", "answers": ["7", "7", "7", "8"]}],
        2: [{"id": "a", "answers": ["0.5", "0.5", "0.5", "0.5"]}, {"id": "b", "answers": ["7", "7", "7", "7"]}],
    }
    # pooled: a -> 0.5 (1/2 is the same answer), b -> 7
    assert consensus_scores(evals, MATH) == {0: 4 / 8, 1: 6 / 8, 2: 1.0}
    assert choose_iteration(evals, MATH)["iteration"] == 2
    keep = choose_iteration(evals, MATH, alarmed={2, 0})  # iteration 0 is always a candidate
    assert keep["iteration"] == 1 and keep["excluded"] == [2] and "a health alarm in iteration 2" in keep["why"]
    assert keep["scores"] == {"0": 4 / 8, "1": 6 / 8}  # the excluded iteration neither votes nor is scored
    # every iteration from the first alarmed one on descends from it: all are excluded
    keep = choose_iteration(evals, MATH, alarmed={1})
    assert keep["iteration"] == 0 and keep["excluded"] == [1, 2] and keep["scores"] == {"0": 4 / 8}
    assert choose_iteration({}, MATH) is None


def test_a_locked_wrong_consensus_after_the_alarm_does_not_outvote_the_base():
    # the base is right (gold 2), iteration 1 drifts, iterations 2-3 are locked on 3 and iteration 2 raised the alarm
    evals = {
        0: [{"id": "q", "answers": ["2", "2", "2", "3"]}],
        1: [{"id": "q", "answers": ["2", "3", "3", "2"]}],
        2: [{"id": "q", "answers": ["3", "3", "3", "3"]}],
        3: [{"id": "q", "answers": ["3", "3", "3", "3"]}],
    }
    # pooling every iteration, "3" (11 of 16) would win and the drifting iteration 1 would be kept
    assert consensus_scores(evals, MATH) == {0: 0.25, 1: 0.5, 2: 1.0, 3: 1.0}
    keep = choose_iteration(evals, MATH, alarmed={2})
    assert keep["iteration"] == 0 and keep["excluded"] == [2, 3] and keep["scores"] == {"0": 0.75, "1": 0.5}


def test_a_tie_keeps_the_earliest_iteration():
    evals = {t: [{"id": "a", "answers": ["1", "2"]}] for t in range(3)}
    assert choose_iteration(evals, MATH)["iteration"] == 0


# ----------------------------------------------------------------------------- a vote wrong on purpose


def test_wrong_rewards_follow_the_most_common_wrong_answer():
    assert wrong_rewards(["4", "5", "5", "4", "4", None], "4", MATH) == [0.0, 1.0, 1.0, 0.0, 0.0, 0.0]
    assert wrong_rewards(["4", "4.0", None], "4", MATH) == [0.0, 0.0, 0.0]  # no wrong answer: nothing to follow
    assert wrong_rewards(["6", "5", "6"], "4", MATH) == [1.0, 0.0, 1.0]


def test_wrong_questions_are_a_fixed_share_chosen_by_id():
    ids = [f"q{i}" for i in range(2000)]
    chosen = [q for q in ids if wrong_question(q, 0.3)]
    assert 0.25 < len(chosen) / len(ids) < 0.35
    assert chosen == [q for q in ids if wrong_question(q, 0.3)]
    assert not any(wrong_question(q, 0.0) for q in ids) and all(wrong_question(q, 1.0) for q in ids)


def test_score_groups_misleads_only_the_wrong_questions_and_records_the_true_vote():
    ids = ["a"] * 4 + ["b"] * 4
    answers = ["4", "4", "4", "5", "4", "4", "4", "5"]
    rewards, votes = score_groups(ids, answers, MATH, group_size=4, band=None, wrong={"a": "4"})
    assert rewards == [0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0]
    assert [v.label for v in votes] == ["4", "4"]  # the health signals see the Solver's own vote


def test_method_wrong_vote_validates():
    validate_config(compose_cfg("method=wrong_vote"))
    with pytest.raises(ConfigError, match="wrong_share"):
        validate_config(compose_cfg("method=wrong_vote", "method.wrong_share=2"))


# ----------------------------------------------------------------------------- health.on_alarm in the loop


@pytest.fixture
def always_alarm(monkeypatch):
    """A rule that fires on the first Solver row of any run (a tiny random model's vote share is >= 0)."""
    monkeypatch.setattr("ttcs.monitor.RULES", (Rule("always", "solver", "vote_share", ">=", 0.0, source="test"),))


def test_on_alarm_stop_ends_after_the_phase_stops_again_on_rerun_and_warn_goes_on(
    tmp_path, tiny_model_dir, always_alarm, caplog
):
    torch.set_num_threads(1)
    base = tiny_run(tiny_model_dir, method="ttrl")
    caplog.set_level(logging.WARNING)
    results = run(compose_cfg(*base, "health.on_alarm=stop"), tmp_path)
    assert list(RunDir(tmp_path).state["phases"]) == ["iter_00/eval", "iter_01/solver"]
    assert results["stopped"]["after"] == "iter_01/solver" and results["stopped"]["reason"] == "always"
    assert [a["rule"] for a in results["alarms"]] == ["always"]
    assert json.loads((tmp_path / "results.json").read_text()) == results
    assert "health alarm always: vote_share" in caplog.text and "stopping after iter_01/solver" in caplog.text
    caplog.clear()
    # the same command stops again at once; the alarm is not announced twice
    again = run(compose_cfg(*base, "health.on_alarm=stop"), tmp_path)
    assert list(RunDir(tmp_path).state["phases"]) == ["iter_00/eval", "iter_01/solver"]
    assert again["stopped"]["after"] == "iter_01/solver" and "health alarm always" not in caplog.text
    # health.on_alarm=warn resumes (health is not part of the resume check) and finishes
    done = run(compose_cfg(*base, "health.on_alarm=warn"), tmp_path)
    assert list(RunDir(tmp_path).state["phases"]) == ["iter_00/eval", "iter_01/solver", "iter_01/eval"]
    assert "stopped" not in done and [a["rule"] for a in done["alarms"]] == ["always"]
    assert done["keep"]["iteration"] == 0  # iteration 1 raised the alarm
    report = write_report(tmp_path).read_text()
    assert "## Health (label-free)" in report and "- always: vote_share" in report
    assert "Iteration to keep (label-free):** 0" in report and (tmp_path / "health.png").is_file()


def test_warn_runs_to_the_end_and_keeps_an_iteration(tmp_path, tiny_model_dir):
    torch.set_num_threads(1)
    results = run(compose_cfg(*tiny_run(tiny_model_dir, method="ttrl")), tmp_path)
    assert "stopped" not in results and results["keep"]["criterion"] == "consensus"
    assert set(results["keep"]["scores"]) == {"0", "1"}
    # the flip rate each Solver row logged is the one recomputed from the votes and evaluation files; the first
    # generation's is known (the evaluation voted on every test question)
    from ttcs.health import generation_flip_rates
    from ttcs.rewards.solver import phase_start_labels, votes_by_generation
    from ttcs.rundir import read_jsonl

    layout = RunDir(tmp_path)
    generations = votes_by_generation(read_jsonl(layout.votes_path(1)))
    rates = generation_flip_rates(generations, phase_start_labels(layout, 1), get_verifier("math").equivalent)
    logged = {m["generation"]: m["label_flip_rate"] for m in layout.metrics() if m["phase"] == "solver"}
    assert logged == pytest.approx(rates) and rates[1] is not None
    # what the health computations cost on this run's own data, against the run's time (ttcs-bench-health --cost)
    cost = health_cost(tmp_path, repeat=1)
    assert 0 < cost["health_seconds"] and cost["share"] < 0.02


# ----------------------------------------------------------------------------- the report's panel in text


def test_health_lines_show_the_stop_the_alarms_and_the_choice_against_gold():
    results = {
        "stopped": {"after": "iter_02/solver", "reason": "flips", "resume": "rerun with health.on_alarm=warn"},
        "alarms": [
            {
                "rule": "flips",
                "signal": "label_flip_rate",
                "value": 0.5,
                "op": ">=",
                "threshold": 0.3,
                "window": 2,
                "phase": "solver",
                "since_iteration": 2,
                "since_step": 1,
                "source": "TTRL-Guard",
            }
        ],
        "keep": {"iteration": 1, "why": "because"},
        "iterations": [
            {"iteration": 0, "eval": {"avg_at_k": 50.0}},
            {"iteration": 1, "eval": {"avg_at_k": 60.0}, "health": {"vote_share": 0.7, "label_flip_rate": None}},
        ],
    }
    text = "\n".join(health_lines(results))
    assert "**Stopped** after iter_02/solver" in text
    assert "- flips: label_flip_rate 0.5 >= 0.3 for 2 solver row(s) since iter_02 step 1 (TTRL-Guard)" in text
    assert "kept 60.0, last (1) 60.0, best (1) 60.0" in text
    assert "| 1 | 0.70 | n/a |" in text


def test_health_rules_from_the_command_line_change_or_switch_off_the_shipped_rule():
    from ttcs.config import plain

    off = compose_cfg("+health.rules.labels_moving=false")
    validate_config(off)
    assert configured_rules(plain(off.health)["rules"]) == ()
    changed = compose_cfg("+health.rules.labels_moving.threshold=0.9", "+health.rules.labels_moving.window=2")
    validate_config(changed)
    (rule,) = configured_rules(plain(changed.health)["rules"])
    assert (rule.name, rule.signal, rule.threshold, rule.window) == ("labels_moving", "label_flip_rate", 0.9, 2)
