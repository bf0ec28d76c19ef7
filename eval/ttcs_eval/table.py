"""`ttcs-table`: aggregate run directories into a paper-style table (Markdown, CSV and LaTeX).

TTCS Table 1's layout: methods (with the model) as rows, test sets as columns, then their average. A
cell is the method's own score (``score`` in results.json: avg@k for most methods, maj@k for
self-consistency, greedy pass@1 where the evaluation protocol says so) at the run's last iteration:
the mean over seeds ± its standard error (the standard deviation over seeds / sqrt(number of seeds);
none with one seed). ``seeds`` counts the distinct seeds of a row (a range where its sets have
different counts), ``runs`` its run directories. AVG is the mean of the row's set means, given only
where the row has a value in every set column. Methods that train on gold answers
(``method=oracle``) are marked ``‡``: upper bounds, not test-time methods.

What it pools, and what it leaves out:

* Runs are pooled into one cell only when their configs (``.hydra/config.yaml``, resolved) are the
  same in everything but the seed and the keys that cannot change a result (`IGNORED`; listed under
  the table). Runs of the same method, model and set whose configs differ are never pooled: they
  become separate rows, tagged ``[a]``, ``[b]``, ..., and the keys they differ in are named under the
  table. Runs of one config that share a seed count as one seed (their values are averaged first).
* A run is used only when it finished: every phase of every iteration its config asks for is in
  state.json (``iter_00/eval``, then ``method.phases`` and ``eval`` for each of ``train.iterations``;
  a method without phases finishes after iteration 0), results.json holds all those iterations, and
  no health alarm stopped it. Every run left out is named under the table with the reason.

``--iteration`` picks the iteration of each run: ``last`` (the default), ``first`` (the base
model), ``kept`` (the run's label-free choice, ``keep`` in results.json; the last where a run has
none) or ``best`` (the best by the cell's metric: chosen with the gold answers, so marked
``(best, gold)``: an upper bound on any choice). ``--checkpoints`` shows last, kept and best
side by side, one row each.

``--paper`` adds the paper's published numbers beside ours (rows marked "(paper)", for
the models in the table), from ``data/ttcs_table1.json`` (TTCS Table 1; the file names its
source) or a file of the same layout; a number the file does not give is "missing".

A provenance footer lists, for every run used, its directory, overrides, seed, package versions and
git commit, so each number traces back to a run.

Usage::

    ttcs -m method=base,self_consistency data=arith,amc23 seed=0,1,2   # writes outputs/sweep/*
    ttcs-table outputs/sweep --md table.md --csv table.csv --latex table.tex
    ttcs-table outputs/sweep --paper                           # with TTCS Table 1 beside ours
    ttcs-table outputs/sweep --checkpoints                     # last / label-free choice / best (gold)
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import io
import json
import statistics
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

METRICS = ("score", "avg_at_k", "maj_at_k", "greedy")
ITERATIONS = ("last", "first", "kept", "best")
# The row label each choice of iteration adds to the method's name (none for the last).
ITERATION_LABELS = {"last": " (last)", "first": " (first)", "kept": " (kept, label-free)", "best": " (best, gold)"}
PAPER_FILE = Path(__file__).resolve().parent / "data" / "ttcs_table1.json"
# Table 1's column order; other sets follow in alphabetical order.
SET_ORDER = ("aime24", "aime25", "amc23", "math500", "minerva", "olympiadbench")

# Config keys that are not part of an experiment: runs that differ only in these are pooled. A pattern
# names a key, a group (every key under it) or, with `*`, keys of any role. Each says why.
IGNORED: dict[str, str] = {
    "seed": "the seed: what a cell's mean and standard error are taken over",
    "run_name": "the run directory's name (its default holds the seed)",
    "hydra.*": "Hydra's own settings: output directories, launcher, sweep",
    "threads": "torch's CPU thread count: speed only",
    "keep_checkpoints": "which checkpoints stay on disk once the run has used them",
    "verbose": "what the terminal shows",
    "dry_run": "a dry run writes no run directory",
    "report.*": "whether report.md and its plots are written at the end",
    "health.on_alarm": "warn or stop: a run an alarm stopped is left out as unfinished, and a finished run ran the "
    "same phases either way",
    "backend.progress": "a progress bar",
    "train.*.report_to": "where TRL also sends its logs",
    "train.*.save_strategy": "TRL checkpoints written during a phase (training is the same)",
}
# For a method without phases (base, self_consistency), which never trains: its training keys are not read.
PHASELESS_IGNORED = "train.* and method.* other than method.name, method.score, method.phases, method.uses_labels"
METHOD_IDENTITY = ("method.name", "method.score", "method.phases", "method.uses_labels")


class TableError(ValueError):
    """No usable runs, or a results.json that cannot be read."""


@dataclass
class Run:
    """One run directory, as the table needs it: its config, seed and results."""

    path: Path
    config: dict[str, Any]  # the flattened config (key paths), every key
    experiment: dict[str, Any]  # the config without the seed and the ignored keys
    seed: int
    results: dict
    overrides: list[str]

    @property
    def method(self) -> str:
        return str(self.results["method"])

    @property
    def model(self) -> str:
        return str(self.results["model"])

    @property
    def data(self) -> str:
        return str(self.results["data"])

    @property
    def uses_labels(self) -> bool:
        return bool(self.results.get("uses_labels", False))

    def value(self, metric: str, iteration: str) -> tuple[int, float | None]:
        """The iteration `iteration` names (`ITERATIONS`) and the run's `metric` there."""
        res = self.results
        key = res.get("score", "avg_at_k") if metric == "score" else metric
        it = _pick(res["iterations"], iteration, key, res.get("keep"))
        return it["iteration"], it["eval"].get(key)


