"""`ttcs-table`: aggregate run directories into a paper-style table (Markdown and CSV).

Rows are methods (with the model), columns are datasets plus their average; each cell is
the method's own score (``score`` in results.json: avg@k for most methods, maj@k for
self-consistency) at the run's last finished iteration: the mean over seeds ± its standard
error (the standard deviation over seeds / sqrt(number of seeds)), with the number of seeds
in the ``seeds`` column. Methods that train on gold answers (``method=oracle``) are marked
with ``‡``: they are upper bounds, not test-time methods. A
provenance footer lists, for every run used, its directory, overrides, seed, package
versions and git commit, so each number traces back to a run.

``--iteration`` picks the iteration of each run: ``last`` (the default), ``first`` (the base
model), ``kept`` (the run's label-free choice, ``keep`` in results.json; the last where a run has
none) or ``best`` (the best by the cell's metric: chosen with the gold answers, so marked
``(best, gold)``: an upper bound on any choice). ``--checkpoints`` shows last, kept and best
side by side, one row each.

``--paper`` adds the paper's published numbers beside ours (rows marked "(paper)", for
the models in the table), from ``data/ttcs_table1.json`` (TTCS Table 1; the file names its
source) or a file of the same layout; a number the file does not give is "missing".

Usage::

    ttcs -m method=base,self_consistency data=arith,amc23      # writes outputs/sweep/*
    ttcs-table outputs/sweep --csv table.csv --md table.md
    ttcs-table outputs/sweep --paper                           # with TTCS Table 1 beside ours
    ttcs-table outputs/sweep --checkpoints                     # last / label-free choice / best (gold)
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import statistics
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

METRICS = ("score", "avg_at_k", "maj_at_k", "greedy")
ITERATIONS = ("last", "first", "kept", "best")
# The row label each choice of iteration adds to the method's name (none for the last).
ITERATION_LABELS = {"last": " (last)", "first": " (first)", "kept": " (kept, label-free)", "best": " (best, gold)"}
PAPER_FILE = Path(__file__).resolve().parent / "data" / "ttcs_table1.json"


class TableError(ValueError):
    """No usable runs, or a results.json that cannot be read."""


@dataclass
class RunRecord:
    """The numbers and provenance of one run, as the table needs them."""

    path: Path
    method: str
    model: str
    data: str
    seed: int
    iteration: int
    value: float | None
    overrides: list[str]
    versions: dict
    uses_labels: bool = False
    checkpoint: str = "last"  # which iteration of the run (`ITERATIONS`)


def find_result_files(paths: list[str]) -> list[Path]:
    """results.json files under each path (a run directory, a sweep directory, or a results.json)."""
    found: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_file() and p.name == "results.json":
            found.append(p)
        elif p.is_dir():
            found.extend(sorted(p.rglob("results.json")))
        else:
            raise TableError(f"{p}: not a run directory or results.json")
    return sorted(set(found))


def _overrides(run_dir: Path) -> list[str]:
    f = run_dir / ".hydra" / "overrides.yaml"
    if not f.exists():
        return []
    return [line[2:].strip() for line in f.read_text().splitlines() if line.startswith("- ")]


def load_run(path: Path, metric: str = "score", iteration: str = "last") -> RunRecord | None:
    """Read one results.json; None (with a note on stderr) when it has no finished evaluation."""
    try:
        res = json.loads(path.read_text())
        its = res["iterations"]
        method, model, data = res["method"], res["model"], res["data"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as err:
        raise TableError(f"{path}: unreadable results file ({type(err).__name__}: {err})") from err
    if not its:
        print(f"note: {path} has no finished evaluation; skipped", file=sys.stderr)
        return None
    key = res.get("score", "avg_at_k") if metric == "score" else metric
    it = _pick(its, iteration, key, res.get("keep"))
    return RunRecord(
        path=path.parent,
        method=method,
        model=model,
        data=data,
        seed=res.get("seed", 0),
        iteration=it["iteration"],
        value=it["eval"].get(key),
        overrides=_overrides(path.parent),
        versions=res.get("versions", {}),
        uses_labels=bool(res.get("uses_labels", False)),
        checkpoint=iteration,
    )


def _pick(its: list[dict], iteration: str, key: str, keep: dict | None) -> dict:
    """The iteration entry `iteration` names (`ITERATIONS`)."""
    if iteration == "first":
        return its[0]
    if iteration == "kept" and keep is not None:
        return next((it for it in its if it["iteration"] == keep["iteration"]), its[-1])
    if iteration == "best":
        scored = [it for it in its if it["eval"].get(key) is not None]
        if scored:
            return max(scored, key=lambda it: (it["eval"][key], -it["iteration"]))
    return its[-1]


def mean_and_stderr(values: list[float]) -> tuple[float, float | None]:
    """The mean and its standard error (sample std / sqrt(n)); no error for a single value.

    Example:
        >>> mean_and_stderr([1.0, 2.0, 3.0])
        (2.0, 0.5773502691896258)
    """
    mean = statistics.fmean(values)
    return mean, (statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else None)


def _cell(values: list[float]) -> str:
    mean, stderr = mean_and_stderr(values)
    return f"{mean:.1f}" + (f" ± {stderr:.1f}" if stderr is not None else "")


def build_table(records: list[RunRecord]) -> tuple[list[str], list[list[str]]]:
    """Header and rows (strings): method · model, seeds, each dataset, AVG; cells are mean ± stderr over seeds.

    AVG is the mean of the per-dataset means (seeds need not match across datasets); ``*``
    marks an AVG over the datasets present only.
    """
    cells: dict[tuple[str, int, str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    seeds: dict[tuple[str, int, str, str], set[int]] = defaultdict(set)
    labelled = {r.method for r in records if r.uses_labels}
    choices = {r.checkpoint for r in records}
    datasets: list[str] = []
    for r in records:
        if r.data not in datasets:
            datasets.append(r.data)
        if r.value is not None:
            row_key = (
                r.method,
                ITERATIONS.index(r.checkpoint) if r.checkpoint in ITERATIONS else 0,
                r.checkpoint,
                r.model,
            )
            cells[row_key][r.data].append(r.value)
            seeds[row_key].add(r.seed)
    header = ["method", "model", "seeds", *datasets, "AVG"]
    rows = []
    for row_key, per_data in sorted(cells.items()):
        method, _, checkpoint, model = row_key
        name = f"{method} ‡" if method in labelled else method
        if len(choices) > 1 or checkpoint in ("kept", "best"):
            name += ITERATION_LABELS.get(checkpoint, "")
        row, means = [name, model, str(len(seeds[row_key]))], []
        for d in datasets:
            vals = per_data.get(d, [])
            row.append(_cell(vals) if vals else "—")
            if vals:
                means.append(statistics.fmean(vals))
        complete = len(means) == len(datasets)
        row.append(f"{statistics.fmean(means):.1f}" + ("" if complete else "*") if means else "—")
        rows.append(row)
    return header, rows


def load_paper(path: Path) -> dict:
    """A published-numbers file: ``source``, ``metric``, ``average_of`` and ``rows`` of method, model, average, scores."""
    try:
        paper = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise TableError(f"{path}: unreadable paper numbers ({type(err).__name__}: {err})") from err
    if not isinstance(paper, dict) or not {"source", "rows"} <= set(paper):
        raise TableError(f"{path}: a paper-numbers file needs `source` and `rows`")
    return paper


def paper_rows(paper: dict, datasets: list[str], models: set[str]) -> list[list[str]]:
    """The paper's rows for `models` (the table's), under the table's dataset columns.

    A dataset the file gives no number for reads "missing"; AVG is the paper's own average
    (over its sets, ``average_of``), marked †.
    """
    rows = []
    for r in paper["rows"]:
        if r["model"] not in models:
            continue
        scores = r.get("scores") or {}
        cells = [f"{scores[d]:.2f}" if d in scores else "missing" for d in datasets]
        average = f"{r['average']:.2f}†" if r.get("average") is not None else "missing"
        rows.append([f"{r['method']} (paper)", r["model"], "—", *cells, average])
    return rows


def paper_footer(paper: dict) -> str:
    sets = ", ".join(paper.get("average_of") or [])
    return (
        f"Rows marked (paper): {paper['source']}; {paper.get('metric', '')}. † the paper's average over its "
        f"sets ({sets}), not over this table's columns; missing = not given there."
    )


def to_markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def to_csv(header: list[str], rows: list[list[str]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def provenance_footer(records: list[RunRecord]) -> str:
    """One line per run: where it is, how it was configured, what code and packages produced it."""
    choices = sorted({r.checkpoint for r in records}, key=lambda c: ITERATIONS.index(c) if c in ITERATIONS else 0)
    where = {
        "last": "the run's last finished iteration",
        "first": "the run's first iteration (the base model)",
        "kept": "the iteration the run kept without labels (results.json keep)",
        "best": "the run's best iteration by gold (an upper bound: choosing it needs the test labels)",
    }
    lines = [
        f"Accuracy in %, at {'; '.join(f'{ITERATION_LABELS[c].strip()} {where[c]}' if len(choices) > 1 else where[c] for c in choices)}; "
        "mean over seeds ± standard error. `*` = AVG over the datasets present only."
    ]
    if any(r.uses_labels for r in records):
        lines.append("‡ trains on the gold answers (label leakage): an upper bound, not a test-time method.")
    lines += ["", "Runs:"]
    seen = set()
    for r in records:
        if r.path in seen:
            continue
        seen.add(r.path)
        v = r.versions
        pkgs = ", ".join(f"{k} {val}" for k, val in v.items() if k != "git_commit")
        lines.append(
            f"- `{r.path}`: {r.method}/{r.model}/{r.data}, seed {r.seed}, iteration {r.iteration}, "
            f"overrides [{' '.join(r.overrides)}], commit {v.get('git_commit')}, {pkgs}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ttcs-table", description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", help="run directories, sweep directories or results.json files")
    parser.add_argument("--metric", choices=METRICS, default="score", help="cell value (default: each method's score)")
    parser.add_argument(
        "--iteration",
        choices=ITERATIONS,
        default="last",
        help="which iteration of each run (first = the base model; kept = the run's label-free choice; "
        "best = the best by gold, an upper bound)",
    )
    parser.add_argument(
        "--checkpoints",
        action="store_true",
        help="rows for the last, the kept (label-free) and the best (gold) iteration side by side",
    )
    parser.add_argument("--md", type=Path, help="also write the Markdown table (with footer) here")
    parser.add_argument("--csv", type=Path, help="also write the table as CSV here")
    parser.add_argument(
        "--paper",
        nargs="?",
        type=Path,
        const=PAPER_FILE,
        default=None,
        metavar="FILE",
        help="add the paper's published numbers beside ours (default FILE: TTCS Table 1, shipped)",
    )
    args = parser.parse_args(argv)
    try:
        files = find_result_files(args.paths)
        records = []
        for choice in ("last", "kept", "best") if args.checkpoints else (args.iteration,):
            for f in files:
                if (r := load_run(f, args.metric, choice)) is not None:
                    records.append(r)
    except TableError as err:
        print(f"ttcs-table: {err}", file=sys.stderr)
        return 2
    if not records:
        print(f"ttcs-table: no finished runs under {' '.join(args.paths)}", file=sys.stderr)
        return 2
    header, rows = build_table(records)
    footer = provenance_footer(records)
    if args.paper:
        try:
            paper = load_paper(args.paper)
        except TableError as err:
            print(f"ttcs-table: {err}", file=sys.stderr)
            return 2
        extra = paper_rows(paper, header[3:-1], {r.model for r in records})
        if not extra:
            print(
                f"note: {args.paper} has no numbers for the models {sorted({r.model for r in records})}",
                file=sys.stderr,
            )
        rows += extra
        footer += "\n\n" + paper_footer(paper)
    md = to_markdown(header, rows) + "\n\n" + footer + "\n"
    print(md)
    if args.md:
        args.md.write_text(md)
    if args.csv:
        args.csv.write_text(to_csv(header, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
