"""`ttcs-bench-answers`: score the ``math`` verifier and math-verify side by side on labelled answers.

The cases are the project's own (``ttcs_eval/data/answer_cases.jsonl``, one JSON object a
line: ``family``, ``gold``, ``completion``, ``label``): a gold answer, a whole model
completion and whether a careful grader counts the completion correct. Each case is scored
twice, in the same run:

(a) ttcs, the way evaluation scores: ``ttcs.verify.extract_for_scoring`` on the completion,
    then ``ttcs.verify.matches_gold`` against the gold answer (a fresh ``MathVerifier``);
(b) math-verify as commonly used: ``verify(parse(gold), parse(completion))`` with its default
    extraction (a gold without ``$`` or ``\\boxed`` is wrapped in ``$...$`` first).

A verdict is right when it equals the label. The table has, per family, the share of right
verdicts of each, the wrong "correct" verdicts (false positives, the costly mistake) and the
time spent (after a warm-up of both, which is reported apart).

Usage::

    ttcs-bench-answers                       # all cases, Markdown table on stdout
    ttcs-bench-answers --family roles -v     # one family, listing every wrong verdict
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

DATA = Path(__file__).with_name("data") / "answer_cases.jsonl"


@dataclass(frozen=True)
class Case:
    """One labelled pair: is `completion` a correct answer to a question whose answer is `gold`?"""

    family: str
    gold: str
    completion: str
    label: bool


@dataclass
class Tally:
    """Right verdicts, false positives and seconds of one checker on one family."""

    right: int = 0
    false_positives: int = 0
    seconds: float = 0.0
    wrong: list[Case] = field(default_factory=list)


@dataclass
class FamilyScore:
    """Both checkers' tallies on the cases of one family."""

    family: str
    cases: int
    ttcs: Tally
    math_verify: Tally


def load_cases(path: str | Path = DATA, families: Sequence[str] | None = None) -> list[Case]:
    """The labelled cases of `path`, optionally only those of the given families."""
    cases = []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                record = json.loads(line)
                cases.append(Case(record["family"], record["gold"], record["completion"], bool(record["label"])))
    return [c for c in cases if not families or c.family in families]


def ttcs_checker() -> Callable[[Case], bool]:
    """ttcs's verdict function, with its sympy worker started."""
    from ttcs_verifiers.math import MathVerifier

    from ttcs.verify import extract_for_scoring, matches_gold

    verifier = MathVerifier()
    verifier.warm_up()

    def check(case: Case) -> bool:
        answer = extract_for_scoring(verifier, case.completion)
        return answer is not None and matches_gold(verifier, case.gold, answer)

    return check


def math_verify_checker() -> Callable[[Case], bool]:
    """math-verify's verdict function (default extraction, gold first), warmed up."""
    from math_verify import parse, verify

    def check(case: Case) -> bool:
        gold = case.gold if "$" in case.gold or "\\boxed" in case.gold else f"${case.gold}$"
        return bool(verify(parse(gold), parse(case.completion)))

    check(Case("warm-up", "1/2", r"\boxed{0.5}", True))
    return check


def score(cases: Sequence[Case], checker: Callable[[Case], bool]) -> dict[str, Tally]:
    """Run `checker` on every case; one `Tally` per family."""
    tallies: dict[str, Tally] = {}
    for case in cases:
        tally = tallies.setdefault(case.family, Tally())
        start = time.perf_counter()
        verdict = checker(case)
        tally.seconds += time.perf_counter() - start
        if verdict == case.label:
            tally.right += 1
        else:
            tally.wrong.append(case)
            tally.false_positives += verdict and not case.label
    return tallies


def run_benchmark(cases: Sequence[Case]) -> tuple[list[FamilyScore], float]:
    """Score `cases` with both checkers; per-family scores (in order of appearance) and the warm-up time."""
    start = time.perf_counter()
    ours, theirs = ttcs_checker(), math_verify_checker()
    warm_up = time.perf_counter() - start
    ours_tallies, their_tallies = score(cases, ours), score(cases, theirs)
    families = list(dict.fromkeys(c.family for c in cases))
    counts = {f: sum(c.family == f for c in cases) for f in families}
    return [FamilyScore(f, counts[f], ours_tallies[f], their_tallies[f]) for f in families], warm_up


def markdown_table(scores: Sequence[FamilyScore]) -> str:
    """The per-family table, with a total row."""
    total = FamilyScore("**all**", sum(s.cases for s in scores), _sum([s.ttcs for s in scores]),
                        _sum([s.math_verify for s in scores]))
    rows = ["| family | cases | ttcs right | math-verify right | ttcs false + | math-verify false + "
            "| ttcs ms/case | math-verify ms/case |",
            "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for s in [*scores, total]:
        rows.append(f"| {s.family} | {s.cases} | {_share(s.ttcs.right, s.cases)} | "
                    f"{_share(s.math_verify.right, s.cases)} | {s.ttcs.false_positives} | "
                    f"{s.math_verify.false_positives} | {1000 * s.ttcs.seconds / s.cases:.1f} | "
                    f"{1000 * s.math_verify.seconds / s.cases:.1f} |")
    return "\n".join(rows)


def _sum(tallies: Sequence[Tally]) -> Tally:
    return Tally(sum(t.right for t in tallies), sum(t.false_positives for t in tallies),
                 sum(t.seconds for t in tallies), [c for t in tallies for c in t.wrong])


def _share(right: int, cases: int) -> str:
    return f"{right}/{cases} ({100 * right / cases:.0f}%)" if cases else "-"


def main(argv: Sequence[str] | None = None) -> int:
    """Print the Markdown table (and, with -v, every wrong verdict)."""
    parser = argparse.ArgumentParser(prog="ttcs-bench-answers", description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default=str(DATA), help="a JSONL file of labelled cases")
    parser.add_argument("--family", action="append", help="only this family (repeatable)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N cases (after --family)")
    parser.add_argument("-v", "--verbose", action="store_true", help="list the cases each checker gets wrong")
    args = parser.parse_args(argv)

    cases = load_cases(args.cases, args.family)
    cases = cases[: args.limit] if args.limit > 0 else cases
    if not cases:
        print("no cases")
        return 1
    scores, warm_up = run_benchmark(cases)
    print(markdown_table(scores))
    print(f"\n{len(cases)} cases; one-off warm-up of both checkers: {warm_up:.2f} s")
    if args.verbose:
        for name, pick in (("ttcs", lambda s: s.ttcs), ("math-verify", lambda s: s.math_verify)):
            for s in scores:
                for case in pick(s).wrong:
                    print(f"{name} wrong [{case.family}] label={case.label} gold={case.gold!r} "
                          f"completion={case.completion!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
