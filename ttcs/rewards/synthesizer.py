"""The Synthesizer's reward: format, capability, copy penalty and repetition penalty.

The Synthesizer reads one test question (the *reference*) and writes a variant: a
``<question>...</question>`` block and a final ``\\boxed{...}`` answer. One variant's
reward (DESIGN.md, "The algorithm", step 1) is

    0                                  if the output cannot be parsed (format reward), else
    r = (4 s (1 - s))^gamma            s = the Solver's self-consistency on the variant
    r = r * (1 - similarity)           if the variant is a near copy of its reference
    r = max(0, r - share)              share = the batch share of the variant's BLEU cluster

Each term is a pure function of plain values; `synthesizer_rewards` combines them for a
batch and returns every term, so that each variant's reward can be written to disk.

Example:
    >>> out = "<question>What is 2 + 3?</question> The answer is \\\\boxed{5}."
    >>> parse_variant(out).answer
    '5'
    >>> round(capability_reward(0.5), 3), capability_reward(1.0)
    (1.0, 0.0)
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from ttcs_verifiers._text import matching_braces

QUESTION_OPEN, QUESTION_CLOSE = "<question>", "</question>"
MAX_QUESTION_CHARS = 4000  # ~1000 tokens: the Synthesizer's whole response budget.
MAX_ANSWER_CHARS = 200  # a single scalar answer; anything longer is a derivation, not an answer.
SKELETON_WORD_OVERLAP = 0.5  # same skeleton + word overlap above this = a copy with new numbers.

_BOXED = re.compile(r"\\boxed\s*\{")
_WHITESPACE = re.compile(r"\s+")
_LATEX_NOISE = re.compile(r"\\left|\\right|\\[,;:!]|\\quad|\\qquad|\\displaystyle|\\[()\[\]]|\$|~")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_SINGLE_LETTER = re.compile(r"(?<![A-Za-z\\])[A-Za-z](?![A-Za-z])")
_SPACED_SYMBOL = re.compile(r"\s*([^\w\s])\s*")
_WORD = re.compile(r"[a-z]+")
_TOKEN = re.compile(r"\w+|[^\w\s]")
_STOPWORDS = frozenset(
    "a an the of to in on at by for with from and or but if then than that this these those is are was "
    "were be been being it its as into what which who whom whose how many much find let there their "
    "each all any some such so do does did can will would should must may has have had not no".split()
)


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

    ``repetition`` is the share subtracted (cluster size / batch size); ``total`` is the reward.
    """

    format: float
    consistency: float | None
    capability: float
    copy_similarity: float | None
    is_copy: bool | None
    repetition: float | None
    total: float

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


# ---------------------------------------------------------------------------- format


def parse_variant(
    text: str,
    *,
    max_question_chars: int = MAX_QUESTION_CHARS,
    max_answer_chars: int = MAX_ANSWER_CHARS,
    lenient: bool = False,
) -> ParsedVariant:
    """Split a Synthesizer output into the variant question and its claimed answer.

    The question is the last complete ``<question>...</question>`` block; the answer is the
    last ``\\boxed{...}`` (nested braces allowed) that comes after that block, so a box
    written inside the question does not count. Both must be non-empty after stripping and
    within the length caps.

    Args:
        text: the raw Synthesizer completion.
        max_question_chars: longest question accepted.
        max_answer_chars: longest answer accepted.
        lenient: for models too small to keep the format (the embedded 135M default): an
            unclosed last ``<question>`` block ends at its first blank line, and the boxed
            answer may be missing (``answer`` None). The question must still be non-empty.

    Returns:
        A `ParsedVariant`; ``.ok`` is False and ``.reason`` says why when parsing failed.

    Example:
        >>> parse_variant("<question>Compute 7 * 6.</question> \\\\boxed{\\\\frac{84}{2}}").answer
        '\\\\frac{84}{2}'
        >>> parse_variant("<question></question> \\\\boxed{1}").reason
        'empty question block'
    """
    end = text.rfind(QUESTION_CLOSE)
    start = text.rfind(QUESTION_OPEN, 0, end) if end >= 0 else -1
    if lenient and text.rfind(QUESTION_OPEN) > start:  # an unclosed block: it ends at its first blank line
        start = text.rfind(QUESTION_OPEN)
        blank = text.find("\n\n", start + len(QUESTION_OPEN))
        while blank >= 0 and not text[start + len(QUESTION_OPEN) : blank].strip():
            blank = text.find("\n\n", blank + 2)
        end = blank if blank >= 0 else len(text)
    if start < 0:
        return ParsedVariant(None, None, "no complete <question>...</question> block")
    question = text[start + len(QUESTION_OPEN) : end].strip()
    if not question:
        return ParsedVariant(None, None, "empty question block")
    if len(question) > max_question_chars:
        return ParsedVariant(None, None, f"question longer than {max_question_chars} characters")
    boxes = list(_BOXED.finditer(text, end + len(QUESTION_CLOSE)))
    if not boxes and lenient:
        return ParsedVariant(question, None)
    if not boxes:
        return ParsedVariant(None, None, "no \\boxed{...} answer after the question block")
    opening = boxes[-1].end() - 1
    closing = matching_braces(text).get(opening)
    answer = None if closing is None else text[opening + 1 : closing]
    if answer is None:
        return ParsedVariant(None, None, "unbalanced braces in \\boxed{...}")
    answer = answer.strip()
    if not answer:
        return ParsedVariant(None, None, "empty \\boxed{} answer")
    if len(answer) > max_answer_chars:
        return ParsedVariant(None, None, f"answer longer than {max_answer_chars} characters")
    return ParsedVariant(question, answer)


