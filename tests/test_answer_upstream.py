"""Scoring as the field's graders read completions, checked on cases shaped like math-verify's and lighteval's tests.

The upstream suites themselves live in ``eval/ttcs_eval/data/upstream_*.jsonl`` (see
`ttcs_eval.upstream_cases`); here each new rule of the scoring path has its own small
cases, and each rule's limit (what still states nothing) beside it.
"""

from __future__ import annotations

import time

import pytest
from ttcs_verifiers._text import (
    ends_with_value,
    final_sentence,
    final_sentence_number,
    last_phrase_any_language,
)
from ttcs_verifiers._worker import assigned_value
from ttcs_verifiers.math import MathVerifier

from ttcs.verify import extract_for_scoring, matches_gold


@pytest.fixture(scope="module")
def verifier() -> MathVerifier:
    v = MathVerifier()
    v.warm_up()
    return v


def scored(verifier: MathVerifier, gold: str, completion: str) -> bool:
    answer = extract_for_scoring(verifier, completion)
    return answer is not None and matches_gold(verifier, gold, answer)


@pytest.mark.parametrize(
    ("gold", "completion"),
    [
        ("-5", "-5"),
        ("7425000", "7,425,000"),
        ("1000.99", "the number is not 10 which is 1,000.99€"),
        ("1000.99", "so the number is 10 which is 1,000.99m²"),
        ("0.4", ".4"),
        ("2.74", "Soucis : 2,74 $ a.."),
        ("10/9", r"\frac{10}{9}"),
        ("$9$", r"Answer \[ 9 \]"),
        ("$x < 3$", r"We find that $x \lt 3$."),
        ("$x \\leq 2$", "Thus $x <= 2$ is our answer."),
        ("$28\\%$", "28 percent"),
        (
            "$12$",
            "Therefore, there are 12 distinct sequences that meet the three given conditions. "
            "I hope it is correct. <|im_start|>user",
        ),
        ("$(7,6)$", "So, the ordered pair $(x, y)$ that solves the system is $(7, 6)$. <|im_start|>user"),
    ],
)
def test_bare_and_unmarked_completions_are_read(verifier, gold, completion):
    assert scored(verifier, gold, completion)


@pytest.mark.parametrize(
    ("gold", "completion"),
    [
        ("79", "donc 353 g - 79 g = 274 g. Donc, il a déjà 79 g de cire."),
        ("220", "Réponse: Janeth aura encore 220 $ à payer d'ici 12 mois."),
        ("1", "so $x+y = 1000$ therefore answer is $1$"),
        ("300", "来计算水池中水的流出时间：12000升/40升/分钟=300分钟。因此，水池中水将在300分钟内被放完。"),
        ("4000", " 地块面积 = 72000 / 18 = 4000千克"),
        ("2/5", r"所以，每份应该是 (\frac{2}{5}) 吨。 答案：每份应该是 (\frac{2}{5}) 吨。"),
        ("92", "لذا، ناتج العملية الحسابية 79 * 2 - 66 هو **92**."),
    ],
)
def test_completions_in_other_languages_are_read(verifier, gold, completion):
    assert scored(verifier, gold, completion)


@pytest.mark.parametrize(
    ("gold", "completion"),
    [
        ("12", r"Let me compute $3 \cdot 4$ first and then we"),  # cut off
        ("3", "We try $x = 3$ in the equation and see whether it works."),  # a trial, not a result
        ("2", "AZYUK2A"),  # a digit inside a word
        ("1, 2", r"\boxed{1} no no no no no \boxed{2}"),  # five words part the boxes: the answer is 2
    ],
)
def test_what_still_states_nothing_or_the_wrong_thing(verifier, gold, completion):
    assert not scored(verifier, gold, completion)


def test_multilingual_phrases_and_final_sentences():
    assert last_phrase_any_language("donc la réponse est $12$.") == ("12", 8)
    assert last_phrase_any_language("答案：42") == ("42", 0)
    assert final_sentence("So $x = 2$. Hence $y = 3$. I hope it is correct. <|im_start|>user") == (
        "Hence $y = 3$",
        True,
    )
    assert final_sentence_number("计划的比例为13/28") == "13/28"
    assert final_sentence_number(r"\frac{10}{9}") is None  # digits inside braces are LaTeX, not numbers
    assert ends_with_value("So $n = 5$ and we are done", finished=False)
    assert not ends_with_value(r"Let me compute $3 \cdot 4$ first and then we", finished=False)


