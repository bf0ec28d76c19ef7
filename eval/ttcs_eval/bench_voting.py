"""`ttcs-bench-voting`: time `ttcs.voting.majority_vote` against the naive all-symbolic vote.

Builds answer sets shaped like 16 Solver samples of one question (`ttcs_eval.answer_sets`:
the family ``numeric`` holds numbers in several notations; ``realistic`` the forms of real
gold answers -- intervals, pairs, sets, polynomials, radicals, ``\\pi``, units, words) and
clusters each set twice, in the same run:

(a) ``majority_vote`` with a fresh ``MathVerifier``;
(b) the naive reference: every answer against every existing cluster representative with
    ``math_verify.verify(parse(rep), parse(answer))``, parsing at each comparison.

Both ways run interleaved, set by set, so a load that comes and goes on the machine
slows both alike. Per family it prints both times, the speed-up and whether the clusters
are identical; where they are not, it lists the sets and which of the two matches the
true clusters (the generator knows which value each answer was drawn from; the
reference can be the wrong one). It exits non-zero when any clusters differ.

Usage::

    ttcs-bench-voting --family both --sets 200 --samples 16 --seed 0
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from ttcs_eval.answer_sets import FAMILIES, Answer, make_answer_sets, make_labelled_sets

__all__ = ["BenchResult", "Disagreement", "main", "make_answer_sets", "naive_clusters", "run_benchmark"]


def naive_clusters(answers: Sequence[Answer]) -> list[list[int]]:
    """The reference: parse both strings at every comparison with a representative."""
    from math_verify import LatexExtractionConfig, parse, verify

    config = [LatexExtractionConfig()]

    def same(rep: str, answer: str) -> bool:
        gold = parse("\\boxed{" + rep + "}", extraction_config=config)
        target = parse("\\boxed{" + answer + "}", extraction_config=config)
        return verify(gold, target)

    representatives: list[str] = []
    clusters: list[list[int]] = []
    for index, answer in enumerate(answers):
        if answer is None or not answer.strip():
            continue
        found = next((c for c, rep in enumerate(representatives) if rep == answer or same(rep, answer)), None)
        if found is None:
            representatives.append(answer)
            clusters.append([index])
        else:
            clusters[found].append(index)
    return _ordered(clusters)


def true_clusters(answers: Sequence[Answer], labels: Sequence[int]) -> list[list[int]]:
    """The clusters of the values the answers were drawn from; each garbage string is its own value."""
    by_value: dict[object, list[int]] = {}
    for index, (answer, label) in enumerate(zip(answers, labels, strict=True)):
        if answer is not None and answer.strip():
            by_value.setdefault(label if label >= 0 else ("garbage", answer), []).append(index)
    return _ordered(list(by_value.values()))


def _ordered(clusters: list[list[int]]) -> list[list[int]]:
    return sorted(clusters, key=lambda cluster: (-len(cluster), cluster[0]))


@dataclass
class Disagreement:
    """One answer set on which the vote's clusters differ from the reference's."""

    index: int
    answers: list[Answer]
    ours: list[list[int]]
    naive: list[list[int]]
    truth: list[list[int]]

    @property
    def right(self) -> str:
        """Which side has the true clusters: ``ours``, ``naive`` or ``neither``."""
        return "ours" if self.ours == self.truth else "naive" if self.naive == self.truth else "neither"


@dataclass
class BenchResult:
    """Timings (seconds) of both ways on one family, and the answer sets whose clusters differ."""

    family: str
    sets: int
    samples: int
    startup_s: float
    ours_s: float
    naive_s: float
    disagreements: list[Disagreement] = field(default_factory=list)
    ours_wrong: int = 0  # sets where the vote's clusters are not the true ones
    naive_wrong: int = 0

    @property
    def speedup(self) -> float:
        return self.naive_s / max(self.ours_s, 1e-9)


def run_benchmark(sets: int = 200, samples: int = 16, seed: int = 0, family: str = "numeric") -> BenchResult:
    """Cluster the same answer sets both ways, interleaved, and time each."""
    from ttcs_verifiers.math import MathVerifier

    from ttcs.voting import majority_vote

    labelled = make_labelled_sets(sets, samples, seed, family)
    verifier = MathVerifier()
    start = time.perf_counter()
    verifier.warm_up()  # the one-off start of the sympy subprocess, reported apart
    result = BenchResult(family, sets, samples, time.perf_counter() - start, 0.0, 0.0)
    for index, (answers, labels) in enumerate(labelled):
        start = time.perf_counter()
        ours = majority_vote(answers, verifier).clusters
        middle = time.perf_counter()
        naive = naive_clusters(answers)
        result.ours_s += middle - start
        result.naive_s += time.perf_counter() - middle
        truth = true_clusters(answers, labels)
        result.ours_wrong += ours != truth
        result.naive_wrong += naive != truth
        if ours != naive:
            result.disagreements.append(Disagreement(index, answers, ours, naive, truth))
    return result


def report(result: BenchResult, seed: int) -> list[str]:
    """The printed lines of one family's result."""
    lines = [
        f"[{result.family}] answer sets: {result.sets} x {result.samples} samples (seed {seed})",
        f"majority_vote (fresh MathVerifier): {result.ours_s:8.3f} s  ({1000 * result.ours_s / result.sets:.1f} ms/set;"
        f" + {result.startup_s:.2f} s one-off worker start)",
        f"naive parse+verify per comparison:  {result.naive_s:8.3f} s  ({1000 * result.naive_s / result.sets:.1f} ms/set)",
        f"speed-up: {result.speedup:.1f}x",
        f"clusters identical: {not result.disagreements}"
        + (f" ({len(result.disagreements)} of {result.sets} sets differ)" if result.disagreements else ""),
        f"sets not clustered by true value: vote {result.ours_wrong}, naive {result.naive_wrong}",
    ]
    for d in result.disagreements[:10]:
        lines.append(f"  set {d.index}: right = {d.right}; vote {d.ours} vs naive {d.naive}; answers {d.answers}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the numbers; exit code 1 when the clusters differ."""
    parser = argparse.ArgumentParser(prog="ttcs-bench-voting", description=__doc__.split("\n\n")[0])
    parser.add_argument("--family", choices=[*FAMILIES, "both"], default="both", help="which answer sets")
    parser.add_argument("--sets", type=int, default=200, help="number of answer sets (questions) per family")
    parser.add_argument("--samples", type=int, default=16, help="answers per set (Solver samples)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated answer sets")
    args = parser.parse_args(argv)

    families = list(FAMILIES) if args.family == "both" else [args.family]
    identical = True
    for number, family in enumerate(families):
        result = run_benchmark(args.sets, args.samples, args.seed, family)
        print(("\n" if number else "") + "\n".join(report(result, args.seed)))
        identical = identical and not result.disagreements
    return 0 if identical else 1


if __name__ == "__main__":
    raise SystemExit(main())
