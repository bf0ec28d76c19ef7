"""The `train` presets are deltas over one schema (ttcs/schema/train.py, where every key is declared and described):
`gpu.yaml` (the paper's setting) lists only where the Synthesizer differs from the schema's defaults, `cpu.yaml`
only what differs from `gpu` and `debug.yaml` only what differs from `cpu`; each composes to the full schema. A
preset picks its recipe (conf/recipe/) in its defaults list: the recipe's keys stay in their own group."""

import dataclasses
import re

import pytest
from conftest import REPO_ROOT
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from ttcs.schema import describe
from ttcs.schema.train import TrainConfig

TRAIN = REPO_ROOT / "conf" / "train"
RECIPE = REPO_ROOT / "conf" / "recipe"
# Each delta preset and the preset it is written over.
BASES = {"cpu": "gpu", "debug": "cpu"}
# The recipe each delta preset selects (gpu keeps config.yaml's: paper).
RECIPES = {"cpu": "small_model", "debug": "small_model_no_prefill"}


def composed(preset: str, *overrides: str):
    with initialize_config_dir(config_dir=str(TRAIN.parent), version_base="1.3"):
        return compose(config_name="config", overrides=[f"train={preset}", *overrides])


def train_node(preset: str) -> dict:
    return OmegaConf.to_container(composed(preset).train, resolve=False)


def recipe_node(preset: str, *overrides: str) -> dict:
    return OmegaConf.to_container(composed(preset, *overrides).recipe, resolve=False)


def flatten(node: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in node.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict) and value:
            flat.update(flatten(value, path))
        else:
            flat[path] = value
    return flat


def test_the_presets_are_exactly_the_ones_expected():
    assert sorted(f.stem for f in TRAIN.glob("*.yaml")) == ["cpu", "debug", "gpu"]


def schema_defaults() -> dict:
    return flatten(OmegaConf.to_container(OmegaConf.structured(TrainConfig), resolve=False))


@pytest.mark.parametrize("preset", ["gpu", *sorted(BASES)])
def test_a_preset_composes_to_the_full_schema(preset):
    # a misspelt key in a preset would add a key the run never reads: the composed group has exactly the schema's
    # keys (a free-form node such as model_init_kwargs counts as one key)
    keys = {
        k.split(".model_init_kwargs.")[0] + (".model_init_kwargs" if ".model_init_kwargs." in k else "")
        for k in flatten(train_node(preset))
    }
    declared = {name.removeprefix("train.") for name, *_ in describe(TrainConfig, "train.")}
    assert keys == declared


def test_the_paper_preset_lists_only_keys_it_changes_over_the_schema():
    own = flatten(OmegaConf.to_container(OmegaConf.load(TRAIN / "gpu.yaml"), resolve=False))
    defaults = schema_defaults()
    assert set(own) <= set(defaults), "gpu.yaml sets a key the schema does not declare"
    restated = {k: v for k, v in own.items() if defaults[k] == v}
    assert not restated, f"gpu.yaml restates the schema's defaults: {restated}"


@pytest.mark.parametrize(("preset", "base"), sorted(BASES.items()))
def test_a_delta_preset_lists_only_keys_it_changes(preset, base):
    own = OmegaConf.to_container(OmegaConf.load(TRAIN / f"{preset}.yaml"), resolve=False)
    assert own.pop("defaults") == [base, {"override /recipe@_global_.recipe": RECIPES[preset]}, "_self_"]
    under = flatten(train_node(base))
    restated = {k: v for k, v in flatten(own).items() if under.get(k, object()) == v}
    assert not restated, f"{preset}.yaml restates {base}'s values: {restated}"


def test_the_presets_differ_where_the_cpu_cannot_follow_the_paper():
    gpu, cpu, debug = (flatten(train_node(p)) for p in ("gpu", "cpu", "debug"))
    recipes = [recipe_node(p) for p in ("gpu", "cpu", "debug")]
    assert [r["name"] for r in recipes] == ["paper", "small_model", "small_model"]
    assert [r.get("solver_prefill") for r in recipes] == ["", "The answer is ", ""]
    assert recipes[1] == {**recipes[2], "solver_prefill": "The answer is "}
    assert (gpu["solver.band"], cpu["solver.band"], debug["solver.band"]) == ([0.25, 0.75], [0.25, 0.75], None)
    assert (gpu["solver.learning_rate"], cpu["solver.learning_rate"], debug["solver.learning_rate"]) == (
        1e-6,
        3e-6,
        1e-3,
    )
    assert gpu["solver.model_init_kwargs.dtype"] == "bfloat16" and cpu["solver.model_init_kwargs"] is None
    assert cpu["curriculum.max_new_tokens"] == "${train.synthesizer.max_completion_length}"
    # what debug does not change comes from cpu, and what cpu does not change from gpu
    assert cpu["solver.group_size"] == debug["solver.group_size"] == 4 and gpu["solver.group_size"] == 8
    assert gpu["solver.epsilon"] == cpu["solver.epsilon"] == debug["solver.epsilon"] == 0.2


def test_every_key_of_the_schema_has_one_line_of_meaning():
    for name, kind, _, meaning in describe(TrainConfig, "train."):
        assert kind and meaning and "\n" not in meaning, name
    assert all(f.metadata.get("meaning") for f in dataclasses.fields(TrainConfig))


def test_every_key_the_paper_preset_sets_says_why_in_a_comment_above_it():
    lines = (TRAIN / "gpu.yaml").read_text().splitlines()
    undescribed = [
        line.strip()
        for before, line in zip(lines, lines[1:], strict=False)
        if re.match(r"\s*\w+:", line)
        and not before.strip().startswith("#")
        and not line.strip().endswith(":")
        and not re.match(r"\s*(defaults|- )", line)
    ]
    assert not undescribed


def test_the_recipes_are_exactly_the_ones_expected():
    from ttcs.recipes import RECIPE_NAMES

    assert sorted(f.stem for f in RECIPE.glob("*.yaml")) == ["paper", "small_model", "small_model_no_prefill"]
    assert RECIPE_NAMES == ("paper", "small_model")


@pytest.mark.parametrize("preset", ["gpu", "cpu", "debug"])
def test_the_command_line_recipe_wins_over_the_presets(preset):
    assert recipe_node(preset, "recipe=paper") == recipe_node("gpu") and recipe_node("gpu")["name"] == "paper"
    assert recipe_node(preset, "recipe=small_model") == recipe_node("cpu")


def test_the_recipe_keys_left_the_train_group():
    moved = {
        "answer_policy",
        "solver.prefill",
        "synthesizer.lenient_format",
        "synthesizer.problem_gate",
        "synthesizer.claim_prefill",
        "synthesizer.claim_max_new_tokens",
        "synthesizer.claim_check",
    }
    for preset in ("gpu", "cpu", "debug"):
        assert not moved & set(flatten(train_node(preset)))


@pytest.mark.parametrize("name", ["paper", "small_model", "small_model_no_prefill"])
def test_every_key_of_a_recipe_is_described_by_a_comment_above_it(name):
    lines = (RECIPE / f"{name}.yaml").read_text().splitlines()
    undescribed = [
        line.strip()
        for before, line in zip(lines, lines[1:], strict=False)
        if re.match(r"\w+:", line) and not before.strip().startswith("#")
    ]
    assert not undescribed
