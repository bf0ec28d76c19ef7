"""The run report: a before/after table for the terminal and ``report.md`` with plots.

``report.md`` shows, without opening any JSON: accuracy per iteration (a plot and a
table), the reward curves of the Solver and Synthesizer phases, and a sample of
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
    if _plot_rewards(read_jsonl(layout.metrics_path), layout.plot_path("rewards")):
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
