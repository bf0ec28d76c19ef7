"""The Synthesizer's reward terms, checked against hand-computed values."""

from __future__ import annotations

import doctest
import importlib
import json
import math

import numpy as np
import pytest

from ttcs.recipes.small_model import parse_lenient
from ttcs.rewards.capability import capability_reward, self_consistency
from ttcs.rewards.copying import (
    CopyProbe,
    char_similarity,
    copy_check,
    copy_threshold,
    jaccard,
    math_segments,
    math_skeleton,
)
from ttcs.rewards.format import MAX_QUESTION_CHARS, parse_variant
from ttcs.rewards.repetition import bleu_distance_matrix, repetition_clusters, repetition_penalty
from ttcs.rewards.synthesizer import synthesizer_rewards

REFERENCE = "Tom has 3 apples and buys 4 more apples at the market. How many apples does Tom have now?"
NUMBERS_CHANGED = "Tom has 8 apples and buys 9 more apples at the market. How many apples does Tom have now?"
DIFFERENT = "A train travels at 60 km per hour for 2.5 hours. What distance does it cover, in kilometres?"


def copy_similarity(variant: str, reference: str) -> tuple[bool, float]:
    """Whether `variant` is a near copy of `reference` and the similarity the penalty uses, as the reward sees them."""
    is_copy, similarity, _ = copy_check(CopyProbe.of(variant), CopyProbe.of(reference))
    return is_copy, similarity


def apply_copy_penalty(r: float, variant: str, reference: str) -> float:
    """The combiner's copy term (`ttcs.rewards.synthesizer._one_reward`): r * (1 - similarity) for a near copy."""
    is_copy, similarity = copy_similarity(variant, reference)
    return r * (1.0 - similarity) if is_copy else r


def token_overlap(a: str, b: str) -> float:
    return jaccard(CopyProbe.of(a).tokens, CopyProbe.of(b).tokens)


def format_reward(text: str) -> float:
    return 1.0 if parse_variant(text).ok else 0.0


def variant(question: str, answer: str = "7") -> str:
    return f"Here is my problem.\n<question>{question}</question>\nSolution sketch... \\boxed{{{answer}}}"


# ---------------------------------------------------------------------------- format

PARSE_CASES = [
    ("plain", "<question>What is 2 + 3?</question> so \\boxed{5}", "What is 2 + 3?", "5"),
    ("strips", "<question>\n  What is 2 + 3?  \n</question>\\boxed{ 5 }", "What is 2 + 3?", "5"),
    ("nested braces", "<question>Q?</question> \\boxed{\\frac{1}{\\sqrt{2}}}", "Q?", "\\frac{1}{\\sqrt{2}}"),
    ("escaped braces", "<question>Q?</question> \\boxed{\\{1, 2\\}}", "Q?", "\\{1, 2\\}"),
    ("last of two blocks", "<question>A?</question> <question>B?</question> \\boxed{2}", "B?", "2"),
    ("last boxed", "<question>Q?</question> \\boxed{1} then \\boxed{2}", "Q?", "2"),
    (
        "boxed in question ignored",
        "<question>Is \\boxed{3} odd?</question> \\boxed{yes}",
        "Is \\boxed{3} odd?",
        "yes",
    ),
    ("second block unclosed", "<question>A?</question> <question>B? \\boxed{2}", "A?", "2"),
]


@pytest.mark.parametrize(("name", "text", "question", "answer"), PARSE_CASES, ids=[c[0] for c in PARSE_CASES])
def test_parse_variant_accepts(name, text, question, answer):
    parsed = parse_variant(text)
    assert parsed.ok and parsed.reason is None
    assert (parsed.question, parsed.answer) == (question, answer)
    assert format_reward(text) == 1.0


MALFORMED_CASES = [
    ("empty output", "", "no complete"),
    ("missing block", "What is 2 + 3? \\boxed{5}", "no complete"),
    ("unclosed tag", "<question>What is 2 + 3? \\boxed{5}", "no complete"),
    ("close before open", "</question>What is 2 + 3?<question> \\boxed{5}", "no complete"),
    ("empty block", "<question>   </question> \\boxed{5}", "empty question"),
    ("missing boxed", "<question>What is 2 + 3?</question> The answer is 5.", "no \\boxed"),
    ("boxed inside question only", "<question>What is \\boxed{2 + 3}?</question>", "no \\boxed"),
    ("boxed before question only", "\\boxed{5} <question>What is 2 + 3?</question>", "no \\boxed"),
    ("empty boxed", "<question>What is 2 + 3?</question> \\boxed{  }", "empty \\boxed"),
    ("unbalanced boxed", "<question>What is 2 + 3?</question> \\boxed{\\frac{1}{2}", "unbalanced"),
    (
        "huge question",
        "<question>" + "x" * (MAX_QUESTION_CHARS + 1) + "</question> \\boxed{1}",
        "longer than",
    ),
    ("huge answer", "<question>Q?</question> \\boxed{" + "1" * 201 + "}", "answer longer than"),
]


