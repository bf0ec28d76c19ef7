"""Candidates for the ``traps`` suite of `ttcs-bench-answers`, mined from runs' evaluation files.

A candidate is a completion that a run's evaluation scored correct (``correct`` or
``greedy_correct`` in ``eval/iter_XX.jsonl``) although what was read from it (``answers``,
``greedy_answer``) is not a plain number (a restated question ``7 × 9``, a computation, a list,
words), or although it has neither a box nor the word "answer" (what was read came from the
free-text fallback: the last value of the last sentence). The selection uses only what the run
recorded and the completion's text, never the verifier under test, so the suite does not
inherit that verifier's view. Each candidate keeps where it came from (run
directory, file, question id, sample index, the run's overrides) and its set's
``numeric_answer``; a person then labels it (``label``: is the completion a correct answer?) and
names its family (``restatement``, ``part_of_answer``, ``hedge``, ``computation``).

Usage::

    python -m ttcs_eval.trap_cases RUN_DIR [RUN_DIR ...] > candidates.jsonl
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

_PLAIN_NUMBER_RE = re.compile(r"[-+]?\d+(?:\.\d+)?")
_ANSWER_WORD_RE = re.compile(r"answer", re.IGNORECASE)


def _overrides(run: Path) -> list[str]:
    path = run / ".hydra" / "overrides.yaml"
    if not path.exists():
        return []
    return [line[2:].strip() for line in path.read_text().splitlines() if line.startswith("- ")]


def _numeric_answer(run: Path) -> bool:
    config = run / ".hydra" / "config.yaml"
    text = config.read_text() if config.exists() else ""
    found = re.search(r"^\s*numeric_answer:\s*(true|false)\s*$", text, re.MULTILINE)
    if found:
        return found.group(1) == "true"
    dataset = re.search(r"^\s*name:\s*(arith\w*)\s*$", text, re.MULTILINE)  # runs from before the key existed
    return bool(dataset)


def candidates(runs: Sequence[str | Path]) -> Iterator[dict]:
    """Every completion scored correct whose recorded reading is not a plain number, once per (gold, completion)."""
    seen: set[tuple[str, str]] = set()
    for run in map(Path, runs):
        numeric, overrides = _numeric_answer(run), _overrides(run)
        for path in sorted((run / "eval").glob("iter_*.jsonl")):
            for line in path.read_text(encoding="utf-8").splitlines():
                row = json.loads(line)
                samples = list(zip(row["completions"], row["answers"], row["correct"], strict=True))
                if row.get("greedy_completion") is not None:
                    samples.append((row["greedy_completion"], row["greedy_answer"], row["greedy_correct"]))
                for index, (completion, answer, correct) in enumerate(samples):
                    unmarked = "\\boxed" not in completion and not _ANSWER_WORD_RE.search(completion)
                    if not correct or answer is None or (_PLAIN_NUMBER_RE.fullmatch(answer.strip()) and not unmarked):
                        continue
                    if (row["gold"], completion) in seen:
                        continue
                    seen.add((row["gold"], completion))
                    yield {
                        "suite": "traps",
                        "family": None,
                        "gold": row["gold"],
                        "completion": completion,
                        "label": None,
                        "numeric_answer": numeric,
                        "read_then": answer,
                        "source": {
                            "run": run.name,
                            "file": f"eval/{path.name}",
                            "id": row["id"],
                            "sample": "greedy" if index == len(row["completions"]) else index,
                            "overrides": overrides,
                        },
                    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ttcs_eval.trap_cases", description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="run directories (each with eval/iter_XX.jsonl)")
    args = parser.parse_args(argv)
    for record in candidates(args.runs):
        print(json.dumps(record, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
