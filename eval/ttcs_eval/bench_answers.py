"""`ttcs-bench-answers`: score the ``math`` verifier and math-verify side by side on labelled answers.

Four suites of labelled pairs (one JSON object a line: ``family``, ``gold``, ``completion``,
``label``; a gold answer, a model completion and whether a careful grader counts it correct):

- ``ttcs``: the project's own cases (``ttcs_eval/data/answer_cases.jsonl``), written here
  alongside the checks they test;
- ``math-verify``: the labelled pairs of math-verify's own test suite
  (``upstream_math_verify.jsonl``, Apache-2.0);
- ``lighteval``: the math pairs of lighteval's extractive-match tests
  (``upstream_lighteval.jsonl``, MIT);
- ``traps``: false-positive traps drawn from the project's own runs' evaluation files
  (``trap_cases.jsonl``): completions a grader once scored correct whose reading was a part of a
  longer answer, a restated question or a hedge. Every case is labelled wrong and records the
  run, file, question and sample it came from, and ``numeric_answer`` of its set's data config.

The upstream files are converted from the tests' source by `ttcs_eval.upstream_cases`; each
case keeps the upstream file, test and commit and the ``settings`` its test runs under.

**The headline is the defaults evaluation uses.** Every case is scored by

(a) ttcs as evaluation scores it: ``ttcs.verify.extract_for_scoring`` on the completion, then
    ``ttcs.verify.matches_gold`` against the gold answer, with a default ``MathVerifier`` (wrapped
    by `ttcs.scoring.scoring_verifier` when the case's set has ``numeric_answer``);
(b) math-verify at its defaults: ``verify(parse(gold), parse(completion))`` (a gold without ``$``
    or ``\\boxed`` is wrapped in ``$...$`` first).

The secondary columns score each upstream case as its own test configures math-verify: math-verify
with the case's extraction targets, ``float_rounding``, ``strict`` and ``allow_set_relation_comp``,
and ttcs configured the same way (`ttcs_options`). They say how each checker does on the setting
upstream wrote the label for; evaluation never runs that way.

A verdict is right when it equals the label. One table row per suite (or per family with
``--by-family``): the share of right verdicts of each, the wrong "correct" verdicts (false
positives, the costly mistake) and the time spent (after a warm-up of both, reported apart).

Usage::

    ttcs-bench-answers                        # every suite, one row each, Markdown on stdout
    ttcs-bench-answers --suite traps -v       # one suite, listing every wrong verdict
    ttcs-bench-answers --by-family --family roles
    ttcs-bench-answers --no-upstream          # the headline columns only
    ttcs-bench-answers --direct               # ttcs compares the completion itself, no extraction
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

DATA = Path(__file__).with_name("data") / "answer_cases.jsonl"
UPSTREAM = (
    Path(__file__).with_name("data") / "upstream_math_verify.jsonl",
    Path(__file__).with_name("data") / "upstream_lighteval.jsonl",
)
TRAPS = Path(__file__).with_name("data") / "trap_cases.jsonl"
SUITES = ("ttcs", "math-verify", "lighteval", "traps")


@dataclass(frozen=True)
class Case:
    """One labelled pair: is `completion` a correct answer to a question whose answer is `gold`?"""

    family: str
    gold: str
    completion: str
    label: bool
    suite: str = "ttcs"
    settings: tuple = ()  # the upstream test's extraction settings, as sorted (key, value) pairs
    numeric_answer: bool = False  # the data config of the case's set says its gold answers are numbers


@dataclass
class Tally:
    """Right verdicts, false positives and seconds of one checker on one family."""

    right: int = 0
    false_positives: int = 0
    seconds: float = 0.0
    wrong: list[Case] = field(default_factory=list)


@dataclass
class FamilyScore:
    """Both checkers' tallies on the cases of one family: at the defaults (the headline) and, where the
    family has upstream cases, as each upstream test configures math-verify (None elsewhere)."""

    family: str
    cases: int
    ttcs: Tally
    math_verify: Tally
    ttcs_upstream: Tally | None = None
    math_verify_upstream: Tally | None = None


def load_cases(path: str | Path = DATA, families: Sequence[str] | None = None) -> list[Case]:
    """The labelled cases of `path`, optionally only those of the given families."""
    cases = []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                record = json.loads(line)
                settings = tuple(
                    sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in record.get("settings", {}).items())
                )
                cases.append(
                    Case(
                        record["family"],
                        record["gold"],
                        record["completion"],
                        bool(record["label"]),
                        record.get("suite", "ttcs"),
                        settings,
                        bool(record.get("numeric_answer", False)),
                    )
                )
    return [c for c in cases if not families or c.family in families]


def load_suites(suites: Sequence[str] | None = None, families: Sequence[str] | None = None) -> list[Case]:
    """The cases of the project's own file, both upstream files and the traps, optionally only some suites."""
    cases = [c for path in (DATA, *UPSTREAM, TRAPS) for c in load_cases(path, families)]
    return [c for c in cases if not suites or c.suite in suites]


