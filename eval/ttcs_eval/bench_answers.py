"""`ttcs-bench-answers`: score the ``math`` verifier and math-verify side by side on labelled answers.

Three suites of labelled pairs (one JSON object a line: ``family``, ``gold``, ``completion``,
``label``; a gold answer, a model completion and whether a careful grader counts it correct):

- ``ttcs``: the project's own cases (``ttcs_eval/data/answer_cases.jsonl``), written here
  alongside the checks they test;
- ``math-verify``: the labelled pairs of math-verify's own test suite
  (``upstream_math_verify.jsonl``, Apache-2.0);
- ``lighteval``: the math pairs of lighteval's extractive-match tests
  (``upstream_lighteval.jsonl``, MIT).

The upstream files are converted from the tests' source by `ttcs_eval.upstream_cases`; each
case keeps the upstream file, test and commit and the ``settings`` its test runs under. Each
case is scored twice, in the same run:

(a) ttcs, the way evaluation scores: ``ttcs.verify.extract_for_scoring`` on the completion,
    then ``ttcs.verify.matches_gold`` against the gold answer (a fresh ``MathVerifier``); for
    an upstream case, configured as its test configures math-verify (`ttcs_options`: the
    extraction targets pick the scoring fallbacks, ``strict``, ``allow_set_relation_comp``
    and a non-default ``precision`` are passed on), or with its defaults (``--ttcs-defaults``);
(b) math-verify: ``verify(parse(gold), parse(completion))``, for an upstream case with the
    extraction targets, ``float_rounding``, ``strict`` and ``allow_set_relation_comp`` its
    test sets (as upstream configures it), for the project's own cases with the default
    extraction (a gold without ``$`` or ``\\boxed`` is wrapped in ``$...$`` first).

A verdict is right when it equals the label. One table row per suite (or per family with
``--by-family``): the share of right verdicts of each, the wrong "correct" verdicts (false
positives, the costly mistake) and the time spent (after a warm-up of both, reported apart).

Usage::

    ttcs-bench-answers                        # every suite, one row each, Markdown on stdout
    ttcs-bench-answers --suite lighteval -v   # one suite, listing every wrong verdict
    ttcs-bench-answers --by-family --family roles
    ttcs-bench-answers --ttcs-defaults        # ttcs unconfigured on the upstream cases
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
SUITES = ("ttcs", "math-verify", "lighteval")


@dataclass(frozen=True)
class Case:
    """One labelled pair: is `completion` a correct answer to a question whose answer is `gold`?"""

    family: str
    gold: str
    completion: str
    label: bool
    suite: str = "ttcs"
    settings: tuple = ()  # the upstream test's extraction settings, as sorted (key, value) pairs


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
                    )
                )
    return [c for c in cases if not families or c.family in families]


def load_suites(suites: Sequence[str] | None = None, families: Sequence[str] | None = None) -> list[Case]:
    """The cases of the project's own file and both upstream files, optionally only some suites."""
    cases = [c for path in (DATA, *UPSTREAM) for c in load_cases(path, families)]
    return [c for c in cases if not suites or c.suite in suites]


def ttcs_checker(configured: bool = True) -> Callable[[Case], bool]:
    """ttcs's verdict function, with its sympy worker started.

    With `configured`, an upstream case is scored by a verifier configured as its test
    configures math-verify (`ttcs_options`); without, every case by the default verifier.
    """
    from ttcs_verifiers.math import MathVerifier

    from ttcs.verify import extract_for_scoring, matches_gold

    verifiers = {(): MathVerifier()}
    verifiers[()].warm_up()

    def check(case: Case) -> bool:
        key = case.settings if configured else ()
        if key not in verifiers:
            verifiers[key] = MathVerifier(**ttcs_options(dict(key)))
        verifier = verifiers[key]
        answer = extract_for_scoring(verifier, case.completion)
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


def math_verify_checker() -> Callable[[Case], bool]:
    """math-verify's verdict function (default extraction, gold first), warmed up."""
    from math_verify import parse, verify

    def check(case: Case) -> bool:
        if case.settings:
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
    cases: Sequence[Case], by: str = "family", configured: bool = True
) -> tuple[list[FamilyScore], float]:
    """Score `cases` with both checkers; scores per family or suite (`by`, in order of appearance), warm-up time.

    `configured` False scores every case with ttcs's default verifier (see `ttcs_checker`).
    """
    start = time.perf_counter()
    ours, theirs = ttcs_checker(configured), math_verify_checker()
    warm_up = time.perf_counter() - start
    ours_tallies, their_tallies = score(cases, ours, by), score(cases, theirs, by)
    families = list(dict.fromkeys(getattr(c, by) for c in cases))
    counts = {f: sum(getattr(c, by) == f for c in cases) for f in families}
    return [FamilyScore(f, counts[f], ours_tallies[f], their_tallies[f]) for f in families], warm_up


def markdown_table(scores: Sequence[FamilyScore], by: str = "family") -> str:
    """The per-family (or per-suite) table, with a total row."""
    total = FamilyScore(
        "**all**", sum(s.cases for s in scores), _sum([s.ttcs for s in scores]), _sum([s.math_verify for s in scores])
    )
    rows = [
        f"| {by} | cases | ttcs right | math-verify right | ttcs false + | math-verify false + "
        "| ttcs ms/case | math-verify ms/case |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in [*scores, total]:
        rows.append(
            f"| {s.family} | {s.cases} | {_share(s.ttcs.right, s.cases)} | "
            f"{_share(s.math_verify.right, s.cases)} | {s.ttcs.false_positives} | "
            f"{s.math_verify.false_positives} | {1000 * s.ttcs.seconds / s.cases:.1f} | "
            f"{1000 * s.math_verify.seconds / s.cases:.1f} |"
        )
    return "\n".join(rows)


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
        "--ttcs-defaults",
        action="store_true",
        help="score ttcs with its default settings on every case, not as each upstream test configures it",
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
    scores, warm_up = run_benchmark(cases, by, configured=not args.ttcs_defaults)
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