@dataclass
class Cell:
    """The runs of one experiment (one config but the seed) on one set."""

    experiment: dict[str, Any]
    runs: list[Run] = field(default_factory=list)

    @property
    def seeds(self) -> set[int]:
        return {r.seed for r in self.runs}


@dataclass
class Row:
    """One method · model row: a cell per set, all of one config where the sets do not set it."""

    method: str
    model: str
    tag: str  # "" or "a", "b", ... where runs of the method, model and a set had different configs
    cells: dict[str, Cell]
    uses_labels: bool = False


@dataclass
class Grouping:
    """The table's rows, and what the footer must say about how they were formed."""

    rows: list[Row]
    sets: list[str]
    splits: list[str]  # one line per method · model split into rows, naming the keys its rows differ in
    per_set: list[str]  # one line per row whose sets' configs differ, naming the keys
    shared_seeds: list[str]  # one line per cell where several runs share a seed
    code: list[str] = field(default_factory=list)  # one line per cell whose runs ran different code


# -- reading run directories ----------------------------------------------------------------


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


def flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """A nested config as key paths (``train.solver.steps``); lists are values, as in ttcs's own fingerprint.

    Example:
        >>> flatten({"a": {"b": 1, "c": [1, 2]}, "d": None})
        {'a.b': 1, 'a.c': [1, 2], 'd': None}
    """
    if isinstance(node, dict):
        flat: dict[str, Any] = {}
        for k, v in node.items():
            flat.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return flat
    return {prefix: node}


def read_config(run_dir: Path) -> dict[str, Any] | None:
    """The run's composed config, flattened: ``.hydra/config.yaml`` with its interpolations resolved, else the
    fingerprint ttcs saved in state.json (which leaves out the groups that may change on resume); None if neither."""
    f = run_dir / ".hydra" / "config.yaml"
    if f.exists():
        from omegaconf import OmegaConf

        try:
            conf = OmegaConf.load(f)
        except Exception as err:  # a YAML or OmegaConf error: the file is broken
            raise TableError(f"{f}: unreadable config ({type(err).__name__}: {err})") from err
        try:
            plain = OmegaConf.to_container(conf, resolve=True)
        except Exception:  # an interpolation only Hydra can resolve: compare the text as written
            plain = OmegaConf.to_container(conf, resolve=False)
        return flatten(plain)
    state = _read_json(run_dir / "state.json")
    if isinstance(state, dict) and isinstance(state.get("config"), dict):
        return dict(state["config"])
    return None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError) as err:
        raise TableError(f"{path}: unreadable ({type(err).__name__}: {err})") from err


def ignored(key: str, patterns: list[str]) -> bool:
    """Whether `key` is one `patterns` names: the key itself, a group above it (``report`` or ``report.*``), or a
    pattern whose ``*`` stands for any part of a key (``train.*.report_to``)."""
    return any(key == p or key.startswith(p.removesuffix(".*") + ".") or fnmatch.fnmatchcase(key, p) for p in patterns)