def ttcs_checker(configured: bool = False, direct: bool = False) -> Callable[[Case], bool]:
    """ttcs's verdict function as evaluation scores (`extract_for_scoring`, then `matches_gold`), warmed up.

    By default every case is scored by the default verifier, wrapped by `ttcs.scoring.scoring_verifier`
    when its set has numeric answers: the verifier evaluation uses. With `configured`, an upstream case
    is scored by a verifier configured as its test configures math-verify (`ttcs_options`). With
    `direct`, the completion itself is compared with the gold answer (no extraction): how ttcs does on
    two answers given apart.
    """
    from ttcs_verifiers.math import MathVerifier

    from ttcs.scoring import scoring_verifier
    from ttcs.verify import extract_for_scoring, matches_gold

    verifiers = {(): MathVerifier()}
    verifiers[()].warm_up()

    def check(case: Case) -> bool:
        key = case.settings if configured else ()
        if key not in verifiers:
            verifiers[key] = MathVerifier(**ttcs_options(dict(key)))
        verifier = scoring_verifier(verifiers[key], case.numeric_answer)
        answer = case.completion if direct else extract_for_scoring(verifier, case.completion)
        return answer is not None and matches_gold(verifier, case.gold, answer)

    return check


def ttcs_options(settings: dict) -> dict:
    """The `MathVerifier` options that configure it as an upstream test configures math-verify.

    The extraction targets choose the scoring fallbacks; ``strict`` and
    ``allow_set_relation_comp`` are passed on; a ``precision`` other than math-verify's
    default 6 becomes ``float_rounding`` (at 6, ttcs keeps its exact comparison of numbers).
    """
    if not settings:
        return {}
    return {
        "scoring_targets": tuple(settings["match_types"]),
        "strict": settings["strict"],
        "allow_set_relation_comp": settings["allow_set_relation_comp"],
        "float_rounding": None if settings["precision"] == 6 else settings["precision"],
    }


def math_verify_checker(configured: bool = False) -> Callable[[Case], bool]:
    """math-verify's verdict function (gold first), warmed up: at its default extraction, or with
    `configured` on an upstream case as its test configures it."""
    from math_verify import parse, verify

    def check(case: Case) -> bool:
        if configured and case.settings:
            return _as_configured(case, parse, verify)
        gold = case.gold if "$" in case.gold or "\\boxed" in case.gold else f"${case.gold}$"
        return bool(verify(parse(gold), parse(case.completion)))

    check(Case("warm-up", "1/2", r"\boxed{0.5}", True))
    return check


def _as_configured(case: Case, parse: Callable, verify: Callable) -> bool:
    """math-verify on an upstream case with the extraction targets and options its test uses."""
    from math_verify import ExprExtractionConfig, LatexExtractionConfig

    settings = dict(case.settings)
    targets = [
        LatexExtractionConfig(boxed_match_priority=settings["boxed_match_priority"])
        if kind == "latex"
        else ExprExtractionConfig()
        for kind in settings["match_types"]
    ]
    return bool(
        verify(
            parse(case.gold, targets),
            parse(case.completion, targets),
            float_rounding=settings["precision"],
            strict=settings["strict"],
            allow_set_relation_comp=settings["allow_set_relation_comp"],
        )
    )


def score(cases: Sequence[Case], checker: Callable[[Case], bool], by: str = "family") -> dict[str, Tally]:
    """Run `checker` on every case; one `Tally` per family (or per suite, with `by` = "suite")."""
    tallies: dict[str, Tally] = {}
    for case in cases:
        tally = tallies.setdefault(getattr(case, by), Tally())
        start = time.perf_counter()
        verdict = checker(case)
        tally.seconds += time.perf_counter() - start
        if verdict == case.label:
            tally.right += 1
        else:
            tally.wrong.append(case)
            tally.false_positives += verdict and not case.label
    return tallies


def run_benchmark(
    cases: Sequence[Case], by: str = "family", upstream: bool = True, direct: bool = False
) -> tuple[list[FamilyScore], float]:
    """Score `cases` with both checkers; scores per family or suite (`by`, in order of appearance), warm-up time.

    The headline tallies are both checkers at their defaults, as evaluation scores; with `upstream`,
    every family or suite that holds upstream cases is scored again as each case's test configures
    math-verify (`ttcs_upstream`, `math_verify_upstream`). `direct` compares the completion itself (ttcs).
    """
    start = time.perf_counter()
    ours, theirs = ttcs_checker(direct=direct), math_verify_checker()
    warm_up = time.perf_counter() - start
    ours_tallies, their_tallies = score(cases, ours, by), score(cases, theirs, by)
    families = list(dict.fromkeys(getattr(c, by) for c in cases))
    counts = {f: sum(getattr(c, by) == f for c in cases) for f in families}
    scores = [FamilyScore(f, counts[f], ours_tallies[f], their_tallies[f]) for f in families]
    configured = {getattr(c, by) for c in cases if c.settings}
    if upstream and configured:
        picked = [c for c in cases if getattr(c, by) in configured]
        ours_up = score(picked, ttcs_checker(configured=True, direct=direct), by)
        theirs_up = score(picked, math_verify_checker(configured=True), by)
        for s in scores:
            s.ttcs_upstream, s.math_verify_upstream = ours_up.get(s.family), theirs_up.get(s.family)
    return scores, warm_up


