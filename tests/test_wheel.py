"""The wheel: built from this checkout, installed into a fresh virtual environment (not editable), its `ttcs`
command finds the configs and prompts it ships and runs a method on a tiny model from a directory far from the
checkout.

The fresh venv sees the dependencies (torch, transformers, TRL: no download) of the environment running the
tests, whichever that is (an active venv or conda environment, the project's .venv, or a system interpreter):
a `.pth` file in the venv lists that environment's site-packages directories as plain paths. Plain paths, so
the `.pth` files inside them, among them the editable install of ttcs that `make test` makes, are not run: the
checkout's ttcs stays invisible, and the test asserts that the ttcs it imports is the wheel's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT

SKIP = shutil.ignore_patterns(
    ".git", "outputs", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".ruff_cache", ".venv"
)


def sh(cmd, cwd, env=None, timeout=600) -> subprocess.CompletedProcess:
    out = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"{' '.join(map(str, cmd))}\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}"
    return out


def dependency_dirs() -> list[str]:
    """The site-packages directories the running interpreter imports from (venv, system, user, Debian's)."""
    return [p for p in sys.path if Path(p).name in ("site-packages", "dist-packages") and Path(p).is_dir()]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(the venv's bin directory, a clean environment for it, a working directory outside the checkout)."""
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    shutil.copytree(REPO_ROOT, src, symlinks=True, ignore=SKIP)  # build from a copy: the checkout stays clean
    sh(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", root / "dist", src],
        cwd=root,
    )
    wheel = next((root / "dist").glob("ttcs-*.whl"))
    venv = root / "venv"
    sh([sys.executable, "-m", "venv", "--without-pip", venv], cwd=root)
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    purelib = sh([bin_dir / "python", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], cwd=root)
    (Path(purelib.stdout.strip()) / "test-deps.pth").write_text("\n".join(dependency_dirs()) + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}")
    # the running environment's pip, run by the venv's interpreter, installs into the venv
    sh([bin_dir / "python", "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel], cwd=root, env=env)
    work = root / "elsewhere"
    work.mkdir()
    return bin_dir, env, work


def test_the_installed_package_is_the_wheel_and_ships_configs_and_prompts(installed):
    bin_dir, env, work = installed
    probe = (
        "import ttcs, ttcs.config as c, ttcs.prompts as p; print(ttcs.__file__); print(c.CONFIG_DIR); "
        "print(len(p.load_template('synthesizer')))"
    )
    lines = sh([bin_dir / "python", "-c", probe], cwd=work, env=env).stdout.split()
    venv = bin_dir.parent.resolve()
    assert Path(lines[0]).resolve().is_relative_to(venv), lines  # not the checkout's editable install
    assert Path(lines[1]) == Path(lines[0]).resolve().parent / "conf"
    assert int(lines[2]) > 100
    assert not Path(lines[1]).is_symlink() and (Path(lines[1]) / "experiment").is_dir()
    # the accelerate launch configs too, beside conf/ and outside Hydra's search path (the README's launch commands
    # name them; ttcs --help must not list them as a config group)
    launch = Path(lines[0]).resolve().parent / "launch"
    assert not launch.is_symlink() and not (Path(lines[1]) / "accelerate").exists()
    shipped = sorted(p.name for p in launch.glob("*.yaml"))
    assert shipped == sorted(p.name for p in (REPO_ROOT / "launch").glob("*.yaml")) and shipped


def test_ttcs_help_and_cfg_job_from_the_wheel(installed):
    bin_dir, env, work = installed
    out = sh([bin_dir / "ttcs", "--help"], cwd=work, env=env, timeout=300).stdout
    assert "method:" in out and "ttrl" in out  # Hydra's help lists the method group from the shipped configs
    assert out.startswith("ttcs:") and "\naccelerate:" not in out  # its own name; launch configs are no group
    out = sh([bin_dir / "ttcs", "--cfg", "job"], cwd=work, env=env, timeout=300).stdout
    assert "name: ttcs" in out and "smollm2-135m" in out and "answer_policy" in out
    out = sh([bin_dir / "ttcs", "--cfg", "job", "experiment=paper_aime24_qwen1.5b"], cwd=work, env=env).stdout
    assert "qwen2.5-math-1.5b" in out


def test_ttcs_runs_a_method_from_the_wheel(installed, tiny_model_dir):
    bin_dir, env, work = installed
    run_dir = work / "run"
    sh(
        [
            bin_dir / "ttcs",
            "method=base",
            "train=debug",
            f"model.path={tiny_model_dir}",
            "model.name=tiny",
            "data.options.n=3",
            "eval.k=2",
            "eval.max_new_tokens=4",
            "backend=hf",
            "backend.progress=false",
            f"hydra.run.dir={run_dir}",
        ],
        cwd=work,
        env=env,
    )
    results = (run_dir / "results.json").read_text()
    assert '"method": "base"' in results and '"n": 3' in results
    assert (run_dir / "report.md").is_file()