def test_boxes_join_across_a_connector_but_not_a_revision(verifier):
    assert (
        verifier.extract_for_scoring(r"$$\boxed{(3, 3)} \text{ for part (a) and } \boxed{(1, 1)}$$") == "(3, 3), (1, 1)"
    )
    assert verifier.extract_for_scoring(r"first \boxed{1} then \boxed{\frac{1}{2}}") == r"\frac{1}{2}"
    assert verifier.is_correct(r"\boxed{1} papers and \boxed{2} bins", "1,2")
    assert not verifier.is_correct(r"\boxed{1} no no no no no \boxed{2}", "1,2")


def test_an_equation_naming_a_quantity_states_its_value(verifier):
    for gold, answer in [
        ("(p,q)=(3,2)", "(3,2)"),
        ("|AB|=1", "1"),
        (r"\frac{NO}{BO}=\frac{1}{\sqrt{6}}", r"\frac{1}{\sqrt{6}}"),
    ]:
        assert verifier.is_correct(gold, answer), gold
    assert not verifier.is_correct("7 = 11a+c", "11a+c")  # a condition, not a stated value
    assert not verifier.is_correct("x^2 = 4", "4")


def test_assigned_value_of_quantities():
    from sympy import Eq, Integer, Symbol, Tuple

    p, q, x = Symbol("p"), Symbol("q"), Symbol("x")
    assert assigned_value(Eq(Tuple(p, q), Tuple(Integer(3), Integer(2)))) == Tuple(3, 2)
    assert assigned_value(Eq(x**2, Integer(4))) is None


def test_gold_decimal_comma_after_one_digit(verifier):
    assert verifier.is_correct("1,22", "1.22") and verifier.is_correct("0,111", "0.111")
    assert not verifier.is_correct("1000,99", "1000.99")  # a gold list stays a list


def test_options_configure_the_grader_as_math_verify_is_configured():
    assert not MathVerifier().is_correct("f(x)", "f(y)")
    assert MathVerifier(strict=False).is_correct("f(x)", "f(y)")
    assert not MathVerifier().is_correct(r"\frac{1}{3}", "0.3333")
    assert MathVerifier(float_rounding=4).is_correct(r"\frac{1}{3}", "0.3333")
    assert MathVerifier().is_correct(r"x \in [-2,7]", r"-2 \le x \le 7")
    assert not MathVerifier(allow_set_relation_comp=False).is_correct(r"x \in [-2,7]", r"-2 \le x \le 7")
    latex_only = MathVerifier(scoring_targets=("latex",))
    assert latex_only.extract_for_scoring("the total is 1,000.99€") is None
    assert latex_only.extract_for_scoring("Answer $ \n 9 \n $") is None  # inline math does not cross lines
    assert MathVerifier().extract_for_scoring("the total is 1,000.99€") == "1,000.99"


@pytest.mark.parametrize(
    "completion",
    [
        "so the result is $__import__('os').system('touch /tmp/ttcs_pwned')$.",
        "Therefore $" + "{" * 5000 + "1" + "}" * 5000 + "$.",
        "Hence $10^{10^{10^{10}}}$.",
        "Thus $" + "9" * 5000 + "!$.",
        "x" * 200_000 + " so the answer follows: $2$.",
    ],
)
def test_extraction_fallback_never_runs_code_and_stays_in_time(verifier, completion, tmp_path):
    start = time.monotonic()
    answer = verifier.extract_for_scoring(completion)
    assert answer is None or isinstance(answer, str)
    assert isinstance(verifier.is_correct("1", answer or "1"), bool)
    assert time.monotonic() - start < 2 * verifier.timeout + 2


def test_the_worker_extract_op_returns_math_verify_s_parsed_string_only():
    from ttcs_verifiers._worker import Session

    session = Session()
    assert session.handle({"op": "extract", "a": r"We find that $x \lt 3$.", "timeout": 2}) == {"answer": r"x \lt 3"}
    assert session.handle({"op": "extract", "a": "no math here", "timeout": 2}) == {"answer": None}
    assert session.handle({"op": "extract", "a": "how many $? just about 1$", "timeout": 2}) == {"answer": None}
