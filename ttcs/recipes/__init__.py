"""Recipes: how the method's steps adapt to the model at hand, chosen by the ``recipe`` config group.

The loop, the phases, the rewards and evaluation call a recipe's hooks unconditionally
(``ctx.recipe``, built by `get_recipe` from ``cfg.recipe``); what a recipe changes lives in
its own module and its keys in ``conf/recipe/<name>.yaml``:

* ``paper`` (`ttcs.recipes.paper.Recipe`, the base class): the published method. A Solver
  answer counts only when boxed, the Solver prompt ends where the template ends, a variant
  must keep the strict format (a ``<question>`` block and a boxed answer after it:
  `ttcs.rewards.format.parse_variant`), and there is no claim stage: the claimed answer is
  the boxed one.
* ``small_model`` (`ttcs.recipes.small_model.SmallModelRecipe`): the CPU setting's
  adaptations for models too small to follow that format (docs/cpu-setting.md). The Solver's
  reply starts with a prefill ("The answer is ") and its stated number counts as its answer;
  a variant may leave its block unclosed and its answer out, but its question must then
  state a problem (the problem gate); the Synthesizer states the missing answers itself (the
  claim stage), and the claim check asks that the Solver's vote reach them.

Hooks (`ttcs.recipes.paper.Recipe` documents each): ``solver_prefill`` and
``solver_reply`` (the Solver's prompt suffix and whole reply), ``read_answer`` (the answer a
Solver completion gives a vote), ``parse`` (a Synthesizer output into a variant),
``requires_answer`` (whether the curriculum filter asks for a claimed answer), ``claimer``
and ``claims`` (the claim stage), ``claim_verdict`` (the claim check).
"""

from __future__ import annotations

from collections.abc import Mapping

from ttcs.config import as_schema
from ttcs.recipes.paper import Recipe
from ttcs.recipes.small_model import SmallModelRecipe
from ttcs.schema.run import RecipeConfig

RECIPES: dict[str, type[Recipe]] = {"paper": Recipe, "small_model": SmallModelRecipe}
RECIPE_NAMES = tuple(RECIPES)


def get_recipe(node: RecipeConfig | Mapping | None) -> Recipe:
    """The recipe a config's ``recipe`` node names, built from its keys; the paper's for a config without one.

    Example:
        >>> get_recipe({"name": "small_model", "solver_prefill": "The answer is "}).solver_reply("5.")
        'The answer is 5.'
        >>> get_recipe(None).name
        'paper'
    """
    if node is None:
        return Recipe()
    name = as_schema(RecipeConfig, node).name
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; choose one of {', '.join(RECIPES)}")
    return RECIPES[name](node)