@pytest.mark.parametrize(("name", "text", "reason"), MALFORMED_CASES, ids=[c[0] for c in MALFORMED_CASES])
def test_parse_variant_rejects_with_reason(name, text, reason):
    parsed = parse_variant(text)
    assert not parsed.ok
    assert parsed.question is None and parsed.answer is None
    assert reason in parsed.reason
    assert format_reward(text) == 0.0


def test_parse_variant_huge_noisy_input_is_fast_and_correct():
    noise = "<question>" * 50_000 + "{" * 50_000 + "\\boxed{" * 10_000
    text = noise + "<question>What is 6 * 7?</question> so \\boxed{42}"
    assert parse_variant(text).answer == "42"


# ---------------------------------------------------------------------------- capability


# (4 s (1 - s))^1.2 by hand: s = 1/8 -> 0.4375^1.2 = exp(1.2 ln 0.4375) = exp(-0.992014) = 0.370829;
# s = 3/4 -> 0.75^1.2 = exp(1.2 ln 0.75) = exp(-0.345219) = 0.708066.
@pytest.mark.parametrize(("s", "expected"), [(0.0, 0.0), (0.125, 0.370829), (0.5, 1.0), (0.75, 0.708066), (1.0, 0.0)])
def test_capability_reward_hand_values(s, expected):
    assert capability_reward(s, gamma=1.2) == pytest.approx(expected, abs=1e-6)


def test_capability_reward_gamma_one_is_the_parabola_and_symmetric():
    assert capability_reward(0.25, gamma=1.0) == pytest.approx(0.75)
    assert capability_reward(0.3) == pytest.approx(capability_reward(0.7))


@pytest.mark.parametrize("bad", [-0.1, 1.1, math.nan])
def test_capability_reward_rejects_out_of_range(bad):
    with pytest.raises(ValueError):
        capability_reward(bad)


# ---------------------------------------------------------------------------- copy penalty


def test_char_similarity_ignores_case_and_whitespace():
    assert char_similarity("Find  X.", "find x.") == 1.0
    assert char_similarity("", "") == 1.0
    assert char_similarity("abcd", "abxy") == pytest.approx(0.5)  # 2 * 2 / 8


def test_copy_threshold_follows_the_reference_tiers():
    assert [copy_threshold(n) for n in (0, 99, 100, 199, 200, 399, 400, 5000)] == [
        0.88,
        0.88,
        0.78,
        0.78,
        0.68,
        0.68,
        0.6,
        0.6,
    ]


def test_math_skeleton_replaces_numbers_variables_and_latex_noise():
    assert math_skeleton("Solve $3x + 5 = 20$ for  x.") == "solve#@+#=#for@."
    assert math_skeleton("Let \\left(y\\right) = 1,000.5") == math_skeleton("let ( z ) = 7")
    assert math_skeleton("\\pi r^2") == "@@^#"  # a Greek letter is a variable too
    assert math_skeleton("2x+1") == math_skeleton("3 y + 4")
    assert math_skeleton("\\dfrac{1}{2}") == math_skeleton("\\frac{3}{4}")


def test_math_segments_collects_every_math_span():
    assert math_segments("Let $x=2$ and \\(y\\) be \\[z\\], $$w$$.") == "x=2 y z w"
    assert math_segments("no math here") == ""


def test_token_overlap_is_jaccard_over_tokens_without_stop_words():
    # {sum, 3, apples} vs {sum, 3, pears}: "find", "compute", "the", "of" are stop words; 2 shared / 4 in all.
    assert token_overlap("Find the sum of 3 apples", "Compute the sum of 3 pears") == 0.5
    assert token_overlap("the of", "the of") == 0.0  # no tokens at all: nothing overlaps
    assert token_overlap("apples", "pears") == 0.0


def test_exact_copy_is_penalised_to_zero():
    assert copy_similarity(REFERENCE, REFERENCE) == (True, 1.0)
    assert apply_copy_penalty(0.8, REFERENCE, REFERENCE) == 0.0


