"""The Synthesizer reward's repetition penalty: variants of one batch that repeat one another pay for it.

The parsed questions of a batch are clustered by BLEU distance (`repetition_clusters`); each
variant loses its cluster's share of the batch (`repetition_penalty`, `cluster_shares`).
nltk and scipy are imported where they are used: only this term needs them.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence

import numpy as np

_TOKEN = re.compile(r"\w+|[^\w\s]")


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def _bleu(hypothesis: list[str], reference: list[str]) -> float:
    """Sentence BLEU up to 4-grams (fewer for shorter texts, so identical short texts score 1)."""
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    if not hypothesis or not reference:
        return float(hypothesis == reference)
    order = min(4, len(hypothesis), len(reference))
    weights = (1.0 / order,) * order
    return sentence_bleu([reference], hypothesis, weights=weights, smoothing_function=SmoothingFunction().method1)


def bleu_distance_matrix(texts: Sequence[str]) -> np.ndarray:
    """Pairwise distance 1 - (BLEU(a|b) + BLEU(b|a)) / 2, symmetric with a zero diagonal.

    Tokens are lower-cased words and single punctuation marks; BLEU uses up to 4-grams
    with nltk's smoothing method 1.

    Example:
        >>> bleu_distance_matrix(["a b c d", "a b c d", "w x y z"]).round(2).tolist()
        [[0.0, 0.0, 1.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0]]
    """
    tokens = [_tokens(t) for t in texts]
    n = len(tokens)
    dist = np.zeros((n, n))
    with warnings.catch_warnings():  # nltk warns about zero n-gram counts; smoothing handles them.
        warnings.simplefilter("ignore")
        for i in range(n):
            for j in range(i + 1, n):
                sym = (_bleu(tokens[i], tokens[j]) + _bleu(tokens[j], tokens[i])) / 2
                dist[i, j] = dist[j, i] = min(max(1.0 - float(sym), 0.0), 1.0)
    return dist


def repetition_clusters(texts: Sequence[str], threshold: float = 0.5) -> list[int]:
    """Cluster labels (0, 1, ... in order of first appearance) by BLEU distance.

    Agglomerative clustering with average linkage; two groups merge while their average
    distance is <= ``threshold`` (scipy's ``fcluster(criterion="distance")``).

    Example:
        >>> repetition_clusters(["a b c d", "w x y z", "a b c d"])
        [0, 1, 0]
    """
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    if len(texts) < 2:
        return [0] * len(texts)
    condensed = squareform(bleu_distance_matrix(texts), checks=False)
    raw = fcluster(linkage(condensed, method="average"), t=threshold, criterion="distance")
    first_seen: dict[int, int] = {}
    return [first_seen.setdefault(int(label), len(first_seen)) for label in raw]


def cluster_shares(texts: Sequence[str], threshold: float, batch_size: int | None) -> list[float]:
    labels = repetition_clusters(texts, threshold)
    size = len(texts) if batch_size is None else batch_size
    if size < len(texts):
        raise ValueError(f"batch_size {size} is smaller than the number of texts {len(texts)}")
    counts = np.bincount(labels) if labels else np.zeros(0, dtype=int)
    return [int(counts[label]) / size for label in labels]


def repetition_penalty(texts: Sequence[str], threshold: float = 0.5, batch_size: int | None = None) -> list[float]:
    """Each text's repetition penalty: its cluster's size / the batch size.

    As in the published method, the penalty is the share itself, so every variant pays at least
    1 / batch_size, singletons included: a batch of B distinct texts pays 1/B each, and a
    batch of one text pays 1.0. Pass whole batches (all references x all variants).

    Args:
        texts: the variant questions to cluster.
        threshold: BLEU-distance threshold of the clustering.
        batch_size: the denominator; defaults to ``len(texts)``. Larger when some members of
            the batch (e.g. unparseable outputs) are not clustered.

    Example:
        >>> [round(p, 3) for p in repetition_penalty(["a b c d", "a b c d", "w x y z"])]
        [0.667, 0.667, 0.333]
    """
    return cluster_shares(texts, threshold, batch_size)
