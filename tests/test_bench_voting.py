"""`ttcs-bench-voting` on a small size: same clusters as the naive vote, and faster, on both families."""

from __future__ import annotations

import pytest
from ttcs_eval.answer_sets import FAMILIES, make_labelled_sets
from ttcs_eval.bench_voting import main, make_answer_sets, naive_clusters, run_benchmark, true_clusters


def test_answer_sets_look_like_solver_samples():
    sets = make_answer_sets(20, 16, seed=1)
    assert len(sets) == 20 and all(len(answers) == 16 for answers in sets)
    flat = [a for answers in sets for a in answers]
    assert None in flat and ("0.5" in flat or r"\frac{1}{2}" in flat)
    assert make_answer_sets(20, 16, seed=1) == sets  # seeded


def test_realistic_sets_hold_the_forms_of_real_answers():
    flat = [a for answers in make_answer_sets(60, 16, seed=1, family="realistic") for a in answers if a]
    for marker in (r"\cup", r"\{", "x^", r"\sqrt", r"\pi", r"\text{", "pmatrix", "i", "^\\circ", "y ="):
        assert any(marker in answer for answer in flat), marker
    with pytest.raises(ValueError, match="unknown family"):
        make_answer_sets(1, 1, seed=0, family="nope")


def test_labels_give_the_true_clusters():
    answers, labels = make_labelled_sets(1, 16, seed=2, family="realistic")[0]
    truth = true_clusters(answers, labels)
    assert sorted(i for cluster in truth for i in cluster) == [i for i, a in enumerate(answers) if a]


def test_naive_reference_clusters():
    assert naive_clusters(["0.5", None, r"\frac{1}{2}", "3", "0.5"]) == [[0, 2, 4], [3]]


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_benchmark_agrees_with_the_naive_vote_and_is_faster(family):
    result = run_benchmark(sets=8, samples=16, seed=0, family=family)
    assert result.disagreements == []
    assert result.speedup > 1


def test_main_prints_the_numbers_of_both_families(capsys):
    assert main(["--sets", "3", "--samples", "8", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "[numeric]" in out and "[realistic]" in out
    assert out.count("speed-up") == 2 and out.count("clusters identical: True") == 2
