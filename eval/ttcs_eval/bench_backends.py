"""`ttcs-bench-backends`: one ttcs command with ``backend=hf`` and with ``backend=vllm``, in fp32 and bf16, by phase.

Each (job, dtype, backend) runs as its own ``python -m ttcs.cli`` process, one after another
on this machine (one vLLM engine per process, nothing of the benchmark's own running beside
it), and the table gives the seconds of every phase from the run's ``state.json``, the whole
command's wall time (interpreter, model load, engine start-up included) and the final
evaluation. Jobs: ``base`` (``method=base``: evaluation only) and ``default`` (``ttcs`` with
no arguments: the default job). ``backend=vllm`` needs vLLM (on a CPU its CPU build:
``make setup-vllm``, then run this from ``.venv-vllm``). A benchmark, not a test: the numbers
belong to the machine; the README quotes one run.

Usage::

    ttcs-bench-backends                                       # base and default, fp32 and bf16, hf and vllm
    ttcs-bench-backends --jobs base --dtypes float32 --json bench.json -- eval.k=4
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

logger = logging.getLogger(__name__)

JOBS = {"base": ["method=base"], "default": []}


def command(job: str, backend: str, dtype: str, run_dir: Path, extra: Sequence[str]) -> list[str]:
    """The ttcs command of one cell: the job's overrides, the backend and the dtype of both model and engine."""
    return [
        sys.executable,
        "-m",
        "ttcs.cli",
        *JOBS[job],
        f"backend={backend}",
        f"model.dtype={dtype}",
        f"backend.dtype={dtype}",
        "backend.progress=false",
        f"hydra.run.dir={run_dir}",
        *extra,
    ]


def run_cell(job: str, backend: str, dtype: str, work: Path, extra: Sequence[str]) -> dict:
    """Run one cell; its phases' seconds, the wall time and the last evaluation (or the error's last line)."""
    run_dir = work / f"{job}-{backend}-{dtype}"
    start = time.perf_counter()
    done = subprocess.run(command(job, backend, dtype, run_dir, extra), capture_output=True, text=True)
    row = {"job": job, "backend": backend, "dtype": dtype, "wall_seconds": round(time.perf_counter() - start, 1)}
    if done.returncode != 0:
        row["error"] = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        logger.warning("%s %s %s failed: %s", job, backend, dtype, row["error"])
        return row
    phases = json.loads((run_dir / "state.json").read_text())["phases"]
    row["phases"] = {name: info.get("seconds") for name, info in phases.items()}
    row["eval"] = json.loads((run_dir / "results.json").read_text())["iterations"][-1]["eval"]
    return row


def format_table(rows: Sequence[dict]) -> str:
    """A markdown table: one row per cell, one column per phase (seconds), wall time and the final avg@k/maj@k."""
    phases = list(dict.fromkeys(p for r in rows for p in r.get("phases", {})))
    lines = [
        "| job | dtype | backend | " + " | ".join(phases) + " | wall | avg@k / maj@k / greedy |",
        "|" + "---|" * (len(phases) + 5),
    ]
    for r in rows:
        cells = [str(r.get("phases", {}).get(p, "")) for p in phases]
        ev = r.get("eval") or {}
        result = r.get("error") or " / ".join(
            f"{ev[k]:.1f}" if ev.get(k) is not None else "-" for k in ("avg_at_k", "maj_at_k", "greedy")
        )
        lines.append(
            f"| {r['job']} | {r['dtype']} | {r['backend']} | "
            + " | ".join(cells)
            + f" | {r['wall_seconds']} | {result} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", nargs="+", choices=sorted(JOBS), default=["base", "default"])
    parser.add_argument("--dtypes", nargs="+", choices=("float32", "bfloat16"), default=["float32", "bfloat16"])
    parser.add_argument("--backends", nargs="+", choices=("hf", "vllm"), default=["hf", "vllm"])
    parser.add_argument("--out", type=Path, help="keep the runs here (default: a temporary directory)")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument("overrides", nargs="*", help="more ttcs overrides for every cell (after --)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with tempfile.TemporaryDirectory() as tmp:
        work = args.out or Path(tmp)
        rows = []
        for job in args.jobs:
            for dtype in args.dtypes:
                for backend in args.backends:
                    rows.append(run_cell(job, backend, dtype, work, args.overrides))
                    logger.info("%s", json.dumps(rows[-1]))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    logger.info("\n%s", format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
