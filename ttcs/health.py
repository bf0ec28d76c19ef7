"""Label-free run health: what the Solver's own votes say about training, without any gold answer.

The Solver is rewarded by agreement with its own majority vote, so it can collapse onto a wrong
consensus: every sample gives the same (wrong) answer, the vote is unanimous, the band drops
every group and nothing is learnt, while the reward looks perfect. Gold answers cannot show
this at test time; these signals look at the votes alone. They are logged (``metrics.jsonl`` per
Solver step, ``results.json``'s ``health`` per iteration) and `ttcs.monitor` raises alarms from
them. Measured against gold (docs/health.md): most labels flipping at once came at the step a
fast collapse began; the locked consensus itself (vote share 1, no flips, one answer per group,
entropy near 0) showed only after avg@k had fallen, and a slow drift to wrong answers moved no
signal beyond its healthy range.

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
  ``equivalent``; an answer against no answer is a flip); None when no question had one. The
  earlier vote of a test question may be the evaluation's (`labels_before`: the evaluation after
  the previous iteration votes on every test question, without gold), so the rate is known from
  the first step. Labels that never move any more mean the pseudo-labels are frozen, right or
  wrong; most labels moving at once mean training is moving the answers.

`iteration_health` summarises a whole Solver phase (its votes file) the same way, its flip
rate against the labels the phase started from.

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

import random
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
        previous: the labels the phase starts from (`labels_before`), if any.
    """

    def __init__(self, equivalent: Equivalent, previous: Mapping[str, str | None] | None = None):
        self.equivalent = equivalent
        self.labels: dict[str, str | None] = dict(previous or {})

    def update(self, votes: Sequence[GroupVote]) -> float | None:
        """The flip rate of `votes` against the labels so far; then remember their labels."""
        rate = flip_rate(votes, self.labels, self.equivalent)
        self.labels.update(last_labels(votes))
        return rate


def labels_before(votes: Sequence[GroupVote], evaluation: Sequence[Mapping]) -> dict[str, str | None]:
    """The labels a Solver phase's flip rate starts from: each question's last vote of the previous iteration (its
    votes file), replaced by the evaluation after it where that voted on the question (``vote`` of its
    ``eval/iter_XX.jsonl`` rows: the majority of the evaluation's samples, no gold): the evaluation voted last.

    So every test question has a label before the first step, and the first steps' flip rate measures how far
    training moved the answers since the last evaluation.
    """
    labels = last_labels(votes)
    labels.update({str(row["id"]): row.get("vote") for row in evaluation})
    return labels


def generation_flip_rates(
    generations: Mapping[int, Sequence[GroupVote]], previous: Mapping[str, str | None], equivalent: Equivalent
) -> dict[int, float | None]:
    """The ``label_flip_rate`` of each generation's votes (in order), as the Solver's reward logs it (`FlipTracker`
    from `previous`): for checking a run's logged rates after the fact."""
    tracker = FlipTracker(equivalent, previous)
    return {g: tracker.update(votes) for g, votes in generations.items()}


def iteration_health(
    votes: Sequence[GroupVote], previous: Mapping[str, str | None], equivalent: Equivalent
) -> dict[str, float | None]:
    """A Solver phase's health (every vote of its votes file): ``vote_share`` (mean), the `generation_signals` and
    ``label_flip_rate`` of its final labels against `previous` (the labels it started from, `labels_before`)."""
    return {
        "vote_share": _mean([v.share for v in votes]),
        **generation_signals(votes),
        "label_flip_rate": flip_rate(votes, previous, equivalent),
    }


# ----------------------------------------------------------------------------- the Synthesizer's side

# Why a variant was paid nothing (reward total 0), in the order `unpaid_reason` checks them: each unpaid variant has
# exactly one. The keys logged are ``unpaid_<reason>`` and their sum ``unpaid_share``.
UNPAID_REASONS = ("format", "claim", "copy", "too_easy", "too_hard", "repetition")
# The per-generation keys of the Synthesizer (`synthesizer_signals`), in the order they are logged.
SYNTHESIZER_SIGNALS = ("reward_std", *(f"unpaid_{r}" for r in UNPAID_REASONS), "unpaid_share")
# The curriculum's diversity (`curriculum_diversity`); at most `DIVERSITY_SAMPLE` questions go into the distances.
CURRICULUM_SIGNALS = ("distinct_share", "mean_pairwise_distance")
DIVERSITY_SAMPLE = 200