def format_reward(text: str) -> float:
    """1.0 if `parse_variant` accepts ``text``, else 0.0.

    Example:
        >>> format_reward("<question>2 + 2?</question> \\\\boxed{4}"), format_reward("\\\\boxed{4}")
        (1.0, 0.0)
    """
    return 1.0 if parse_variant(text).ok else 0.0


# ---------------------------------------------------------------------------- capability


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


# ---------------------------------------------------------------------------- copy penalty


def normalise_text(text: str) -> str:
    """Lower-cased, with runs of whitespace collapsed: the form every comparison here uses.

    Example:
        >>> normalise_text("  Find\\n X. ")
        'find x.'
    """
    return _WHITESPACE.sub(" ", text).strip().lower()


def char_similarity(a: str, b: str) -> float:
    """Character-level similarity in [0, 1]: difflib's ratio 2M / (|a| + |b|).

    Case and runs of whitespace are ignored. ``autojunk`` is off: with it, difflib treats
    every common character of a text over 200 characters as junk and the ratio collapses.

    Example:
        >>> char_similarity("Find x.", "find  x."), char_similarity("abcd", "wxyz")
        (1.0, 0.0)
    """
    a, b = normalise_text(a), normalise_text(b)
    if not a and not b:
        return 1.0
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def copy_threshold(
    len_ref: int, *, short: int = 64, long: int = 512, high: float = 0.9, low: float = 0.7
) -> float:
    """Character similarity above which a variant counts as a near copy of a reference.

    Short texts share a larger fraction of characters by chance (the same few function
    words and symbols), so they need a higher threshold:

        threshold = high                                  if len_ref <= short
                  = low                                   if len_ref >= long
                  = high - (high - low) * log(len_ref / short) / log(long / short)   between

    Example:
        >>> copy_threshold(30), copy_threshold(1000), round(copy_threshold(181), 2)
        (0.9, 0.7, 0.8)
    """
    if len_ref <= short:
        return high
    if len_ref >= long:
        return low
    return high - (high - low) * math.log(len_ref / short) / math.log(long / short)


def math_skeleton(text: str) -> str:
    """The text with numbers -> ``#``, single-letter variables -> ``@``, LaTeX noise removed.

    Whitespace is collapsed, and dropped around symbols, so spacing never matters.

    Two problems with equal skeletons differ only in their numbers and variable names.

    Example:
        >>> math_skeleton("Solve $3x + 5 = 20$ for  x.")
        'solve#@+#=#for@.'
    """
    text = _LATEX_NOISE.sub(" ", text)
    text = _NUMBER.sub("#", text)
    text = _SINGLE_LETTER.sub("@", text)
    return _SPACED_SYMBOL.sub(r"\1", normalise_text(text))


def _content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) > 1 and w not in _STOPWORDS}


def word_overlap(a: str, b: str) -> float:
    """Jaccard overlap of the content words (lower-cased, no stop words, no single letters).

    Two texts without any content word count as identical (1.0); one without any, 0.0.

    Example:
        >>> word_overlap("The apples cost money", "apples and pears cost")
        0.5
    """
    wa, wb = _content_words(a), _content_words(b)
    if not wa and not wb:
        return 1.0
    return len(wa & wb) / len(wa | wb)


def copy_similarity(variant: str, reference: str) -> tuple[bool, float]:
    """Whether ``variant`` is a near copy of ``reference``, and their character similarity.

    A near copy has character similarity above ``copy_threshold(len(reference))``, or the
    same `math_skeleton` together with `word_overlap` above 0.5 (new numbers, same problem).

    Returns:
        ``(is_copy, similarity)`` with similarity = `char_similarity`.

    Example:
        >>> copy_similarity("Tom has 3 apples and buys 4 more. How many?",
        ...                 "Tom has 8 apples and buys 9 more. How many?")[0]
        True
    """
    similarity = char_similarity(variant, reference)
    if similarity > copy_threshold(len(normalise_text(reference))):
        return True, similarity
    same_skeleton = math_skeleton(variant) == math_skeleton(reference)
    return same_skeleton and word_overlap(variant, reference) > SKELETON_WORD_OVERLAP, similarity


