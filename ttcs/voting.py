"""Majority voting over sampled answers: the pseudo-label of the Solver phase.

`majority_vote` is the one implementation every caller uses (Solver rewards, the
Synthesizer's self-consistency reward, maj@k evaluation). It clusters answers by a
verifier's notion of equivalence, cheapest test first:

1. identical strings share a cluster without any comparison;
2. strings with equal `verifier.canonical` keys share a cluster (a dict lookup; the
   ``math`` verifier has keys for numbers, intervals, tuples, sets, polynomials, radicals
   and words, so most of a real vote's equal answers meet here);
3. only then is `verifier.equivalent` called, and only between one distinct string and
   the representative of each existing cluster -- never between all pairs of members.

Run ``ttcs-bench-voting`` to time it against the naive all-symbolic way, on numbers and
on the forms of real gold answers (``--family numeric|realistic|both``).
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Sequence

from ttcs_verifiers import last_boxed

from ttcs.types import Vote
from ttcs.verify import Verifier

logger = logging.getLogger(__name__)


def majority_vote(answers: Sequence[str | None], verifier: Verifier) -> Vote:
    """Cluster equivalent answers and return the largest cluster.

    Args:
        answers: extracted final answers, one per sample; None (no answer) and blank
            strings never form a cluster but do count in the denominator of `share`.
        verifier: decides equivalence (`equivalent`) and offers cheap keys (`canonical`).

    Returns:
        A `Vote`. Deterministic: the same answers always give the same clusters, and a tie
        between equally large clusters goes to the one whose first member comes first.

    Example:
        >>> from ttcs.verify import get_verifier
        >>> vote = majority_vote(["0.5", None, r"\\frac{1}{2}", "2", "1/2"], get_verifier("math"))
        >>> vote.label, vote.count, vote.share, vote.clusters
        ('0.5', 3, 0.6, [[0, 2, 4], [3]])
    """
    members = _cluster(answers, verifier)
    clusters = sorted(members, key=lambda cluster: (-len(cluster), cluster[0]))
    if not clusters:
        return Vote(label=None, count=0, share=0.0, clusters=[])
    winner = clusters[0]
    return Vote(label=answers[winner[0]], count=len(winner), share=len(winner) / len(answers), clusters=clusters)


def _cluster(answers: Sequence[str | None], verifier: Verifier) -> list[list[int]]:
    """Clusters in order of their first member; members in index order."""
    by_string: dict[str, list[int]] = {}
    for index, answer in enumerate(answers):
        if isinstance(answer, str) and answer.strip():
            by_string.setdefault(answer, []).append(index)

    clusters: list[list[int]] = []
    representatives: list[str] = []
    cluster_of_key: dict[Hashable, int] = {}
    for answer, indices in by_string.items():  # dicts keep first-appearance order
        key = _canonical(verifier, answer)
        found = cluster_of_key.get(key) if key is not None else None
        if found is None:
            found = next((c for c, rep in enumerate(representatives) if verifier.equivalent(rep, answer)), None)
        if found is None:
            found = len(clusters)
            clusters.append([])
            representatives.append(answer)
        clusters[found].extend(indices)
        if key is not None:
            cluster_of_key.setdefault(key, found)
    return [sorted(cluster) for cluster in clusters]


def _canonical(verifier: Verifier, answer: str) -> Hashable | None:
    try:
        key = verifier.canonical(answer)
        hash(key)
        return key
    except Exception:  # a third-party verifier's bug must not lose the whole vote
        logger.debug("canonical(%.80r) failed; comparing it symbolically", answer, exc_info=True)
        return None


def boxed_answer(completion: str) -> str | None:
    """The answer a completion contributes to a vote in the paper's setting: its last ``\\boxed{...}``.

    The Solver is asked to box its answer; a completion without a box is an unanswered sample
    (None), so rambling never becomes a vote. Recipes read answers through it
    (`ttcs.recipes.paper.Recipe.read_answer`).

    Example:
        >>> boxed_answer("so the answer is 5"), boxed_answer("thus \\\\boxed{ 7 }")
        (None, '7')
    """
    box = last_boxed(completion)
    return box if box else None
