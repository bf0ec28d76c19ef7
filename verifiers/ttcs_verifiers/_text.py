"""Text helpers shared by the built-in verifiers: find the final answer in a completion.

Everything here is linear in the length of the input (model output can be megabytes of
unbalanced braces), uses no sympy, and never raises on a string.

Two kinds of helpers. `last_boxed` and `last_answer_phrase` read what a completion states
as its answer; every verifier's `extract` uses them, votes included. `last_boxed_run` (the
last box together with the boxes right before it, ``\\boxed{1}, \\boxed{2}``) and
`last_stated_value` (the last math span or number of a finished completion, when its last
sentence states it as a result) are greedier: the ``math`` verifier uses them only when a
gold answer scores the result, never for votes. So are `last_phrase_any_language` (answer
phrases in French, Chinese, Hindi and Arabic too, as lighteval's multilingual tests write
them) and `final_sentence_number` (the last number of the last sentence that has one).
"""

from __future__ import annotations

import re

# `\boxed{...}`, `\boxed ...` and `\fbox{...}`; the braces are matched separately.
_BOXED_RE = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])\s*")
_BARE_TOKEN_RE = re.compile(r"[^\s$]+")
# Grouping braces only: `\{` and `\}` are literal braces (sets), not groups.
_BRACE_RE = re.compile(r"(?<!\\)[{}]")
# "the (final) answer is X", "final answer: X", "answer: X"; X is the rest of the line.
_PHRASE_RE = re.compile(
    r"\bthe\s+(?:final\s+)?answer\s+is\b[ \t]*:?|\bfinal\s+answer\s*[:：]|\banswer\s*[:：]",
    re.IGNORECASE,
)
# A line that is just "Answer <math or number>" ("Answer $ 9 $", "**Answer** \(2\)", "Answer 15").
_ANSWER_LINE_RE = re.compile(
    r"^[ \t>#*_]*(?:final[ \t]+)?answer[*_]*[ \t]*[.:]?[ \t]*"
    r"(\$[^$\n]+\$|\\\([^\n]*?\\\)|[-+]?\d[\d,./]*)[ \t]*\.?[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
_MAX_PHRASE_ANSWER = 500  # characters looked at after a phrase; keeps the scan linear
# A sentence ends at a full stop followed by a space ("5. I hope"), not inside "0.5".
_SENTENCE_END_RE = re.compile(r"\.\s|\.$")
# Inline and display math; a span never crosses a blank line.
_MATH_SPAN_RE = re.compile(r"\$\$(.+?)\$\$|\$([^$]+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.DOTALL)
# "is", "are", "equals" ... between a sentence's subject and the value it states.
_COPULA_RE = re.compile(r"\b(?:is|are|was|were|equals|becomes)\b[ \t]*:?", re.IGNORECASE)
# A value with no letters (digits, operators, ×) that a comma or a space hands over to words: "14, as ...", "18 and
# is ..."; not to another value ("3 or 5", "-2 and 3" are one result, read whole).
_LEADING_VALUE_THEN_WORDS_RE = re.compile(
    r"^([-+−]?\d[^A-Za-z,\\$]*?)\s*,?\s+(?=(?!(?:and|or)\s+[-+−]?[\d$\\])[A-Za-z]{2,}\b|I\b)"
)
# What a value said to equal the one before it looks like: "4 × 3, which can be simplified to 12", "..., which is 12".
_WHICH_IS_RE = re.compile(
    r"(?:which|that)\s+(?:is\s+(?:equal\s+to\s+)?|equals\s+|gives\s+|(?:can\s+be\s+|is\s+)?simplified\s+to\s+"
    r"|simplifies\s+to\s+|comes\s+to\s+|evaluates\s+to\s+)([-+−]?\d+(?:,\d{3})*(?:\.\d+)?(?:/\d+)?)(?=\s*(?:[.,;!]|$|[A-Za-z]))",
    re.IGNORECASE,
)
_STARTS_WITH_VALUE_RE = re.compile(r"\s*(?:\$|\\\(|[-+]?\d)")
# What may stand between two boxes that give one answer together: "\boxed{1}, \boxed{2}",
# "$\boxed{1}$ and $\boxed{2}$", "x = \boxed{1}$ or $x = \boxed{-2}".
_BOX_GAP_RE = re.compile(
    r"(?:\s|[$,;&]|\\[,;:!]|\\q?quad\b|\\text\s*\{\s*(?:and|or|,)?\s*\}|\band\b|\bor\b|\\[()\[\]]"
    r"|[A-Za-z](?:_\{?\w+\}?)?\s*=)*",
    re.IGNORECASE,
)
_MAX_BOX_GAP = 40
_MAX_GAP_WORDS = 3
_CONNECTOR_RE = re.compile(r"\b(?:and|or)\b|[,;]", re.IGNORECASE)
_MAX_TAIL = 300  # the stated value must lie in the last this-many characters
_MAX_AFTER_VALUE = 40  # characters between the stated value and the end of its sentence
_FINISHED_RE = re.compile(r"(?:[.!]|\$|\\\]|\\\))\s*$")
_SENTENCE_BREAK_RE = re.compile(r"[.!?]\s+|\n\s*\n")
_PLAIN_NUMBER_RE = re.compile(r"[-+]?\d+(?:\.\d+)?")
_PLAIN_TUPLE_RE = re.compile(  # a tuple, interval or set of numbers outside math: (1,4.5), [2, 5), (-\infty, 3], {1, 2}
    r"(?:[(\[{]|\\\{)\s*[-+]?(?:\d+(?:\.\d+)?(?:/\d+)?|\\?infty|∞)(?:\s*,\s*[-+]?(?:\d+(?:\.\d+)?(?:/\d+)?|\\?infty|∞))+\s*(?:[)\]}]|\\\})"
)
_BARE_NUMBER_RE = re.compile(r"(?<![\w\\^_.,/])[-+]?\d+(?:,\d{3})*(?:\.\d+)?(?:/\d+)?(?![\w^]|[.,/]\d)")
# What marks a value as the result: "therefore", "hence" right before it; "is", "equals",
# "gives (a total of)", "=" shortly before it; or "is the solution" right after it.
_RESULT_BEFORE_RE = re.compile(
    r"(?:\b(?:therefore|thus|hence|so|consequently|finally)\b[\s,:]*"
    r"|\b(?:is|are|was|were|equals?|gives?|yields?|gets?|obtain|becomes?)\b(?:\s+[A-Za-z]+){0,3}[\s,:]*"
    r"|=\s*)$",
    re.IGNORECASE,
)
_RESULT_AFTER_RE = re.compile(r"\s*(?:is|are)\s+(?:the\s+)?(?:final\s+)?(?:answer|solution|result)s?\b", re.IGNORECASE)
# Answer phrases of the languages lighteval's tests use, and "answer is" without "the" (scoring only).
_ANY_LANGUAGE_PHRASE_RE = re.compile(
    r"\banswer\s+is\b[ \t]*:?|\bréponse(?:\s+finale)?\s*(?:est\b|[:：])[ \t]*:?|答案\s*(?:是|为|[:：])"
    r"|उत्तर\s*(?:है|[:：])|(?:الإجابة|الجواب)\s*(?:هي|هو|[:：])",
    re.IGNORECASE,
)
# Sentence ends of the languages above: ". ", "。", "！", "？", "।", a blank line.
_ANY_SENTENCE_BREAK_RE = re.compile(r"[.!?](?:\$\$|\\\])?\s+|[。！？।]\s*|\n\s*\n")
# Words that mark what follows as the conclusion, in the languages above: the value may come anywhere after.
_CONCLUSION_RE = re.compile(
    r"\b(?:therefore|thus|hence|so|consequently|finally|donc|ainsi)\b|因此|所以|इसलिए|لذا", re.IGNORECASE
)
# Inline math does not cross a line; display math may.
_ONE_SPAN_RE = re.compile(r"\$\$(.+?)\$\$|\$([^$\n]+?)\$|\\\(([^\n]+?)\\\)|\\\[(.+?)\\\]", re.DOTALL)
# Chat-template leftovers and sign-offs after the answer ("I hope it is correct. <|im_start|>user").
_TRAILER_RE = re.compile(r"(?:\s*(?:<\|[a-z_]+\|>\w*|I hope it is correct\.?))+\s*$", re.IGNORECASE)
# A number between non-word ASCII characters: "4000千克" and "为13/28" hold one; "AZYUK2A" does not.
_ANY_NUMBER_RE = re.compile(
    r"(?<![A-Za-z0-9_\\^.,/{])[-+]?(?:(?:\d{1,3}(?:[, ]\d{3})+|\d+)(?:[.,]\d+)?|\.\d+)(?:/\d+)?%?(?![0-9_^}]|[.,/]\d)"
)
_ANY_FINISHED_RE = re.compile(r"(?:[.!。！।]|\$|\\\]|\\\))\s*$")
_VALUE_END_RE = re.compile(r"[\d$}%]|\\[)\]]")
_MAX_AFTER_FALLBACK = 24  # words after the last value of a finished final sentence ("... is our answer.")
_MAX_AFTER_UNFINISHED = 10  # a unit after the value ("1,000.99m²", "28 percent"); more means it was cut off
_LATEX_COMMAND_RE = re.compile(r"\\[A-Za-z]+")
_WORD_RE = re.compile(r"[A-Za-z]{2,}|[^\W\d_A-Za-z]+")
_BARE_EQUALS_RE = re.compile(r"(?<![<>!:=])=(?!=)")
_TEXT_WRAPPER_RE = re.compile(r"\\(?:text|textbf|textrm|textit|mathrm|mathbf|mbox|operatorname)\s*\{([^{}]*)\}")


def matching_braces(text: str) -> dict[int, int]:
    """Map the index of every balanced grouping ``{`` to the index of its ``}``.

    One pass over the brace characters only (a regex finds them), so a string of
    10,000 unclosed braces costs 10,000 steps, not 10,000².
    """
    pairs: dict[int, int] = {}
    stack: list[int] = []
    for match in _BRACE_RE.finditer(text):
        if match.group() == "{":
            stack.append(match.start())
        elif stack:
            pairs[stack.pop()] = match.start()
    return pairs


def last_boxed(text: str) -> str | None:
    """Content of the last well-formed ``\\boxed{...}``, ``\\boxed x`` or ``\\fbox{...}``.

    An unclosed ``\\boxed{`` is skipped in favour of the previous well-formed one.

    Example:
        >>> last_boxed(r"first \\boxed{1}, then \\boxed{\\frac{1}{2}}")
        '\\\\frac{1}{2}'
    """
    spans = boxed_spans(text, last_only=True)
    return spans[-1][2] if spans else None


def boxed_spans(text: str, last_only: bool = False) -> list[tuple[int, int, str]]:
    """``(start, end, content)`` of every well-formed box, in order (only the last with `last_only`).

    `start` is where ``\\boxed`` begins and `end` is just past its closing brace (or its bare token).
    """
    if "\\boxed" not in text and "\\fbox" not in text:
        return []
    found: list[tuple[int, int, str]] = []
    pairs: dict[int, int] | None = None
    for match in reversed(list(_BOXED_RE.finditer(text))):
        start = match.end()
        if start < len(text) and text[start] == "{":
            pairs = matching_braces(text) if pairs is None else pairs
            end = pairs.get(start)
            if end is not None:
                found.append((match.start(), end + 1, text[start + 1 : end].strip()))
        else:  # `\boxed 5`: one bare token
            token = _BARE_TOKEN_RE.match(text, start)
            if token:
                found.append((match.start(), token.end(), token.group().strip()))
        if last_only and found:
            break
    return found[::-1]


def last_boxed_run(text: str) -> tuple[str, int] | None:
    """The last box joined with the boxes right before it, and where the run ends.

    Boxes belong to one run when only a connector stands between them: spaces, ``$``,
    commas, "and", "or", ``\\text{ and }``, ``\\quad`` or a label such as ``x =``.

    Example:
        >>> last_boxed_run(r"first \\boxed{7}. So $x = \\boxed{1}$ or $x = \\boxed{-2}$.")
        ('1, -2', 54)
    """
    spans = [span for span in boxed_spans(text) if span[2]]
    if not spans:
        return None
    run = [spans[-1]]
    for span in reversed(spans[:-1]):
        if span[1] > run[0][0]:
            break  # the later box lies inside this one: nested boxes are one answer, not a run
        gap = text[span[1] : run[0][0]]
        if len(gap) > _MAX_BOX_GAP or not (_BOX_GAP_RE.fullmatch(gap) or _few_words(gap)):
            break
        run.insert(0, span)
    return ", ".join(content for _, _, content in run), run[-1][1]


def _few_words(gap: str) -> bool:
    """A gap within one sentence of symbols only ("++"), or of at most three words joined by a
    connector ("\\text{ for part (a) and }", "papers and"); not a revision ("then", "no no no")."""
    if _SENTENCE_BREAK_RE.search(gap):
        return False
    words = re.findall(r"[A-Za-z]{2,}", _LATEX_COMMAND_RE.sub(" ", gap))
    return not words or (len(words) <= _MAX_GAP_WORDS and bool(_CONNECTOR_RE.search(gap)))


def last_answer_phrase(text: str) -> str | None:
    """The answer stated by the last "the answer is X" / "final answer: X" / "answer: X".

    A line that is only "Answer" and a value ("Answer $ 9 $") counts as such a phrase, and a
    sentence after the phrase gives the value it states ("The largest $n$ is 34" -> ``34``).

    Example:
        >>> last_answer_phrase("Answer: 3. Actually, the final answer is $4$.")
        '4'
    """
    found = last_answer_phrase_at(text)
    return found[0] if found else None


def last_answer_phrase_at(text: str) -> tuple[str, int] | None:
    """Like `last_answer_phrase`, with the index where that phrase starts."""
    candidates: list[tuple[int, int, str | None]] = [(m.start(), m.end(), None) for m in _PHRASE_RE.finditer(text)]
    if "nswer" in text or "NSWER" in text:
        candidates += [(m.start(), m.end(), m.group(1)) for m in _ANSWER_LINE_RE.finditer(text)]
    for start, end, value in sorted(candidates, reverse=True):  # the last phrase that states something wins
        answer = strip_decorations(value) if value is not None else _rest_of_line(text[end : end + _MAX_PHRASE_ANSWER])
        if answer:
            return answer, start
    return None


def _rest_of_line(rest: str) -> str:
    rest = rest.lstrip(" \t")
    if rest.startswith("\n"):  # "The answer is:\n\n42" -- allow the answer on the next line
        rest = rest.lstrip()
    rest = rest.split("\n", 1)[0]
    end = _SENTENCE_END_RE.search(rest)
    if end:
        rest = rest[: end.start()]
    if is_hedge(rest):  # "about 5 or 6", "5 or so": kept whole, so no single value is read from it
        return strip_decorations(rest.strip())
    return strip_decorations(_value_of_sentence(rest.strip()))


def _value_of_sentence(rest: str) -> str:
    """The value a short sentence states: ``The largest $n$ is 34`` -> ``34``; else `rest` itself.

    A leading math span followed by words gives that span (``$18$, which is ...`` -> ``$18$``),
    and so does a leading value without letters followed by words (``14, as calculated by ...``
    -> ``14``; ``18 and is 9 × 2`` -> ``18``; ``1, 2`` stays); a sentence that starts with a
    word gives what follows its first "is"/"are"/"equals" outside math, when that is a math
    span or a number.
    """
    spans = [(m.start(), m.end()) for m in _MATH_SPAN_RE.finditer(rest)]
    if spans and spans[0][0] == 0 and len(spans) == 1 and rest[spans[0][1] :].strip():
        return rest[: spans[0][1]]
    leading = _LEADING_VALUE_THEN_WORDS_RE.match(rest)
    if leading and not spans:
        then = _WHICH_IS_RE.match(rest, leading.end())  # "4 × 3, which can be simplified to 12" -> 12
        return then.group(1) if then else leading.group(1)
    if not rest[:1].isalpha():
        return rest
    for copula in _COPULA_RE.finditer(rest):
        if any(start <= copula.start() < end for start, end in spans):
            continue
        after = rest[copula.end() :]
        if _STARTS_WITH_VALUE_RE.match(after):
            return _value_of_sentence(after.strip())
    return rest


def last_stated_value(text: str) -> str | None:
    """The value the last sentence of a finished completion states as its result, or None.

    The value is found at the sentence's last math span, else its last number, and it counts
    only when the sentence marks it as a result: "therefore"/"hence" right before it, "is",
    "equals", "gives (a total of)" or "=" shortly before it, or "is the solution" after it.
    What is read is the whole result that value ends (`whole_of_value`): ``x = 3 or x = 5``
    gives ``3, 5``, ``x^2 = 4`` stays an equation, a computation ``3 + 4 = 7`` gives ``7``, a
    range or hedge ("between 3 and 7") gives None. A completion that does not end like a
    sentence (a full stop, ``!``, a closing math delimiter) was cut off and states nothing.

    Example:
        >>> last_stated_value(r"Therefore $x \\geq 5$ is the solution.")
        'x \\\\geq 5'
        >>> last_stated_value("The area is 6 square units.")
        '6'
        >>> last_stated_value("We try $x = 3$ in the equation."), last_stated_value("First $x = 3$. Then we")
        (None, None)
    """
    tail = text[-_MAX_TAIL:].rstrip()
    if not _FINISHED_RE.search(tail):
        return None
    body = tail.rstrip(".!")
    breaks = [m.end() for m in _SENTENCE_BREAK_RE.finditer(body) if not _inside_math(body, m.start())]
    sentence = body[breaks[-1] if breaks else 0 :]
    found = _last_value(sentence)
    if found is None:
        return None
    start, end, _ = found
    if len(sentence) - end > _MAX_AFTER_VALUE:
        return None
    if not (_RESULT_BEFORE_RE.search(sentence[:start]) or _RESULT_AFTER_RE.match(sentence[end:])):
        return None
    return whole_of_value(sentence, start, end)


def last_phrase_any_language(text: str) -> tuple[str, int] | None:
    """The last answer phrase of any language the scoring path reads, and where it starts.

    English phrases as `last_answer_phrase_at` reads them, plus "answer is", "réponse est",
    "Réponse :", "答案是", "答案：", "उत्तर है", "الإجابة هي". A phrase followed by words gives the
    first math span or number among them ("Réponse: Janeth aura encore 220 $ à payer" -> ``220``).

    Example:
        >>> last_phrase_any_language("donc la réponse est $12$.")
        ('12', 8)
    """
    found = last_answer_phrase_at(text)
    others = [m for m in _ANY_LANGUAGE_PHRASE_RE.finditer(text) if not found or m.start() > found[1]]
    for match in reversed(others):
        answer = _rest_of_line(text[match.end() : match.end() + _MAX_PHRASE_ANSWER])
        if answer:
            return _first_value_of_words(answer), match.start()
    return (_first_value_of_words(found[0]), found[1]) if found else None


def reads_as_words(answer: str) -> bool:
    """Whether `answer` is a sentence (two words or more outside math, ``\\text``, LaTeX commands and environments)."""
    outside_math = _MATH_SPAN_RE.sub(" ", _TEXT_WRAPPER_RE.sub(" ", _ENVIRONMENT_RE.sub(" ", answer)))
    outside_math = _LATEX_COMMAND_RE.sub(" ", outside_math)
    return len(_WORD_RE.findall(outside_math)) >= 2


def _first_value_of_words(answer: str) -> str:
    """`answer` itself when it is a value; in a sentence of words, its first math span or number."""
    if not reads_as_words(answer) or "\\" in answer or is_hedge(answer):
        return answer  # LaTeX among words: the scoring path asks math-verify's extraction
    span, number = _MATH_SPAN_RE.search(answer), _ANY_NUMBER_RE.search(answer)
    if span and (not number or span.start() <= number.start()):
        return strip_decorations(span.group())
    return number.group() if number else answer


def final_sentence(text: str) -> tuple[str, bool]:
    """The last sentence of a completion, and whether the completion ends like a finished sentence.

    Chat-template leftovers and "I hope it is correct." are dropped first; a sentence ends at
    ``. ``, ``!``, ``?``, ``。``, ``！``, ``？``, ``।`` or a blank line.

    Example:
        >>> final_sentence("So $x = 2$. Hence $y = 3$. I hope it is correct. <|im_start|>user")
        ('Hence $y = 3$', True)
    """
    tail = _TRAILER_RE.sub("", text[-_MAX_TAIL:])
    finished = bool(_ANY_FINISHED_RE.search(tail))
    pieces = [p for p in _ANY_SENTENCE_BREAK_RE.split(tail.rstrip(" \t\n.!?。！？।")) if p.strip()]
    sentence = pieces[-1].strip() if pieces else ""
    if sentence.count("$") % 2 == 1 and sentence.startswith("$"):
        sentence = sentence.lstrip("$").strip()  # the close of a display that ended the sentence before
    return sentence, finished


def ends_with_value(sentence: str, finished: bool) -> bool:
    """Whether `sentence` states its last math or number as a result.

    After "therefore", "so", "donc", "因此" ... anywhere; otherwise the value must lie near
    the end: a few words after it in a finished completion ("$x <= 2$ is our answer."), only
    a unit in one that was cut off ("28 percent"; not "compute $3 \\cdot 4$ first and then we").
    """
    ends = [m.end() for m in _VALUE_END_RE.finditer(sentence)]
    if not ends:
        return False
    if _CONCLUSION_RE.search(sentence[: ends[-1]]):
        return True
    return len(sentence) - ends[-1] <= (_MAX_AFTER_FALLBACK if finished else _MAX_AFTER_UNFINISHED)


def final_sentence_number(text: str) -> str | None:
    """The last number of a completion's final sentence (`final_sentence`), or None.

    Numbers glued to words of other scripts count ("4000千克"), numbers inside ASCII words do
    not ("AZYUK2A"), nor digits inside LaTeX braces (``\\frac{1}{2}``).

    Example:
        >>> final_sentence_number("donc 353 g - 79 g = 274 g. Donc, il a déjà 79 g de cire.")
        '79'
    """
    numbers = list(_ANY_NUMBER_RE.finditer(final_sentence(text)[0]))
    return numbers[-1].group() if numbers else None


def last_math_span(sentence: str) -> str | None:
    """The content of the last math span of `sentence` (delimiters dropped), or None."""
    spans = list(_ONE_SPAN_RE.finditer(sentence))
    return strip_decorations(spans[-1].group()) if spans else None


def _last_value(sentence: str) -> tuple[int, int, str] | None:
    """``(start, end, value)`` of the last math span, or of the last number after every span."""
    spans = list(_MATH_SPAN_RE.finditer(sentence))
    after_spans = spans[-1].end() if spans else 0
    numbers = list(_BARE_NUMBER_RE.finditer(sentence, after_spans))
    tuples = list(_PLAIN_TUPLE_RE.finditer(sentence, after_spans))  # "(1,4.5)": its numbers are no bare numbers
    if tuples and (not numbers or tuples[-1].end() >= numbers[-1].end()):
        return tuples[-1].start(), tuples[-1].end(), tuples[-1].group()
    if numbers:
        return numbers[-1].start(), numbers[-1].end(), numbers[-1].group()
    if not spans:
        return None
    content = strip_decorations(next(group for group in spans[-1].groups() if group is not None))
    if not content or "\\boxed" in content:
        return None
    return spans[-1].start(), spans[-1].end(), content


def _inside_math(text: str, index: int) -> bool:
    """Whether `index` lies inside a ``$...$`` / ``\\[...\\]`` span of `text` (an odd count of ``$`` before it)."""
    before = text[:index]
    return before.count("$") % 2 == 1 or before.rfind("\\[") > before.rfind("\\]")


def strip_decorations(answer: str) -> str:
    """Drop math delimiters, markdown bold and trailing punctuation around an answer."""
    answer = answer.strip()
    for _ in range(3):
        before = answer
        answer = answer.strip().strip("*").strip()
        if answer.startswith("$") and answer.endswith("$"):
            answer = answer.strip("$")
        for left, right in (("\\(", "\\)"), ("\\[", "\\]")):
            if answer.startswith(left) and answer.endswith(right):
                answer = answer[len(left) : -len(right)]
        answer = answer.rstrip(".,;").strip()
        if answer == before:
            break
    return answer


def unwrap_text(answer: str) -> str:
    """Replace ``\\text{x}`` (and ``\\textbf``, ``\\mathrm``, ...) by ``x``, innermost first."""
    for _ in range(8):  # bounded: each round removes one nesting level
        unwrapped = _TEXT_WRAPPER_RE.sub(r"\1", answer)
        if unwrapped == answer:
            break
        answer = unwrapped
    return answer


# ---- the whole stated result (scoring) ---------------------------------------------------------
# A hedge: a guess over more than one value ("about 5 or 6", "maybe 3 or 4"), or a range ("between 3
# and 7", "from 3 to 7", "3 to 7", "5 or so"). Either states no single value. The words must stand
# next to values, so "the distance between A and B is 5" is no range.
_HEDGE_VALUE = r"(?:\$\s*)?[-+−]?(?:\d|\\d?frac|\\sqrt|\\pi)"
_HEDGE_WORD_RE = re.compile(
    r"(?<!\\)\b(?:about|around|roughly|approximately|approx|nearly|almost|maybe|perhaps|probably|possibly|likely"
    r"|somewhere|guess|estimate)\b[^.;:=]{0,40}?" + _HEDGE_VALUE + r"[^.;:=]{0,40}?\b(?:or|to)\s+" + _HEDGE_VALUE,
    re.IGNORECASE,
)
_RANGE_RE = re.compile(
    r"\bbetween\s+"
    + _HEDGE_VALUE
    + r"[^.;:=]{0,60}?\band\s+"
    + _HEDGE_VALUE
    + r"|\bfrom\s+"
    + _HEDGE_VALUE
    + r"[^.;:=]{0,60}?\bto\s+"
    + _HEDGE_VALUE
    + r"|\d\s*%?\s*(?:to|through)\s+"
    + _HEDGE_VALUE
    + r"|\d\s*or\s+so\b",
    re.IGNORECASE,
)
# What introduces the result within a sentence: a copula or a conclusion word (outside math); "=" is part of it.
_RESULT_MARK_RE = re.compile(
    r"\b(?:is|are|was|were|be|equals?|gives?|yields?|gets?|obtain(?:s|ed)?|becomes?|therefore|thus|hence|so"
    r"|consequently|finally)\b|:",
    re.IGNORECASE,
)
# Connectors of several values given as one result: "x = 3 or x = 5", "1, 2 and 4", "3 \text{ or } 5".
_LIST_SPLIT_RE = re.compile(
    r"\s*(?:,\s*(?:and|or)\b|\\text\s*\{\s*(?:and|or|,)\s*\}|\b(?:and|or)\b|,)\s*", re.IGNORECASE
)
_LONE_ASSIGNMENT_RE = re.compile(r"^([A-Za-z](?:_\{?\w+\}?)?)\s*=\s*([^=<>]+)$")
_ENVIRONMENT_RE = re.compile(r"\\(?:begin|end)\s*\{\w+\*?\}")
_CONNECTOR_WORDS = frozenset({"and", "or", "so"})
_PROSE_WORD_RE = re.compile(r"[A-Za-z]{2,}|[^\W\d_A-Za-z]+")
_OPEN_END_RE = re.compile(r"(?:[-+*/^=,(\[{×÷&]|\\(?:times|cdot|div|frac|sqrt))\s*$")
_VALUE_START_RE = re.compile(r"[\d\\$({\[+-]")  # where a value begins; words before it make a sentence
_APPROX_RE = re.compile(r"\\approx(?![A-Za-z])|≈")
_NUMBER_VALUE_RE = re.compile(r"[-+]?\d+(?:\.\d+)?(?:\s*/\s*\d+)?|[-+]?\\[dt]?frac\s*\{\d+\}\s*\{\d+\}")
_QUOTES_RE = re.compile(r"^\\?[\"']|\\?[\"']$")  # `"12 and 13"`, `\"12 and 13\"`
_MAX_BARE = 300  # a bare answer longer than this is no answer but a cut-off derivation


def is_hedge(result: str) -> bool:
    """Whether a stated result is a range or a hedge over several values, not one value.

    Example:
        >>> is_hedge("between 3 and 7"), is_hedge("about 5 or 6"), is_hedge("about 5"), is_hedge("x = 3 or x = 5")
        (True, True, False, False)
    """
    text = _MATH_SPAN_RE.sub(lambda m: " " + (m.group().strip("$") or "") + " ", result)
    return bool(_RANGE_RE.search(text) or _HEDGE_WORD_RE.search(text))


def prose_words(text: str) -> list[str]:
    """The words of `text` outside LaTeX commands and environment names, but for "and"/"or" (connectors)."""
    text = _LATEX_COMMAND_RE.sub(" ", _ENVIRONMENT_RE.sub(" ", _TEXT_WRAPPER_RE.sub(" ", text)))
    return [w for w in _PROSE_WORD_RE.findall(text) if w.lower() not in _CONNECTOR_WORDS]


def whole_result(result: str) -> str | None:
    """A stated result read as a whole: None for a hedge or a range; several values as their list.

    Values joined by "or", "and" or commas at the top level become one list, ``a, b``; values
    assigned to one lone variable become the values (``x = 3 or x = 5`` -> ``3, 5``), values assigned to
    different variables keep their names (``x = 1 and y = 2`` -> ``x = 1, y = 2``). A computation
    without variables that ends in ``= <number>`` gives the number (``7 \\times 8 = 56`` -> ``56``); any
    other equation stays whole (``-34x-45y+20z-100=0``, ``x^2 = 4``).

    Example:
        >>> whole_result("x = 3 or x = 5"), whole_result(r"\\frac{x}{7}+\\frac{2}{7}"), whole_result("between 3 and 7")
        ('3, 5', '\\\\frac{x}{7}+\\\\frac{2}{7}', None)
    """
    if is_hedge(result):
        return None
    text = _MATH_SPAN_RE.sub(lambda m: next(g for g in m.groups() if g is not None), result)
    text = strip_decorations(_QUOTES_RE.sub("", re.sub(r"(?<!\\)\$", " ", text).strip()))  # and stray `$`
    listed = as_list(text)
    if listed != text:
        return listed
    approximated = [side.strip() for side in _APPROX_RE.split(text)]
    if len(approximated) > 1:  # "A \approx 3.01" states A; "x \approx 11" states 11
        named = re.fullmatch(r"[A-Za-z](?:_\{?\w+\}?)?", approximated[0])
        text = approximated[-1] if named else approximated[0] or text
    sides = [side.strip() for side in _BARE_EQUALS_RE.split(text)]
    if len(sides) > 1 and _NUMBER_VALUE_RE.fullmatch(sides[-1]):
        first = 1 if re.match(r"[A-Za-z](?:_\{?\w+\}?)?$", sides[0]) else 0  # `x = 2 + 3 = 5`: the label
        computed = not any(re.search(r"[A-Za-z]", _LATEX_COMMAND_RE.sub("", side)) for side in sides[first:-1])
        if computed or (len(sides) == 2 and _one_term(sides[0])):
            return sides[-1]  # `3 + 4 = 7` and `x^2 = 4` state 7 and 4; `-34x-45y+20z-100=0` is an equation
    return text


def as_list(text: str) -> str:
    """Values joined by "or"/"and" (and commas) at the top level as ``a, b``; else `text` unchanged.

    Values assigned to one lone variable become the values (``x = 3 or x = 5`` -> ``3, 5``); values
    assigned to different variables keep their names (``x = 1 and y = 2`` -> ``x = 1, y = 2``).
    """
    parts = _top_level_split(text)
    if len(parts) < 2 or not re.search(r"\b(?:and|or)\b|\\text", text, re.IGNORECASE):
        return text
    assignments = [_LONE_ASSIGNMENT_RE.match(p) for p in parts]
    if all(assignments) and len({a.group(1) for a in assignments if a}) == 1:
        return ", ".join(a.group(2).strip() for a in assignments if a)
    return ", ".join(parts)


def _one_term(side: str) -> bool:
    """Whether an equation's side is one term naming a quantity (``x^2``, ``AB``, ``f(3)``): no top-level + or -,
    no leading coefficient (``2n = 2`` is an equation in ``n``, not the value 2)."""
    if re.match(r"\s*[-+]?\d", side):
        return False
    depth = 0
    for index, char in enumerate(side):
        depth += (char in "({[") - (char in ")}]")
        if depth == 0 and index > 0 and char in "+-" and side[index - 1] not in "^_":
            return False
    return bool(side)


def _top_level_split(text: str) -> list[str]:
    """`text` split at connectors ("or", "and", commas) outside brackets; empty pieces dropped."""
    depth, start, index, pieces = 0, 0, 0, []
    while index < len(text):
        match = _LIST_SPLIT_RE.match(text, index) if depth == 0 else None
        if match:
            pieces.append(text[start:index])
            start = index = max(match.end(), index + 1)
            continue
        depth = depth + (text[index] in "([{") - (text[index] in ")]}" and depth > 0)
        index += 1
    pieces.append(text[start:])
    return [p.strip() for p in pieces if p.strip()]


def bare_answer(text: str) -> str | None:
    """A completion that is only an answer (math, numbers, at most one word), read whole; else None.

    Example:
        >>> bare_answer("-34x-45y+20z-100=0"), bare_answer("(1,4.5)"), bare_answer("so we add 3 and 4")
        ('-34x-45y+20z-100=0', '(1,4.5)', None)
    """
    if len(text) > _MAX_BARE + 100:
        return None
    answer = strip_decorations(_TRAILER_RE.sub("", text))
    value_start = _VALUE_START_RE.search(answer)
    if (
        not answer
        or len(answer) > _MAX_BARE
        or "\n\n" in answer
        or _SENTENCE_BREAK_RE.search(answer.replace("\\\\", " "))
        or len(prose_words(_MATH_SPAN_RE.sub(" ", answer))) > 1
        or prose_words(answer[: value_start.start()] if value_start else answer)  # words before the value
        or not re.search(r"[\d\\]", answer)
        or _OPEN_END_RE.search(answer)
    ):
        return None
    return whole_result(answer)


def whole_of_value(sentence: str, start: int, end: int) -> str | None:
    """The whole result that the value at ``sentence[start:end]`` belongs to; None when it is a hedge.

    The result runs from the last copula or conclusion word before the value ("is", "are",
    "equals", "therefore", ":"; outside math) to the value's end, less the words right after that
    word ("a total of"). When that holds no words but "and"/"or" it is read whole (`whole_result`:
    ``x = 3 or x = 5`` -> ``3, 5``); with words in it, the value alone (``5`` of "5 apples").

    Example:
        >>> whole_of_value("The solutions are x = 3 or x = 5", 31, 32), whole_of_value("it is between 3 and 7", 20, 21)
        ('3, 5', None)
    """
    marks = [m for m in _RESULT_MARK_RE.finditer(sentence, 0, start) if not _inside_math(sentence, m.start())]
    begin = marks[-1].end() if marks else 0
    if is_hedge(sentence[begin:]):
        return None
    value = strip_decorations(sentence[start:end])
    depth = sum((c in "([{") - (c in ")]}") for c in sentence[begin:end])
    while depth > 0 and end < len(sentence) and sentence[end] in ")]}":  # "(1, 4.5)": the bracket the value closes
        end, depth = end + 1, depth - 1
    segment = re.sub(r"^(?:\s*(?:[A-Za-z]{2,}\b|,))+", "", sentence[begin:end]).strip()
    if not segment or prose_words(_MATH_SPAN_RE.sub(" ", segment)):
        return whole_result(value)
    return whole_result(segment)


def hedged_result(sentence: str) -> bool:
    """Whether the result a sentence states (after its last copula or conclusion word) is a hedge or a range."""
    marks = [m for m in _RESULT_MARK_RE.finditer(sentence) if not _inside_math(sentence, m.start())]
    return is_hedge(sentence[marks[-1].end() if marks else 0 :])
