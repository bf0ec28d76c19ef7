"""`ttcs-bench-health`: how well the label-free health monitor and checkpoint choice track the truth, against gold.

Given finished run directories (healthy runs and collapses on purpose, several seeds each), it
reads each run's ``metrics.jsonl`` (the label-free signals, and the evaluation's avg@k against
gold after every iteration), its evaluation files and its config, and reports:

* **collapse by gold**: a run collapses at the first evaluation whose avg@k lies ``--margin``
  points or more below the best evaluation before it; its position is the number of Solver
  optimizer steps done by then (the fall happened in the steps since the evaluation before);
* **alarms**: where each rule (`ttcs.monitor.RULES`, or every candidate of ``--sweep``) first
  fires, in Solver steps; on a run that does not collapse an alarm is a false alarm; on one
  that does, lead = fall position - alarm position (positive: the alarm came first);
* **checkpoint regret**: gold avg@k of the best iteration minus that of the label-free choice
  (`ttcs.keep.choose_iteration`, with the alarms of the rules), and of the last minus the choice.

``--cost RUN_DIR`` times the health computations on a finished run's own data (every
generation's Solver signals and flip rate, every Synthesizer batch's signals, the curriculum's
diversity, the per-iteration summaries, the monitor over every metrics row and the kept
iteration after every phase, as the run computes them) against the run's own time.

Rules are chosen on some seeds and reported on others: ``--tune-seeds`` names the seeds the
sweep ranks candidates on; the tables mark which seeds each number comes from.

Usage::

    ttcs-bench-health outputs/healthy outputs/collapse --tune-seeds 0,1 --sweep
    ttcs-bench-health outputs/healthy outputs/collapse --tune-seeds 0,1 --md docs_table.md
    ttcs-bench-health --cost outputs/ttcs-smollm2-135m-arith_frontier-seed0
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ttcs.health import generation_flip_rates
from ttcs.keep import choose_iteration
from ttcs.monitor import Monitor, Rule, configured_rules
from ttcs.rewards.solver import phase_start_labels, votes_by_generation
from ttcs.rundir import RunLayout, read_jsonl
from ttcs.verify import get_verifier

# The candidate rules of --sweep: (phase, signal, op, thresholds); each with windows 1-3.
CANDIDATES = (
    ("solver", "label_flip_rate", ">=", (0.3, 0.4, 0.5, 0.6, 0.75, 0.9)),
    ("solver", "vote_share", ">=", (0.8, 0.9, 0.95)),
    ("solver", "vote_share", "<=", (0.4, 0.5)),
    ("solver", "vote_share_std", "<=", (0.05, 0.1)),
    ("solver", "distinct_answers", ">=", (2.5, 3.0, 3.5)),
    ("solver", "distinct_answers", "<=", (1.2, 1.5)),
    ("solver", "unanswered_share", ">=", (0.1, 0.25, 0.5)),
    ("solver", "no_advantage_share", ">=", (0.5, 0.75, 0.9)),
    ("solver", "entropy", ">=", (1.5, 2.0, 3.0)),
    ("solver", "entropy", "<=", (0.3, 0.5)),
    ("solver", "grad_norm", ">=", (20.0, 50.0)),
    ("solver", "completion_length", "<=", (2.0,)),
    ("synthesizer", "unpaid_share", ">=", (0.9, 1.0)),
    ("curriculum", "distinct_share", "<=", (0.5,)),
)
WINDOWS = (1, 2, 3)


@dataclass
class Run:
    """What the benchmark needs of one run directory."""

    path: Path
    method: str
    seed: int
    rows: list[dict]
    evals: dict[int, float]  # iteration -> avg@k against gold
    eval_positions: dict[int, int]  # iteration -> Solver steps done before its evaluation
    answers: dict[int, list[dict]] = field(default_factory=dict)  # iteration -> eval rows (id, answers)
    verifier_name: str = "math"
    role: str = ""  # "tuning" or "reported"

    @property
    def name(self) -> str:
        return f"{self.method} seed {self.seed}"

    @property
    def setting(self) -> str:
        """The sweep the run belongs to (its parent directory) and its method: what the tables group by."""
        return f"{self.path.parent.name}/{self.method}"


def flip_rates(layout: RunLayout, verifier) -> dict[tuple[int, int], float | None]:
    """(iteration, generation) -> ``label_flip_rate`` as the Solver logs it, recomputed from the votes and
    evaluation files (`ttcs.health.generation_flip_rates`): runs made before the flip rate started from the
    evaluation's votes are measured as the monitor now sees them."""
    rates = {}
    for t in range(1, 1000):
        path = layout.votes_path(t)
        if not path.is_file():
            break
        generations = votes_by_generation(read_jsonl(path))
        for generation, rate in generation_flip_rates(
            generations, phase_start_labels(layout, t), verifier.equivalent
        ).items():
            rates[(t, generation)] = rate
    return rates


