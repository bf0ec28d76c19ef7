"""The verifier registry: built-ins are found by name, a third-party plugin is discovered
through its ``ttcs.verifiers`` entry point, and an unknown name lists the available ones."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ttcs import verify
from ttcs.verify import UnknownVerifierError, Verifier, available_verifiers, get_verifier

PLUGIN = Path(__file__).parent / "fixtures" / "plugin_pkg"


@pytest.fixture(autouse=True)
def fresh_registry():
    verify._entry_points.cache_clear()
    yield
    verify._entry_points.cache_clear()


@pytest.mark.parametrize("name", ["math", "multiple_choice", "exact_match"])
def test_builtin_verifiers_are_registered(name):
    verifier = get_verifier(name)
    assert isinstance(verifier, Verifier)
    assert verifier.name == name
    assert name in available_verifiers()


def test_constructor_kwargs_are_passed():
    assert get_verifier("math", timeout=0.5).timeout == 0.5


def test_unknown_name_lists_available_verifiers():
    with pytest.raises(UnknownVerifierError) as error:
        get_verifier("no_such_verifier")
    message = str(error.value)
    assert "no_such_verifier" in message
    for name in ("math", "multiple_choice", "exact_match"):
        assert name in message


def _install_like_pip(site: Path) -> None:
    """What an installed wheel leaves on sys.path: the package and a dist-info with entry points."""
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((PLUGIN / "pyproject.toml").read_text())["project"]
    shutil.copytree(PLUGIN / "ttcs_dummy_plugin", site / "ttcs_dummy_plugin")
    dist_info = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
    )
    group = "ttcs.verifiers"
    lines = [f"[{group}]"] + [f"{name} = {target}" for name, target in project["entry-points"][group].items()]
    (dist_info / "entry_points.txt").write_text("\n".join(lines) + "\n")


def _check_dummy_plugin() -> None:
    dummy = get_verifier("dummy", suffix="!")
    assert isinstance(dummy, Verifier)
    assert "dummy" in available_verifiers()
    assert dummy.extract("the answer is Paris") == "Paris!"
    assert dummy.equivalent("Paris", "paris")


def test_installed_plugin_is_discovered(tmp_path, monkeypatch):
    get_verifier("math")  # fill the cache first: get_verifier must look again for a new name
    _install_like_pip(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    _check_dummy_plugin()


@pytest.mark.slow
def test_pip_installed_plugin_is_discovered(tmp_path, monkeypatch):
    source = tmp_path / "src"
    shutil.copytree(PLUGIN, source)
    site = tmp_path / "site"
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        "--quiet",
        "--target",
        str(site),
        str(source),
    ]
    subprocess.run(command, check=True, timeout=300)
    monkeypatch.syspath_prepend(str(site))
    _check_dummy_plugin()