def test_numbers_changed_is_a_skeleton_copy():
    # "what is 12 + 35?" vs "what is 47 + 18?": 12 matching characters ("what is ", " + ", "?") of 32 -> 0.75,
    # below the 0.88 of short texts; the skeletons "whatis#+#?" are identical (1.0 > 0.9) and 0.75 > 0.45.
    assert char_similarity("What is 12 + 35?", "What is 47 + 18?") == 0.75
    assert copy_similarity("What is 12 + 35?", "What is 47 + 18?") == (True, 1.0)
    assert apply_copy_penalty(0.9, "What is 12 + 35?", "What is 47 + 18?") == 0.0  # 0.9 * (1 - 1.0)


def test_paraphrase_keeping_the_numbers_is_a_skeleton_copy():
    reference = "Find the remainder when $7^{100}$ is divided by $5$."
    paraphrase = "What remainder do you get if you divide $7^{100}$ by $5$?"
    # Math spans "7^{100} 5" in both: skeleton "#^{#}#" twice (1.0). Tokens {remainder, when, 7, ^, {, 100, },
    # divided, 5} vs {remainder, you, get, divide, 7, ^, {, 100, }, 5}: 7 shared of 12 = 0.583 > 0.40.
    assert token_overlap(reference, paraphrase) == pytest.approx(7 / 12)
    assert copy_similarity(paraphrase, reference) == (True, 1.0)


def test_near_copy_by_text_pays_one_minus_its_similarity():
    renamed = REFERENCE.replace("Tom", "Ann")  # 89 chars, 4 changed letters: similarity 166 / 178
    is_copy, similarity = copy_similarity(renamed, REFERENCE)
    assert is_copy and similarity == pytest.approx(166 / 178) and similarity > 0.88
    assert apply_copy_penalty(1.0, renamed, REFERENCE) == pytest.approx(12 / 178)


def test_word_problem_with_new_objects_is_not_a_copy():
    new_objects = "A library lends 12 books on Monday and 30 books on Tuesday. How many books did it lend in all?"
    is_copy, similarity = copy_similarity(new_objects, REFERENCE)
    assert not is_copy and similarity < 0.45 and token_overlap(new_objects, REFERENCE) == 0.0
    assert apply_copy_penalty(0.7, new_objects, REFERENCE) == 0.7


def test_genuinely_different_problem_is_not_penalised():
    is_copy, similarity = copy_similarity(DIFFERENT, REFERENCE)
    assert not is_copy and similarity < 0.6
    assert apply_copy_penalty(0.7, DIFFERENT, REFERENCE) == 0.7


def test_very_short_texts_are_never_copies():
    assert copy_similarity("x=1", "x=1") == (False, 0.0)


# ---------------------------------------------------------------------------- self-consistency


class _Exact:
    def canonical(self, a):
        return a

    def equivalent(self, a, b):
        return a == b


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        (["4", "4", "5", "6"], 0.5),  # largest cluster 2 of 4
        (["4", None, None, None], 0.0),  # the unanswered cluster (3) is the largest
        (["4", "4", None, None], 0.0),  # a tie with the unanswered cluster counts as unanswered
        (["4", "4", "4", None, None, "5"], 0.5),  # 3 of 6: unanswered samples stay in the denominator
        ([None] * 4, 0.0),
        (["4"] * 4, 1.0),
        ([], 0.0),
    ],
)
def test_self_consistency_counts_unanswered_samples_as_a_cluster(answers, expected):
    assert self_consistency(answers, _Exact()) == expected


# ---------------------------------------------------------------------------- repetition penalty


def test_bleu_distance_hand_value():
    # "a b c d e" vs "a b c d f": n-gram precisions 4/5, 3/4, 2/3, 1/2 both ways, no brevity
    # penalty -> BLEU = (0.8 * 0.75 * 2/3 * 0.5)^(1/4) = 0.2^0.25.
    dist = bleu_distance_matrix(["a b c d e", "a b c d f"])
    assert dist[0, 1] == dist[1, 0] == pytest.approx(1 - 0.2**0.25)
    assert np.all(np.diag(dist) == 0.0)


def test_bleu_distance_identical_short_texts_are_zero():
    assert bleu_distance_matrix(["x = 2", "X = 2", "7"]).round(6).tolist() == [
        [0, 0, 1],
        [0, 0, 1],
        [1, 1, 0],
    ]