def load_run(path: Path) -> Run:
    """One finished run directory (its Solver rows' ``label_flip_rate`` recomputed by `flip_rates`)."""
    layout = RunLayout(path)
    results = json.loads(layout.results_path.read_text())
    config = json.loads(layout.state_path.read_text()).get("config", {})
    verifier_name = config.get("data.verifier", "math")
    rates = flip_rates(layout, get_verifier(verifier_name))
    rows = read_jsonl(layout.metrics_path)
    for row in rows:
        if row.get("phase") == "solver" and (row["iteration"], row.get("generation", row["step"])) in rates:
            row["label_flip_rate"] = rates[(row["iteration"], row.get("generation", row["step"]))]
    evals, positions, solver_steps = {}, {}, 0
    for row in rows:
        if row.get("phase") == "solver":
            solver_steps += 1
        elif row.get("phase") == "eval":
            evals[row["iteration"]] = row["avg_at_k"]
            positions[row["iteration"]] = solver_steps
    return Run(
        path=path,
        method=results["method"],
        seed=int(results.get("seed", 0)),
        rows=rows,
        evals=evals,
        eval_positions=positions,
        answers={t: read_jsonl(layout.eval_path(t)) for t in evals},
        verifier_name=verifier_name,
    )


def finished(layout: RunLayout) -> bool:
    """Whether a run directory holds a finished run: its last evaluation (``train.iterations``, or 0 for a method
    without phases) is done."""
    state = json.loads(layout.state_path.read_text())
    config = state.get("config", {})
    last = int(config.get("train.iterations", 0)) if config.get("method.phases") else 0
    return f"iter_{last:02d}/eval" in state.get("phases", {})


def find_runs(paths: list[str]) -> list[Run]:
    """Every finished run (`finished`) under the paths; unfinished ones are named on stderr and left out."""
    found = []
    for raw in paths:
        for results in sorted(Path(raw).rglob("results.json")):
            layout = RunLayout(results.parent)
            if not (layout.metrics_path.is_file() and layout.state_path.is_file()):
                continue
            if finished(layout):
                found.append(load_run(results.parent))
            else:
                print(f"note: {results.parent} has not finished; left out", file=sys.stderr)
    return found


def gold_fall(run: Run, margin: float) -> int | None:
    """The Solver-step position of the first evaluation `margin` points or more below the best one before it."""
    best = None
    for t in sorted(run.evals):
        if best is not None and run.evals[t] <= best - margin:
            return run.eval_positions[t]
        best = run.evals[t] if best is None else max(best, run.evals[t])
    return None


def alarm_positions(run: Run, rules) -> list[tuple[str, int, int]]:
    """(rule, Solver-step position, iteration) of every alarm the rules raise over the run's rows."""
    monitor, out, solver_steps = Monitor(list(rules)), [], 0
    for row in run.rows:
        solver_steps += row.get("phase") == "solver"
        for alarm in monitor.observe(row, quiet=True):
            out.append((alarm.rule, solver_steps, alarm.iteration))
    return out


def checkpoint(run: Run, rules) -> dict:
    """The label-free choice (with the rules' alarms), the best and the last iteration, by gold avg@k."""
    alarmed = {it for _, _, it in alarm_positions(run, rules)}
    keep = choose_iteration(run.answers, get_verifier(run.verifier_name), alarmed=alarmed)
    chosen = keep["iteration"] if keep else max(run.evals)
    best = max(run.evals, key=lambda t: (run.evals[t], -t))
    last = max(run.evals)
    return {
        "chosen": chosen,
        "best": best,
        "last": last,
        "regret_best": run.evals[best] - run.evals[chosen],
        "regret_last": run.evals[last] - run.evals[chosen],
    }


