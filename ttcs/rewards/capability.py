"""The Synthesizer reward's capability term: how evenly the Solver splits on a variant.

`self_consistency` is s, the share of the Solver's samples in its largest answer cluster;
`capability_reward` is (4 s (1 - s))^gamma, highest where the Solver is right about half
the time: the frontier of its capability.
"""

from __future__ import annotations

from collections.abc import Sequence

from ttcs.voting import majority_vote


def capability_reward(consistency: float, gamma: float = 1.2) -> float:
    """(4 s (1 - s))^gamma: 1 when the Solver splits 50/50, 0 when it always or never agrees.

    Args:
        consistency: s, the Solver's self-consistency on the variant = size of the largest
            answer cluster / number of samples, in [0, 1].
        gamma: sharpness; larger values favour s close to 0.5 more strongly.

    Returns:
        The capability reward in [0, 1].

    Example:
        >>> capability_reward(0.5), capability_reward(0.0), round(capability_reward(0.75), 4)
        (1.0, 0.0, 0.7081)
    """
    if not -1e-9 <= consistency <= 1 + 1e-9:  # also rejects NaN
        raise ValueError(f"consistency must lie in [0, 1], got {consistency!r}")
    if gamma <= 0:
        raise ValueError(f"gamma must be positive, got {gamma!r}")
    s = min(max(consistency, 0.0), 1.0)
    return min(max((4.0 * s * (1.0 - s)) ** gamma, 0.0), 1.0)


def self_consistency(answers: Sequence[str | None], verifier) -> float:
    """s: the share of the Solver's samples in its largest answer cluster, unanswered samples included.

    Unanswered samples (None) form a cluster of their own, as in the published TTCS
    reference: when that cluster is the largest, the Solver has no answer and s = 0
    (ties between it and an answer cluster also give 0, a deterministic choice where
    the reference's outcome depends on sample order). Otherwise s = (size of the
    largest answer cluster) / (number of samples, unanswered ones included).

    Args:
        answers: the Solver's extracted answers on one variant (None = no answer).
        verifier: clusters equivalent answers (`ttcs.voting.majority_vote`).

    Example:
        >>> class Exact:
        ...     def canonical(self, a): return a
        ...     def equivalent(self, a, b): return a == b
        >>> self_consistency(["3", None, None, None], Exact()), self_consistency(["3", "3", "4", None], Exact())
        (0.0, 0.5)
    """
    if not answers:
        return 0.0
    vote = majority_vote(list(answers), verifier)
    unanswered = sum(a is None for a in answers)
    if vote.label is None or unanswered >= vote.count:
        return 0.0
    return vote.count / len(answers)
