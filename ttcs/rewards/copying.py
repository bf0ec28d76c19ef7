"""The Synthesizer reward's copy penalty, and the near-duplicate tests of the curriculum filter.

A variant that is a near copy of its reference question (`copy_check`: the same text, or the
same math skeleton with new numbers or words) has its reward multiplied by ``1 - similarity``
(in the combiner, `ttcs.rewards.synthesizer`). The curriculum filter (`ttcs.curriculum.dedupe_variants`) uses the
same `CopyProbe`, `copy_check`, `char_similarity` and `ratio_upper_bound` to drop copies of
test questions and near duplicates of one another.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from dataclasses import dataclass

# The copy penalty's thresholds (`copy_check`), as the published TTCS reference sets them.
COPY_TEXT_TIERS = ((100, 0.88), (200, 0.78), (400, 0.68))  # (shorter text below this many chars, threshold)
COPY_TEXT_FLOOR = 0.6  # the threshold for texts of 400 characters and more
SKELETON_COPY = 0.9  # skeleton similarity above this ...
SKELETON_TEXT_OVERLAP = 0.45  # ... with character similarity above this ...
SKELETON_TOKEN_OVERLAP = 0.40  # ... or token overlap above this = a copy with new numbers or words.
MIN_COPY_CHARS = 5  # shorter texts are never copies

_WHITESPACE = re.compile(r"\s+")
_LATEX_NOISE = re.compile(r"\\left|\\right|\\[,;:!]|\\quad|\\qquad|\\displaystyle|\\[()\[\]]|\$|~")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_SINGLE_LETTER = re.compile(r"(?<![A-Za-z\\])[A-Za-z](?![A-Za-z])")
_FRAC_ALIAS = re.compile(r"\\[dt]frac(?![A-Za-z])")
_GREEK = re.compile(
    r"\\(?:alpha|beta|gamma|delta|epsilon|varepsilon|zeta|eta|theta|vartheta|iota|kappa|lambda|mu|nu"
    r"|xi|pi|rho|sigma|tau|upsilon|phi|varphi|chi|psi|omega)(?![A-Za-z])"
)
_MATH_SPAN = re.compile(r"\$\$(.+?)\$\$|(?<!\\)\$(.+?)(?<!\\)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.DOTALL)
_COPY_TOKEN = re.compile(r"\\[a-z]+|[a-z]+|\d+|[-+*/=<>^|(){}\[\]_]")
_COPY_STOPWORDS = frozenset(
    "a an the of to in on at by for with from and or but if then than that this these those is are was "
    "were be been being it its as into what which who whom whose how many much let there their each all "
    "any some such so do does did can will would should must may has have had not no given consider "
    "determine find compute evaluate show prove calculate solve express write state number numbers integer "
    "integers value values solution solutions answer result following problem".split()
)


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
    return " ".join((m.group(m.lastindex or 0)).strip() for m in _MATH_SPAN.finditer(text))


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


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """Jaccard overlap of two token sets (`CopyProbe.tokens`); 0.0 when either is empty."""
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
        return cls(
            norm, Counter(norm), math_skeleton(text), math_skeleton(segments) if segments else None, _copy_tokens(text)
        )


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
       similarity above 0.45 or a token overlap (`jaccard` of `CopyProbe.tokens`) above 0.40 — a paraphrase that keeps
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
    overlap = jaccard(variant.tokens, reference.tokens)
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