def test_repetition_two_identical_one_different():
    texts = [REFERENCE, REFERENCE, DIFFERENT]
    assert repetition_clusters(texts) == [0, 0, 1]
    assert repetition_penalty(texts) == pytest.approx([2 / 3, 2 / 3, 1 / 3])


def test_repetition_threshold_decides_the_merge():
    texts = ["a b c d e", "a b c d f"]  # distance 1 - 0.2^0.25 = 0.331
    assert repetition_clusters(texts, threshold=0.5) == [0, 0]
    assert repetition_clusters(texts, threshold=0.3) == [0, 1]
    assert repetition_penalty(texts, threshold=0.3) == [0.5, 0.5]


def test_repetition_all_distinct_pays_one_over_batch_size():
    texts = [REFERENCE, DIFFERENT, "Compute the remainder when 2^100 is divided by 7."]
    assert repetition_penalty(texts) == pytest.approx([1 / 3] * 3)
    assert repetition_penalty(texts, batch_size=6) == pytest.approx([1 / 6] * 3)


@pytest.mark.parametrize(("texts", "labels", "shares"), [([], [], []), (["only one"], [0], [1.0])])
def test_repetition_empty_and_single(texts, labels, shares):
    assert repetition_clusters(texts) == labels
    assert repetition_penalty(texts) == shares


def test_repetition_penalty_rejects_too_small_batch_size():
    with pytest.raises(ValueError):
        repetition_penalty(["a", "b"], batch_size=1)


# ---------------------------------------------------------------------------- combined


def test_synthesizer_rewards_combines_terms():
    texts = [variant(DIFFERENT), variant(DIFFERENT), "no tags at all \\boxed{3}", variant(REFERENCE)]
    out = synthesizer_rewards(texts, [REFERENCE] * 4, [0.5, 0.75, None, 0.5])
    first, second, bad, copy = out
    # 0.5 -> capability 1; the two equal questions share a cluster: 2 of a batch of 4.
    assert (first.format, first.capability, first.is_copy, first.repetition) == (1.0, 1.0, False, 0.5)
    assert first.total == pytest.approx(0.5)
    assert second.total == pytest.approx(0.708066 - 0.5, abs=1e-6)
    assert bad.as_dict() == {
        "format": 0.0,
        "consistency": None,
        "capability": 0.0,
        "copy_similarity": None,
        "is_copy": None,
        "repetition": None,
        "total": 0.0,
        "copy_rule": None,
        "claim": None,
    }
    # exact copy: 1 * (1 - 1) - 1/4 -> clipped at 0.
    assert copy.is_copy and copy.copy_similarity == 1.0 and copy.repetition == 0.25 and copy.total == 0.0


def test_synthesizer_rewards_clips_at_zero():
    texts = [variant(DIFFERENT)] * 2
    out = synthesizer_rewards(texts, [REFERENCE] * 2, [0.125, 0.125])
    assert [r.total for r in out] == [0.0, 0.0]  # 0.3708 - 2/2 < 0


def test_synthesizer_rewards_ablation_flags():
    texts = [variant(REFERENCE), variant(REFERENCE)]
    both_off = synthesizer_rewards(texts, [REFERENCE] * 2, [0.5, 0.5], copy_penalty=False, repetition_penalty=False)
    assert [r.total for r in both_off] == [1.0, 1.0]
    assert both_off[0].copy_similarity is None and both_off[0].repetition is None
    no_copy = synthesizer_rewards(texts, [REFERENCE] * 2, [0.5, 0.5], copy_penalty=False)
    assert [r.total for r in no_copy] == [0.0, 0.0]  # 1 - 2/2
    no_repetition = synthesizer_rewards(texts, [REFERENCE] * 2, [0.5, 0.5], repetition_penalty=False)
    assert [r.total for r in no_repetition] == [0.0, 0.0]  # exact copies


def test_synthesizer_rewards_without_reference_skips_copy_penalty():
    (out,) = synthesizer_rewards([variant(REFERENCE)], [None], [0.5], repetition_penalty=False)
    assert out.is_copy is None and out.total == 1.0


def test_synthesizer_rewards_json_serialisable():
    out = synthesizer_rewards([variant(DIFFERENT), "junk"], [REFERENCE] * 2, [0.5, None])
    json.dumps([r.as_dict() for r in out])


def test_synthesizer_rewards_input_errors():
    with pytest.raises(ValueError, match="same length"):
        synthesizer_rewards(["a"], [], [])
    with pytest.raises(ValueError, match="consistency"):
        synthesizer_rewards([variant(DIFFERENT)], [REFERENCE], [None])


