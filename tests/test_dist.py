"""ttcs.dist in one process (every call is the identity) and the accelerate launch configs under launch/."""

from __future__ import annotations

import pytest
from conftest import REPO_ROOT

from ttcs import dist
from ttcs.rundir import RunDir


def test_one_process_keeps_everything_here():
    assert dist.num_processes() == 1 and dist.rank() == 0 and dist.is_main()
    assert dist.shard([1, 2, 3]) == [1, 2, 3]
    assert dist.gather([4, 5]) == [4, 5]
    assert dist.gather_slices(["a", "b"]) == (["a", "b"], 0)
    assert dist.map_sharded(lambda part: [x + 1 for x in part], [1, 2]) == [2, 3]
    assert dist.broadcast({"k": 1}) == {"k": 1}
    dist.barrier()
    dist.agree("same", "a value")


def test_on_main_returns_or_raises_the_main_result():
    assert dist.on_main(lambda: 7) == 7

    def fail():
        raise KeyError("from main")

    with pytest.raises(KeyError, match="from main"):
        dist.on_main(fail)


def test_a_rundir_that_does_not_write_keeps_state_in_memory(tmp_path):
    rundir = RunDir(tmp_path, writer=False)
    rundir.check_config({"seed": 0})
    rundir.mark_done("iter_00/eval", seconds=1.0)
    rundir.log_metrics("eval", iteration=0)
    rundir.write_jsonl(rundir.eval_path(0), [{"id": "a"}])
    rundir.append_jsonl(rundir.curriculum_path(1), {"id": "a"})
    rundir.write_json(rundir.results_path, {})
    assert rundir.is_done("iter_00/eval")
    assert sorted(p.name for p in tmp_path.rglob("*")) == []


EXPECTED = {"ddp": "MULTI_GPU", "multi_node": "MULTI_GPU", "zero2": "DEEPSPEED", "zero3": "DEEPSPEED", "fsdp": "FSDP"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_accelerate_configs_load_with_accelerates_own_loader(name):
    from accelerate.commands.config.config_args import load_config_from_file

    path = REPO_ROOT / "launch" / f"{name}.yaml"
    assert path.read_text().startswith("# "), "each config opens with a comment saying when to use it"
    config = load_config_from_file(str(path))
    assert str(config.distributed_type).endswith(EXPECTED[name])
    assert config.compute_environment.value == "LOCAL_MACHINE" and not config.use_cpu
    if name.startswith("zero"):
        assert config.deepspeed_config["zero_stage"] == int(name[-1])
    if name == "zero3":
        assert config.deepspeed_config["zero3_save_16bit_model"], "checkpoints need the whole weights gathered"
    if name == "fsdp":
        assert config.fsdp_config["fsdp_state_dict_type"] == "FULL_STATE_DICT"
    if name == "multi_node":
        assert config.num_machines == 2 and config.rdzv_backend == "static"


def test_the_configs_are_all_there():
    assert sorted(p.stem for p in (REPO_ROOT / "launch").glob("*.yaml")) == sorted(EXPECTED)


def test_a_batch_that_does_not_split_over_the_processes_says_what_would():
    from ttcs.grpo import build_grpo_config

    node = {"steps": 1, "batch_questions": 16, "group_size": 16, "micro_batch": 16, "updates_per_step": 2}
    with pytest.raises(ValueError, match=r"divide among 3 processes: launch a process count that divides 128"):
        build_grpo_config(node, output_dir="unused", seed=0, train_size=16, cuda=False, processes=3)
    with pytest.raises(ValueError, match=r"micro_batch must divide 64 \(completions per process\): one of 1, 2, 4"):
        build_grpo_config(
            {**node, "micro_batch": 5}, output_dir="unused", seed=0, train_size=16, cuda=False, processes=2
        )
    args = build_grpo_config(node, output_dir="unused", seed=0, train_size=16, cuda=False, processes=4)
    # batch_questions x group_size is the global step; micro_batch is per process, the rest is accumulation
    assert (args.per_device_train_batch_size, args.gradient_accumulation_steps) == (16, 2)
