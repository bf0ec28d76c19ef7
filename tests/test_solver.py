"""The Solver phase: GRPOConfig from Hydra, training questions, a 2-step GRPO smoke run, gradients, resume."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace

import pytest
import torch
from conftest import REPO_ROOT, ParityVerifier, build_tiny_model, build_tiny_tokenizer
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from ttcs.context import RunContext
from ttcs.data import Problem
from ttcs.grpo import build_grpo_config
from ttcs.health import SIGNALS as HEALTH_KEYS
from ttcs.loop import run
from ttcs.models import load_model, load_tokenizer
from ttcs.rewards.solver import get_majority_reward, pseudo_label_accuracy
from ttcs.rundir import RunDir, read_jsonl
from ttcs.solver import solver_phase, training_problems


def compose_cfg(*overrides):
    with initialize_config_dir(config_dir=str(REPO_ROOT / "conf"), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


def tiny_overrides(model_dir):
    return [
        "method=ttrl",
        "train=debug",
        f"model.path={model_dir}",
        "model.name=tiny",
        "data=arith",
        "data.options.n=4",
        "eval.k=2",
        "eval.max_new_tokens=8",
        "backend=hf",
        "backend.progress=false",
    ]


def solver_dict(train="cpu", **changes):
    solver = OmegaConf.to_container(compose_cfg(f"train={train}").train.solver, resolve=True)
    solver.update(changes)
    return solver


# ----------------------------------------------------------------------------- configuration


def test_cpu_config_builds_an_on_policy_fp32_grpo_config(tmp_path):
    args = build_grpo_config(solver_dict("cpu"), output_dir=tmp_path, seed=3, train_size=32, cuda=False)
    # One step = one generation of 8 questions x 4 samples, one optimizer update over 4 micro-batches of 8.
    assert (args.num_generations, args.per_device_train_batch_size, args.generation_batch_size) == (4, 8, 32)
    assert args.gradient_accumulation_steps == args.steps_per_generation == 4
    assert not args.bf16 and not args.use_vllm and args.beta == 0.0 and args.loss_type == "dapo"
    assert args.max_steps == 6 and args.seed == 3 and args.save_strategy == "no" and args.max_completion_length == 3
    assert args.lr_scheduler_type == "constant" and args.epsilon == 0.2


@pytest.mark.parametrize("train", ["cpu", "gpu", "debug"])
@pytest.mark.parametrize("role", ["solver", "synthesizer"])
def test_every_shipped_role_config_builds_a_grpo_config(tmp_path, train, role):
    # every key of train.<role> is either ttcs's own (OWN_KEYS) or a GRPOConfig field
    node = OmegaConf.to_container(compose_cfg(f"train={train}").train[role], resolve=True)
    args = build_grpo_config(node, output_dir=tmp_path, seed=0, train_size=64, cuda=False)
    assert args.num_generations == node["group_size"]


def test_gpu_config_is_the_paper_setting_and_falls_back_on_cpu(tmp_path):
    solver = solver_dict("gpu")
    assert (solver["batch_questions"], solver["group_size"], solver["max_completion_length"]) == (64, 8, 3072)
    assert solver["learning_rate"] == 1e-6 and solver["bf16"] and not solver["use_vllm"]  # ttcs's engine generates
    assert solver["model_init_kwargs"] == {"dtype": "bfloat16"}  # a bf16 reference model beside fp32 master weights
    args = build_grpo_config(solver, output_dir=tmp_path, seed=0, train_size=500, cuda=False)
    assert not args.bf16 and not args.use_vllm
    # One step = one generation of 64 x 8 = 512 completions, cut into 2 optimizer updates of 256 (16 x 16).
    assert args.generation_batch_size == 512 and args.gradient_accumulation_steps == 16
    assert args.steps_per_generation == 32 and args.max_steps == 30 and args.num_iterations == 1
    assert args.beta == 0.01 and args.top_p == 0.99 and args.epsilon == 0.2 and args.loss_type == "dapo"


def test_updates_per_step_split_one_generation_into_optimizer_updates(tmp_path):
    args = build_grpo_config(
        solver_dict("cpu", updates_per_step=2, micro_batch=4, batch_questions=4, steps=4),
        output_dir=tmp_path,
        seed=0,
        train_size=32,
        cuda=False,
    )
    # 4 questions x 4 samples = 16 completions per generation; 2 updates of 8 = 2 micro-batches of 4 each.
    assert args.generation_batch_size == 16 and args.gradient_accumulation_steps == 2
    assert args.steps_per_generation == 4 and args.max_steps == 8  # 4 steps x 2 updates
    with pytest.raises(ValueError, match="updates_per_step"):
        build_grpo_config(
            solver_dict("cpu", updates_per_step=3, batch_questions=4),
            output_dir=tmp_path,
            seed=0,
            train_size=32,
            cuda=False,
        )


def test_micro_batches_and_small_sets(tmp_path):
    args = build_grpo_config(
        solver_dict("cpu", micro_batch=4, batch_questions=4), output_dir=tmp_path, seed=0, train_size=32, cuda=False
    )
    assert args.gradient_accumulation_steps == args.steps_per_generation == 4
    small = build_grpo_config(
        solver_dict("cpu", batch_questions=4), output_dir=tmp_path, seed=0, train_size=2, cuda=False
    )
    assert small.generation_batch_size == 8
    with pytest.raises(ValueError, match="micro-batches"):
        build_grpo_config(solver_dict("cpu", micro_batch=3), output_dir=tmp_path, seed=0, train_size=32, cuda=False)


def test_free_form_grpo_overrides_reach_the_config(tmp_path):
    solver = solver_dict("cpu", grpo={"mask_truncated_completions": True, "top_k": 50})
    args = build_grpo_config(solver, output_dir=tmp_path, seed=0, train_size=32, cuda=False)
    assert args.mask_truncated_completions and args.top_k == 50


# ----------------------------------------------------------------------------- inputs and diagnostics


def test_ttrl_trains_on_the_test_questions(tmp_path):
    problems = [Problem("a", "1+1?", "2", "arith")]
    ctx = SimpleNamespace(
        cfg=OmegaConf.create({"method": {"phases": ["solver"]}}), problems=problems, rundir=RunDir(tmp_path)
    )
    assert training_problems(ctx, 1) == problems


def test_curriculum_methods_read_the_mixed_set(tmp_path):
    ctx = SimpleNamespace(
        cfg=OmegaConf.create({"method": {"phases": ["synthesizer", "curriculum", "solver"]}}),
        problems=[],
        rundir=RunDir(tmp_path),
    )
    with pytest.raises(FileNotFoundError, match="iter_02_train.jsonl"):
        training_problems(ctx, 2)
    rows = [
        {"id": "q1", "question": "2+3?", "answer": None, "source": "arith", "meta": {}},
        {"id": "v1", "question": "4+4?", "answer": None, "source": "synthetic", "meta": {"reference_id": "q1"}},
    ]
    path = tmp_path / "curriculum" / "iter_02_train.jsonl"
    path.parent.mkdir()
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    got = training_problems(ctx, 2)
    assert [(p.id, p.source, p.answer) for p in got] == [("q1", "arith", None), ("v1", "synthetic", None)]
    assert got[1].meta == {"reference_id": "q1"}


def test_pseudo_label_accuracy_counts_only_questions_with_gold():
    from ttcs.types import GroupVote

    recs = [
        GroupVote("a", ("1",), "1", 1.0, 1.0, True),
        GroupVote("b", ("2",), "2", 1.0, 1.0, False),
        GroupVote("c", (None,), None, 0.0, 0.0, False),
        GroupVote("syn", ("5",), "5", 1.0, 1.0, True),
    ]
    assert pseudo_label_accuracy(recs, {"a": "1", "b": "3", "c": "0"}, ParityVerifier()) == pytest.approx(1 / 3)
    assert pseudo_label_accuracy(recs, {}, ParityVerifier()) is None


# ----------------------------------------------------------------------------- training


def make_ctx(tmp_path, model_dir, *overrides):
    cfg = compose_cfg(*tiny_overrides(model_dir), *overrides)
    problems = [Problem(f"p{i}", f"What is {i} + 1?", str(i % 2), "arith") for i in range(4)]
    return RunContext(
        cfg, RunDir(tmp_path / "run"), problems, ParityVerifier(), tokenizer=load_tokenizer(str(model_dir))
    )


def test_two_grpo_steps_train_log_and_checkpoint(tmp_path, tiny_model_dir):
    ctx = make_ctx(tmp_path, tiny_model_dir)
    base = {n: p.detach().clone() for n, p in load_model(str(tiny_model_dir)).named_parameters()}
    info = solver_phase(ctx, 1)

    assert info["steps"] == 2 and info["train_size"] == 4 and info["kept_share"] == 1.0
    assert 0.0 <= info["pseudo_label_accuracy"] <= 1.0 and info["seconds_per_step"] > 0
    lines = [m for m in ctx.rundir.metrics() if m["phase"] == "solver"]
    assert [m["step"] for m in lines] == [1, 2]
    assert all(m["loss"] is not None and m["groups"] == 2 and m["iteration"] == 1 for m in lines)
    assert all(m["completion_length"] > 0 and m["seconds"] > 0 for m in lines)
    group_size = int(ctx.cfg.train.solver.group_size)
    for m in lines:  # the label-free health signals (`ttcs.health`), in every row
        assert 0.0 <= m["vote_share_std"] <= 0.5 and 0.0 <= m["distinct_answers"] <= group_size
        assert all(0.0 <= m[k] <= 1.0 for k in ("vote_share", "unanswered_share", "no_advantage_share"))
        assert "label_flip_rate" in m and (m["label_flip_rate"] is None or 0.0 <= m["label_flip_rate"] <= 1.0)
    assert set(info["health"]) == {*HEALTH_KEYS, "vote_share"}
    assert info["health"]["label_flip_rate"] is None  # iteration 1: no earlier votes

    ckpt = ctx.rundir.checkpoint_dir("solver", 1)
    assert (ckpt / "config.json").is_file() and (ckpt / "tokenizer_config.json").is_file()
    assert not list(ckpt.parent.glob(".*partial"))
    saved = dict(load_model(str(ckpt)).named_parameters())
    assert all(not torch.equal(saved[n], p) for n, p in base.items()), "every parameter should have moved"
    assert ctx._models["solver"][0] == str(ckpt)  # the trained object is cached under its checkpoint path
    trained = ctx._models["solver"][1]
    ctx.rundir.mark_done("iter_01/solver")  # what the loop does next; the eval then reuses the object
    assert ctx.model("solver", 1) is trained
    assert all(torch.equal(saved[n].detach(), p.detach()) for n, p in trained.named_parameters())


def test_lora_is_merged_into_a_plain_checkpoint(tmp_path, tiny_model_dir):
    ctx = make_ctx(tmp_path, tiny_model_dir, "train.solver.lora.enabled=true")
    solver_phase(ctx, 1)
    ckpt = ctx.rundir.checkpoint_dir("solver", 1)
    assert not (ckpt / "adapter_config.json").exists()
    merged = dict(load_model(str(ckpt)).named_parameters())
    base = dict(load_model(str(tiny_model_dir)).named_parameters())
    assert set(merged) == set(base)
    assert any(not torch.equal(merged[n], base[n]) for n in base)


def _first_batch_loss(tmp_path, reward):
    """Generate one batch (2 questions x 8 samples) and return (inputs, trainer) after one backward."""
    from datasets import Dataset
    from trl import GRPOTrainer

    tok = build_tiny_tokenizer()
    model = build_tiny_model(tok)
    solver = solver_dict("debug", group_size=8, micro_batch=16, band=None)
    args = build_grpo_config(solver, output_dir=tmp_path, seed=0, train_size=2, cuda=False)
    data = Dataset.from_dict({"prompt": ["What is 1 + 1?", "What is 2 + 5?"], "problem_id": ["a", "b"]})
    trainer = GRPOTrainer(model=model, reward_funcs=reward, args=args, train_dataset=data, processing_class=tok)
    trainer.model.train()
    trainer.current_gradient_accumulation_steps = args.gradient_accumulation_steps  # set by train() otherwise
    inputs = trainer._prepare_inputs(next(iter(trainer.get_train_dataloader())))
    trainer.compute_loss(trainer.model, inputs).backward()
    return inputs, trainer


def constant_reward(prompts, completions, **kwargs):
    return [1.0] * len(completions)


def test_constant_reward_gives_zero_policy_gradient(tmp_path):
    inputs, trainer = _first_batch_loss(tmp_path, constant_reward)
    assert torch.count_nonzero(inputs["advantages"]) == 0
    grads = [p.grad for p in trainer.model.parameters() if p.grad is not None]
    assert grads and all(torch.count_nonzero(g) == 0 for g in grads)


def test_majority_reward_gives_a_gradient_and_dropped_groups_none(tmp_path):
    inputs, trainer = _first_batch_loss(
        tmp_path, get_majority_reward(ParityVerifier(), group_size=8, band=None, read_answer=ParityVerifier().extract)
    )
    assert torch.count_nonzero(inputs["advantages"]) > 0
    assert any(torch.count_nonzero(p.grad) > 0 for p in trainer.model.parameters() if p.grad is not None)

    def drop_first_group(prompts, completions, **columns):  # the band's None for the first question
        rewards = get_majority_reward(ParityVerifier(), group_size=8, band=None, read_answer=ParityVerifier().extract)(
            prompts, completions, **columns
        )
        return [None] * 8 + rewards[8:]

    inputs, trainer = _first_batch_loss(tmp_path, drop_first_group)
    first = trainer.processing_class(text="What is 1 + 1?")["input_ids"]  # rows come back shuffled
    is_first = torch.tensor(
        [
            row[mask.bool()].tolist() == first
            for row, mask in zip(inputs["prompt_ids"], inputs["prompt_mask"], strict=True)
        ]
    )
    assert is_first.sum() == 8
    assert torch.count_nonzero(inputs["advantages"][is_first]) == 0
    assert torch.count_nonzero(inputs["advantages"][~is_first]) > 0


# ----------------------------------------------------------------------------- the loop


def test_method_ttrl_resumes_after_the_solver_phase(tmp_path, tiny_model_dir, caplog):
    cfg = compose_cfg(*tiny_overrides(tiny_model_dir))
    run_dir = tmp_path / "run"
    first = run(cfg, run_dir)
    assert [it["iteration"] for it in first["iterations"]] == [0, 1]
    ckpt = run_dir / "checkpoints" / "solver" / "iter_01"
    mtime = (ckpt / "config.json").stat().st_mtime_ns
    n_solver_lines = sum(m["phase"] == "solver" for m in RunDir(run_dir).metrics())

    state = json.loads((run_dir / "state.json").read_text())
    del state["phases"]["iter_01/eval"]  # as if the run was killed after the solver phase
    (run_dir / "state.json").write_text(json.dumps(state))
    with caplog.at_level(logging.INFO, logger="ttcs.loop"):
        again = run(cfg, run_dir)

    assert "resume: iter_01/solver already finished" in caplog.text
    assert (ckpt / "config.json").stat().st_mtime_ns == mtime
    assert sum(m["phase"] == "solver" for m in RunDir(run_dir).metrics()) == n_solver_lines
    results = json.loads((run_dir / "results.json").read_text())
    assert results == again and [it["iteration"] for it in results["iterations"]] == [0, 1]
    assert results["method"] == "ttrl" and "pseudo_label_accuracy" in results["iterations"][1]


def test_kl_reference_of_the_next_phase_is_its_starting_checkpoint(tmp_path, tiny_model_dir):
    from trl import GRPOTrainer

    from ttcs.grpo import build_grpo_config

    ctx = make_ctx(tmp_path, tiny_model_dir)
    solver_phase(ctx, 1)
    ctx.rundir.mark_done("iter_01/solver")
    model = ctx.model("solver", 1)  # the trained object, kept in memory
    node = {**solver_dict("debug"), "beta": 0.01}
    args = build_grpo_config(node, output_dir=tmp_path / "trl", seed=0, train_size=4, cuda=False)
    from datasets import Dataset

    trainer = GRPOTrainer(
        model=model,
        reward_funcs=constant_reward,
        args=args,
        processing_class=ctx.tokenizer,
        train_dataset=Dataset.from_dict({"prompt": ["a", "b"]}),
    )
    ref = dict(trainer.ref_model.named_parameters())
    base = dict(load_model(str(tiny_model_dir)).named_parameters())
    # TRL loads the reference from config._name_or_path: it must be the phase's start, not the base model.
    assert all(torch.equal(ref[n].detach(), p.detach()) for n, p in model.named_parameters())
    assert any(not torch.equal(ref[n].detach(), base[n].detach()) for n in base)


def test_dynamic_sampling_fills_steps_and_logs_the_in_band_share(tmp_path, tiny_model_dir, monkeypatch):
    import ttcs.solver as solver_module

    shares = {"p0": 0.5, "p1": 1.0, "p2": 0.25, "p3": 0.0}  # p0, p2 in the band [0.25, 0.75]
    measured: list[list[int]] = []

    def fake_measure(ctx, backend, problems, **kwargs):
        def measure(indices, draw):
            measured.append(indices)
            return [shares[problems[i].id] for i in indices]

        return measure

    monkeypatch.setattr(solver_module, "measure_with_backend", fake_measure)
    ctx = make_ctx(
        tmp_path,
        tiny_model_dir,
        "train.solver.band=[0.25,0.75]",
        "train.solver.updates_per_step=2",
        "train.solver.dynamic_sampling.enabled=true",
        "train.solver.dynamic_sampling.oversample=2",
    )
    info = solver_phase(ctx, 1)
    rows = [m for m in ctx.rundir.metrics() if m["phase"] == "dynamic_sampling"]
    assert [r["step"] for r in rows] == [1, 2] and all(r["filled_share"] == 1.0 for r in rows)
    assert all(r["first_draw_in_band"] == 0.5 and r["refills"] == 0 for r in rows)  # 4 candidates, 2 in band
    assert info["dynamic_sampling"]["filled_share"] == 1.0 and len(measured) == 2
    assert info["steps"] == 4  # 2 steps x 2 optimizer updates each
    seen = {m["step"] for m in ctx.rundir.metrics() if m["phase"] == "solver"}
    assert seen == {1, 2, 3, 4}
    assert info["distinct_questions"] <= 2  # only the in-band questions reached TRL


def test_oracle_rewards_agreement_with_the_gold_answers(tmp_path, tiny_model_dir):
    ctx = make_ctx(tmp_path, tiny_model_dir, "method=oracle", "train.solver.band=[0.25,0.75]")
    assert ctx.cfg.method.uses_labels and ctx.cfg.method.solver_reward == "gold"
    solver_phase(ctx, 1)
    gold = {p.id: p.answer for p in ctx.problems}
    seen = read_jsonl(ctx.rundir.votes_path(1))
    assert seen and all(r["kept"] for r in seen)  # no band for the positive control
    for r in seen:  # each group's reward is its share of answers equal to the gold answer, not its vote share
        assert r["mean_reward"] == sum(a == gold[r["problem_id"]] for a in r["answers"]) / len(r["answers"])


def test_release_trainer_frees_the_optimizer_and_the_reference_model(tmp_path, tiny_model_dir):
    """The phase's frame still holds the trainer when the phase ends: its state must be cut loose anyway."""
    import weakref

    from datasets import Dataset
    from trl import GRPOTrainer

    from ttcs.grpo import release_trainer

    args = build_grpo_config(
        solver_dict("debug", beta=0.01, steps=1), output_dir=tmp_path, seed=0, train_size=2, cuda=False
    )
    data = Dataset.from_dict({"prompt": ["What is 1 + 1?", "What is 2 + 5?"], "problem_id": ["a", "b"]})
    trainer = GRPOTrainer(
        model=load_model(str(tiny_model_dir)),
        reward_funcs=constant_reward,
        args=args,
        train_dataset=data,
        processing_class=load_tokenizer(str(tiny_model_dir)),
    )
    trainer.train()
    held = {name: weakref.ref(getattr(trainer, name)) for name in ("optimizer", "lr_scheduler", "ref_model")}
    release_trainer(trainer)
    assert {name: ref() is None for name, ref in held.items()} == dict.fromkeys(held, True)
