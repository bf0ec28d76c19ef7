"""The Synthesizer side: templates, prompts, batched Solver scoring, the reward fn and its disk records,
and the curriculum phase, with stub backends so the variants parse."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from conftest import REPO_ROOT, build_tiny_tokenizer
from hydra import compose, initialize_config_dir

from ttcs import synthesizer
from ttcs.context import RunContext
from ttcs.curriculum import curriculum_phase
from ttcs.data import Problem
from ttcs.prompts import load_template
from ttcs.rewards.synthesizer import synthesizer_rewards
from ttcs.rundir import RunDir, read_jsonl
from ttcs.synthesizer import get_synthesizer_reward
from ttcs.variants import solver_consistency, synthesizer_prompt

PROBLEMS = [
    Problem(
        id="q1", question="Tom has 3 apples and buys 4 more. How many apples does he have?", answer="7", source="t"
    ),
    Problem(id="q2", question="Solve for x: 2x + 3 = 11.", answer="4", source="t"),
]
GOOD = (
    "<question>A baker bakes 5 loaves in the morning and 6 in the afternoon. How many loaves in all?"
    "</question> 5 + 6 = 11, so \\boxed{11}"
)
GOOD2 = "<question>A ship sails 12 km north and then 9 km south. How far is it from the port?</question> \\boxed{3}"
BAD = "I could not think of a problem."


class StubSolver:
    """Answers every question with a fixed cycle of answers; counts backend calls."""

    name = "stub"

    def __init__(self, answers):
        self.answers, self.calls, self.samplings = answers, [], []

    def generate(self, prompts, sampling, desc=""):
        self.calls.append((len(prompts), sampling.n))
        self.samplings.append(sampling)
        return [[f"so \\boxed{{{self.answers[j % len(self.answers)]}}}" for j in range(sampling.n)] for _ in prompts]


class StubWriter:
    """A Synthesizer backend that writes canned variants."""

    name = "stub"

    def __init__(self, outputs):
        self.outputs = outputs

    def generate(self, prompts, sampling, desc=""):
        return [
            [self.outputs[(i * sampling.n + j) % len(self.outputs)] for j in range(sampling.n)]
            for i in range(len(prompts))
        ]


def make_ctx(tmp_path, *overrides):
    from ttcs.verify import get_verifier

    with initialize_config_dir(config_dir=str(REPO_ROOT / "conf"), version_base="1.3"):
        cfg = compose(
            config_name="config",
            overrides=[
                "method=ttcs",
                "train=debug",
                "model.path=unused",
                "train.synthesizer.prefill=",
                "recipe.lenient_format=false",
                "recipe.claim_check=off",
                *overrides,
            ],
        )
    ctx = RunContext(cfg, RunDir(tmp_path), list(PROBLEMS), get_verifier("math"))
    ctx.tokenizer = build_tiny_tokenizer()
    return ctx


def test_templates():
    assert "{reference}" in load_template("synthesizer")
    assert "{reference}" not in load_template("synthesizer_r_zero")
    with pytest.raises(FileNotFoundError, match="synthesizer_r_zero"):
        load_template("no-such-template")


def test_prompt_carries_the_reference_and_the_format(tmp_path):
    tok = build_tiny_tokenizer()
    text = synthesizer_prompt(tok, load_template("synthesizer_compact"), PROBLEMS[0].question)
    assert PROBLEMS[0].question in text and "<question>" in text and "\\boxed{answer}" in text
    paper = synthesizer_prompt(tok, load_template("synthesizer"), PROBLEMS[0].question, prefill="[Design]\n")
    assert PROBLEMS[0].question in paper and paper.endswith("[Design]\n")
    for part in (
        "Key step",
        "<question>",
        "Final Answer: \\boxed{the single number}",
        "single number",
        "not be equivalent to the reference",
        "Worked examples",
    ):
        assert part in paper
    assert text.startswith("<|im_start|>user") and text.endswith("<|im_start|>assistant\n")
    free = synthesizer_prompt(tok, load_template("synthesizer_r_zero"), None)
    assert "<reference>" not in free


def test_solver_consistency_is_one_batched_call(tmp_path):
    ctx = make_ctx(tmp_path, "train.synthesizer.solver_samples=4", "train.synthesizer.solver_top_k=40")
    solver = StubSolver(["3", "3", "4", "3"])
    scored = solver_consistency(ctx, solver, ["q a", "q b", "q c"], seed=0)
    assert solver.calls == [(3, 4)]
    assert [s for _, s in scored] == [0.75, 0.75, 0.75]
    assert scored[0][0] == ["3", "3", "4", "3"]
    assert solver.samplings[0].top_k == 40 and solver.samplings[0].temperature == 1.0


class StubRambler(StubSolver):
    """Boxes only the first of every four samples; the others state an answer in words."""

    def generate(self, prompts, sampling, desc=""):
        self.calls.append((len(prompts), sampling.n))
        return [["so \\boxed{5}" if j % 4 == 0 else "the answer is 5" for j in range(sampling.n)] for _ in prompts]


@pytest.mark.parametrize(
    ("policy", "answers", "s"), [("boxed", ["5", None, None, None], 0.0), ("any", ["5", "5", "5", "5"], 1.0)]
)
def test_solver_consistency_reads_answers_under_the_answer_policy(tmp_path, policy, answers, s):
    ctx = make_ctx(tmp_path, "train.synthesizer.solver_samples=4", f"recipe.answer_policy={policy}")
    scored = solver_consistency(ctx, StubRambler([]), ["q"], seed=0)
    assert scored == [(answers, s)]


def test_reward_fn_scores_the_batch_and_appends_every_variant(tmp_path):
    ctx = make_ctx(tmp_path, "train.synthesizer.solver_samples=4")
    solver = StubSolver(["11", "11", "12", "13"])  # consistency 0.5 -> capability 1.0
    metrics: dict = {}
    reward = get_synthesizer_reward(ctx, 1, solver, updates_per_generation=4)
    texts = [GOOD, BAD, GOOD2, GOOD]
    refs = [PROBLEMS[0].question, PROBLEMS[0].question, PROBLEMS[1].question, PROBLEMS[1].question]
    got = reward(
        prompts=["p"] * 4,
        completions=texts,
        reference_id=["q1", "q1", "q2", "q2"],
        reference=refs,
        trainer_state=SimpleNamespace(global_step=8),
        log_metric=metrics.__setitem__,
    )
    assert len(solver.calls) == 1 and solver.calls[0][0] == 3  # one call for the 3 parseable variants
    expected = synthesizer_rewards(texts, refs, [0.5, None, 0.5, 0.5], gamma=1.2)
    assert got == pytest.approx([b.total for b in expected])
    assert got[1] == 0.0 and got[0] > 0
    records = read_jsonl(ctx.rundir.curriculum_path(1))
    assert len(records) == 4
    assert records[1]["parse_error"] and records[1]["reward"]["total"] == 0.0
    assert records[0]["consistency"] == 0.5 and records[0]["solver_answers"] == ["11", "11", "12", "13"]
    assert records[0]["phase"] == "synthesizer" and records[0]["reference_id"] == "q1"
    assert all(r["step"] == 3 for r in records)  # 8 optimizer steps done, 4 per generation: the third generation
    assert metrics["parsed_share"] == 0.75 and metrics["reward_mean"] == pytest.approx(sum(got) / 4)
    assert synthesizer.phase_summary(records) == {
        k: metrics[k] for k in ("reward_mean", "parsed_share", "capability_mean")
    }
    # the label-free health signals (`ttcs.health.synthesizer_signals`): the unparseable output is the one unpaid
    assert metrics["unpaid_format"] == 0.25 and metrics["unpaid_share"] == 0.25
    mean = sum(got) / 4
    assert metrics["reward_std"] == pytest.approx((sum((g - mean) ** 2 for g in got) / 4) ** 0.5)


def test_curriculum_phase_filters_mixes_and_writes_the_training_set(tmp_path, monkeypatch):
    ctx = make_ctx(tmp_path, "train.curriculum.variants_per_question=3")
    copy = f"<question>{PROBLEMS[1].question}</question> \\boxed{{4}}"
    backends = {"synthesizer": StubWriter([GOOD, BAD, copy]), "solver": StubSolver(["1", "2"])}
    monkeypatch.setattr(ctx, "backend", lambda role, it: backends[role])
    info = curriculum_phase(ctx, 1)
    records = read_jsonl(ctx.rundir.curriculum_path(1))
    assert len(records) == info["variants"] == 6 and all(r["phase"] == "curriculum" for r in records)
    assert info["parsed_share"] == pytest.approx(4 / 6)
    assert info["kept"] == 1  # GOOD twice -> one exact duplicate; the copy of a test question dropped
    assert info["dropped"]["unparseable"] == 2
    train = [json.loads(line) for line in ctx.rundir.curriculum_train_path(1).read_text().splitlines()]
    assert {t["id"] for t in train} >= {"q1", "q2"} and all(t["answer"] is None for t in train)
    assert sum(t["source"] == "synthetic" for t in train) == info["synthetic_in_train"] == 1


def test_frozen_synthesizer_skips_training(tmp_path):
    ctx = make_ctx(tmp_path, "method.frozen_synthesizer=true")
    assert synthesizer.synthesizer_phase(ctx, 1) == {"frozen": True}


def test_prefill_and_lenient_format_for_small_models(tmp_path):
    ctx = make_ctx(
        tmp_path,
        "train.synthesizer.prefill='<question>\n'",
        "recipe.lenient_format=true",
        "train.synthesizer.solver_samples=2",
    )
    solver = StubSolver(["5", "6"])
    reward = synthesizer_reward(ctx, 1, solver)
    # what the model writes after the prefilled "<question>\n": an unclosed block, no boxed answer
    texts = ["A farmer has 6 cows and buys 3 more. How many cows?\n\nThe farmer has 9 cows.", "\n\n"]
    got = reward(prompts=["p"] * 2, completions=texts, reference_id=["q1", "q1"], reference=[PROBLEMS[0].question] * 2)
    records = read_jsonl(ctx.rundir.curriculum_path(1))
    assert records[0]["question"] == "A farmer has 6 cows and buys 3 more. How many cows?"
    assert records[0]["claimed_answer"] is None and records[0]["output"].startswith("<question>\n")
    assert records[1]["question"] is None  # an empty question still fails the format
    assert got[0] > 0 and got[1] == 0.0 and solver.calls == [(1, 2)]


def test_curriculum_total_below_the_number_of_questions_samples_a_subset(tmp_path, monkeypatch):
    ctx = make_ctx(tmp_path, "train.curriculum.total=1")
    backends = {"synthesizer": StubWriter([GOOD]), "solver": StubSolver(["1", "2"])}
    monkeypatch.setattr(ctx, "backend", lambda role, it: backends[role])
    info = curriculum_phase(ctx, 1)
    records = read_jsonl(ctx.rundir.curriculum_path(1))
    assert info["variants"] == len(records) == 1 and records[0]["reference_id"] in {"q1", "q2"}


class StubClaimer:
    """A Synthesizer backend for the claim stage: states 7 for every context; keeps the contexts and samplings."""

    name = "stub"

    def __init__(self, answer="7."):
        self.answer, self.contexts, self.samplings = answer, [], []

    def generate(self, prompts, sampling, desc=""):
        self.contexts += prompts
        self.samplings.append(sampling)
        return [[self.answer] for _ in prompts]


def lenient_ctx(tmp_path, *overrides):
    return make_ctx(
        tmp_path,
        "train.synthesizer.prefill='<question>\n'",
        "recipe.lenient_format=true",
        "train.synthesizer.solver_samples=2",
        "recipe.claim_prefill='The answer is '",
        *overrides,
    )


def synthesizer_reward(ctx, iteration, solver, **kwargs):
    """`get_synthesizer_reward`, called as TRL calls it in the first generation of a phase."""
    reward = get_synthesizer_reward(ctx, iteration, solver, **kwargs)
    return lambda **columns: reward(trainer_state=SimpleNamespace(global_step=0), **columns)


def test_claim_stage_gives_unclaimed_variants_the_synthesizers_own_answer(tmp_path):
    from ttcs.diagnostics import is_well_posed
    from ttcs.verify import get_verifier

    ctx = lenient_ctx(tmp_path)
    claimer, solver = StubClaimer(), StubSolver(["7", "7"])
    reward = synthesizer_reward(ctx, 1, solver, claimer=claimer)
    texts = [
        "A farmer has 4 cows and buys 3 more. How many cows?\n\nrambling on",
        "\n\n",
        "Ann has 2 pens and gets 5. How many pens?\n</question> \\boxed{7}",
    ]
    prompts = ["PROMPT-A<question>\n", "PROMPT-B<question>\n", "PROMPT-C<question>\n"]
    got = reward(prompts=prompts, completions=texts, reference_id=["q1"] * 3, reference=[PROBLEMS[0].question] * 3)
    # one greedy call, only for the variant that parsed without a claimed answer
    assert claimer.contexts == [
        "PROMPT-A<question>\nA farmer has 4 cows and buys 3 more. How many cows?\n</question>\nThe answer is "
    ]
    assert claimer.samplings[0].temperature == 0.0 and claimer.samplings[0].n == 1
    records = read_jsonl(ctx.rundir.curriculum_path(1))
    assert records[0]["claimed_answer"] == "7" and records[0]["claimed_by"] == "claim_stage"
    assert records[1]["question"] is None and "claimed_by" not in records[1]
    assert records[2]["claimed_answer"] == "7" and "claimed_by" not in records[2]
    # with claim_check=off the claim is a diagnostic: the reward is the one without it
    plain = synthesizer_reward(lenient_ctx(tmp_path / "plain"), 1, StubSolver(["7", "7"]))
    assert got == plain(
        prompts=prompts, completions=texts, reference_id=["q1"] * 3, reference=[PROBLEMS[0].question] * 3
    )
    verifier = get_verifier("math")
    assert is_well_posed(records[0], verifier)
    solver_disagrees = dict(records[0], solver_answers=["8", "8"])
    assert not is_well_posed(solver_disagrees, verifier)


def test_claim_stage_with_no_number_leaves_no_claim(tmp_path):
    ctx = lenient_ctx(tmp_path)
    reward = synthesizer_reward(ctx, 1, StubSolver(["7"]), claimer=StubClaimer("\n\n"))
    reward(
        prompts=["P<question>\n"],
        completions=["Bo has 3 hats and 4 caps. How many in all?"],
        reference_id=["q1"],
        reference=[PROBLEMS[0].question],
    )
    (record,) = read_jsonl(ctx.rundir.curriculum_path(1))
    assert record["claimed_answer"] is None and record["claimed_by"] == "claim_stage"


def test_curriculum_phase_claims_with_the_trained_synthesizer(tmp_path, monkeypatch):
    ctx = lenient_ctx(tmp_path, "train.curriculum.variants_per_question=1", "train.curriculum.total=2")
    writer, claimer = StubWriter(["Mia has 5 pens and buys 2 more. How many pens?"]), StubClaimer()
    seen = []

    def backend(role, iteration):
        seen.append((role, iteration))
        return {"synthesizer": writer if len(seen) == 1 else claimer, "solver": StubSolver(["7", "7"])}[role]

    monkeypatch.setattr(ctx, "backend", backend)
    curriculum_phase(ctx, 1)
    assert ("synthesizer", 1) in seen[1:]  # the claim stage uses the phase's (trained) Synthesizer
    records = read_jsonl(ctx.rundir.curriculum_path(1))
    assert [r["claimed_answer"] for r in records] == ["7", "7"]
    assert all(c.endswith("How many pens?\n</question>\nThe answer is ") for c in claimer.contexts)


def test_problem_gate_off_lets_any_text_parse(tmp_path):
    from ttcs.recipes.small_model import parse_lenient

    assert parse_lenient("<question>\n(your new problem)").reason
    assert parse_lenient("<question>\n(your new problem)", problem_gate=False).question == "(your new problem)"
    ctx = make_ctx(
        tmp_path,
        "train.synthesizer.prefill='<question>\n'",
        "recipe.lenient_format=true",
        "train.synthesizer.solver_samples=2",
        "recipe.problem_gate=false",
    )
    texts = ["(your new problem)", "A bus carries 12 people and 5 get off. How many are left?"]
    got = synthesizer_reward(ctx, 1, StubSolver(["5", "6"]))(
        prompts=["p"] * 2, completions=texts, reference_id=["q1"] * 2, reference=[PROBLEMS[0].question] * 2
    )
    assert got[0] > 0  # the ablation: a template slot earns the capability reward again
    gated = make_ctx(
        tmp_path / "gated",
        "train.synthesizer.prefill='<question>\n'",
        "recipe.lenient_format=true",
        "train.synthesizer.solver_samples=2",
    )
    assert (
        synthesizer_reward(gated, 1, StubSolver(["5", "6"]))(
            prompts=["p"] * 2, completions=texts, reference_id=["q1"] * 2, reference=[PROBLEMS[0].question] * 2
        )[0]
        == 0.0
    )


CLAIM_TEXTS = [
    "A farmer has 4 cows and buys 3 more. How many cows?",
    "Ann has 2 pens and gets 5. How many pens?\n</question> \\boxed{9}",
    "Bo has 3 hats and 4 caps. How many in all?",
]


def claim_rewards(tmp_path, check, *, claimer=True):
    """Rewards of CLAIM_TEXTS with the Solver's 4 samples 7, 8, 7, 9 (s = 0.5: the capability reward's peak)."""
    ctx = lenient_ctx(
        tmp_path, f"recipe.claim_check={check}", "method.repetition_penalty=false", "train.synthesizer.solver_samples=4"
    )
    reward = synthesizer_reward(ctx, 1, StubSolver(["7", "8", "7", "9"]), claimer=StubClaimer() if claimer else None)
    got = reward(
        prompts=["P<question>\n"] * 3,
        completions=CLAIM_TEXTS,
        reference_id=["q1"] * 3,
        reference=[PROBLEMS[0].question] * 3,
    )
    return got, read_jsonl(ctx.rundir.curriculum_path(1))


def test_claim_check_agrees_pays_only_claims_the_solver_vote_reaches(tmp_path):
    got, records = claim_rewards(tmp_path, "agrees")
    # claims: 7 (claim stage), 9 (boxed by the writer), 7 (claim stage); the vote is 7
    assert [r["claimed_answer"] for r in records] == ["7", "9", "7"]
    assert got[0] == pytest.approx(1.0) and got[2] == pytest.approx(1.0)
    assert got[1] == 0.0 and records[1]["reward"]["claim"] is False and records[1]["reward"]["capability"] == 1.0
    assert [r["reward"]["claim"] for r in records] == [True, False, True]
    # no vote, no confirmed claim: 4 samples that all differ (s = 0.25), or a 7/8 tie (s = 0.5)
    for answers, check, expected in (
        (["7", "8", "9", "6"], "agrees", 0.0),
        (["7", "8", "7", "8"], "agrees", 0.0),
        (["7", "8", "9", "6"], "off", pytest.approx(0.708066, abs=1e-6)),
    ):
        ctx = lenient_ctx(
            tmp_path / f"{check}-{''.join(answers)}",
            "train.synthesizer.solver_samples=4",
            f"recipe.claim_check={check}",
            "method.repetition_penalty=false",
        )
        scattered = synthesizer_reward(ctx, 1, StubSolver(answers), claimer=StubClaimer())
        assert scattered(
            prompts=["P<question>\n"],
            completions=CLAIM_TEXTS[:1],
            reference_id=["q1"],
            reference=[PROBLEMS[0].question],
        ) == [expected]
    # the same outputs without the check: the unconfirmed claim earns the capability reward too
    off, off_records = claim_rewards(tmp_path / "off", "off")
    assert off == pytest.approx([1.0, 1.0, 1.0]) and [r["reward"]["claim"] for r in off_records] == [None] * 3


def test_claim_check_exists_needs_a_claimed_answer(tmp_path):
    with_claims, _ = claim_rewards(tmp_path, "exists")
    assert with_claims == pytest.approx([1.0, 1.0, 1.0])
    # no claim stage: only the variant that boxed its own answer has a claim
    without, records = claim_rewards(tmp_path / "none", "exists", claimer=False)
    assert without == pytest.approx([0.0, 1.0, 0.0]) and [r["reward"]["claim"] for r in records] == [False, True, False]


def test_curriculum_drops_variants_whose_claim_the_vote_does_not_reach(tmp_path, monkeypatch):
    ctx = lenient_ctx(
        tmp_path,
        "recipe.claim_check=agrees",
        "train.curriculum.variants_per_question=1",
        "train.curriculum.total=2",
        "train.curriculum.dedupe=exact",
    )
    writer = StubWriter(
        [
            "Mia has 5 pens and buys 2 more. How many pens?\n</question> \\boxed{7}",
            "Li has 4 cups and breaks 1. How many cups?\n</question> \\boxed{9}",
        ]
    )
    monkeypatch.setattr(
        ctx, "backend", lambda role, it: {"synthesizer": writer, "solver": StubSolver(["7", "7"])}[role]
    )
    info = curriculum_phase(ctx, 1)
    assert info["kept"] == 1 and info["dropped"]["claim_unconfirmed"] == 1
    train = read_jsonl(ctx.rundir.curriculum_train_path(1))
    assert [r["question"] for r in train if r["source"] == "synthetic"] == [
        "Mia has 5 pens and buys 2 more. How many pens?"
    ]


def test_claim_stage_docstring_examples_run():
    import doctest

    import ttcs.recipes.small_model as module  # claim_prompts' example

    assert doctest.testmod(module).failed == 0
