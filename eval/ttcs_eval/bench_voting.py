"""`ttcs-bench-voting`: time `ttcs.voting.majority_vote` against the naive all-symbolic vote.

Builds answer sets shaped like 16 Solver samples of one question (the same value in
several surface forms: ``\\frac{1}{2}``, ``0.5``, ``1/2``, ``033``, ``2\\sqrt{2}``/``\\sqrt{8}``,
plus wrong values, None and garbage) and clusters each set twice, in the same run:

(a) ``majority_vote`` with a fresh ``MathVerifier``;
(b) the naive reference: every answer against every existing cluster representative with
    ``math_verify.verify(parse(rep), parse(answer))``, parsing at each comparison.

It prints both times, the speed-up and whether the clusters are identical, and exits
non-zero when they are not.

Usage::

    ttcs-bench-voting --sets 200 --samples 16 --seed 0
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Answer = str | None
Family = Callable[[random.Random], list[str]]


def _half(rng: random.Random) -> list[str]:
    return [r"\frac{1}{2}", "0.5", "1/2", r"\dfrac{1}{2}", r"\frac12", r"\frac{2}{4}"]


def _integer(rng: random.Random) -> list[str]:
    n = rng.randint(1, 999)
    return [str(n), f"{n:03d}", f"{n}.0", rf"\${n}", rf"{n}^\circ"]


def _fraction(rng: random.Random) -> list[str]:
    num, den = rng.choice([(1, 3), (2, 3), (3, 4), (5, 6), (7, 8), (-1, 4)])
    sign = "-" if num < 0 else ""
    return [rf"{sign}\frac{{{abs(num)}}}{{{den}}}", f"{num}/{den}", rf"\dfrac{{{num}}}{{{den}}}"]


def _radical(rng: random.Random) -> list[str]:
    a, b = rng.choice([(2, 2), (3, 2), (2, 3), (5, 3), (4, 5), (3, 7)])
    return [rf"{a}\sqrt{{{b}}}", rf"\sqrt{{{a * a * b}}}", rf"{a} \sqrt {b}", rf"\sqrt{{{b}}} \cdot {a}"]


def _pi(rng: random.Random) -> list[str]:
    k = rng.randint(2, 12)
    return [rf"{k}\pi", rf"\pi \cdot {k}", rf"{k} \pi"]


FAMILIES: tuple[Family, ...] = (_half, _integer, _integer, _fraction, _radical, _pi)
GARBAGE = ("I don't know", r"\text{undefined}", "???", "x", r"\frac{1}{")


def make_answer_sets(sets: int, samples: int, seed: int) -> list[list[Answer]]:
    """`sets` lists of `samples` answers: a majority value, 1-3 rival values, None, garbage."""
    rng = random.Random(seed)
    result = []
    for _ in range(sets):
        values = [rng.choice(FAMILIES)(rng) for _ in range(rng.randint(2, 4))]
        p_first = rng.uniform(0.3, 0.8)
        answers: list[Answer] = []
        for _ in range(samples):
            roll = rng.random()
            if roll < 0.08:
                answers.append(None)
            elif roll < 0.13:
                answers.append(rng.choice(GARBAGE))
            else:
                forms = values[0] if rng.random() < p_first else rng.choice(values[1:])
                answers.append(rng.choice(forms))
        result.append(answers)
    return result


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
    return sorted(clusters, key=lambda cluster: (-len(cluster), cluster[0]))


@dataclass
class BenchResult:
    """Timings (seconds) of both ways and the answer sets whose clusters differ."""

    sets: int
    samples: int
    startup_s: float
    ours_s: float
    naive_s: float
    mismatches: list[int]

    @property
    def speedup(self) -> float:
        return self.naive_s / max(self.ours_s, 1e-9)


def run_benchmark(sets: int = 200, samples: int = 16, seed: int = 0) -> BenchResult:
    """Cluster the same answer sets both ways and time each."""
    from ttcs_verifiers.math import MathVerifier

    from ttcs.voting import majority_vote

    answer_sets = make_answer_sets(sets, samples, seed)
    verifier = MathVerifier()
    start = time.perf_counter()
    verifier.warm_up()  # the one-off start of the sympy subprocess, reported apart
    startup = time.perf_counter() - start

    start = time.perf_counter()
    ours = [majority_vote(answers, verifier).clusters for answers in answer_sets]
    ours_s = time.perf_counter() - start

    start = time.perf_counter()
    naive = [naive_clusters(answers) for answers in answer_sets]
    naive_s = time.perf_counter() - start

    mismatches = [i for i, (a, b) in enumerate(zip(ours, naive, strict=True)) if a != b]
    return BenchResult(sets, samples, startup, ours_s, naive_s, mismatches)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the numbers; exit code 1 when the clusters differ."""
    parser = argparse.ArgumentParser(prog="ttcs-bench-voting", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", type=int, default=200, help="number of answer sets (questions)")
    parser.add_argument("--samples", type=int, default=16, help="answers per set (Solver samples)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated answer sets")
    args = parser.parse_args(argv)

    result = run_benchmark(args.sets, args.samples, args.seed)
    print(f"answer sets: {result.sets} x {result.samples} samples (seed {args.seed})")
    print(f"majority_vote (fresh MathVerifier): {result.ours_s:8.3f} s  (+ {result.startup_s:.2f} s one-off worker start)")
    print(f"naive parse+verify per comparison:  {result.naive_s:8.3f} s")
    print(f"speed-up: {result.speedup:.1f}x")
    identical = not result.mismatches
    print(f"clusters identical: {identical}" + ("" if identical else f" (differ in sets {result.mismatches[:20]})"))
    return 0 if identical else 1


if __name__ == "__main__":
    raise SystemExit(main())
