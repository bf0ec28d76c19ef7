"""The Solver's reward: agreement with its own majority vote (the pseudo-label), TTRL-style.

Step 3 of the TTCS method (docs/fidelity.md). For one question the Solver samples G answers; the
pseudo-label is the answer of the largest equivalence cluster (`ttcs.voting.majority_vote`);
answers in that cluster get reward 1, all others (and unparseable completions) 0. A group
whose mean reward lies outside a band (default [0.25, 0.75]) carries no reliable signal
and is dropped from the update: every member gets ``None``.

What ``None`` does inside TRL 1.16 (``trl/trainer/grpo_trainer.py``): ``_calculate_rewards``
turns it into NaN; rows whose every reward is NaN are "unscorable", left out of the
group's ``nanmean``/``nanstd`` and their advantage is forced to 0 by ``nan_to_num``. With
``beta = 0`` a zero advantage makes the token's loss exactly 0, so a dropped group moves
no parameter. Its tokens still count in the ``dapo``/``bnpo`` normaliser (number of
completion tokens in the batch), so the kept groups' gradient is scaled by roughly the
kept share of tokens; Adam's per-parameter normalisation largely cancels that scale.

`get_majority_reward` wraps all this in TRL's reward contract
``fn(prompts, completions, **columns) -> list[float | None]``. TRL calls it on each
process's slice of the batch, and a group's G completions may sit on different processes,
so the function gathers (question id, answer) from every process, votes on whole groups,
and returns this process's slice.

It reports through TRL's hooks only: per generation it logs (``log_metric``) `vote_summary`'s
groups, reward_mean, kept_share, vote_share and pseudo_label_accuracy, the label-free health
signals of `ttcs.health` (vote_share_std, distinct_answers, unanswered_share,
no_advantage_share, label_flip_rate), and it hands each
group's vote (`vote_row`: with the optimizer step and the generation, from ``trainer_state``)
to ``record_vote``, which the Solver phase points at ``solver/iter_XX_votes.jsonl``.

Example:
    >>> class Exact:
    ...     def extract(self, text): return text.split("=")[-1].strip() or None
    ...     def equivalent(self, a, b): return a == b
    ...     def canonical(self, a): return a
    >>> majority_rewards(["4", "4", "5", None], Exact())[0]
    [1.0, 1.0, 0.0, 0.0]
    >>> apply_band([1.0, 1.0, 1.0, 1.0], (0.25, 0.75))
    [None, None, None, None]
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence

from ttcs import dist
from ttcs.config import BAND_RULE, is_band
from ttcs.health import FlipTracker, generation_signals, labels_before
from ttcs.metrics import generation_of
from ttcs.rundir import RunLayout, read_jsonl
from ttcs.types import GroupVote, Vote
from ttcs.verify import matches_gold
from ttcs.voting import boxed_answer, majority_vote

# Where the Solver's reward comes from (``method.solver_reward``; `get_majority_reward`).
SOLVER_REWARDS = ("vote", "gold", "wrong_vote")

logger = logging.getLogger(__name__)

ID_COLUMN = "problem_id"


def majority_rewards(answers: Sequence[str | None], verifier) -> tuple[list[float], Vote]:
    """Reward 1.0 for answers in the largest equivalence cluster, 0.0 for the rest and for None.

    Args:
        answers: the extracted answers of one group (None where no answer was found).
        verifier: a `ttcs.verify.Verifier`, used by the vote to cluster equivalent answers.

    Returns:
        (rewards, vote): one float per answer, and the `ttcs.voting.Vote` (label None when
        every answer is None, and then every reward is 0).
    """
    answers = list(answers)
    vote = majority_vote(answers, verifier)
    if vote.label is None:
        return [0.0] * len(answers), vote
    winners = set(vote.clusters[0])  # largest first; ties go to the cluster that appears first
    return [1.0 if i in winners else 0.0 for i in range(len(answers))], vote


def apply_band(rewards: Sequence[float], band: Sequence[float] | None) -> list[float | None]:
    """Drop a group (all None) whose mean reward lies outside the closed band [lo, hi]; None = no filter."""
    kept: list[float | None] = list(rewards)
    if band is None or not kept:
        return kept
    lo, hi = band
    mean = sum(rewards) / len(kept)
    return kept if lo <= mean <= hi else [None] * len(kept)


def _gather_groups(ids: list[str], answers: list[str | None]) -> tuple[list[str], list[str | None], int]:
    """Every process's (ids, answers) in process order, and where this process's slice starts."""
    pairs, offset = dist.gather_slices(list(zip(ids, answers, strict=True)))
    return [p for p, _ in pairs], [a for _, a in pairs], offset


def gold_rewards(answers: Sequence[str | None], gold: str, verifier) -> list[float]:
    """Reward 1.0 for answers correct for the gold answer, 0.0 for the rest: the positive control (``method=oracle``)."""
    return [1.0 if matches_gold(verifier, gold, a) else 0.0 for a in answers]


def wrong_rewards(answers: Sequence[str | None], gold: str, verifier) -> list[float]:
    """Reward agreement with the most common WRONG answer of the group (1.0 for its cluster, 0.0 for the rest; all
    0.0 when no answer is wrong): a vote that is wrong on purpose, for measuring the health monitor (``method=wrong_vote``).
    """
    counts: dict[str, int] = {}
    for a in answers:
        if a is not None and not matches_gold(verifier, gold, a):
            label = next((k for k in counts if k == a or verifier.equivalent(k, a)), a)
            counts[label] = counts.get(label, 0) + 1
    if not counts:
        return [0.0] * len(answers)
    wrong = max(counts, key=lambda k: counts[k])  # the first of the most common, in the order answered
    return [1.0 if a is not None and (a == wrong or verifier.equivalent(wrong, a)) else 0.0 for a in answers]


def wrong_question(problem_id: str, share: float) -> bool:
    """Whether ``method=wrong_vote`` rewards a wrong answer on this question: a fixed `share` of the questions,
    chosen by a hash of the id (the same questions on every seed and process)."""
    digest = hashlib.sha256(problem_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def score_groups(
    ids: Sequence[str],
    answers: Sequence[str | None],
    verifier,
    *,
    group_size: int,
    band: Sequence[float] | None,
    gold: Mapping[str, str] | None = None,
    wrong: Mapping[str, str] | None = None,
) -> tuple[list[float | None], list[GroupVote]]:
    """Vote on consecutive blocks of `group_size` (TRL's group layout) and apply the band.

    With ``gold`` (question id -> gold answer) the rewards come from the gold answers
    instead of the vote (`gold_rewards`); with ``wrong`` (question id -> gold answer, for the
    questions to mislead) those questions' rewards follow their most common wrong answer
    (`wrong_rewards`). The vote is still taken and recorded for the logs.

    Raises:
        ValueError: the answers do not split into whole groups, or a block mixes questions.
    """
    if len(answers) % group_size:
        raise ValueError(f"{len(answers)} completions do not split into groups of {group_size}")
    rewards: list[float | None] = []
    records: list[GroupVote] = []
    for start in range(0, len(answers), group_size):
        block_ids = set(ids[start : start + group_size])
        if len(block_ids) != 1:
            raise ValueError(
                f"completions {start}..{start + group_size - 1} mix questions {sorted(block_ids)}; "
                "TRL should lay out the G samples of one question contiguously"
            )
        group = list(answers[start : start + group_size])
        raw, vote = majority_rewards(group, verifier)
        if gold is not None:
            if gold.get(ids[start]) is None:
                raise ValueError(
                    f"question {ids[start]!r} has no gold answer; the gold reward needs one for every question"
                )
            raw = gold_rewards(group, gold[ids[start]], verifier)
        elif wrong is not None and ids[start] in wrong:
            raw = wrong_rewards(group, wrong[ids[start]], verifier)
        kept = apply_band(raw, band)
        rewards.extend(kept)
        records.append(
            GroupVote(
                problem_id=ids[start],
                answers=tuple(group),
                label=vote.label,
                share=vote.share,
                mean_reward=sum(raw) / len(raw),
                kept=kept[0] is not None,
                cluster_count=len(vote.clusters),
            )
        )
    return rewards, records


def pseudo_label_accuracy(votes: Sequence[GroupVote], gold: Mapping[str, str], verifier) -> float | None:
    """Share of votes whose label is correct for the gold answer (`ttcs.verify.matches_gold`), over questions that have one.

    Gold answers are used for this diagnostic only; they never reach the reward (but in ``method=oracle``).
    """
    scored = [r for r in votes if gold.get(r.problem_id) is not None]
    if not scored:
        return None
    right = sum(matches_gold(verifier, gold[r.problem_id], r.label) for r in scored)
    return right / len(scored)


def vote_summary(votes: Sequence[GroupVote], gold: Mapping[str, str], verifier) -> dict:
    """Groups, reward mean (before the band), kept share, vote share and pseudo-label accuracy of some group votes."""
    if not votes:
        return {"groups": 0, "reward_mean": None, "kept_share": None, "vote_share": None, "pseudo_label_accuracy": None}
    return {
        "groups": len(votes),
        "reward_mean": sum(r.mean_reward for r in votes) / len(votes),
        "kept_share": sum(r.kept for r in votes) / len(votes),
        "vote_share": sum(r.share for r in votes) / len(votes),
        "pseudo_label_accuracy": pseudo_label_accuracy(votes, gold, verifier),
    }


def vote_row(vote: GroupVote, *, step: int, generation: int) -> dict:
    """One line of ``solver/iter_XX_votes.jsonl``: a group's vote, the first optimizer step it feeds, its generation."""
    return {
        "step": step,
        "generation": generation,
        "problem_id": vote.problem_id,
        "label": vote.label,
        "share": vote.share,
        "answers": list(vote.answers),
        "mean_reward": vote.mean_reward,
        "kept": vote.kept,
        "cluster_count": vote.cluster_count,
    }


def votes_from_rows(rows: Sequence[Mapping]) -> list[GroupVote]:
    """The `GroupVote` of each `vote_row` (read back from ``solver/iter_XX_votes.jsonl``)."""
    return [
        GroupVote(
            problem_id=r["problem_id"],
            answers=tuple(r["answers"]),
            label=r["label"],
            share=r["share"],
            mean_reward=r["mean_reward"],
            kept=r["kept"],
            cluster_count=r.get("cluster_count"),
        )
        for r in rows
    ]


def votes_by_generation(rows: Sequence[Mapping]) -> dict[int, list[GroupVote]]:
    """The `GroupVote` of each `vote_row`, grouped by the generation that voted (in the rows' order)."""
    grouped: dict[int, list[GroupVote]] = {}
    for row, vote in zip(rows, votes_from_rows(rows), strict=True):
        grouped.setdefault(int(row["generation"]), []).append(vote)
    return grouped


def phase_start_labels(layout: RunLayout, iteration: int) -> dict[str, str | None]:
    """The labels the Solver phase of `iteration` starts its flip rate from (`ttcs.health.labels_before`): the
    previous iteration's votes file and evaluation file."""
    return labels_before(
        votes_from_rows(read_jsonl(layout.votes_path(iteration - 1))), read_jsonl(layout.eval_path(iteration - 1))
    )


def get_majority_reward(
    verifier,
    *,
    band: Sequence[float] | None = (0.25, 0.75),
    group_size: int,
    id_column: str = ID_COLUMN,
    read_answer: Callable[[str], str | None] = boxed_answer,
    gold: Mapping[str, str] | None = None,
    solver_reward: str = "vote",
    wrong_share: float = 0.0,
    record_vote: Callable[[dict], None] | None = None,
    updates_per_generation: int = 1,
    previous_labels: Mapping[str, str | None] | None = None,
) -> Callable[..., list[float | None]]:
    """A TRL reward function: majority-vote agreement, with whole-group votes across processes.

    Args:
        verifier: extracts answers from completions and clusters equivalent ones.
        band: (lo, hi) bounds on a group's mean reward; groups outside get None (dropped).
            None keeps every group (the no-filter ablation).
        group_size: G, TRL's ``num_generations``.
        id_column: the dataset column naming each completion's question.
        read_answer: the answer a completion gives the vote (None: unanswered): the recipe's reader
            (`ttcs.context.RunContext.read_answer`); by default its last boxed answer, as in the paper.
        gold: question id -> gold answer, where known: the logged pseudo_label_accuracy only, unless
            ``solver_reward="gold"``.
        solver_reward: ``vote`` (the method), or ``gold``: reward agreement with the gold answer instead of the
            vote (``method=oracle``, the label-leakage upper bound; never a test-time method), or ``wrong_vote``:
            the vote, but on `wrong_share` of the questions (`wrong_question`) the most common wrong answer
            (`wrong_rewards`): a collapse on purpose, to measure the health monitor against (``method=wrong_vote``).
        wrong_share: the share of questions ``wrong_vote`` misleads.
        record_vote: called with each group's `vote_row` (on every process; the Solver phase passes the run
            directory's append, which writes on the main process only). None: votes are not kept.
        updates_per_generation: optimizer steps per generation (`ttcs.metrics.updates_per_generation`), which
            numbers the generations from TRL's ``trainer_state``.
        previous_labels: question id -> the label before this phase (`ttcs.health.labels_before`: the previous
            iteration's last vote or its evaluation's), the first reference for ``label_flip_rate``; later
            generations compare with this closure's own earlier votes (`ttcs.health.FlipTracker`).

    Returns:
        ``reward_fn(prompts, completions, **columns) -> list[float | None]``, one per completion
        of this process. All processes must call it together (TRL does: `_calculate_rewards`
        runs on every rank for every generation batch).

    Example:
        >>> fn = get_majority_reward(verifier, group_size=4, band=None)   # doctest: +SKIP
        >>> fn(prompts=["q"] * 4, completions=["\\\\boxed{2}"] * 3 + ["x"], problem_id=["a"] * 4)  # doctest: +SKIP
        [1.0, 1.0, 1.0, 0.0]
    """
    if solver_reward not in SOLVER_REWARDS:
        raise ValueError(f"unknown solver reward {solver_reward!r}; choose one of {', '.join(SOLVER_REWARDS)}")
    reward_gold = gold if solver_reward == "gold" else None
    wrong = None
    if solver_reward == "wrong_vote":
        wrong = {q: a for q, a in (gold or {}).items() if wrong_question(q, wrong_share)}
    gold = gold or {}
    if band is not None:
        if not is_band(list(band)):
            raise ValueError(f"band={list(band)}: {BAND_RULE}")
        band = (float(band[0]), float(band[1]))
    flips = FlipTracker(lambda a, b: verifier.equivalent(a, b), previous_labels)

    def majority_reward(prompts, completions, **columns) -> list[float | None]:
        if id_column not in columns:
            raise KeyError(f"the training dataset needs a {id_column!r} column to group completions")
        texts = [c if isinstance(c, str) else c[-1]["content"] for c in completions]
        answers = [read_answer(t) for t in texts]
        ids, all_answers, offset = _gather_groups([str(i) for i in columns[id_column]], answers)
        rewards, votes = score_groups(
            ids, all_answers, verifier, group_size=group_size, band=band, gold=reward_gold, wrong=wrong
        )
        health = {**generation_signals(votes), "label_flip_rate": flips.update(votes)}
        log_metric = columns.get("log_metric")
        if log_metric is not None:
            for name, value in {**vote_summary(votes, gold, verifier), **health}.items():
                if value is not None:
                    log_metric(name, value)
        if record_vote is not None:
            generation = generation_of(columns.get("trainer_state"), updates_per_generation)
            step = columns["trainer_state"].global_step + 1  # the first optimizer step trained on these votes
            for vote in votes:
                record_vote(vote_row(vote, step=step, generation=generation))
        return rewards[offset : offset + len(completions)]

    return majority_reward
