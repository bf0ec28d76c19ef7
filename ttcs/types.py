"""The types the phases hand one another: test problems, votes, parsed variants and reward terms.

Plain frozen dataclasses with no behaviour beyond small views; this module imports nothing
from ttcs, so every module can use them without an import cycle. The public names stay
importable from their historical homes: `ttcs.data.Problem`, `ttcs.voting.Vote`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    """One test problem. ``answer`` is the gold answer, used only to score evaluation."""

    id: str
    question: str
    answer: str | None
    source: str
    choices: tuple[str, ...] | None = None
    meta: Mapping = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Vote:
    """The outcome of a majority vote.

    Attributes:
        label: the answer string of the winning cluster's first member (None when no
            answer was given at all).
        count: size of the winning cluster.
        share: count / number of answers (None answers included); 0.0 for no answers.
        clusters: indices into the answers, one list per cluster, largest first (ties:
            the cluster whose first member comes first); None answers are in no cluster.
    """

    label: str | None
    count: int
    share: float
    clusters: list[list[int]] = field(default_factory=list)


@dataclass(frozen=True)
class GroupVote:
    """What the vote of one group saw and decided; one record per group per reward call."""

    problem_id: str
    answers: tuple[str | None, ...]
    label: str | None
    share: float
    mean_reward: float
    kept: bool
    cluster_count: int | None = None  # how many answer clusters the vote found (`Vote.clusters`); None: not recorded


@dataclass(frozen=True)
class ParsedVariant:
    """A Synthesizer output split into its question and claimed answer.

    ``reason`` says why parsing failed (``None`` when it succeeded); question and answer
    are then ``None``.
    """

    question: str | None
    answer: str | None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None


@dataclass(frozen=True)
class RewardBreakdown:
    """Every term of one variant's reward; ``None`` = not computed (unparseable or switched off).

    ``repetition`` is the share subtracted (cluster size / batch size); ``total`` is the reward;
    ``copy_rule`` names the copy rule that fired (``text`` or ``skeleton``, see `copy_check`);
    ``claim`` is the verdict of the recipe's claim check (``claim_verdict``; None = not checked): a
    variant that fails it gets total 0, like one that does not parse.
    """

    format: float
    consistency: float | None
    capability: float
    copy_similarity: float | None
    is_copy: bool | None
    repetition: float | None
    total: float
    copy_rule: str | None = None
    claim: bool | None = None

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)
