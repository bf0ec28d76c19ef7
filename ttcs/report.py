"""The run report: a before/after table for the terminal and ``report.md`` with plots.

``report.md`` shows, without opening any JSON: accuracy per iteration (a plot and a
table), the run's health (`health_lines`: the alarms, the iteration to keep, the
label-free signals over the Solver's steps with the alarms marked and avg@k against gold
beside them), the reward curves of the Solver and Synthesizer phases, and a sample of
synthesized variants next to their references with their rewards.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from omegaconf import OmegaConf

from ttcs.diagnostics import arithmetic_check, top_quartile, top_quartile_well_posed
from ttcs.rundir import RunLayout, read_jsonl
from ttcs.verify import get_verifier

logger = logging.getLogger(__name__)
METRICS = (("avg_at_k", "avg@k"), ("maj_at_k", "maj@k"), ("greedy", "greedy"))


def _fmt(value, stderr=None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.1f} ± {stderr:.1f}" if stderr is not None else f"{value:.1f}"


def format_results_table(results: dict) -> str:
    """A Markdown table of evaluation metrics per iteration (iteration 0 = the base model)."""
    its = results.get("iterations", [])
    k = its[0]["eval"].get("k", "k") if its else "k"
    head = f"| iteration | avg@{k} | maj@{k} | greedy | pseudo-label acc. |\n|---|---|---|---|---|"
    rows = []
    for it in its:
        e = it["eval"]
        pla = it.get("pseudo_label_accuracy")
        rows.append(
            f"| {it['iteration']} | {_fmt(e.get('avg_at_k'), e.get('avg_at_k_stderr'))} | "
            f"{_fmt(e.get('maj_at_k'))} | {_fmt(e.get('greedy'))} | {_fmt(None if pla is None else 100 * pla)} |"
        )
    title = (
        f"{results.get('method')} · {results.get('model')} · {results.get('data')} · seed {results.get('seed')} "
        f"(n = {its[0]['eval'].get('n') if its else 0} problems, accuracy in %)"
    )
    return "\n".join([title, "", head, *rows])


def _plot(
    series: dict[str, tuple[list, list]],
    out: Path,
    *,
    xlabel: str,
    ylabel: str,
    marker: str,
    title: str | None = None,
    xticks: list | None = None,
) -> None:
    """One line plot of named (x, y) series, saved as a PNG (headless backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for label, (xs, ys) in series.items():
        ax.plot(xs, ys, marker=marker, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if xticks is not None:
        ax.set_xticks(xticks)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def _plot_accuracy(results: dict, out: Path) -> bool:
    its = results.get("iterations", [])
    if not its:
        return False
    xs = [it["iteration"] for it in its]
    series = {}
    for key, label in METRICS:
        ys = [it["eval"].get(key) for it in its]
        if any(y is not None for y in ys):
            series[label] = (xs, [float("nan") if y is None else y for y in ys])
    _plot(
        series,
        out,
        xlabel="iteration (0 = base model)",
        ylabel="accuracy (%)",
        marker="o",
        xticks=xs,
        title=f"{results.get('method')} on {results.get('data')}",
    )
    return True


def _plot_rewards(metrics: list[dict], out: Path) -> bool:
    series = {}
    for phase in ("solver", "synthesizer"):
        ys = [m["reward_mean"] for m in metrics if m.get("phase") == phase and m.get("reward_mean") is not None]
        if ys:
            series[f"{phase} reward"] = (list(range(1, len(ys) + 1)), ys)
    if not series:
        return False
    _plot(series, out, xlabel="GRPO step (all iterations, in order)", ylabel="mean reward", marker=".")
    return True


# The label-free Solver signals the health panel plots (``metrics.jsonl`` keys, `ttcs.health`), each with its label.
HEALTH_PLOTS = (
    ("vote_share", "majority share"),
    ("label_flip_rate", "label flip rate"),
    ("distinct_answers", "distinct answers / group"),
    ("no_advantage_share", "groups with no advantage"),
    ("unanswered_share", "unanswered share"),
    ("entropy", "entropy (TRL)"),
)


def _plot_health(metrics: list[dict], results: dict, out: Path) -> bool:
    """The Solver's label-free signals over its steps (all iterations in order), the alarms as vertical lines, and
    avg@k against gold at each evaluation on the first panel's right axis. False (no plot) without Solver signals."""
    solver = [m for m in metrics if m.get("phase") == "solver"]
    shown = [(key, label) for key, label in HEALTH_PLOTS if any(m.get(key) is not None for m in solver)]
    if not shown:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps, eval_at, position = [], {}, 0
    for m in metrics:
        if m.get("phase") == "solver":
            position += 1
            steps.append(position)
        elif m.get("phase") == "eval" and m.get("avg_at_k") is not None:
            eval_at[position] = m["avg_at_k"]
    alarm_steps = sorted({a["phase_row"] for a in results.get("alarms", []) if a.get("phase") == "solver"})
    fig, axes = plt.subplots(len(shown), 1, figsize=(6.5, 1.5 * len(shown) + 0.6), sharex=True, squeeze=False)
    for ax, (key, label) in zip(axes[:, 0], shown, strict=True):
        ys = [float("nan") if m.get(key) is None else m[key] for m in solver]
        ax.plot(steps, ys, marker=".", color="tab:blue")
        ax.set_ylabel(label, fontsize=7)
        ax.grid(alpha=0.3)
        for x in alarm_steps:
            ax.axvline(x, color="tab:red", alpha=0.6, linestyle="--")
    if eval_at:
        gold = axes[0, 0].twinx()
        gold.plot(list(eval_at), list(eval_at.values()), marker="o", color="tab:green")
        gold.set_ylabel("avg@k vs gold (%)", fontsize=7, color="tab:green")
    axes[-1, 0].set_xlabel("Solver step (all iterations, in order; red: a health alarm)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return True


def health_lines(results: dict) -> list[str]:
    """The report's health panel in text: the stop, the alarms, the iteration to keep (with gold where known) and
    the label-free signals of each iteration."""
    lines = []
    stopped = results.get("stopped")
    if stopped:
        lines += [
            f"**Stopped** after {stopped['after']} by health.on_alarm=stop ({stopped['reason']}); {stopped['resume']}.",
            "",
        ]
    alarms = results.get("alarms") or []
    if alarms:
        lines += ["Alarms (label-free; `ttcs.monitor`):", ""]
        lines += [
            f"- {a['rule']}: {a['signal']} {a['value']:.3g} {a['op']} {a['threshold']:g} for {a['window']} "
            f"{a['phase']} row(s) since iter_{a['since_iteration']:02d} step {a['since_step']} ({a['source']})"
            for a in alarms
        ]
    else:
        lines.append("No health alarm.")
    lines.append("")
    keep = results.get("keep")
    its = {it["iteration"]: it for it in results.get("iterations", [])}
    if keep:
        lines.append(f"**Iteration to keep (label-free):** {keep['iteration']}: {keep['why']}.")
        gold = {t: it["eval"].get("avg_at_k") for t, it in its.items() if it["eval"].get("avg_at_k") is not None}
        if gold:
            best, last = max(gold, key=lambda t: (gold[t], -t)), max(gold)
            lines.append(
                f"Against gold (avg@k; gold is used here only to check the choice): kept {gold.get(keep['iteration'], 0):.1f}, "
                f"last ({last}) {gold[last]:.1f}, best ({best}) {gold[best]:.1f}."
            )
        lines.append("")
    rows = [(t, it["health"]) for t, it in its.items() if it.get("health")]
    if rows:
        lines += [
            "| iteration | majority share | label flips vs previous | distinct answers | unanswered | no advantage | "
            "Synthesizer unpaid | curriculum distinct |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for t, h in rows:
            synth, cur = h.get("synthesizer") or {}, h.get("curriculum") or {}
            cells = [
                h.get("vote_share"),
                h.get("label_flip_rate"),
                h.get("distinct_answers"),
                h.get("unanswered_share"),
            ]
            cells += [h.get("no_advantage_share"), synth.get("unpaid_share"), cur.get("distinct_share")]
            lines.append(f"| {t} | " + " | ".join("n/a" if c is None else f"{c:.2f}" for c in cells) + " |")
        lines.append("")
    return lines


def _variant_samples(layout: RunLayout, limit: int = 5) -> list[str]:
    lines = []
    for path in layout.curriculum_paths():
        records = [r for r in read_jsonl(path) if r.get("question")]
        records.sort(key=lambda r: -((r.get("reward") or {}).get("total") or 0))
        for r in records[:limit]:
            rw = {k: v for k, v in (r.get("reward") or {}).items() if v is not None}
            lines += [
                f"**{path.stem}**, reference `{r.get('reference_id')}`: {r.get('reference_question') or '(none)'}",
                "",
                f"> variant: {r['question']}",
                ">",
                f"> claimed answer: `{r.get('claimed_answer')}`; "
                f"Solver consistency {_fmt(r.get('consistency'))}; reward {json.dumps(rw)}",
                "",
            ]
    return lines


def _well_posed_lines(layout: RunLayout) -> list[str]:
    """The share of well-posed variants among each iteration's top-quartile rewards (ttcs.diagnostics)."""
    hydra_cfg = layout.hydra_config_path
    saved = OmegaConf.load(hydra_cfg) if hydra_cfg.is_file() else None
    name = OmegaConf.select(saved, "data.verifier", default="math") if saved is not None else "math"
    lines = []
    for path in layout.curriculum_paths():
        records, verifier = read_jsonl(path), get_verifier(name)
        share, count = top_quartile_well_posed(records, verifier)
        if share is None:
            continue
        lines.append(
            f"- {path.stem}: {100 * share:.0f}% of the {count} top-quartile variants are well-posed "
            "(a question and a claimed answer that the Solver's vote reaches and the question does not state)"
        )
        check = arithmetic_check(top_quartile(records), verifier)
        if check["readable"]:
            lines.append(
                f"  - checked against the arithmetic they state: {check['readable']} of the {count} state one "
                f"expression; the claimed answer is its value in {check['claim_right']}, the Solver's "
                f"majority in {check['vote_right']}, both (well-posed and right) in "
                f"{check['well_posed_right']}"
            )
    return lines


def write_report(run_dir: str | Path) -> Path:
    """Write ``report.md`` (and its PNG plots) from results.json, metrics.jsonl and curriculum files."""
    layout = RunLayout(run_dir)
    results = json.loads(layout.results_path.read_text())
    parts = [f"# Run report: {results.get('run_name') or layout.root.name}", "", format_results_table(results), ""]
    if _plot_accuracy(results, layout.plot_path("accuracy")):
        parts += ["![accuracy per iteration](accuracy.png)", ""]
    metrics = read_jsonl(layout.metrics_path)
    parts += ["## Health (label-free)", "", *health_lines(results)]
    if _plot_health(metrics, results, layout.plot_path("health")):
        parts += ["![label-free signals over the Solver's steps](health.png)", ""]
    if _plot_rewards(metrics, layout.plot_path("rewards")):
        parts += ["## Reward curves", "", "![rewards](rewards.png)", ""]
    well_posed = _well_posed_lines(layout)
    if well_posed:
        parts += ["## Are the best-rewarded variants well-posed?", "", *well_posed, ""]
    samples = _variant_samples(layout)
    if samples:
        parts += ["## Sample variants (highest reward first)", "", *samples]
    v = results.get("versions", {})
    parts += [
        "## Provenance",
        "",
        "Config: `.hydra/config.yaml`, overrides: `.hydra/overrides.yaml`.",
        "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        "",
    ]
    out = layout.report_path
    out.write_text("\n".join(parts))
    logger.info("report written to %s", out)
    return out
