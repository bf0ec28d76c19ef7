"""`ttcs.config.validate_config`: every shipped config passes; each class of impossible value is refused in one
line naming the key, the value and the allowed range; the CLI refuses before any model loads."""

import os
import subprocess
import sys
import time

import pytest
from conftest import REPO_ROOT
from hydra import compose, initialize_config_dir

from ttcs.config import DTYPE_NAMES, ConfigError, validate_config

CONF = REPO_ROOT / "conf"
METHODS = sorted(f.stem for f in (CONF / "method").glob("*.yaml"))
TRAINS = sorted(f.stem for f in (CONF / "train").glob("*.yaml"))
PRESETS = sorted(f.stem for f in (CONF / "experiment").glob("*.yaml"))
GROUPS = sorted(p.name for p in CONF.iterdir() if p.is_dir() and any(p.glob("*.yaml")))
OPTIONS = [(g, f.stem) for g in GROUPS for f in sorted((CONF / g).glob("*.yaml"))]


def compose_with(*overrides):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


def refusal(*overrides) -> str:
    """The line the console script prints: a wrong type is refused as Hydra composes, a wrong value by the rules."""
    from ttcs.cli import compose_jobs

    with pytest.raises(ConfigError) as err:
        for cfg, _ in compose_jobs(list(overrides)):
            validate_config(cfg)
    message = str(err.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_every_shipped_option_validates(group, option):
    validate_config(compose_with(f"{group}={option}"))


@pytest.mark.parametrize("preset", [None, *PRESETS])
def test_every_method_and_training_setting_validates_alone_and_under_every_preset(preset):
    for method in METHODS:
        for train in TRAINS:
            validate_config(
                compose_with(f"method={method}", f"train={train}", *([f"experiment={preset}"] if preset else []))
            )


REFUSED = [
    # band order and range
    (
        ["method=ttrl", "train.solver.band=[0.9,0.1]"],
        "train.solver.band=[0.9, 0.1]: must be [low, high] with 0 <= low < high <= 1, or null",
    ),
    (["train.solver.band=[-0.1,0.5]"], "train.solver.band=[-0.1, 0.5]: must be [low, high]"),
    (["train.solver.band=[0.2,0.5,0.7]"], "train.solver.band=[0.2, 0.5, 0.7]: must be [low, high]"),
    (["train.solver.band=[0.5,0.5]"], "train.solver.band=[0.5, 0.5]: must be [low, high] with 0 <= low < high"),
    (["train.solver.band=[0.2,1.1]"], "train.solver.band=[0.2, 1.1]: must be [low, high]"),
    # k and group sizes
    (["eval.k=0"], "eval.k=0: must be an integer >= 1"),
    (["train.solver.group_size=1"], "train.solver.group_size=1: must be an integer >= 2"),
    (["train.synthesizer.solver_samples=1"], "train.synthesizer.solver_samples=1: must be an integer >= 2"),
    (["recipe.claim_prefill=''"], "recipe.claim_prefill=: must be a non-empty text or null"),
    (["recipe.claim_max_new_tokens=0"], "recipe.claim_max_new_tokens=0: must be an integer >= 1"),
    (["recipe.problem_gate=maybe"], "recipe.problem_gate=maybe: must be true or false"),
    (["train.synthesizer.steps=0"], "train.synthesizer.steps=0: must be an integer >= 1"),
    # group sizes against batch sizes
    (
        ["train.solver.micro_batch=3"],
        "train.solver.micro_batch=3: must divide the mini-batch of 32 completions (batch_questions x group_size",
    ),
    (
        ["train=gpu", "train.synthesizer.updates_per_step=3"],
        "train.synthesizer.updates_per_step=3: must divide batch_questions x group_size = 128 completions",
    ),
    # temperatures, nucleus, lengths, ratios, iterations
    (["train.solver.temperature=0"], "train.solver.temperature=0.0: must be a number > 0"),
    (["eval.temperature=-0.5"], "eval.temperature=-0.5: must be a number >= 0"),
    (["train.synthesizer.solver_temperature=0"], "train.synthesizer.solver_temperature=0.0: must be a number > 0"),
    (["eval.top_p=0"], "eval.top_p=0.0: must be a number in (0, 1]"),
    (["train.curriculum.top_p=1.5"], "train.curriculum.top_p=1.5: must be a number in (0, 1]"),
    (["eval.max_new_tokens=0"], "eval.max_new_tokens=0: must be an integer >= 1"),
    (["train.solver.max_completion_length=-1"], "train.solver.max_completion_length=-1: must be an integer >= 1"),
    (["method.curriculum_ratio=1.5"], "method.curriculum_ratio=1.5: must be a number in [0, 1]"),
    (["train.iterations=0"], "train.iterations=0: must be an integer >= 1"),
    (["train.curriculum.total=0"], "train.curriculum.total=0: must be an integer >= 1 or null"),
    # names: phases, policies, scores, backends, templates, dtypes
    (
        ["method.phases=[solver,synthesizer]"],
        "method.phases=['solver', 'synthesizer']: must list some of "
        "synthesizer, curriculum, solver, each once, in that order",
    ),
    (["method.phases=[solver,teacher]"], "method.phases=['solver', 'teacher']: must list some of"),
    (["recipe.answer_policy=first"], "recipe.answer_policy=first: must be one of boxed, any"),
    (["method.score=best"], "method.score=best: must be one of avg_at_k, maj_at_k, greedy"),
    (["method=ttrl", "method.solver_reward=teacher"], "method.solver_reward=teacher: must be one of vote, gold"),
    (["train.curriculum.dedupe=fuzzy"], "train.curriculum.dedupe=fuzzy: must be one of exact, near"),
    (["backend.name=tgi"], "backend.name=tgi: must be one of auto, hf, vllm"),
    (
        ["train.synthesizer.template=no_such_prompt"],
        "train.synthesizer.template=no_such_prompt: must be a text file or a built-in template (synthesizer,",
    ),
    (["model.dtype=int3"], "model.dtype=int3: must be one of float32"),
    (["data.verifier=astrology"], "data.verifier=astrology: must be one of"),
    # local paths that do not exist
    (["model.path=/no/such/model"], "model.path=/no/such/model: no such local file or directory"),
    (["model.path=./models/mine"], "model.path=./models/mine: no such local file or directory"),
    (["model.path=models/qwen/1.5b"], "model.path=models/qwen/1.5b: no such local file or directory"),
    (["model.path=missing.gguf"], "model.path=missing.gguf: no such .gguf file"),
    (["data.path=/no/such/aime.parquet"], "data.path=/no/such/aime.parquet: no such file"),
    # switched sub-nodes are read, and checked, when switched on
    (["train.solver.lora.enabled=true", "train.solver.lora.r=0"], "train.solver.lora.r=0: must be an integer >= 1"),
    (
        ["train.synthesizer.lora.enabled=true", "train.synthesizer.lora.dropout=1.0"],
        "train.synthesizer.lora.dropout=1.0: must be a number in [0, 1)",
    ),
    (
        ["train.solver.dynamic_sampling.enabled=true", "train.solver.dynamic_sampling.oversample=0.5"],
        "train.solver.dynamic_sampling.oversample=0.5: must be a number >= 1",
    ),
    (
        ["train=gpu", "train.solver.dynamic_sampling.max_draws=0"],
        "train.solver.dynamic_sampling.max_draws=0: must be an integer >= 1",
    ),
    # the remaining keys, one rule each
    (["recipe.claim_check=always"], "recipe.claim_check=always: must be one of off, exists"),
    (["train.solver.scale_rewards=std"], "train.solver.scale_rewards=std: must be one of group, batch, none, true"),
    (["train.solver.epsilon=0"], "train.solver.epsilon=0.0: must be a number > 0"),
    (["train.solver.beta=-0.1"], "train.solver.beta=-0.1: must be a number >= 0"),
    (["train.solver.updates_per_step=0"], "train.solver.updates_per_step=0: must be an integer >= 1"),
    (["train.solver.micro_batch=0"], "train.solver.micro_batch=0: must be an integer >= 1"),
    (["train.synthesizer.solver_top_k=-1"], "train.synthesizer.solver_top_k=-1: must be an integer >= 0"),
    (["recipe.lenient_format=2"], "recipe.lenient_format=2: must be true or false"),
    (["recipe.claim_check=null"], "recipe.claim_check=null: must not be null"),
    (["recipe.problem_gate=null"], "recipe.problem_gate=null: must be true or false"),
    (["train.solver.steps=abc"], "train.solver.steps=abc: must be an integer"),
    (["seed=1.5"], "seed=1.5: must be an integer"),
    (["train.solver.band=5"], "train.solver.band=5: must be a list, e.g. [0.25,0.75]"),
    # keys the schema does not declare, with or without +, and options no group has
    (["train.solver.setps=3"], "train.solver.setps=3: no such key (did you mean train.solver.steps?)"),
    (["+train.solver.setps=3"], "train.solver.setps=3: no such key (did you mean train.solver.steps?)"),
    (["+method.copy_penaltty=false"], "method.copy_penaltty=false: no such key (did you mean method.copy_penalty?)"),
    (["+recipe.answer_policy=first"], "+recipe.answer_policy=first: recipe.answer_policy is a key of the config"),
    (["experiment=paper_aime24"], "experiment=paper_aime24: no such option; the options of experiment: paper_aime24_"),
    (["method=ttcss"], "method=ttcss: no such option; the options of method: "),
    (["recipe.name=huge"], "recipe.name=huge: must be one of paper, small_model"),
    (["train.curriculum.near_threshold=0"], "train.curriculum.near_threshold=0.0: must be a number in (0, 1]"),
    (["train.curriculum.max_size=0"], "train.curriculum.max_size=0: must be an integer >= 1 or null"),
    (["method.gamma=0"], "method.gamma=0.0: must be a number > 0"),
    (["method.repetition_threshold=1.5"], "method.repetition_threshold=1.5: must be a number in [0, 1]"),
    (["method.copy_penalty=perhaps"], "method.copy_penalty=perhaps: must be true or false"),
    (["backend.gpu_memory_utilization=0"], "backend.gpu_memory_utilization=0.0: must be a number in (0, 1]"),
    (["backend.tensor_parallel_size=2"], "backend.tensor_parallel_size=2: must be one of 1"),
    (["backend.sleep_level=3"], "backend.sleep_level=3: must be one of 1, 2"),
    (["model.chat_template=maybe"], "model.chat_template=maybe: must be one of auto, true, false"),
    (["eval.score=maj_at_k"], "eval.score=maj_at_k: must be one of avg_at_k, greedy"),
    (["data.limit=0"], "data.limit=0: must be an integer >= 1 or null"),
]

# Values the run accepts, or keys it does not read in that configuration.
ACCEPTED = [
    ["train.solver.band=[0,1]"],
    ["train.solver.band=null"],
    ["train=gpu", "train.solver.band=[0.25,0.75]"],
    ["train.solver.lora.r=0"],  # LoRA off: its keys are not read
    ["train.solver.dynamic_sampling.oversample=0.5"],  # dynamic sampling off in train=cpu
    ["recipe.claim_prefill=null", "recipe.claim_max_new_tokens=0"],  # no claim stage
    ["train=gpu", "recipe.answer_policy=first"],  # the paper recipe reads no small-model key
    ["method.copy_penalty=yes", "recipe.lenient_format=1"],  # Hydra reads yes/no, on/off, 1/0 as true/false
    ["recipe.solver_prefill=''"],
    ["train=gpu", "recipe=small_model"],
    ["recipe=paper"],
    ["method=ttrl", "method.gamma=0"],  # no Synthesizer phase reads gamma
    ["method=base", "train.iterations=0"],
]


@pytest.mark.parametrize(("overrides", "message"), REFUSED, ids=[" ".join(o) for o, _ in REFUSED])
def test_an_impossible_value_is_refused_in_one_line_naming_the_key(overrides, message):
    assert refusal(*overrides).startswith(message)


@pytest.mark.parametrize("overrides", ACCEPTED, ids=[" ".join(o) for o in ACCEPTED])
def test_a_possible_value_or_an_unread_key_is_accepted(overrides):
    validate_config(compose_with(*overrides))


def test_every_key_the_shipped_presets_set_is_declared_with_a_rule_or_a_type():
    """Each key of a composed preset is a field of the schema (a free-form mapping counts as one key)."""
    from ttcs.config import check_unknown_keys
    from ttcs.schema import Config

    for cfg in (compose_with("train=gpu", "method=ttcs", "recipe=small_model"), compose_with("method=wrong_vote")):
        check_unknown_keys(cfg, Config)


@pytest.mark.parametrize(
    ("processes", "overrides", "message"),
    [
        (
            3,
            ["train=debug"],
            "train.solver.micro_batch=8: the mini-batch of 8 completions (batch_questions x group_size "
            "/ updates_per_step) does not split into micro-batches on 3 processes; 8 completions do not divide among 3 "
            "processes: launch a process count that divides 8 (1, 2, 4, 8)",
        ),
        (
            2,
            ["train=debug", "train.solver.batch_questions=3", "train.solver.micro_batch=4"],
            "train.solver.micro_batch=4: the mini-batch of 12 completions (batch_questions x group_size / updates_per_step) "
            "does not split into micro-batches on 2 processes; micro_batch must divide 6 (completions per process): one of "
            "1, 2, 3, 6",
        ),
    ],
)
def test_under_accelerate_launch_the_split_over_the_processes_is_checked(monkeypatch, processes, overrides, message):
    """accelerate launch (torchrun) sets WORLD_SIZE in every process: the split ttcs.grpo makes is checked up front,
    with the same hint as its own refusal."""
    cfg = compose_with(*overrides)
    validate_config(cfg)  # fine on one process
    monkeypatch.setenv("WORLD_SIZE", str(processes))
    with pytest.raises(ConfigError) as err:
        validate_config(cfg)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)
    monkeypatch.setenv("WORLD_SIZE", "4")
    validate_config(compose_with("train=debug"))  # 8 completions split 2 per process


