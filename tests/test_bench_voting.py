"""`ttcs-bench-voting` on a small size: same clusters as the naive vote, and faster."""

from __future__ import annotations

from ttcs_eval.bench_voting import main, make_answer_sets, naive_clusters, run_benchmark


def test_answer_sets_look_like_solver_samples():
    sets = make_answer_sets(20, 16, seed=1)
    assert len(sets) == 20 and all(len(answers) == 16 for answers in sets)
    flat = [a for answers in sets for a in answers]
    assert None in flat and ("0.5" in flat or r"\frac{1}{2}" in flat)
    assert make_answer_sets(20, 16, seed=1) == sets  # seeded


def test_naive_reference_clusters():
    assert naive_clusters(["0.5", None, r"\frac{1}{2}", "3", "0.5"]) == [[0, 2, 4], [3]]


def test_benchmark_agrees_with_the_naive_vote_and_is_faster():
    result = run_benchmark(sets=8, samples=16, seed=0)
    assert result.mismatches == []
    assert result.speedup > 1


def test_main_prints_the_numbers(capsys):
    assert main(["--sets", "4", "--samples", "8", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "speed-up" in out and "clusters identical: True" in out
