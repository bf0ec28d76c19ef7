"""Plain-text math written as LaTeX, for math-verify's LaTeX parser: ``pi/2`` -> ``\\pi/2``.

Models often answer in calculator notation (``-1 + exp(16)``, ``2*sqrt(3)``, ``x**2``,
``pi/2``). The LaTeX parser reads ``pi`` as the product ``p i`` and ``exp(16)`` as
``e x p(16)``, so such answers never match. `plain_to_latex` rewrites the notation only,
with regular expressions and a bracket matcher: nothing is evaluated, and the cost is
linear in the length of the answer (a bounded number of passes).

Example:
    >>> plain_to_latex("-1 + exp(16)")
    '-1 + e^{16}'
    >>> plain_to_latex("2*sqrt(3) + pi/2")
    '2 \\\\cdot \\\\sqrt{3} + \\\\pi/2'
"""

from __future__ import annotations

import re

_MAX_REWRITES = 16  # function calls rewritten per answer; the rest are left as they are
_WORD = r"(?<![\\A-Za-z])({})(?![A-Za-z])"
_FUNCTION_CALL_RE = re.compile(_WORD.format("sqrt|exp") + r"\s*\(")
_POWER_GROUP_RE = re.compile(r"\^\s*\(")
_NAMES_RE = re.compile(_WORD.format("pi|sin|cos|tan|cot|sec|csc|arcsin|arccos|arctan|sinh|cosh|tanh|log|ln"))
_INFINITY_RE = re.compile(_WORD.format("infinity|inf|oo"))
_TIMES_RE = re.compile(r"(?<=[\w)}])\s*\*\s*(?=[\w(\\{])")


def plain_to_latex(answer: str) -> str:
    """Rewrite calculator notation as LaTeX; LaTeX input comes back unchanged."""
    if not re.search(r"[A-Za-z*^]", answer):
        return answer
    answer = answer.replace("**", "^")
    answer = _rewrite_groups(answer, _FUNCTION_CALL_RE, _call_as_latex)
    answer = _rewrite_groups(answer, _POWER_GROUP_RE, lambda _match, inner: "^{" + inner + "}")
    answer = _NAMES_RE.sub(r"\\\1", answer)
    answer = _INFINITY_RE.sub(r"\\infty", answer)
    return _TIMES_RE.sub(r" \\cdot ", answer)


def _call_as_latex(match: re.Match, inner: str) -> str:
    return ("\\sqrt{" if match.group(1) == "sqrt" else "e^{") + inner + "}"


def _rewrite_groups(answer: str, opener: re.Pattern, rewrite) -> str:
    """Replace each ``<opener> ... )`` (balanced parentheses) by ``rewrite(match, inside)``, last first."""
    for _ in range(_MAX_REWRITES):
        matches = list(opener.finditer(answer))
        if not matches:
            break
        match = matches[-1]  # the last opening has no unrewritten opening inside it
        close = _closing_paren(answer, match.end())
        if close is None:
            break
        answer = answer[: match.start()] + rewrite(match, answer[match.end() : close]) + answer[close + 1 :]
    return answer


def _closing_paren(text: str, start: int) -> int | None:
    """Index of the ``)`` that closes the ``(`` just before `start`, or None."""
    depth = 1
    for index in range(start, len(text)):
        char = text[index]
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index
    return None
