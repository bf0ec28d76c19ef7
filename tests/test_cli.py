"""The `ttcs` command end to end on a tiny model: a Hydra multirun of two methods, then `ttcs-table`."""

import json
import os
import subprocess
import sys

from ttcs_eval.table import main as table_main


def test_multirun_then_table(tmp_path, tiny_model_dir, capsys):
    sweep = tmp_path / "sweep"
    cmd = [sys.executable, "-m", "ttcs.cli", "-m", "method=base,self_consistency", f"model.path={tiny_model_dir}",
           "model.name=tiny", "data.options.n=3", "eval.k=2", "eval.max_new_tokens=4", "backend=hf",
           "backend.progress=false", f"hydra.sweep.dir={sweep}"]
    out = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr[-3000:]
    runs = sorted(p.name for p in sweep.iterdir() if p.is_dir())
    assert runs == ["base-tiny-arith_frontier-seed0", "self_consistency-tiny-arith_frontier-seed0"]
    for name in runs:
        run_dir = sweep / name
        results = json.loads((run_dir / "results.json").read_text())
        assert results["iterations"][0]["eval"]["n"] == 3
        assert len((run_dir / "eval" / "iter_00.jsonl").read_text().splitlines()) == 3
        for f in ("run.log", "report.md", "state.json", "metrics.jsonl", ".hydra/config.yaml", ".hydra/overrides.yaml"):
            assert (run_dir / f).is_file(), f
        assert "| 0 |" in (run_dir / "report.md").read_text()
    assert "| iteration | avg@2 | maj@2 | greedy |" in out.stdout  # the before/after table is printed
    assert table_main([str(sweep)]) == 0
    printed = capsys.readouterr().out
    assert "| method | model | seeds | arith_frontier | AVG |" in printed
    assert "| base | tiny |" in printed and "| self_consistency | tiny |" in printed
    assert "overrides [method=base" in printed
