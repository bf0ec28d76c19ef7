"""The majority vote sees the whole group when TRL splits it over two processes (accelerate launch, CPU)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import REPO_ROOT, ParityVerifier, accelerate_launch

from ttcs.rewards.solver import majority_rewards


def test_vote_sees_the_whole_group_across_two_processes(tmp_path):
    # --multi_gpu selects the torchrun launcher (two processes); with no GPU visible they run on CPU over gloo.
    cmd = [
        sys.executable,
        *accelerate_launch(2),
        str(REPO_ROOT / "tests" / "solver_multiprocess_worker.py"),
        str(tmp_path),
    ]
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "CUDA_VISIBLE_DEVICES": "",
    }
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stderr[-4000:]

    ranks = [json.loads((tmp_path / f"rank_{r}.json").read_text()) for r in (0, 1)]
    assert all(r["world_size"] == 2 and r["per_device_train_batch_size"] == 2 for r in ranks)
    assert ranks[0]["votes"] == ranks[1]["votes"], "both processes must reach the same votes"
    votes = ranks[0]["votes"]
    assert len(votes) == 2  # one question per step, two steps
    for step, vote in enumerate(votes):
        assert len(vote["answers"]) == 4, "the vote must see all G answers, not one process's half"
        local = [r["calls"][step] for r in ranks]
        assert all(len(c["answers"]) == 2 and set(c["ids"]) == {vote["problem_id"]} for c in local)
        assert local[0]["answers"] + local[1]["answers"] == vote["answers"]
        expected, _ = majority_rewards(vote["answers"], ParityVerifier())
        assert local[0]["rewards"] + local[1]["rewards"] == expected