def evaluate_rules(runs: list[Run], rules, margin: float) -> dict:
    """False alarms on runs that did not collapse; catches and lead on those that did."""
    healthy = [r for r in runs if gold_fall(r, margin) is None]
    collapsed = [r for r in runs if gold_fall(r, margin) is not None]
    false_alarms = [r for r in healthy if alarm_positions(r, rules)]
    leads = []
    for r in collapsed:
        alarms = alarm_positions(r, rules)
        fall = gold_fall(r, margin)
        leads.append(fall - alarms[0][1] if alarms else None)
    return {"healthy": healthy, "collapsed": collapsed, "false_alarms": false_alarms, "leads": leads}


def candidate_rules() -> list[Rule]:
    return [
        Rule(f"{signal}{op}{threshold:g}/w{window}", phase, signal, op, threshold, window, source="sweep")
        for phase, signal, op, thresholds in CANDIDATES
        for threshold in thresholds
        for window in WINDOWS
    ]


def sweep(runs: list[Run], margin: float) -> list[tuple[Rule, dict]]:
    """Every candidate rule on the runs, best first: fewest false alarms, then most collapses caught in time, then
    the largest median lead."""
    scored = []
    for rule in candidate_rules():
        e = evaluate_rules(runs, [rule], margin)
        in_time = [x for x in e["leads"] if x is not None and x >= 0]
        scored.append(
            (rule, e, (len(e["false_alarms"]), -len(in_time), -(statistics.median(in_time) if in_time else -99)))
        )
    scored.sort(key=lambda item: item[2])
    return [(rule, e) for rule, e, _ in scored]


def _seeds(runs: list[Run]) -> str:
    return ",".join(str(s) for s in sorted({r.seed for r in runs})) or "-"


