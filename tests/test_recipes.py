"""The recipes: the paper's hooks are the published method, the small-model recipe overrides exactly its own."""

from __future__ import annotations

import pytest

from ttcs.recipes import RECIPES, get_recipe
from ttcs.recipes.paper import Recipe
from ttcs.recipes.small_model import SmallModelRecipe, claim_verdict
from ttcs.rewards.format import parse_variant
from ttcs.verify import get_verifier

SMALL = {
    "name": "small_model",
    "answer_policy": "any",
    "solver_prefill": "The answer is ",
    "lenient_format": True,
    "problem_gate": True,
    "claim_prefill": "The answer is ",
    "claim_max_new_tokens": 8,
    "claim_check": "agrees",
}
OUTPUTS = [
    "<question>What is 2 + 5?</question> so \\boxed{7}",
    "<question>What is 2 + 5?</question> \\boxed{ }",
    "<question>\nHow many legs do 3 cats have?\n\nEach has 4.",
    "no block",
    "<question></question> \\boxed{1}",
    "<question>Compute 6 * 7.</question> \\boxed{\\frac{84}{2}} and \\boxed{42}",
]


def test_the_registry_names_each_recipe_once():
    assert RECIPES == {"paper": Recipe, "small_model": SmallModelRecipe}
    assert type(get_recipe(None)) is Recipe and type(get_recipe({"name": "paper"})) is Recipe
    assert type(get_recipe(SMALL)) is SmallModelRecipe
    with pytest.raises(ValueError, match="unknown recipe 'tiny'"):
        get_recipe({"name": "tiny"})


def test_the_paper_recipe_is_the_published_method():
    paper, verifier = get_recipe({"name": "paper"}), get_verifier("math")
    assert paper.solver_prefill == "" and paper.solver_reply("so 5") == "so 5" and paper.requires_answer
    assert paper.read_answer("the answer is 5", verifier) is None and paper.read_answer("\\boxed{5}", verifier) == "5"
    assert [paper.parse(t) for t in OUTPUTS] == [parse_variant(t) for t in OUTPUTS]
    asked = []
    assert paper.claimer(lambda: asked.append(1)) is None and not asked  # no claim stage: no backend built
    assert (
        paper.claims(
            None, None, OUTPUTS, [paper.parse(t) for t in OUTPUTS], verifier=verifier, synthesizer_prefill="", seed=0
        )
        == {}
    )


def test_in_the_strict_format_the_claim_check_exists_adds_nothing():
    """A variant that parses strictly has its boxed answer, so `exists` passes every one (the paper's verdict)."""
    paper, verifier = Recipe(), get_verifier("math")
    parsed = [p for p in (parse_variant(t) for t in OUTPUTS) if p.ok]
    assert parsed
    for p in parsed:
        assert paper.claim_verdict(p.answer, ["1"], verifier, p.question) is True
        assert claim_verdict(p.answer, ["1"], verifier, "exists") is True


def test_the_small_model_recipe_overrides_the_answer_reading_the_parse_and_the_claim_stage():
    small, verifier = get_recipe(SMALL), get_verifier("math")
    assert small.solver_prefill == "The answer is " and small.solver_reply("5.") == "The answer is 5."
    assert small.read_answer("5.", verifier) == "5" and not small.requires_answer
    lenient = small.parse("<question>\nHow many legs do 3 cats have?\n\nEach has 4.")
    assert (lenient.question, lenient.answer) == ("How many legs do 3 cats have?", None)
    assert not small.parse("<question>\n(your new problem)").ok  # the problem gate
    backend = object()
    assert small.claimer(lambda: backend) is backend
    assert get_recipe({**SMALL, "claim_prefill": None}).claimer(lambda: backend) is None
    assert small.claim_verdict("7", ["7", "7", "3"], verifier, "What is 2 + 5?") is True
    assert small.claim_verdict("7", ["3", "3", "7"], verifier, "What is 2 + 5?") is False
    boxed = get_recipe({**SMALL, "answer_policy": "boxed"})
    assert boxed.read_answer("5.", verifier) is None and boxed.read_answer("\\boxed{5}", verifier) == "5"


def test_a_run_context_holds_the_recipe_of_its_config(tmp_path):
    from omegaconf import OmegaConf

    from ttcs.context import RunContext
    from ttcs.rundir import RunDir

    ctx = RunContext(OmegaConf.create({"recipe": SMALL}), RunDir(tmp_path), [], get_verifier("math"))
    assert isinstance(ctx.recipe, SmallModelRecipe) and ctx.read_answer("12 apples") == "12"
    paper = RunContext(OmegaConf.create({"recipe": {"name": "paper"}}), RunDir(tmp_path), [], get_verifier("math"))
    assert type(paper.recipe) is Recipe and paper.read_answer("12 apples") is None