def apply_copy_penalty(r: float, variant: str, reference: str) -> float:
    """``r * (1 - similarity)`` when the variant is a near copy of the reference, else ``r``.

    Example:
        >>> apply_copy_penalty(1.0, "What is 2 + 2?", "What is 2 + 2?")
        0.0
    """
    is_copy, similarity = copy_similarity(variant, reference)
    return r * (1.0 - similarity) if is_copy else r


# ---------------------------------------------------------------------------- repetition penalty


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def _bleu(hypothesis: list[str], reference: list[str]) -> float:
    """Sentence BLEU up to 4-grams (fewer for shorter texts, so identical short texts score 1)."""
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    if not hypothesis or not reference:
        return float(hypothesis == reference)
    order = min(4, len(hypothesis), len(reference))
    weights = (1.0 / order,) * order
    return sentence_bleu(
        [reference], hypothesis, weights=weights, smoothing_function=SmoothingFunction().method1
    )


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


def _cluster_shares(texts: Sequence[str], threshold: float, batch_size: int | None) -> list[float]:
    labels = repetition_clusters(texts, threshold)
    size = len(texts) if batch_size is None else batch_size
    if size < len(texts):
        raise ValueError(f"batch_size {size} is smaller than the number of texts {len(texts)}")
    counts = np.bincount(labels) if labels else np.zeros(0, dtype=int)
    return [int(counts[label]) / size for label in labels]


def repetition_penalty(
    texts: Sequence[str], threshold: float = 0.5, batch_size: int | None = None
) -> list[float]:
    """Each text's repetition penalty: its cluster's size / the batch size.

    As in DESIGN.md, the penalty is the share itself, so every variant pays at least
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
    return _cluster_shares(texts, threshold, batch_size)


# ---------------------------------------------------------------------------- combined


def synthesizer_rewards(
    texts: Sequence[str],
    references: Sequence[str | None],
    consistencies: Sequence[float | None],
    *,
    gamma: float = 1.2,
    copy_penalty: bool = True,
    repetition_penalty: bool = True,
    threshold: float = 0.5,
    lenient: bool = False,
) -> list[RewardBreakdown]:
    """The reward of every variant of one batch, with each term.

    0 for an unparseable output; else the capability reward, times (1 - similarity) for a
    near copy of its reference, minus its cluster's share of the batch, clipped at 0.
    Repetition clusters the parsed questions; the share's denominator is the whole batch,
    unparseable outputs included.

    Args:
        texts: raw Synthesizer outputs of the batch.
        references: each output's reference question (None = no reference, e.g. r_zero).
        consistencies: the Solver's self-consistency on each parsed variant; None for the
            unparseable ones (the Solver is not run on them).
        gamma: exponent of `capability_reward`.
        copy_penalty: apply the copy penalty (False = ablation; the term is then None).
        repetition_penalty: apply the repetition penalty (False = ablation; term None).
        threshold: BLEU-distance threshold of `repetition_clusters`.
        lenient: parse with `parse_variant(..., lenient=True)`.

    Returns:
        One `RewardBreakdown` per text, in order.

    Example:
        >>> outs = ["<question>A train goes 60 km/h for 2 h. Distance?</question> \\\\boxed{120}", "oops"]
        >>> [r.total for r in synthesizer_rewards(outs, ["What is 2 + 3?"] * 2, [0.5, None],
        ...                                       repetition_penalty=False)]
        [1.0, 0.0]
    """
    if not len(texts) == len(references) == len(consistencies):
        raise ValueError("texts, references and consistencies must have the same length")
    parsed = [parse_variant(t, lenient=lenient) for t in texts]
    ok = [i for i, p in enumerate(parsed) if p.ok]
    shares: dict[int, float] = {}
    if repetition_penalty and ok:
        questions = [parsed[i].question or "" for i in ok]
        shares = dict(zip(ok, _cluster_shares(questions, threshold, len(texts)), strict=True))
    return [
        _one_reward(p, ref, s, shares.get(i), gamma=gamma, copy_penalty=copy_penalty)
        for i, (p, ref, s) in enumerate(zip(parsed, references, consistencies, strict=True))
    ]


def _one_reward(
    parsed: ParsedVariant,
    reference: str | None,
    consistency: float | None,
    share: float | None,
    *,
    gamma: float,
    copy_penalty: bool,
) -> RewardBreakdown:
    if not parsed.ok:
        return RewardBreakdown(0.0, None, 0.0, None, None, None, 0.0)
    if consistency is None:
        raise ValueError(f"parsed variant {parsed.question[:60]!r} has no Solver consistency")
    capability = capability_reward(consistency, gamma)
    r, is_copy, similarity = capability, None, None
    if copy_penalty and reference is not None:
        is_copy, similarity = copy_similarity(parsed.question or "", reference)
        r = r * (1.0 - similarity) if is_copy else r
    if share is not None:
        r -= share
    return RewardBreakdown(1.0, consistency, capability, similarity, is_copy, share, max(0.0, r))