def experiment_of(config: dict[str, Any], extra_ignored: Sequence[str] = ()) -> dict[str, Any]:
    """The keys of `config` that define the experiment: all but the seed and the `IGNORED` (and `extra_ignored`)
    keys; for a method without phases, also not its training keys (`PHASELESS_IGNORED`)."""
    patterns = [*IGNORED, *extra_ignored]
    phaseless = not config.get("method.phases")
    return {
        k: v
        for k, v in config.items()
        if not ignored(k, patterns)
        and not (phaseless and (k.startswith("train.") or (k.startswith("method.") and k not in METHOD_IDENTITY)))
    }


def unfinished_reason(config: dict[str, Any], state: Any, results: dict) -> str | None:
    """Why the run did not finish (None when it did): a phase its config asks for is not in state.json,
    results.json lacks an iteration, or a health alarm stopped it."""
    stopped = results.get("stopped")
    if stopped:
        return f"stopped by a health alarm after {stopped.get('after')} ({stopped.get('reason')})"
    if not isinstance(state, dict) or not isinstance(state.get("phases"), dict):
        return "no state.json: whether it finished cannot be told"
    phases = config.get("method.phases")
    if phases is None or config.get("train.iterations") is None:
        return "its config names no method.phases or train.iterations: whether it finished cannot be told"
    n = int(config["train.iterations"]) if phases else 0
    expected = ["iter_00/eval"] + [f"iter_{t:02d}/{p}" for t in range(1, n + 1) for p in [*phases, "eval"]]
    missing = [key for key in expected if key not in state["phases"]]
    evaluated = [it.get("iteration") for it in results.get("iterations") or []]
    if missing:
        done = len(expected) - len(missing)
        last = f"iterations 0-{evaluated[-1]}" if evaluated else "no iteration"
        return f"{done} of {len(expected)} phases finished ({last} of 0-{n} evaluated; next {missing[0]})"
    if evaluated != list(range(n + 1)):
        return f"results.json holds iterations {evaluated} of 0-{n} (rerun the same command to complete it)"
    return None


def load_runs(files: list[Path], extra_ignored: Sequence[str] = ()) -> tuple[list[Run], list[str]]:
    """The finished runs among `files`, and one line per run left out (its directory and why)."""
    runs, left_out = [], []
    for path in files:
        run_dir = path.parent
        try:
            res = json.loads(path.read_text())
            if not isinstance(res["iterations"], list) or not all(res[k] for k in ("method", "model", "data")):
                raise TypeError("iterations is not a list, or no method, model or data")
        except (OSError, json.JSONDecodeError, KeyError, TypeError) as err:
            raise TableError(f"{path}: unreadable results file ({type(err).__name__}: {err})") from err
        config = read_config(run_dir)
        if config is None:
            left_out.append(
                f"`{run_dir}`: no .hydra/config.yaml and no config in state.json: its config cannot be told"
            )
            continue
        reason = unfinished_reason(config, _read_json(run_dir / "state.json"), res)
        if reason is not None:
            left_out.append(f"`{run_dir}`: unfinished: {reason}")
            continue
        runs.append(
            Run(
                path=run_dir,
                config=config,
                experiment=experiment_of(config, extra_ignored),
                seed=int(config.get("seed", res.get("seed", 0))),
                results=res,
                overrides=_overrides(run_dir),
            )
        )
    return runs, left_out


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


# -- grouping ---------------------------------------------------------------------------------


ABSENT = "\0absent"  # a key one config has and another lacks (e.g. one written by an older ttcs)