def unpaid_reason(reward: Mapping) -> str | None:
    """Why a variant's reward (a `ttcs.types.RewardBreakdown` as a dict) is 0; None when it is paid (total > 0).

    The first that holds, in the order of `UNPAID_REASONS` (`ttcs.rewards.synthesizer._one_reward`):

    * ``format``: the output did not parse (``format`` 0);
    * ``claim``: the recipe's claim check failed (``claim`` False);
    * ``copy``: a near copy of its reference (``is_copy``): the copy penalty scaled its reward by
      1 - similarity (similarity above the copy threshold), whatever took the rest;
    * ``too_easy``: the Solver always agrees (s == 1): capability 0;
    * ``too_hard``: the Solver has no majority answer (capability 0 with s < 1, i.e. s == 0: unanswered
      samples at least as many as its largest answer cluster);
    * ``repetition``: the rest: capability > 0, no copy, so the repetition share (its BLEU cluster's share
      of the batch) is what took it to 0.
    """
    if reward["total"] > 0:
        return None
    if not reward["format"]:
        return "format"
    if reward.get("claim") is False:
        return "claim"
    if reward.get("is_copy"):
        return "copy"
    if reward["capability"] <= 0:
        return "too_easy" if reward["consistency"] is not None and reward["consistency"] >= 1 else "too_hard"
    return "repetition"


def synthesizer_signals(records: Sequence[Mapping]) -> dict[str, float | None]:
    """``reward_std`` and the ``unpaid_*`` shares of one Synthesizer batch's variant records (None: no records).

    ``reward_std`` is the population standard deviation of the rewards (0: GRPO learns nothing from the batch);
    ``unpaid_<reason>`` the share of the whole batch paid nothing for that reason (`unpaid_reason`), and
    ``unpaid_share`` their sum, the share paid nothing.

    Example:
        >>> paid = {"total": 0.5, "format": 1.0}
        >>> unparsed = {"total": 0.0, "format": 0.0, "capability": 0.0, "consistency": None}
        >>> easy = {"total": 0.0, "format": 1.0, "capability": 0.0, "consistency": 1.0}
        >>> s = synthesizer_signals([{"reward": r} for r in (paid, paid, unparsed, easy)])
        >>> s["reward_std"], s["unpaid_format"], s["unpaid_too_easy"], s["unpaid_share"]
        (0.25, 0.25, 0.25, 0.5)
    """
    if not records:
        return dict.fromkeys(SYNTHESIZER_SIGNALS)
    totals = [r["reward"]["total"] for r in records]
    mean = sum(totals) / len(totals)
    reasons = [unpaid_reason(r["reward"]) for r in records]
    shares = {f"unpaid_{reason}": reasons.count(reason) / len(records) for reason in UNPAID_REASONS}
    return {
        "reward_std": (sum((t - mean) ** 2 for t in totals) / len(totals)) ** 0.5,
        **shares,
        "unpaid_share": sum(reason is not None for reason in reasons) / len(records),
    }


def synthesizer_health(records: Sequence[Mapping]) -> dict[str, float | None]:
    """A Synthesizer phase's health: the mean over its generations (``step``) of `synthesizer_signals`, from its
    records of ``curriculum/iter_XX.jsonl`` (``phase`` ``synthesizer``); None for no generation."""
    batches: dict[int, list[Mapping]] = {}
    for r in records:
        if r.get("phase") == "synthesizer":
            batches.setdefault(r["step"], []).append(r)
    per_step = [synthesizer_signals(batch) for batch in batches.values()]
    return {key: _mean([v for s in per_step if (v := s[key]) is not None]) for key in SYNTHESIZER_SIGNALS}


def normalised_question(text: str) -> str:
    """A question lower-cased, with runs of whitespace collapsed (how `curriculum_diversity` counts distinct ones)."""
    return " ".join(text.split()).lower()


def curriculum_diversity(
    questions: Sequence[str], seed: int, sample: int = DIVERSITY_SAMPLE
) -> dict[str, float | None]:
    """``distinct_share`` and ``mean_pairwise_distance`` of the curriculum's parsed variants (before its filter).

    ``distinct_share``: distinct questions (`normalised_question`) / questions (None for none): how much of
    what the Synthesizer wrote the filter's exact-repeat test would drop.
    ``mean_pairwise_distance``: the mean over pairs of the BLEU distance of the repetition penalty
    (`ttcs.rewards.repetition.bleu_distance_matrix`, 0 = the same, 1 = nothing shared); None for fewer than 2
    questions. Over more than `sample` questions, over a sample of `sample` of them drawn with `seed`.

    Example:
        >>> curriculum_diversity(["a b c d", "A  b c d", "w x y z"], seed=0)
        {'distinct_share': 0.6666666666666666, 'mean_pairwise_distance': 0.6666666666666666}
    """
    from ttcs.rewards.repetition import bleu_distance_matrix

    if not questions:
        return dict.fromkeys(CURRICULUM_SIGNALS)
    distinct = len({normalised_question(q) for q in questions}) / len(questions)
    if len(questions) < 2:
        return {"distinct_share": distinct, "mean_pairwise_distance": None}
    chosen = list(questions)
    if len(chosen) > sample:
        chosen = random.Random(seed).sample(chosen, sample)
    n = len(chosen)
    total = float(bleu_distance_matrix(chosen).sum()) / 2  # symmetric, zero diagonal: each pair twice
    return {"distinct_share": distinct, "mean_pairwise_distance": total / (n * (n - 1) / 2)}