@pytest.mark.parametrize("path", ["Qwen/Qwen2.5-Math-1.5B", "gpt2", "embedded:smollm2-135m"])
def test_hub_ids_and_embedded_models_are_accepted_unchecked(path):
    validate_config(compose_with(f"model.path={path}"))


def test_an_existing_local_model_directory_is_accepted(tiny_model_dir):
    validate_config(compose_with(f"model.path={tiny_model_dir}"))


def test_the_module_example_runs():
    import doctest

    import ttcs.config

    assert doctest.testmod(ttcs.config).failed == 0


def test_dtype_names_match_the_loader():
    from ttcs.models import DTYPES

    assert set(DTYPE_NAMES) == set(DTYPES)


def test_run_refuses_before_it_touches_the_run_directory(tmp_path, tiny_model_dir):
    from ttcs.loop import run

    cfg = compose_with("method=ttrl", "train=debug", f"model.path={tiny_model_dir}", "train.solver.band=[0.9,0.1]")
    with pytest.raises(ConfigError, match=r"train\.solver\.band"):
        run(cfg, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_the_cli_refuses_a_bad_band_at_once_without_loading_a_model(tmp_path):
    """The issue's command, on the default (embedded) model: refused in about a second, one line, no traceback."""
    cmd = [
        sys.executable,
        "-m",
        "ttcs.cli",
        "method=ttrl",
        "train.solver.band=[0.9,0.1]",
        f"hydra.run.dir={tmp_path / 'run'}",
    ]
    t0 = time.time()
    out = subprocess.run(
        cmd,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TTCS_CACHE": str(tmp_path / "cache")},
    )
    elapsed = time.time() - t0
    assert out.returncode != 0
    assert out.stderr.strip().splitlines()[-1] == (
        "ttcs: train.solver.band=[0.9, 0.1]: must be [low, high] with 0 <= low < high <= 1, or null"
    )
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "cache").exists()  # the embedded model was never materialised
    assert not (tmp_path / "run" / "state.json").exists()
    assert elapsed < 60, elapsed  # ~1 s alone; importing torch would add ~10 s, loading the model far more


@pytest.mark.parametrize(("value", "ok"), [("auto", True), (1, True), (4, True), (0, False), ("many", False)])
def test_threads_is_auto_or_a_positive_count(value, ok):
    from omegaconf import OmegaConf

    from ttcs.config import ConfigError, validate_config

    cfg = OmegaConf.create({"threads": value})
    if ok:
        validate_config(cfg)
    else:
        with pytest.raises(ConfigError, match=r"^threads=.*: must be auto or a positive integer"):
            validate_config(cfg)