def test_consistency_from_majority_vote_integration():
    voting = pytest.importorskip("ttcs.voting")

    class ExactMatch:
        def extract(self, completion):
            return completion

        def equivalent(self, a, b):
            return a == b

        def canonical(self, a):
            return a

    vote = voting.majority_vote(["7", "7", "7", "7", "8", "9", "8", "7"], ExactMatch())
    assert vote.share == pytest.approx(5 / 8)
    (out,) = synthesizer_rewards([variant(DIFFERENT)], [REFERENCE], [vote.share], repetition_penalty=False)
    assert out.total == pytest.approx((4 * 5 / 8 * 3 / 8) ** 1.2)


@pytest.mark.parametrize(
    "name",
    [
        "rewards.synthesizer",
        "rewards.format",
        "rewards.capability",
        "rewards.copying",
        "rewards.repetition",
        "recipes",
        "recipes.paper",
        "recipes.small_model",
    ],
)
def test_docstring_examples_run(name):
    module = importlib.import_module(f"ttcs.{name}")

    assert doctest.testmod(module).failed == 0


@pytest.mark.parametrize(
    ("text", "question", "answer"),
    [
        ("<question>\nHow many legs do 3 cats have?\n\nEach cat has 4 legs.", "How many legs do 3 cats have?", None),
        ("<question>\n\nWhat is 7 + 8?", "What is 7 + 8?", None),  # leading blank lines are skipped
        ("<question>What is 2 + 2?</question> so \\boxed{4}", "What is 2 + 2?", "4"),  # strict form still works
        ("<question>\nWhat is 6 * 7?\n\n6 * 7 = 42, \\boxed{42}", "What is 6 * 7?", "42"),
        # the question ends after its first line that ends with a question mark: the rest is rambling
        ("<question>\nWhat is 6 × 8?\n<post>\n10 × 8 = 80\n6 × 8 = 48", "What is 6 × 8?", None),
        (
            "<question>\nA farm has 6 cows.\nIt buys 3 more. How many cows?\nYes, 9.",
            "A farm has 6 cows.\nIt buys 3 more. How many cows?",
            None,
        ),
    ],
)
def test_lenient_parse_for_small_models(text, question, answer):
    parsed = parse_lenient(text)
    assert parsed.ok and (parsed.question, parsed.answer) == (question, answer)
    if answer is None:
        assert not parse_variant(text).ok  # the strict (paper) format rejects it


@pytest.mark.parametrize("text", ["no tags at all", "<question>\n   \n\n", ""])
def test_lenient_parse_still_needs_a_question(text):
    assert not parse_lenient(text).ok


@pytest.mark.parametrize(
    ("question", "reason"),
    [
        ("Please solve this problem: [equation].", "the question holds a template placeholder"),
        ("(your new problem) ... (your new question)", "the question holds a template placeholder"),
        ("(original problem)", "the question holds a template placeholder"),
        ("What is 3 + 4? <insert question here>", "the question holds a template placeholder"),
        ("Your question", "the question states no numbers or math"),
        ("qwzx blorp frandle", "the question states no numbers or math"),
        ("3. Make a brace frame", "the question asks for nothing"),
        ("1. Redox reactions\n2. Age information\n3. A job interview", "the question asks for nothing"),
        ("The original problem was 9 × 6 = 48, but it requires a change of objects.", "the question asks for nothing"),
    ],
)
def test_lenient_parse_refuses_text_that_states_no_problem(question, reason):
    parsed = parse_lenient(f"<question>\n{question}\n\nSome solution.")
    assert not parsed.ok and parsed.reason == reason
    # With a claimed answer, the strict (paper) format judges only the format, as the reference does.
    assert parse_variant(f"<question>{question}</question> \\boxed{{7}}").ok


@pytest.mark.parametrize(
    "question",
    [
        "How many legs do 3 cats have?",
        "Solve $x^2 = 4$ for x (give the positive answer).",
        "Compute \\frac{a}{b} for a = b.",
        "A box has (3 red and 4 blue) balls. How many balls are in the box?",
        "What is seven times \\pi?",
    ],
)
def test_lenient_parse_keeps_stated_problems(question):
    assert parse_lenient(f"<question>\n{question}\n\nSome solution.").question == question


def test_ill_posed_lenient_variants_earn_nothing():
    texts = [
        f"<question>\n{q}\n\n"
        for q in ("(original problem)", "Your question", "A shop sells 6 boxes of 7 pens. How many pens?")
    ]
    rewards = synthesizer_rewards(
        texts, ["What is 6 × 8?"] * 3, [None, None, 0.5], parse=parse_lenient, repetition_penalty=False
    )
    assert [r.total for r in rewards[:2]] == [0.0, 0.0] and rewards[2].total > 0.9


