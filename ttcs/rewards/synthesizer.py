"""The Synthesizer's reward: format, capability, copy penalty and repetition penalty.

The Synthesizer reads one test question (the *reference*) and writes a variant: a
``<question>...</question>`` block and a final ``\\boxed{...}`` answer. One variant's
reward (step 1 of the TTCS method; docs/fidelity.md compares it with the authors' code) is

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

import difflib
import re
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from ttcs_verifiers import matching_braces

from ttcs.types import ParsedVariant, RewardBreakdown
from ttcs.voting import majority_vote

QUESTION_OPEN, QUESTION_CLOSE = "<question>", "</question>"
MAX_QUESTION_CHARS = 4000  # ~1000 tokens: the Synthesizer's whole response budget.
MAX_ANSWER_CHARS = 200  # a single scalar answer; anything longer is a derivation, not an answer.
# The copy penalty's thresholds (`copy_check`), as the published TTCS reference sets them.
COPY_TEXT_TIERS = ((100, 0.88), (200, 0.78), (400, 0.68))  # (shorter text below this many chars, threshold)
COPY_TEXT_FLOOR = 0.6  # the threshold for texts of 400 characters and more
SKELETON_COPY = 0.9  # skeleton similarity above this ...
SKELETON_TEXT_OVERLAP = 0.45  # ... with character similarity above this ...
SKELETON_TOKEN_OVERLAP = 0.40  # ... or token overlap above this = a copy with new numbers or words.
MIN_COPY_CHARS = 5  # shorter texts are never copies

_BOXED = re.compile(r"\\boxed\s*\{")
_WHITESPACE = re.compile(r"\s+")
_LATEX_NOISE = re.compile(r"\\left|\\right|\\[,;:!]|\\quad|\\qquad|\\displaystyle|\\[()\[\]]|\$|~")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_SINGLE_LETTER = re.compile(r"(?<![A-Za-z\\])[A-Za-z](?![A-Za-z])")
_FRAC_ALIAS = re.compile(r"\\[dt]frac(?![A-Za-z])")
_GREEK = re.compile(r"\\(?:alpha|beta|gamma|delta|epsilon|varepsilon|zeta|eta|theta|vartheta|iota|kappa|lambda|mu|nu"
                    r"|xi|pi|rho|sigma|tau|upsilon|phi|varphi|chi|psi|omega)(?![A-Za-z])")
_MATH_SPAN = re.compile(r"\$\$(.+?)\$\$|(?<!\\)\$(.+?)(?<!\\)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.DOTALL)
_COPY_TOKEN = re.compile(r"\\[a-z]+|[a-z]+|\d+|[-+*/=<>^|(){}\[\]_]")
_TOKEN = re.compile(r"\w+|[^\w\s]")
# What a stated math problem holds in the lenient format: a digit, a math span or a LaTeX command.
_STATES_MATH = re.compile(r"\d|\$|\\[(\[]|\\[A-Za-z]+")
# A template slot left unfilled: a bracketed phrase made only of slot words, such as "(your new problem)",
# "[equation]" or "<insert question here>".
_SLOT_WORDS = ("your|my|the|a|an|new|original|reference|insert|here|final|math|problem|problems|question|questions|"
               "equation|equations|expression|answer|number|text")
_PLACEHOLDER = re.compile(rf"[(\[<]\s*(?:(?:{_SLOT_WORDS})\b[\s.]*)+[)\]>]", re.IGNORECASE)
# What a problem does in the lenient format: it asks (a question mark) or tells the reader what to work out.
_ASKS = re.compile(r"\?|\b(?:compute|calculate|find|solve|evaluate|simplify|determine|express|prove|show)\b",
                   re.IGNORECASE)
# The end of a lenient question: the first line that ends with its question mark (the rest is the model rambling on).
_QUESTION_LINE_END = re.compile(r"\?[ \t]*\n")
_COPY_STOPWORDS = frozenset(
    "a an the of to in on at by for with from and or but if then than that this these those is are was "
    "were be been being it its as into what which who whom whose how many much let there their each all "
    "any some such so do does did can will would should must may has have had not no given consider "
    "determine find compute evaluate show prove calculate solve express write state number numbers integer "
    "integers value values solution solutions answer result following problem".split()
)


# ---------------------------------------------------------------------------- format


def parse_variant(
    text: str,
    *,
    max_question_chars: int = MAX_QUESTION_CHARS,
    max_answer_chars: int = MAX_ANSWER_CHARS,
    lenient: bool = False,
    require_problem: bool = True,
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
            unclosed last ``<question>`` block ends at its first blank line or after its first
            line that ends with a question mark, and the boxed
            answer may be missing (``answer`` None). The question must still state a problem
            (`states_a_problem`): without a claimed answer, that is what keeps text such as
            "(original problem)" or "Solve this: [equation]." from earning a reward.
        require_problem: apply that check in the lenient format (False = ablation: any
            non-empty text in the block parses, as before the check existed).

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
        asked = _QUESTION_LINE_END.search(text, start + len(QUESTION_OPEN), end)
        end = asked.start() + 1 if asked else end
    if start < 0:
        return ParsedVariant(None, None, "no complete <question>...</question> block")
    question = text[start + len(QUESTION_OPEN) : end].strip()
    if not question:
        return ParsedVariant(None, None, "empty question block")
    if len(question) > max_question_chars:
        return ParsedVariant(None, None, f"question longer than {max_question_chars} characters")
    if lenient and require_problem and (reason := problem_text_flaw(question)) is not None:
        return ParsedVariant(None, None, reason)
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


def problem_text_flaw(question: str) -> str | None:
    """Why ``question`` does not state a math problem (None when it does): the lenient format's check.

    A problem states its data: it holds a digit, a math span or a LaTeX command. It fills
    every slot of the template: no bracketed placeholder such as "(your new problem)" or
    "[equation]". It asks for something: a question mark, or a verb such as compute, find,
    solve or evaluate (a numbered list of topics or a stray statement asks for nothing).
    These checks are needed only where the Synthesizer may omit its claimed answer
    (``lenient=True``); the strict format asks for that answer instead, as the reference does.

    Example:
        >>> problem_text_flaw("How many legs do 3 cats have?") is None
        True
        >>> problem_text_flaw("Please solve this problem: [equation].")
        'the question holds a template placeholder'
        >>> problem_text_flaw("Your question")
        'the question states no numbers or math'
        >>> problem_text_flaw("3. Make a brace frame")
        'the question asks for nothing'
    """
    if _PLACEHOLDER.search(question):
        return "the question holds a template placeholder"
    if not _STATES_MATH.search(question):
        return "the question states no numbers or math"
    if not _ASKS.search(question):
        return "the question asks for nothing"
    return None


def states_a_problem(question: str) -> bool:
    """True when `problem_text_flaw` finds nothing wrong with ``question``."""
    return problem_text_flaw(question) is None


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


def copy_threshold(length: int) -> float:
    """Character similarity above which a variant counts as a near copy of its reference.

    ``length`` is the shorter of the two normalised texts. Short texts share a larger
    fraction of characters by chance (the same few function words and symbols), so they
    need a higher threshold. The tiers are the published TTCS reference's:

        length < 100: 0.88    < 200: 0.78    < 400: 0.68    otherwise: 0.60

    Example:
        >>> copy_threshold(30), copy_threshold(150), copy_threshold(1000)
        (0.88, 0.78, 0.6)
    """
    for shorter_than, threshold in COPY_TEXT_TIERS:
        if length < shorter_than:
            return threshold
    return COPY_TEXT_FLOOR


def math_segments(text: str) -> str:
    """The text's math spans (``$...$``, ``$$...$$``, ``\\(...\\)``, ``\\[...\\]``) joined by spaces; "" if none.

    Example:
        >>> math_segments(r"Let $x = 2$. Find \\(x^2\\).")
        'x = 2 x^2'
    """
    return " ".join(m.group(m.lastindex).strip() for m in _MATH_SPAN.finditer(text))


def math_skeleton(text: str) -> str:
    """The text with numbers -> ``#``, single-letter and Greek variables -> ``@``, LaTeX noise and spaces removed.

    Two problems with equal skeletons differ only in their numbers and variable names.

    Example:
        >>> math_skeleton("Solve $3x + 5 = 20$ for  x.")
        'solve#@+#=#for@.'
    """
    text = _FRAC_ALIAS.sub(r"\\frac", _LATEX_NOISE.sub(" ", text))
    text = _GREEK.sub("@", text)
    text = _NUMBER.sub("#", text)
    text = _SINGLE_LETTER.sub("@", text)
    return _WHITESPACE.sub("", text.lower())


def _copy_tokens(text: str) -> frozenset[str]:
    tokens = _COPY_TOKEN.findall(text.lower())
    return frozenset(t for t in tokens if not (t.isalpha() and t in _COPY_STOPWORDS))


def token_overlap(a: str, b: str) -> float:
    """Jaccard overlap of the texts' tokens: words, numbers, LaTeX commands and operators, minus stop words.

    Instruction words ("find", "compute", "integer", ...) are stop words too: every
    problem uses them. A text without any token overlaps nothing (0.0).

    Example:
        >>> token_overlap("Find the sum of 3 apples", "Compute the sum of 3 pears")
        0.5
    """
    return _jaccard(_copy_tokens(a), _copy_tokens(b))


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


@dataclass(frozen=True)
class CopyProbe:
    """A question prepared for many copy checks: normalised text, its characters, skeletons and tokens."""

    norm: str
    chars: Counter
    skeleton: str
    math_skeleton: str | None
    tokens: frozenset[str]

    @classmethod
    def of(cls, text: str) -> CopyProbe:
        norm = normalise_text(text)
        segments = math_segments(text)
        return cls(norm, Counter(norm), math_skeleton(text), math_skeleton(segments) if segments else None,
                   _copy_tokens(text))


def ratio_upper_bound(a: str, b: str, chars_a: Counter | None = None, chars_b: Counter | None = None) -> float:
    """An upper bound of difflib's ratio from lengths and shared characters (difflib's own quick bounds)."""
    total = len(a) + len(b)
    if total == 0:
        return 1.0
    chars_a = Counter(a) if chars_a is None else chars_a
    chars_b = Counter(b) if chars_b is None else chars_b
    return min(2 * min(len(a), len(b)), 2 * (chars_a & chars_b).total()) / total


def _ratio(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def copy_check(variant: CopyProbe, reference: CopyProbe, *, exact: bool = True) -> tuple[bool, float, str | None]:
    """Whether a variant is a near copy of a reference: ``(is_copy, similarity, rule)``.

    The rules (decided by the published TTCS reference; thresholds are module constants):

    1. ``text``: character similarity above `copy_threshold` of the shorter text;
    2. ``skeleton``: the math skeletons (of the math spans when both texts have some, of
       the whole texts otherwise) have similarity above 0.9, together with a character
       similarity above 0.45 or a `token_overlap` above 0.40 — a paraphrase that keeps
       the numbers' structure, or the same word problem with new numbers.

    ``similarity`` is the score of the rule that fired (the text similarity when none
    did); the copy penalty multiplies the reward by ``1 - similarity``. Texts under 5
    characters are never copies. Cheap upper bounds skip difflib when no rule can fire;
    with ``exact=False`` a non-copy's similarity may then be that upper bound (for the
    many-pair checks of the curriculum filter, which only need the verdict).
    """
    if len(variant.norm) < MIN_COPY_CHARS or len(reference.norm) < MIN_COPY_CHARS:
        return False, 0.0, None
    text_bound = ratio_upper_bound(variant.norm, reference.norm, variant.chars, reference.chars)
    threshold = copy_threshold(min(len(variant.norm), len(reference.norm)))
    overlap = _jaccard(variant.tokens, reference.tokens)
    if text_bound <= threshold and text_bound <= SKELETON_TEXT_OVERLAP and overlap <= SKELETON_TOKEN_OVERLAP:
        return False, _ratio(variant.norm, reference.norm) if exact else text_bound, None  # no rule can fire
    needed = exact or text_bound > min(threshold, SKELETON_TEXT_OVERLAP)
    text = _ratio(variant.norm, reference.norm) if needed else text_bound
    if text > threshold:
        return True, text, "text"
    if text <= SKELETON_TEXT_OVERLAP and overlap <= SKELETON_TOKEN_OVERLAP:
        return False, text, None
    both_math = variant.math_skeleton is not None and reference.math_skeleton is not None
    a, b = (variant.math_skeleton, reference.math_skeleton) if both_math else (variant.skeleton, reference.skeleton)
    if not a or not b or ratio_upper_bound(a, b) <= SKELETON_COPY:
        return False, text, None
    skeleton = _ratio(a, b)
    return (True, skeleton, "skeleton") if skeleton > SKELETON_COPY else (False, text, None)


def copy_similarity(variant: str, reference: str) -> tuple[bool, float]:
    """Whether ``variant`` is a near copy of ``reference``, and the similarity its penalty uses (`copy_check`).

    Example:
        >>> copy_similarity("Tom has 3 apples and buys 4 more. How many apples does he have?",
        ...                 "Tom has 8 apples and buys 9 more. How many apples does he have?")[0]
        True
    """
    is_copy, similarity, _ = copy_check(CopyProbe.of(variant), CopyProbe.of(reference))
    return is_copy, similarity


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
    return _cluster_shares(texts, threshold, batch_size)


# ---------------------------------------------------------------------------- claimed answer

CLAIM_CHECKS = ("off", "exists", "agrees")


_NOT_MORE_ARITHMETIC = r"(?![\d.,/]*\s*[-+*/×÷^])"
_STATED_RESULT = re.compile(r"=\s*\$?\s*(-?\d+(?:[.,/]\d+)?)" + _NOT_MORE_ARITHMETIC)
# "The answer is 3." / "Answer: 3" inside the question; not "the answer is 5 more than x"
_STATED_ANSWER = re.compile(r"\b(?:answer|result)\s*(?:is|:|=)\s*\$?\s*(-?\d+(?:[.,/]\d+)?)" + _NOT_MORE_ARITHMETIC
                            + r"(?!\s*(?:more|less|fewer|times|greater|smaller|larger|bigger)\b)", re.IGNORECASE)


def gives_away(question: str, claimed: str | None, verifier) -> bool:
    """True when ``question`` states its own claimed answer as a result: "... 9 + 6 = 15 ..." claimed 15.

    The published prompt forbids a question that gives its answer away; `claim_verdict`'s
    ``agrees`` enforces it, because a small Solver copies such a number and its vote then
    confirms the claim of a text that asks nothing. A number counts right after "=" or after
    "the answer is" / "answer:" (and not followed by more arithmetic or by "more", "less", …).

    Example:
        >>> class V:
        ...     def equivalent(self, a, b): return a == b
        >>> gives_away("Solve the equation 9 + 6 = 15 for x.", "15", V()), gives_away("If 2x = 10, find x.", "5", V())
        (True, False)
    """
    if claimed is None:
        return False
    stated = [m.group(1) for pattern in (_STATED_RESULT, _STATED_ANSWER) for m in pattern.finditer(question)]
    return any(bool(verifier.equivalent(number, claimed)) for number in stated)


def claim_verdict(claimed: str | None, answers: Sequence[str | None], verifier, mode: str,
                  question: str | None = None) -> bool | None:
    """Whether a parsed variant's claimed answer passes the claim check ``mode`` (None: ``off``).

    - ``off``: not checked (the claimed answer is a diagnostic only);
    - ``exists``: a claimed answer must exist, as in the published method, whose format reward
      needs a boxed answer after the question;
    - ``agrees``: it must also be the answer of the Solver's vote: of the one largest
      cluster of its samples, which must hold at least two of them. A variant on which the
      vote does not reach the Synthesizer's own answer earns nothing, and neither does one
      with no vote to reach: two clusters of equal size, or every sample saying something
      else. With ``question`` given, the question must not state the claim as a result
      (`gives_away`). Not in the published method, which never compares the two: the choice
      of the CPU setting, where the Solver states a number for any text and a split vote on
      text that asks nothing would otherwise earn a high s.

    Example:
        >>> class V:
        ...     def canonical(self, a): return a
        ...     def equivalent(self, a, b): return a == b
        >>> claim_verdict("5", ["5", "3", "5", None], V(), "agrees"), claim_verdict("3", ["5", "3", "5"], V(), "agrees")
        (True, False)
        >>> claim_verdict("3", ["5", "3", "5", "3"], V(), "agrees"), claim_verdict("3", ["5", "3", "4", "6"], V(), "agrees")
        (False, False)
        >>> claim_verdict(None, ["5"], V(), "exists"), claim_verdict("7", ["5"], V(), "exists")
        (False, True)
    """
    if mode not in CLAIM_CHECKS:
        raise ValueError(f"unknown claim check {mode!r}; choose one of {CLAIM_CHECKS}")
    if mode == "off":
        return None
    if claimed is None or not str(claimed).strip():
        return False
    if mode == "exists":
        return True
    vote = majority_vote(list(answers), verifier)
    tied = len(vote.clusters) > 1 and len(vote.clusters[1]) == vote.count
    if vote.count < 2 or tied:
        return False
    if question is not None and gives_away(question, claimed, verifier):
        return False
    return bool(verifier.equivalent(vote.label, claimed))


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
    require_problem: bool = True,
    claims: Sequence[bool | None] | None = None,
) -> list[RewardBreakdown]:
    """The reward of every variant of one batch, with each term.

    0 for an unparseable output; else the capability reward, times (1 - similarity) for a
    near copy of its reference, minus its cluster's share of the batch, clipped at 0.
    Repetition clusters the parsed questions; the share's denominator is the whole batch,
    unparseable outputs included. A variant whose claim check failed gets 0.

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
        require_problem: `parse_variant`'s check that a lenient question states a problem.
        claims: each output's `claim_verdict` (None = not checked); None for none checked.

    Returns:
        One `RewardBreakdown` per text, in order.

    Example:
        >>> outs = ["<question>A train goes 60 km/h for 2 h. Distance?</question> \\\\boxed{120}", "oops"]
        >>> [r.total for r in synthesizer_rewards(outs, ["What is 2 + 3?"] * 2, [0.5, None],
        ...                                       repetition_penalty=False)]
        [1.0, 0.0]
    """
    claims = [None] * len(texts) if claims is None else list(claims)
    if not len(texts) == len(references) == len(consistencies) == len(claims):
        raise ValueError("texts, references, consistencies and claims must have the same length")
    parsed = [parse_variant(t, lenient=lenient, require_problem=require_problem) for t in texts]
    ok = [i for i, p in enumerate(parsed) if p.ok]
    shares: dict[int, float] = {}
    if repetition_penalty and ok:
        questions = [parsed[i].question or "" for i in ok]
        shares = dict(zip(ok, _cluster_shares(questions, threshold, len(texts)), strict=True))
    return [
        _one_reward(p, ref, s, shares.get(i), gamma=gamma, copy_penalty=copy_penalty, claim=claim)
        for i, (p, ref, s, claim) in enumerate(zip(parsed, references, consistencies, claims, strict=True))
    ]


def _one_reward(
    parsed: ParsedVariant,
    reference: str | None,
    consistency: float | None,
    share: float | None,
    *,
    gamma: float,
    copy_penalty: bool,
    claim: bool | None = None,
) -> RewardBreakdown:
    if not parsed.ok:
        return RewardBreakdown(0.0, None, 0.0, None, None, None, 0.0)
    if consistency is None:
        raise ValueError(f"parsed variant {parsed.question[:60]!r} has no Solver consistency")
    capability = capability_reward(consistency, gamma)
    r, is_copy, similarity, rule = capability, None, None, None
    if copy_penalty and reference is not None:
        is_copy, similarity, rule = copy_check(CopyProbe.of(parsed.question or ""), CopyProbe.of(reference))
        r = r * (1.0 - similarity) if is_copy else r
    if share is not None:
        r -= share
    total = 0.0 if claim is False else max(0.0, r)
    return RewardBreakdown(1.0, consistency, capability, similarity, is_copy, share, total, rule, claim)
