"""The paper recipe: the published method, and the base class whose hooks every recipe overrides.

Each hook is what the method does at one point where a recipe may differ (see `ttcs.recipes`):
the phases, the rewards and evaluation call them unconditionally.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from ttcs.config import as_schema
from ttcs.rewards.format import parse_variant
from ttcs.schema.run import RecipeConfig
from ttcs.types import ParsedVariant
from ttcs.voting import boxed_answer

if TYPE_CHECKING:  # annotations only
    from ttcs.generation import GenerationBackend
    from ttcs.verify import Verifier


class Recipe:
    """The published method: boxed answers, no Solver prefill, the strict variant format, no claim stage."""

    name = "paper"
    # The curriculum filter drops a variant without a claimed answer: the strict format always has one
    requires_answer = True

    def __init__(self, node: RecipeConfig | Mapping | None = None):
        self.node = as_schema(RecipeConfig, node)

    @property
    def solver_prefill(self) -> str:
        """Text every Solver prompt ends with, so that every Solver reply starts with it: none."""
        return ""

    def solver_reply(self, completion: str) -> str:
        """The Solver's whole reply: the prefill its prompt ended with, then the sampled completion."""
        return self.solver_prefill + completion

    def read_answer(self, completion: str, verifier: Verifier) -> str | None:
        """The answer a Solver completion gives a vote (the pseudo-label, s, the claim): its last boxed answer.

        A completion without a box is an unanswered sample (None), so rambling never becomes a vote.

        Example:
            >>> Recipe().read_answer("so the answer is 5", None), Recipe().read_answer("thus \\\\boxed{ 7 }", None)
            (None, '7')
        """
        return boxed_answer(self.solver_reply(completion))

    def parse(self, text: str) -> ParsedVariant:
        """A Synthesizer output (after the Synthesizer prefill) as a variant: the strict format of `parse_variant`."""
        return parse_variant(text)

    def claimer(self, synthesizer: Callable[[], GenerationBackend]) -> GenerationBackend | None:
        """The backend of the claim stage, from the phase's Synthesizer backend getter: none, no claim stage."""
        return None

    def claims(
        self,
        claimer: GenerationBackend | None,
        prompts: Sequence[str] | None,
        texts: Sequence[str],
        parsed: Sequence[ParsedVariant],
        *,
        verifier: Verifier,
        synthesizer_prefill: str,
        seed: int,
    ) -> dict[int, str | None]:
        """Claimed answers stated after the fact, by output index: none (a variant claims its boxed answer)."""
        return {}

    def claim_verdict(
        self, claimed: str | None, answers: Sequence[str | None], verifier: Verifier, question: str | None
    ) -> bool | None:
        """Whether a parsed variant's claimed answer passes: it exists, as the format reward asks.

        With the strict format every parsed variant has its boxed answer, so this is True for each.
        """
        return claimed is not None and bool(str(claimed).strip())