def test_hand_written_batch_gets_the_rewards_worked_out_from_the_formulas():
    new_objects = "A library lends 12 books on Monday and 30 books on Tuesday. How many books did it lend in all?"
    texts = [
        variant(new_objects),
        variant(DIFFERENT),
        variant(DIFFERENT),
        variant("(original problem)"),
        variant("qwzx blorp frandle"),
        variant(REFERENCE),
    ]
    solver_answers = [
        ["42", "42", "42", "17"],  # s = 3/4
        ["150", "150", None, "120"],  # s = 2/4: the one unanswered sample stays in n
        ["150", "150", None, "120"],
        ["7", None, None, None],  # unanswered is the largest cluster: s = 0
        [None, None, "3", None],  # gibberish the Solver does not answer: s = 0
        ["7", "7", "8", "9"],
    ]  # an exact copy, s = 1/2
    s = [self_consistency(a, _Exact()) for a in solver_answers]
    assert s == [0.75, 0.5, 0.5, 0.0, 0.0, 0.5]
    out = synthesizer_rewards(texts, [REFERENCE] * 6, s)
    cap_75 = 0.75**1.2  # (4 * 0.75 * 0.25)^1.2 = 0.708066
    # Repetition: the two DIFFERENT variants share a cluster (2/6), every other variant is alone (1/6).
    assert [r.repetition for r in out] == pytest.approx([1 / 6, 2 / 6, 2 / 6, 1 / 6, 1 / 6, 1 / 6])
    assert [r.total for r in out] == pytest.approx([cap_75 - 1 / 6, 1 - 2 / 6, 1 - 2 / 6, 0.0, 0.0, 0.0])
    assert out[5].is_copy and out[5].copy_rule == "text" and out[5].copy_similarity == 1.0
    assert out[0].is_copy is False and out[0].copy_rule is None


# ---------------------------------------------------------------------------- claimed answer


@pytest.mark.parametrize(
    ("question", "claimed", "expected"),
    [
        ("Solve the math equation 9 + 6 = 15 for x.", "15", True),
        ("Prove that 1 + 1 = 2 using a logical contradiction.", "2", True),
        ("1. Find: 8 + 1 = 9 + 1\n2. 5 + 2 = 9 - 1 = 6", "6", True),
        ("What is 7 × 8?", "56", False),
        ("If 2x = 10, what is x?", "5", False),
        ("Find 3 + 4 = ?", "7", False),
        ("If 3 + 4 = 7, what is 7 + 3?", "10", False),
        ("Anything = 4", None, False),
        ("Solve: 8 + 1 = 2 + 2\nThe answer is 2", "2", True),  # "the answer is" in the question
        ("First, we need to find the number 3. The answer is 3. Second, divide", "3", True),
        ("Answer: 12. What is 3 × 4?", "12", True),
        ("The answer is 5 more than x, and x = 2. What is the answer?", "5", False),
        ("The answer is 2 + 3 apples. How many?", "2", False),
        ("What is the answer to the question 6 + 3?", "9", False),
    ],
)
def test_gives_away_finds_a_question_that_states_its_claim_as_a_result(question, claimed, expected):
    from ttcs.recipes.small_model import gives_away
    from ttcs.verify import get_verifier

    assert gives_away(question, claimed, get_verifier("math")) is expected


def test_claim_verdict_modes():
    from ttcs.recipes.small_model import claim_verdict
    from ttcs.verify import get_verifier

    v = get_verifier("math")
    vote = ["15", "16", "15", None]
    assert claim_verdict("15", vote, v, "off") is None
    assert claim_verdict(None, vote, v, "exists") is False and claim_verdict("99", vote, v, "exists") is True
    assert claim_verdict("15.0", vote, v, "agrees") is True  # equivalent answers, not equal strings
    assert claim_verdict("16", vote, v, "agrees") is False
    assert claim_verdict("15", vote, v, "agrees", question="Solve 9 + 6 = 15 for x.") is False
    assert claim_verdict("15", vote, v, "agrees", question="What is 9 + 6?") is True
    assert claim_verdict("15", ["15", "15", None, None], v, "agrees") is True  # unanswered samples never vote
    with pytest.raises(ValueError, match="unknown claim check"):
        claim_verdict("15", vote, v, "maybe")
