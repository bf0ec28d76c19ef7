"""Worker for tests/test_solver_multiprocess.py: two GRPO steps where each vote's group spans two processes.

Run by the test as::

    CUDA_VISIBLE_DEVICES= python -m accelerate.commands.launch --multi_gpu --num_processes 2 \
        tests/solver_multiprocess_worker.py OUT_DIR

(``--multi_gpu`` only picks the torchrun launcher, which starts both processes; with no GPU
visible they run on CPU over gloo. ``--cpu`` would use the simple launcher, which starts
one process unless MPI is installed.)

Each process trains the tiny model on one question per step, G = 4 samples split 2 + 2
over the two processes, and writes ``OUT_DIR/rank_<r>.json``: every group vote it saw
and, per reward call, its own slice (ids, answers, rewards).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import ParityVerifier, build_tiny_model, build_tiny_tokenizer  # noqa: E402


def main(out_dir: str) -> None:
    from accelerate import PartialState
    from datasets import Dataset
    from trl import GRPOTrainer

    from ttcs.grpo import build_grpo_config
    from ttcs.rewards.solver import get_majority_reward

    torch.set_num_threads(1)
    state = PartialState(cpu=True)  # torchrun-launched CPU processes join a gloo group only with cpu=True
    verifier, votes, calls = ParityVerifier(), [], []
    majority = get_majority_reward(
        verifier, band=None, group_size=4, record_vote=votes.append, read_answer=verifier.extract
    )

    def recorded_reward(prompts, completions, **columns):
        rewards = majority(prompts, completions, **columns)
        calls.append(
            {
                "ids": list(columns["problem_id"]),
                "answers": [verifier.extract(c) for c in completions],
                "rewards": rewards,
            }
        )
        return rewards

    recorded_reward.__name__ = "majority_reward"
    solver = {
        "steps": 2,
        "batch_questions": 1,
        "group_size": 4,
        "micro_batch": 2,
        "max_completion_length": 8,
        "learning_rate": 1e-3,
        "band": None,
        "report_to": "none",
        "gradient_checkpointing": False,
        "beta": 0.0,  # no KL reference model; these three and updates_per_step differ from the schema's paper defaults
        "updates_per_step": 1,
        "bf16": False,
        "model_init_kwargs": None,
    }
    args = build_grpo_config(solver, output_dir=Path(out_dir) / "trl", seed=0, train_size=2, cuda=False)
    tok = build_tiny_tokenizer()
    data = Dataset.from_dict({"prompt": ["What is 1 + 1?", "What is 2 + 5?"], "problem_id": ["a", "b"]})
    trainer = GRPOTrainer(
        model=build_tiny_model(tok), reward_funcs=recorded_reward, args=args, train_dataset=data, processing_class=tok
    )
    trainer.train()
    record = {
        "rank": state.process_index,
        "world_size": state.num_processes,
        "per_device_train_batch_size": args.per_device_train_batch_size,
        "votes": [{"problem_id": v["problem_id"], "answers": v["answers"], "label": v["label"]} for v in votes],
        "calls": calls,
    }
    (Path(out_dir) / f"rank_{state.process_index}.json").write_text(json.dumps(record))
    # Both records are written; leave without the interpreter's teardown. In torch 2.13 the gloo group's teardown
    # now and then deadlocks (the DDP reducer's process-group destructor joins gloo's worker thread while holding
    # the GIL, and that thread waits for the GIL to drop a tensor) or aborts ("terminate called without an active
    # exception"), after the work this test checks is done.
    state.wait_for_everyone()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1])
