"""Generation backends on a tiny random model: shapes, n samples per prompt, determinism, EOS."""

import pytest
import torch

from ttcs.generation import HFBackend, Sampling, make_backend, vllm_available
from ttcs.prompts import render


@pytest.fixture()
def backend(tiny_model, tiny_tokenizer):
    return HFBackend(tiny_model, tiny_tokenizer, batch_size=8, progress=False)


def _prompts(tok, n=3):
    return [render(tok, f"What is {i} + {i}?") for i in range(n)]


def test_shapes_and_n_samples(backend, tiny_tokenizer):
    out = backend.generate(_prompts(tiny_tokenizer), Sampling(n=4, temperature=1.0, max_new_tokens=6))
    assert len(out) == 3
    assert all(len(group) == 4 and all(isinstance(c, str) for c in group) for group in out)


def test_same_seed_same_samples_different_seed_differs(backend, tiny_tokenizer):
    prompts = _prompts(tiny_tokenizer)
    a = backend.generate(prompts, Sampling(n=3, temperature=1.0, max_new_tokens=8, seed=1))
    b = backend.generate(prompts, Sampling(n=3, temperature=1.0, max_new_tokens=8, seed=1))
    c = backend.generate(prompts, Sampling(n=3, temperature=1.0, max_new_tokens=8, seed=2))
    assert a == b
    assert a != c


def test_batching_does_not_change_greedy_output(tiny_model, tiny_tokenizer):
    prompts = _prompts(tiny_tokenizer, 5)
    small = HFBackend(tiny_model, tiny_tokenizer, batch_size=1, progress=False)
    large = HFBackend(tiny_model, tiny_tokenizer, batch_size=16, progress=False)
    s = Sampling(n=1, temperature=0.0, max_new_tokens=6)
    assert small.generate(prompts, s) == large.generate(prompts, s)


def test_generation_does_not_touch_global_rng(backend, tiny_tokenizer):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    backend.generate(_prompts(tiny_tokenizer, 1), Sampling(n=2, temperature=1.0, max_new_tokens=4))
    assert torch.equal(torch.rand(3), expected)


def test_stops_at_eos(tiny_model, tiny_tokenizer):
    # Make EOS the only likely token: every completion must stop immediately and be empty.
    with torch.no_grad():
        tiny_model.lm_head.weight.zero_()
        tiny_model.lm_head.weight[tiny_tokenizer.eos_token_id] = 1.0
        tiny_model.model.norm.weight.fill_(100.0)
    out = HFBackend(tiny_model, tiny_tokenizer, progress=False).generate(
        _prompts(tiny_tokenizer, 2), Sampling(n=1, temperature=0.0, max_new_tokens=20)
    )
    assert out == [[""], [""]]


def test_model_mode_restored(backend, tiny_model, tiny_tokenizer):
    tiny_model.train()
    backend.generate(_prompts(tiny_tokenizer, 1), Sampling(n=1, temperature=0.0, max_new_tokens=2))
    assert tiny_model.training


@pytest.mark.parametrize("kwargs", [dict(n=0), dict(temperature=-1), dict(top_p=0), dict(n=2, temperature=0)])
def test_bad_sampling_rejected(kwargs):
    with pytest.raises(ValueError):
        Sampling(**kwargs)


def test_make_backend_picks_hf_without_gpu(tiny_model, tiny_tokenizer):
    from ttcs.generation import vllm_device

    backend = make_backend({"name": "auto", "batch_size": 4}, model=tiny_model, tokenizer=tiny_tokenizer)
    assert isinstance(backend, HFBackend) or vllm_device() not in (None, "cpu")


def test_vllm_backend_refused_cleanly_without_gpu(tiny_model, tiny_tokenizer):
    if vllm_available():
        pytest.skip("vLLM and a GPU are present")
    with pytest.raises(RuntimeError, match="backend=hf"):
        make_backend({"name": "vllm"}, model=tiny_model, tokenizer=tiny_tokenizer, model_path="x")


@pytest.mark.gpu
def test_hf_backend_on_gpu(tiny_model, tiny_tokenizer):
    model = tiny_model.to("cuda")
    out = HFBackend(model, tiny_tokenizer, progress=False).generate(
        _prompts(tiny_tokenizer, 4), Sampling(n=2, temperature=1.0, max_new_tokens=8)
    )
    assert [len(g) for g in out] == [2] * 4
