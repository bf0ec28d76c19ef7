"""Every config in conf/ composes, with every option of every group, and resolves."""

import pytest
from conftest import REPO_ROOT
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

CONF = REPO_ROOT / "conf"
# experiment/ holds presets of global deltas, composed by their own test below
NOT_GROUPS = ("experiment",)
GROUPS = sorted(p.name for p in CONF.iterdir() if p.is_dir() and any(p.glob("*.yaml")) and p.name not in NOT_GROUPS)
OPTIONS = [(g, f.stem) for g in GROUPS for f in sorted((CONF / g).glob("*.yaml"))]
PRESETS = sorted(f.stem for f in (CONF / "experiment").glob("*.yaml"))


def compose_with(*overrides):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


def test_default_config_composes():
    cfg = compose_with()
    assert cfg.model.name == "smollm2-135m" and cfg.data.name == "arith_frontier"
    assert cfg.run_name == f"{cfg.method.name}-smollm2-135m-arith_frontier-seed0"
    assert cfg.recipe.solver_prefill == "The answer is " and cfg.data.options.levels == [0]


@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_every_option_composes_and_resolves(group, option):
    cfg = compose_with(f"{group}={option}")
    container = OmegaConf.to_container(cfg, resolve=True)
    assert container[group] is not None


def test_every_method_has_the_loop_keys():
    for f in sorted((CONF / "method").glob("*.yaml")):
        cfg = compose_with(f"method={f.stem}")
        assert {"name", "score", "phases"} <= set(cfg.method), f.name
        assert cfg.method.score in ("avg_at_k", "maj_at_k", "greedy"), f.name


def test_every_data_config_names_an_installed_verifier():
    from ttcs.verify import available_verifiers

    for f in sorted((CONF / "data").glob("*.yaml")):
        cfg = compose_with(f"data={f.stem}")
        assert cfg.data.verifier in available_verifiers(), f.name


@pytest.mark.parametrize("preset", PRESETS)
def test_every_paper_preset_composes_to_the_papers_settings(preset):
    _, data, model = preset.split("_")
    cfg = compose_with(f"experiment={preset}")
    OmegaConf.to_container(cfg, resolve=True)
    names = {"qwen1.5b": "qwen2.5-math-1.5b", "qwen7b": "qwen2.5-math-7b", "qwen3-4b": "qwen3-4b-base"}
    assert cfg.model.name == names[model]
    assert cfg.data.name == data and cfg.backend.name == "vllm" and cfg.method.name == "ttcs"
    assert cfg.train.iterations == 15 and cfg.train.solver.learning_rate == 1e-6 and not cfg.train.solver.use_vllm
    # the large sets keep train=gpu's 64 questions x 8 samples; AIME and AMC (30-40 questions) take 16 x 16
    g, b = (8, 64) if data in ("math500", "minerva", "olympiadbench") else (16, 16)
    assert (cfg.train.solver.group_size, cfg.train.solver.batch_questions) == (g, b)
    assert cfg.eval.max_new_tokens == 3072
    if data.startswith("aime"):
        assert (cfg.eval.k, cfg.eval.temperature, cfg.eval.score) == (32, 0.6, "avg_at_k")  # mean@32
    else:
        assert cfg.eval.score == "greedy" and cfg.eval.greedy  # greedy pass@1


def test_a_preset_takes_command_line_overrides():
    cfg = compose_with("experiment=paper_aime24_qwen1.5b", "method=ttrl", "train.solver.steps=3")
    assert cfg.method.name == "ttrl" and cfg.train.solver.steps == 3 and cfg.train.solver.group_size == 16


def test_table_score_follows_the_protocol_except_for_self_consistency():
    from ttcs.loop import table_score

    assert table_score(compose_with("experiment=paper_math500_qwen1.5b")) == "greedy"
    assert table_score(compose_with("experiment=paper_math500_qwen1.5b", "method=self_consistency")) == "maj_at_k"
    assert table_score(compose_with("experiment=paper_aime24_qwen1.5b", "method=base")) == "avg_at_k"
    assert table_score(compose_with()) == "avg_at_k"
