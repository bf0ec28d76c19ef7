"""Every config in conf/ composes, with every option of every group, and resolves."""

import pytest
from conftest import REPO_ROOT
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

CONF = REPO_ROOT / "conf"
GROUPS = sorted(p.name for p in CONF.iterdir() if p.is_dir() and any(p.glob("*.yaml")))
OPTIONS = [(g, f.stem) for g in GROUPS for f in sorted((CONF / g).glob("*.yaml"))]


def compose_with(*overrides):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


def test_default_config_composes():
    cfg = compose_with()
    assert cfg.model.name == "smollm2-135m" and cfg.data.name == "arith"
    assert cfg.run_name == f"{cfg.method.name}-smollm2-135m-arith-seed0"


@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_every_option_composes_and_resolves(group, option):
    cfg = compose_with(f"{group}={option}")
    container = OmegaConf.to_container(cfg, resolve=True)
    assert container[group] is not None


def test_every_method_has_the_loop_keys():
    for f in sorted((CONF / "method").glob("*.yaml")):
        cfg = compose_with(f"method={f.stem}")
        assert {"name", "score", "iterations", "phases"} <= set(cfg.method), f.name
        assert cfg.method.score in ("avg_at_k", "maj_at_k", "greedy"), f.name


def test_every_data_config_names_an_installed_verifier():
    from ttcs.verify import available_verifiers

    for f in sorted((CONF / "data").glob("*.yaml")):
        cfg = compose_with(f"data={f.stem}")
        assert cfg.data.verifier in available_verifiers(), f.name
