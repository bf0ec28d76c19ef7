"""Label-free run health: what the Solver's own votes say about training, without any gold answer.

The Solver is rewarded by agreement with its own majority vote, so it can collapse onto a wrong
consensus: every sample gives the same (wrong) answer, the vote is unanimous, the band drops
every group and nothing is learnt, while the reward looks perfect. Gold answers cannot show
this at test time; these signals can, from the votes alone. Such a collapse shows as the vote
share rising to 1 with label flips going to 0 and distinct answers and entropy (TRL's, already
in ``metrics.jsonl``) falling. For now the signals are logged only (``metrics.jsonl`` per
Solver step, ``results.json``'s ``health`` per iteration): no alarm acts on them yet.

Per generation of `ttcs.types.GroupVote` records (`generation_signals`, `flip_rate`):

* ``vote_share_std``: population standard deviation of the groups' majority share (the mean is
  ``vote_share``): how uniform the agreement is; it shrinks as every group goes unanimous.
* ``distinct_answers``: mean number of distinct answer clusters (equivalent answers together,
  no answer in none) per group: the diversity left in the samples.
* ``unanswered_share``: share of completions with no answer: a format collapse, or answers cut
  by the length limit.
* ``no_advantage_share``: share of groups that give no advantage: dropped by the band (``kept``
  False) or unanimous (every completion the same reward: mean reward 0 or 1, e.g. share 1 or no
  answer at all): the share of the batch that trains nothing.
* ``label_flip_rate``: over the questions voted on now that had an earlier vote, the share
  whose majority label changed since that earlier vote (labels compared with the verifier's
  ``equivalent``; an answer against no answer is a flip); None when no question had one. Labels
  that never move any more mean the pseudo-labels are frozen, right or wrong.

`iteration_health` summarises a whole Solver phase (its votes file) the same way, its flip
rate against the previous iteration's final labels.

Example:
    >>> from ttcs.types import GroupVote
    >>> votes = [GroupVote("a", ("1", "1", "2", None), "1", 0.5, 0.5, True, 2),
    ...          GroupVote("b", ("3", "3", "3", "3"), "3", 1.0, 1.0, False, 1)]
    >>> generation_signals(votes)
    {'vote_share_std': 0.25, 'distinct_answers': 1.5, 'unanswered_share': 0.125, 'no_advantage_share': 0.5}
    >>> flip_rate(votes, {"a": "2", "c": "7"}, lambda x, y: x == y)
    1.0
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from ttcs.types import GroupVote

Equivalent = Callable[[str, str], bool]

# The per-generation keys, in the order they are logged (``label_flip_rate`` last).
SIGNALS = ("vote_share_std", "distinct_answers", "unanswered_share", "no_advantage_share", "label_flip_rate")


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def no_advantage(vote: GroupVote) -> bool:
    """Whether a group trains nothing: dropped by the band, or every completion got the same (0/1) reward."""
    return not vote.kept or vote.mean_reward in (0.0, 1.0)


def same_label(a: str | None, b: str | None, equivalent: Equivalent) -> bool:
    """Two majority labels agree: both None, or both answers and equivalent."""
    if a is None or b is None:
        return a is None and b is None
    return a == b or bool(equivalent(a, b))  # equal strings are equivalent: skip the verifier


def last_labels(votes: Sequence[GroupVote]) -> dict[str, str | None]:
    """Each question's label in its last vote (votes in order)."""
    return {v.problem_id: v.label for v in votes}


def flip_rate(votes: Sequence[GroupVote], previous: Mapping[str, str | None], equivalent: Equivalent) -> float | None:
    """Share of the questions in `votes` (their last vote there) that have a label in `previous` and whose label changed.

    None when no question of `votes` is in `previous`.
    """
    current = last_labels(votes)
    seen = [q for q in current if q in previous]
    if not seen:
        return None
    return sum(not same_label(current[q], previous[q], equivalent) for q in seen) / len(seen)


def generation_signals(votes: Sequence[GroupVote]) -> dict[str, float | None]:
    """``vote_share_std``, ``distinct_answers``, ``unanswered_share``, ``no_advantage_share`` of some votes (None: no votes).

    ``distinct_answers`` is over the votes that know their cluster count (None if none does).
    """
    if not votes:
        return dict.fromkeys(SIGNALS[:-1])
    shares = [v.share for v in votes]
    mean_share = sum(shares) / len(shares)
    answers = [a for v in votes for a in v.answers]
    return {
        "vote_share_std": (sum((s - mean_share) ** 2 for s in shares) / len(shares)) ** 0.5,
        "distinct_answers": _mean([v.cluster_count for v in votes if v.cluster_count is not None]),
        "unanswered_share": sum(a is None for a in answers) / len(answers) if answers else None,
        "no_advantage_share": sum(no_advantage(v) for v in votes) / len(votes),
    }


class FlipTracker:
    """The last label of every question voted on so far in one phase, for the flip rate of each new generation.

    Args:
        equivalent: the verifier's ``equivalent``.
        previous: the labels the phase starts from (the previous iteration's final labels), if any.
    """

    def __init__(self, equivalent: Equivalent, previous: Mapping[str, str | None] | None = None):
        self.equivalent = equivalent
        self.labels: dict[str, str | None] = dict(previous or {})

    def update(self, votes: Sequence[GroupVote]) -> float | None:
        """The flip rate of `votes` against the labels so far; then remember their labels."""
        rate = flip_rate(votes, self.labels, self.equivalent)
        self.labels.update(last_labels(votes))
        return rate


def iteration_health(
    votes: Sequence[GroupVote], previous: Mapping[str, str | None], equivalent: Equivalent
) -> dict[str, float | None]:
    """A Solver phase's health (every vote of its votes file): ``vote_share`` (mean), the `generation_signals` and
    ``label_flip_rate`` of its final labels against `previous` (the previous iteration's final labels)."""
    return {
        "vote_share": _mean([v.share for v in votes]),
        **generation_signals(votes),
        "label_flip_rate": flip_rate(votes, previous, equivalent),
    }
