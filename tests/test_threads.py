"""The torch thread count: all free cores, divided among the processes, never fewer than one."""

from __future__ import annotations

import os

import pytest
import torch

from ttcs import threads


@pytest.mark.parametrize(
    ("setting", "cores", "load", "processes", "expected"),
    [
        ("auto", 2, 0.0, 1, 2),  # an idle 2-core machine: both cores
        ("auto", 2, 0.4, 1, 2),  # a little background noise does not cost a core
        ("auto", 2, 1.0, 1, 1),  # another job holds a core: one thread
        ("auto", 2, 7.5, 1, 1),  # never fewer than one
        ("auto", 16, 3.0, 1, 13),
        ("auto", 16, 0.0, 4, 4),  # four processes of an accelerate launch share the cores
        ("auto", 2, 0.0, 2, 1),
        ("AUTO", 4, 0.0, 1, 4),
        (3, 2, 5.0, 1, 3),  # a number is taken as given
    ],
)
def test_choose_threads(setting, cores, load, processes, expected):
    assert threads.choose_threads(setting, cores=cores, load=load, processes=processes) == expected


@pytest.mark.parametrize("setting", [0, -1, "four", 1.5, True, None])
def test_bad_settings_are_refused_with_the_key(setting):
    with pytest.raises(ValueError, match="threads="):
        threads.choose_threads(setting, cores=2, load=0.0)


def test_busy_cores_is_a_core_count():
    busy = threads.busy_cores(window=0.05)
    assert 0.0 <= busy <= (os.cpu_count() or 1) + 1e-6


def test_apply_threads_sets_torch(caplog):
    before = torch.get_num_threads()
    try:
        with caplog.at_level("INFO", logger="ttcs.threads"):
            assert threads.apply_threads(1) == 1
        assert torch.get_num_threads() == 1
        assert "torch uses 1 CPU thread(s)" in caplog.text
        n = threads.apply_threads("auto")
        assert 1 <= n <= threads.available_cores() and torch.get_num_threads() == n
    finally:
        torch.set_num_threads(before)


def test_results_do_not_depend_on_the_thread_count(tiny_model_dir):
    """threads=auto may pick another count on a busier machine: the numbers must not move."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    ids = torch.randint(0, model.config.vocab_size, (4, 24), generator=torch.Generator().manual_seed(0))
    before, out = torch.get_num_threads(), {}
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            model.zero_grad()
            loss = model(input_ids=ids, labels=ids).loss
            loss.backward()
            out[n] = (loss.detach(), torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None]))
    finally:
        torch.set_num_threads(before)
    assert torch.equal(out[1][0], out[2][0]) and torch.equal(out[1][1], out[2][1])
