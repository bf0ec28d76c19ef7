"""The run's one vLLM engine, on the fake `vllm` package (tests/fake_vllm): one engine per process for a whole
ttcs iteration, weights loaded in place after every training phase, sleep while TRL trains, sampling parameters
as vLLM takes them, and TRL's rollouts drawn from the engine.

The fake stands in for a CUDA vLLM, for what vLLM's CPU build cannot show: sleep mode (refused on a CPU) and
the model's own ``load_weights`` (TRL's colocate path, used on CUDA). Everything else is also tested against
the real engine in tests/test_vllm_engine.py (``make test-vllm``)."""

from __future__ import annotations

import pytest
import torch
from conftest import REPO_ROOT, fake_vllm_installed, tiny_run
from hydra import compose, initialize_config_dir
from safetensors.torch import load_file

from ttcs.engine import _runs, model_weights
from ttcs.grpo import check_generation_plan
from ttcs.loop import run
from ttcs.rundir import RunDir


def compose_cfg(*items):
    with initialize_config_dir(config_dir=str(REPO_ROOT / "conf"), version_base="1.3"):
        return compose(config_name="config", overrides=list(items))


def overrides(model_dir):
    # the tiny random model's text asks nothing: without the lenient format's problem check it parses, so the Solver
    # scores it and the Synthesizer states claims (both checked below)
    return [*tiny_run(model_dir, backend="vllm"), "recipe.problem_gate=false"]


def checksum(ckpt) -> float:
    return sum(float(t.double().sum()) for t in load_file(str(ckpt / "model.safetensors")).values())


@pytest.fixture(scope="module")
def engine_run(tmp_path_factory, tiny_model_dir):
    """One ttcs iteration with backend=vllm on the fake engine (about 30 s on two cores)."""
    run_dir = tmp_path_factory.mktemp("engine-run") / "run"
    with fake_vllm_installed() as vllm:
        cfg = compose_cfg(*overrides(tiny_model_dir))
        results = run(cfg, run_dir)
    return cfg, run_dir, results, vllm.RECORD


def test_one_engine_serves_the_whole_iteration(engine_run, tiny_model_dir):
    cfg, run_dir, results, record = engine_run
    assert list(RunDir(run_dir).state["phases"]) == [
        "iter_00/eval",
        "iter_01/synthesizer",
        "iter_01/curriculum",
        "iter_01/solver",
        "iter_01/eval",
    ]
    assert len(record.engines) == 1  # for every phase and both roles
    init = record.engines[0].init
    assert init["model"] == str(tiny_model_dir) and init["enable_sleep_mode"] is True
    assert init["gpu_memory_utilization"] == 0.35 and init["distributed_executor_backend"] == "external_launcher"
    assert [it["iteration"] for it in results["iterations"]] == [0, 1]


def test_weights_are_loaded_in_place_after_every_training_phase(engine_run):
    _, run_dir, _, record = engine_run
    loads = [(e[2], e[3]) for e in record.of("load_weights")]
    synthesizer, solver = (run_dir / "checkpoints" / role / "iter_01" for role in ("synthesizer", "solver"))
    # The curriculum samples the trained Synthesizer, the final evaluation the trained Solver: both were loaded
    # from their checkpoints into the living engine (the checksum is over the very tensors saved).
    sums = [s for _, s in loads]
    assert any(s == pytest.approx(checksum(synthesizer)) for s in sums)
    assert sums[-1] == pytest.approx(checksum(solver))
    final = record.engines[0].hf_model.state_dict()
    saved = load_file(str(solver / "model.safetensors"))
    assert all(torch.allclose(final[name], tensor) for name, tensor in saved.items())
    assert len(record.of("reset_prefix_cache")) >= len(loads)  # after every load (and before every sleep)


def test_engine_sleeps_while_trl_trains_and_never_generates_asleep(engine_run):
    _, _, _, record = engine_run
    kinds = [e[0] for e in record.events]
    assert kinds.count("sleep") >= 2 and all(e[2] == 1 for e in record.of("sleep"))  # level 1 while training
    awake = True
    for kind in kinds:  # the fake raises on a sleeping generate too; this checks the bookkeeping
        awake = {"sleep": False, "wake_up": True}.get(kind, awake)
        assert awake or kind not in ("generate", "load_weights")


def test_sampling_params_are_passed_as_vllm_takes_them(engine_run):
    cfg, _, _, record = engine_run
    params = [p for e in record.of("generate") for p in e[3]]
    evals = [p for p in params if p.n == cfg.eval.k and p.max_tokens == cfg.eval.max_new_tokens]
    assert evals and all((p.temperature, p.top_p, p.top_k, p.seed) == (0.6, 1.0, -1, cfg.seed) for p in evals)
    s = cfg.train.synthesizer
    greedy = [p for p in params if p.temperature == 0]  # the greedy evaluation and the Synthesizer's claims
    claims = cfg.recipe.claim_max_new_tokens
    assert all(p.n == 1 and p.max_tokens in (cfg.eval.max_new_tokens, claims) for p in greedy)
    assert {p.max_tokens for p in greedy} == {cfg.eval.max_new_tokens, claims}
    scoring = [p for p in params if p.n == s.solver_samples and p.max_tokens == s.solver_max_new_tokens]
    assert scoring and all(p.temperature == s.solver_temperature and p.seed is not None for p in scoring)
    # TRL's Solver rollouts come from the engine: G samples per question at the trainer's settings.
    solver = cfg.train.solver
    calls = [
        e[3]
        for e in record.of("generate")
        if all(p.max_tokens == solver.max_completion_length and p.n % solver.group_size == 0 for p in e[3])
    ]
    assert calls and all(p.temperature == solver.temperature and p.top_k == -1 for c in calls for p in c)
    assert all(len({p.seed for p in c}) == len(c) for c in calls)  # each question of a step has its own seed


def test_trl_colocated_engine_is_refused_at_start():
    with pytest.raises(ValueError, match="train.solver.use_vllm=false"):
        check_generation_plan(compose_cfg("train=gpu", "train.solver.use_vllm=true"))
    with pytest.raises(ValueError, match="ttcs's engine"):
        check_generation_plan(
            compose_cfg(
                "train=gpu", "backend=vllm", "train.synthesizer.use_vllm=true", "train.synthesizer.vllm_mode=server"
            )
        )
    check_generation_plan(compose_cfg("train=gpu", "backend=vllm"))


def test_repeated_prompts_become_one_request_each():
    assert _runs(["a", "a", "b", "b", "a"]) == [("a", 2), ("b", 2), ("a", 1)]


def test_lora_weights_are_pushed_merged_under_checkpoint_names(tiny_model):
    from peft import LoraConfig, get_peft_model

    base = {n: p.detach().clone() for n, p in tiny_model.named_parameters()}
    peft = get_peft_model(tiny_model, LoraConfig(r=2, lora_alpha=4, target_modules="all-linear", task_type="CAUSAL_LM"))
    with torch.no_grad():
        for name, p in peft.named_parameters():
            if "lora_B" in name:
                p.fill_(0.5)  # a non-zero adapter, so merging changes the weights
    pushed = {n: t.clone() for n, t in model_weights(peft)}
    assert set(pushed) == set(base)
    assert any(not torch.equal(pushed[n], base[n]) for n in base)
    assert all(
        torch.allclose(p, base[n.replace("base_model.model.", "").replace(".base_layer", "")], atol=1e-6)
        for n, p in peft.named_parameters()
        if "lora_" not in n
    )  # unmerged again afterwards