def markdown_table(scores: Sequence[FamilyScore], by: str = "family") -> str:
    """The per-family (or per-suite) table, with a total row; upstream-settings columns when any row has them."""
    upstream = any(s.ttcs_upstream is not None for s in scores)
    total = FamilyScore(
        "**all**", sum(s.cases for s in scores), _sum([s.ttcs for s in scores]), _sum([s.math_verify for s in scores])
    )
    if upstream:  # over the rows that hold upstream cases, at their settings; the others at the defaults
        total.ttcs_upstream = _sum([s.ttcs_upstream or s.ttcs for s in scores])
        total.math_verify_upstream = _sum([s.math_verify_upstream or s.math_verify for s in scores])
    header = (
        f"| {by} | cases | ttcs right | math-verify right | ttcs false + | math-verify false + "
        "| ttcs ms/case | math-verify ms/case |"
    )
    rule = "|---|---:|---:|---:|---:|---:|---:|---:|"
    if upstream:
        header += " upstream settings: ttcs right (false +) | upstream settings: math-verify right (false +) |"
        rule += "---:|---:|"
    rows = [header, rule]
    for s in [*scores, total]:
        row = (
            f"| {s.family} | {s.cases} | {_share(s.ttcs.right, s.cases)} | "
            f"{_share(s.math_verify.right, s.cases)} | {s.ttcs.false_positives} | "
            f"{s.math_verify.false_positives} | {1000 * s.ttcs.seconds / s.cases:.1f} | "
            f"{1000 * s.math_verify.seconds / s.cases:.1f} |"
        )
        if upstream:
            row += f" {_with_fp(s.ttcs_upstream, s.cases)} | {_with_fp(s.math_verify_upstream, s.cases)} |"
        rows.append(row)
    return "\n".join(rows)


def _with_fp(tally: Tally | None, cases: int) -> str:
    return "—" if tally is None else f"{_share(tally.right, cases)} ({tally.false_positives})"


def _sum(tallies: Sequence[Tally]) -> Tally:
    return Tally(
        sum(t.right for t in tallies),
        sum(t.false_positives for t in tallies),
        sum(t.seconds for t in tallies),
        [c for t in tallies for c in t.wrong],
    )


def _share(right: int, cases: int) -> str:
    return f"{right}/{cases} ({100 * right / cases:.0f}%)" if cases else "-"


def main(argv: Sequence[str] | None = None) -> int:
    """Print the Markdown table (and, with -v, every wrong verdict)."""
    parser = argparse.ArgumentParser(prog="ttcs-bench-answers", description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", help="a JSONL file of labelled cases (default: every suite)")
    parser.add_argument("--suite", action="append", choices=SUITES, help="only this suite (repeatable)")
    parser.add_argument("--family", action="append", help="only this family (repeatable)")
    parser.add_argument("--by-family", action="store_true", help="one row per family, not per suite")
    parser.add_argument(
        "--no-upstream",
        action="store_true",
        help="leave out the columns that score upstream cases as their tests configure math-verify",
    )
    parser.add_argument(
        "--direct", action="store_true", help="ttcs compares the completion itself with the gold answer (no extraction)"
    )
    parser.add_argument("--limit", type=int, default=0, help="only the first N cases (after --family)")
    parser.add_argument("-v", "--verbose", action="store_true", help="list the cases each checker gets wrong")
    args = parser.parse_args(argv)

    cases = load_cases(args.cases, args.family) if args.cases else load_suites(args.suite, args.family)
    cases = cases[: args.limit] if args.limit > 0 else cases
    if not cases:
        print("no cases")
        return 1
    by = "family" if args.by_family or args.cases else "suite"
    scores, warm_up = run_benchmark(cases, by, upstream=not args.no_upstream, direct=args.direct)
    print(markdown_table(scores, by))
    print(f"\n{len(cases)} cases; one-off warm-up of both checkers: {warm_up:.2f} s")
    if args.verbose:
        for name, pick in (("ttcs", lambda s: s.ttcs), ("math-verify", lambda s: s.math_verify)):
            for s in scores:
                for case in pick(s).wrong:
                    print(
                        f"{name} wrong [{case.suite}/{case.family}] label={case.label} gold={case.gold!r} "
                        f"completion={case.completion!r}"
                    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