def _frozen(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _shown(value: Any, missing: bool = False) -> str:
    """A config value as the footer shows it."""
    if missing:
        return "(absent)"
    text = value if isinstance(value, str) and value and value.strip() == value else _frozen(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _tag(i: int) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return letters[i] if i < len(letters) else f"{letters[i // len(letters) - 1]}{letters[i % len(letters)]}"


def _differing(configs: list[dict[str, Any]]) -> list[str]:
    """The keys whose values (or presence) are not the same in all of `configs`."""
    keys = sorted(set().union(*configs)) if configs else []
    return [k for k in keys if len({_frozen(c[k]) if k in c else ABSENT for c in configs}) > 1]


def order_sets(sets: set[str]) -> list[str]:
    """Table 1's sets in its order, then the others alphabetically."""
    return [s for s in SET_ORDER if s in sets] + sorted(sets - set(SET_ORDER))


def group_runs(runs: list[Run]) -> Grouping:
    """Cells (one experiment, all its seeds) and rows (one method · model, a cell per set).

    Within a method · model, the keys that differ between cells of the same set split it into rows: each row
    holds the cells that agree on those keys, so no row has two configs for one set.
    """
    cells: dict[str, Cell] = {}
    for r in runs:
        cells.setdefault(_frozen(r.experiment), Cell(r.experiment)).runs.append(r)
    by_method: dict[tuple[str, str], list[Cell]] = defaultdict(list)
    for c in cells.values():
        by_method[(c.runs[0].method, c.runs[0].model)].append(c)
    rows, splits, per_set, shared, code = [], [], [], [], []
    for (method, model), group in sorted(by_method.items()):
        per_data: dict[str, list[Cell]] = defaultdict(list)
        for c in group:
            per_data[c.runs[0].data].append(c)
        split_keys = sorted(set().union(*(_differing([c.experiment for c in cs]) for cs in per_data.values())))
        parts: dict[str, list[Cell]] = defaultdict(list)
        for c in group:
            parts[_frozen([c.experiment[k] if k in c.experiment else ABSENT for k in split_keys])].append(c)
        ordered = [parts[k] for k in sorted(parts)]
        name = f"{method} · {model}"
        if len(ordered) > 1:
            values = "; ".join(
                f"{k} ("
                + ", ".join(
                    f"[{_tag(i)}] {_shown(p[0].experiment.get(k), k not in p[0].experiment)}"
                    for i, p in enumerate(ordered)
                )
                + ")"
                for k in split_keys
            )
            splits.append(
                f"{name}: rows {', '.join(f'[{_tag(i)}]' for i in range(len(ordered)))} are runs of different "
                f"configs, never pooled; they differ in {len(split_keys)} key(s): {values}"
            )
        for i, part in enumerate(ordered):
            tag = _tag(i) if len(ordered) > 1 else ""
            row = Row(
                method,
                model,
                tag,
                {c.runs[0].data: c for c in part},
                uses_labels=any(r.uses_labels for c in part for r in c.runs),
            )
            rows.append(row)
            across = [k for k in _differing([c.experiment for c in part]) if not k.startswith("data.")]
            if across:
                per_set.append(
                    f"{name}{f' [{tag}]' if tag else ''}: each set's runs share one config, but the sets' configs "
                    f"differ in {', '.join(across)}"
                )
            for data, c in sorted(row.cells.items()):
                commits = sorted({str((r.results.get("versions") or {}).get("git_commit")) for r in c.runs})
                if len(commits) > 1:
                    code.append(f"{name}{f' [{tag}]' if tag else ''} on {data}: commits {', '.join(commits)}")
                if len(c.seeds) < len(c.runs):
                    per_seed: dict[int, list[Run]] = defaultdict(list)
                    for r in c.runs:
                        per_seed[r.seed].append(r)
                    twice = ", ".join(
                        f"seed {s}: " + " ".join(f"`{r.path}`" for r in rs)
                        for s, rs in sorted(per_seed.items())
                        if len(rs) > 1
                    )
                    shared.append(
                        f"{name}{f' [{tag}]' if tag else ''} on {data}: {len(c.runs)} runs, {len(c.seeds)} seeds; "
                        f"runs of one seed are averaged into one value first ({twice})"
                    )
    return Grouping(rows, order_sets({r.data for r in runs}), splits, per_set, shared, code)


# -- numbers ----------------------------------------------------------------------------------


def mean_and_stderr(values: list[float]) -> tuple[float, float | None]:
    """The mean and its standard error (sample std / sqrt(n)); no error for a single value.

    Example:
        >>> mean_and_stderr([1.0, 2.0, 3.0])
        (2.0, 0.5773502691896258)
    """
    mean = statistics.fmean(values)
    return mean, (statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else None)


def cell_values(cell: Cell, metric: str, iteration: str) -> list[float]:
    """One value per seed of `cell` (the mean of that seed's runs), seeds without a value left out."""
    per_seed: dict[int, list[float]] = defaultdict(list)
    for r in cell.runs:
        value = r.value(metric, iteration)[1]
        if value is not None:
            per_seed[r.seed].append(value)
    return [statistics.fmean(v) for _, v in sorted(per_seed.items())]


def _cell(values: list[float]) -> str:
    mean, stderr = mean_and_stderr(values)
    return f"{mean:.1f}" + (f" ± {stderr:.1f}" if stderr is not None else "")


def build_table(
    grouping: Grouping, metric: str = "score", choices: tuple[str, ...] = ("last",)
) -> tuple[list[str], list[list[str]]]:
    """Header and rows (strings): method, model, seeds, runs, each set, AVG; cells are mean ± stderr over seeds.

    With several `choices` (``--checkpoints``), one row per row and choice. AVG is the mean of the row's set means,
    given only where every set column has a value.
    """
    header = ["method", "model", "seeds", "runs", *grouping.sets, "AVG"]
    out = []
    for row in grouping.rows:
        for choice in choices:
            name = f"{row.method} ‡" if row.uses_labels else row.method
            if row.tag:
                name += f" [{row.tag}]"
            if len(choices) > 1 or choice in ("kept", "best"):
                name += ITERATION_LABELS.get(choice, "")
            line, means, seed_counts = [name, row.model], [], []
            for d in grouping.sets:
                cell = row.cells.get(d)
                values = cell_values(cell, metric, choice) if cell is not None else []
                if cell is not None:
                    seed_counts.append(len(values))
                line.append(_cell(values) if values else "—")
                if values:
                    means.append(statistics.fmean(values))
            low, high = min(seed_counts, default=0), max(seed_counts, default=0)
            runs = sum(len(c.runs) for c in row.cells.values())
            avg = f"{statistics.fmean(means):.1f}" if len(means) == len(grouping.sets) else "—"
            out.append([*line[:2], str(low) if low == high else f"{low}–{high}", str(runs), *line[2:], avg])
    return header, out


# -- the paper's numbers -----------------------------------------------------------------------


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
        rows.append([f"{r['method']} (paper)", r["model"], "—", "—", *cells, average])
    return rows


def paper_footer(paper: dict) -> str:
    sets = ", ".join(paper.get("average_of") or [])
    return (
        f"Rows marked (paper): {paper['source']}; {paper.get('metric', '')}. † the paper's average over its "
        f"sets ({sets}), not over this table's columns; missing = not given there."
    )


# -- output -----------------------------------------------------------------------------------


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


LATEX_TEXT = {"±": r"$\pm$", "‡": r"$^\ddagger$", "†": r"$^\dagger$", "—": "--", "–": "--", "·": r"$\cdot$"}


def latex_escape(text: str) -> str:
    """`text` for a LaTeX table cell: TeX's special characters escaped, the table's symbols as math."""
    out = []
    for ch in text:
        if ch in "\\":
            out.append(r"\textbackslash{}")
        elif ch in "&%$#_{}":
            out.append("\\" + ch)
        elif ch in "~^":
            out.append(r"\textasciitilde{}" if ch == "~" else r"\textasciicircum{}")
        else:
            out.append(LATEX_TEXT.get(ch, ch))
    return "".join(out)


def to_latex(header: list[str], rows: list[list[str]], ours: int, notes: str = "") -> str:
    """A booktabs ``tabular``: the first `ours` rows, then (after a rule) the paper's; `notes` as comment lines."""
    columns = "ll" + "rr" + "c" * (len(header) - 5) + "c"
    lines = [f"% {line}" if line else "%" for line in notes.splitlines()]
    lines += [
        f"\\begin{{tabular}}{{{columns}}}",
        r"\toprule",
        " & ".join(latex_escape(h) for h in header) + r" \\",
        r"\midrule",
    ]
    for i, r in enumerate(rows):
        if i == ours and i > 0:
            lines.append(r"\midrule")
        lines.append(" & ".join(latex_escape(c) for c in r) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def provenance_footer(
    runs: list[Run],
    grouping: Grouping,
    choices: tuple[str, ...],
    metric: str = "score",
    left_out: Sequence[str] = (),
    extra_ignored: Sequence[str] = (),
) -> str:
    """What the numbers are, how runs were grouped, which runs were left out, and one line per run used."""
    where = {
        "last": "the run's last iteration",
        "first": "the run's first iteration (the base model)",
        "kept": "the iteration the run kept without labels (results.json keep)",
        "best": "the run's best iteration by gold (an upper bound: choosing it needs the test labels)",
    }
    at = "; ".join(f"{ITERATION_LABELS[c].strip()} {where[c]}" if len(choices) > 1 else where[c] for c in choices)
    lines = [
        f"Accuracy in %, at {at}; each cell: the mean over seeds ± its standard error (the standard deviation over "
        "seeds / √seeds; none with one seed). seeds = distinct seeds (a range where the row's sets differ), runs = "
        "run directories. AVG = the mean of the row's set means, given only where every set has a value (— "
        "otherwise)."
    ]
    if any(r.uses_labels for r in runs):
        lines.append("‡ trains on the gold answers (label leakage): an upper bound, not a test-time method.")
    also = f"; and, as asked (--ignore), {', '.join(extra_ignored)}" if extra_ignored else ""
    lines.append(
        "Pooled only where the configs agree in every key but: "
        + ", ".join(IGNORED)
        + f"; for a method without phases, {PHASELESS_IGNORED}{also} (ttcs-table --help, docs/results.md)."
    )
    for title, notes in (
        ("Not pooled (different configs)", grouping.splits),
        ("Sets with their own settings", grouping.per_set),
        ("Runs sharing a seed", grouping.shared_seeds),
        ("Pooled over code versions (same config; the commits differ)", grouping.code),
        (f"Left out ({len(left_out)} run(s))", list(left_out)),
    ):
        if notes:
            lines += ["", f"{title}:", *(f"- {n}" for n in notes)]
    lines += ["", "Runs:"]
    for r in sorted(runs, key=lambda r: str(r.path)):
        its = [(c, r.value(metric, c)[0]) for c in choices]
        it = f"iteration {its[0][1]}" if len(its) == 1 else "iterations " + ", ".join(f"{c} {i}" for c, i in its)
        v = r.results.get("versions") or {}
        pkgs = ", ".join(f"{k} {val}" for k, val in v.items() if k != "git_commit")
        lines.append(
            f"- `{r.path}`: {r.method}/{r.model}/{r.data}, seed {r.seed}, {it}, "
            f"overrides [{' '.join(r.overrides)}], commit {v.get('git_commit')}, {pkgs}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="ttcs-table",
        description=__doc__.split("\n\n")[0],
        epilog="Never pooled: runs whose configs differ in any key but "
        + ", ".join(IGNORED)
        + f" (for a method without phases also {PHASELESS_IGNORED}).",
    )
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
    parser.add_argument("--latex", type=Path, help="also write the table as a LaTeX (booktabs) tabular here")
    parser.add_argument(
        "--ignore",
        action="append",
        default=[],
        metavar="KEY",
        help="a further config key (or group, or pattern with *) that does not define the experiment, e.g. "
        "model.path where one model was read from two places; named under the table (repeatable)",
    )
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
    choices = ("last", "kept", "best") if args.checkpoints else (args.iteration,)
    try:
        runs, left_out = load_runs(find_result_files(args.paths), args.ignore)
        paper = load_paper(args.paper) if args.paper else None
    except TableError as err:
        print(f"ttcs-table: {err}", file=sys.stderr)
        return 2
    if left_out:
        print(f"ttcs-table: left out {len(left_out)} run(s), named under the table:", file=sys.stderr)
        for line in left_out:
            print(f"  {line.replace('`', '')}", file=sys.stderr)
    if not runs:
        print(f"ttcs-table: no finished runs under {' '.join(args.paths)}", file=sys.stderr)
        return 2
    grouping = group_runs(runs)
    header, rows = build_table(grouping, args.metric, choices)
    ours = len(rows)
    footer = provenance_footer(runs, grouping, choices, args.metric, left_out, args.ignore)
    if paper is not None:
        extra = paper_rows(paper, grouping.sets, {r.model for r in runs})
        if not extra:
            print(
                f"note: {args.paper} has no numbers for the models {sorted({r.model for r in runs})}",
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
    if args.latex:
        args.latex.write_text(to_latex(header, rows, ours, footer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