def per_run_table(runs: list[Run], rules, margin: float) -> str:
    lines = [
        "| setting | run | seeds' role | avg@k by iteration (gold) | collapse at step | first alarm (rule, step) | lead | kept / best / last | regret vs best | vs last |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        fall = gold_fall(r, margin)
        alarms = alarm_positions(r, rules)
        first = f"{alarms[0][0]}, {alarms[0][1]}" if alarms else "none"
        lead = "" if fall is None else ("missed" if not alarms else f"{fall - alarms[0][1]:+d}")
        c = checkpoint(r, rules)
        trace = " → ".join(f"{r.evals[t]:.1f}" for t in sorted(r.evals))
        lines.append(
            f"| {r.setting} | {r.name} | {r.role} | {trace} | {'—' if fall is None else fall} | {first} | {lead} | "
            f"{c['chosen']} / {c['best']} / {c['last']} | {c['regret_best']:.1f} | {c['regret_last']:+.1f} |"
        )
    return "\n".join(lines)


def summary_table(groups: dict[str, list[Run]], rules, margin: float) -> str:
    lines = [
        "| setting | seeds | runs that collapsed (gold) | false alarms | collapses caught in time | median lead (steps) | regret of the choice vs best | vs last |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, runs in groups.items():
        if not runs:
            continue
        e = evaluate_rules(runs, rules, margin)
        in_time = [x for x in e["leads"] if x is not None and x >= 0]
        regrets = [checkpoint(r, rules) for r in runs]
        lines.append(
            f"| {name} | {_seeds(runs)} | {len(e['collapsed'])}/{len(runs)} | {len(e['false_alarms'])}/{len(e['healthy'])} | "
            f"{len(in_time)}/{len(e['collapsed'])} | {statistics.median(in_time) if in_time else '—'} | "
            f"{statistics.fmean(c['regret_best'] for c in regrets):.1f} | {statistics.fmean(c['regret_last'] for c in regrets):+.1f} |"
        )
    return "\n".join(lines)


def health_cost(run_dir: Path, repeat: int = 3) -> dict:
    """Seconds the health computations take on `run_dir`'s own data (the best of `repeat` passes) and the run's
    seconds (its phases' sum in state.json)."""
    import time

    from ttcs.curriculum import record_question
    from ttcs.health import (
        FlipTracker,
        curriculum_diversity,
        generation_signals,
        iteration_health,
        synthesizer_health,
        synthesizer_signals,
    )

    layout = RunLayout(run_dir)
    state = json.loads(layout.state_path.read_text())
    verifier = get_verifier(state.get("config", {}).get("data.verifier", "math"))
    iterations = sorted({int(k[5:7]) for k in state["phases"]})
    generations = {t: votes_by_generation(read_jsonl(layout.votes_path(t))) for t in iterations}
    votes = {t: [v for batch in generations[t].values() for v in batch] for t in iterations}
    previous = {t: phase_start_labels(layout, t) for t in iterations}
    curricula = {t: read_jsonl(layout.curriculum_path(t)) for t in iterations}
    rows = read_jsonl(layout.metrics_path)
    evals = {t: read_jsonl(layout.eval_path(t)) for t in iterations if layout.eval_path(t).is_file()}

    def one_pass() -> float:
        start = time.perf_counter()
        for t in iterations:
            flips = FlipTracker(verifier.equivalent, previous[t])
            for batch in generations[t].values():
                generation_signals(batch)
                flips.update(batch)
            iteration_health(votes[t], previous[t], verifier.equivalent)
            records = curricula[t]
            synth = {}
            for r in records:
                if r.get("phase") == "synthesizer":
                    synth.setdefault(r["step"], []).append(r)
            for batch in synth.values():
                synthesizer_signals(batch)
            synthesizer_health(records)
            if records:
                curriculum_diversity([q for r in records if (q := record_question(r))], seed=0)
        Monitor().replay(rows)
        for n in range(1, len(state["phases"]) + 1):  # build_results after every phase chooses again
            chosen = {t: evals[t] for t in list(evals)[: max(1, min(n, len(evals)))]}
            if len(chosen) > 1:
                choose_iteration(chosen, verifier)
        return time.perf_counter() - start

    seconds = min(one_pass() for _ in range(repeat))
    run_seconds = sum(p.get("seconds", 0.0) for p in state["phases"].values())
    return {
        "health_seconds": seconds,
        "run_seconds": run_seconds,
        "share": seconds / run_seconds if run_seconds else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ttcs-bench-health", description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", help="run or sweep directories")
    parser.add_argument("--cost", type=Path, metavar="RUN_DIR", help="time the health computations on this run's data")
    parser.add_argument("--tune-seeds", default="0,1", help="seeds the rules were (--sweep: are) chosen on")
    parser.add_argument(
        "--margin", type=float, default=5.0, help="avg@k points below the best so far that count as a collapse"
    )
    parser.add_argument("--sweep", action="store_true", help="rank every candidate rule on the tuning seeds")
    parser.add_argument("--top", type=int, default=25, help="candidates shown by --sweep")
    parser.add_argument("--md", type=Path, help="also write the tables here")
    args = parser.parse_args(argv)
    if args.cost is not None:
        cost = health_cost(args.cost)
        print(
            f"{args.cost}: health computations {cost['health_seconds']:.3f} s of the run's {cost['run_seconds']:.1f} s "
            f"({100 * cost['share']:.3f}%)"
        )
        return 0
    runs = find_runs(args.paths)
    if not runs:
        print(f"ttcs-bench-health: no finished runs under {' '.join(args.paths)}", file=sys.stderr)
        return 2
    tune = {int(s) for s in args.tune_seeds.split(",") if s.strip()}
    for r in runs:
        r.role = "tuning" if r.seed in tune else "reported"
    tuning = [r for r in runs if r.seed in tune]
    reported = [r for r in runs if r.seed not in tune]
    out = []
    if args.sweep:
        out.append(f"Candidate rules on the tuning seeds ({_seeds(tuning)}), margin {args.margin:g} points:\n")
        out.append("| rule | false alarms | caught in time | leads (steps, per collapse) |")
        out.append("|---|---|---|---|")
        for rule, e in sweep(tuning, args.margin)[: args.top]:
            in_time = [x for x in e["leads"] if x is not None and x >= 0]
            out.append(
                f"| {rule.name} | {len(e['false_alarms'])}/{len(e['healthy'])} | {len(in_time)}/{len(e['collapsed'])} | "
                f"{', '.join('missed' if x is None else f'{x:+d}' for x in e['leads'])} |"
            )
    else:
        rules = list(configured_rules({}))
        names = ", ".join(f"{r.name} ({r.signal} {r.op} {r.threshold:g}, {r.window} rows)" for r in rules) or "none"
        out.append(f"Rules: {names}. Collapse: avg@k {args.margin:g} points below the best evaluation before.\n")
        groups: dict[str, list[Run]] = {}
        for role, members in (("tuning", tuning), ("reported", reported)):
            for r in members:
                groups.setdefault(f"{r.setting} ({role})", []).append(r)
            groups[f"all ({role})"] = members
        out.append(summary_table(groups, rules, args.margin))
        out.append("")
        out.append(per_run_table(runs, rules, args.margin))
    text = "\n".join(out) + "\n"
    print(text)
    if args.md:
        args.md.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
