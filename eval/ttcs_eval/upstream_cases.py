"""Turn other projects' answer-checking test suites into labelled data (a one-off conversion tool).

The labelled pairs of math-verify's tests (``huggingface/Math-Verify``, ``tests/``) and of
lighteval's extractive-match tests (``huggingface/lighteval``,
``tests/unit/metrics/test_extractive_match.py``) are read from their test *source* as data:
the file is parsed with `ast` (never imported or run), every ``@pytest.mark.parametrize``
row is bound to the test function's parameters, and the keyword arguments of the test's
``compare_strings(...)`` / ``verify(parse(...))`` call give the extraction settings the
case runs under (``match_types``, ``precision``, ``strict``, ``allow_set_relation_comp``,
``language``). Rows whose values are not literals are skipped, except ``f"{math.sqrt(17):.15f}"``
style strings of one ``math`` function of a number, which are formatted here.

Each case becomes one JSON line: ``suite``, ``family`` (the upstream test function),
``gold``, ``completion`` (the upstream prediction), ``label``, ``settings``,
``upstream`` (repository, commit, file, test) and ``licence``. Multiple-choice letter
cases (lighteval's ``NativeLetters``) and tests of parse output only are left out: they do
not check a math answer against a gold answer.

Usage (with git snapshots of both repositories at hand)::

    python -m ttcs_eval.upstream_cases --math-verify /path/Math-Verify.git \\
        --lighteval /path/lighteval.git --out eval/ttcs_eval/data
"""

from __future__ import annotations

import argparse
import ast
import json
import logging
import math
import subprocess
from collections.abc import Iterator
from pathlib import Path

logger = logging.getLogger(__name__)

MATH_VERIFY_FILES = (
    "tests/test_all.py",
    "tests/test_boxed.py",
    "tests/test_numina_cases.py",
    "tests/test_open_thoughts.py",
    "tests/test_strict.py",
    "tests/test_yujianll.py",
)
LIGHTEVAL_FILES = ("tests/unit/metrics/test_extractive_match.py",)
_SETTINGS = ("match_types", "match_type", "precision", "strict", "allow_set_relation_comp", "language")
_DEFAULTS = {
    "match_types": ["latex", "expr"],
    "precision": 6,
    "strict": True,
    "allow_set_relation_comp": False,
    "language": "ENGLISH",
}


def _value(node: ast.expr) -> object:
    """A literal's value; ``Language.X`` as ``"X"``; an f-string of ``math.f(number)`` formatted."""
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "Language":
        return node.attr
    if isinstance(node, ast.JoinedStr):
        return "".join(_formatted(part) for part in node.values)
    return ast.literal_eval(node)


def _formatted(part: ast.expr) -> str:
    if isinstance(part, ast.Constant):
        return str(part.value)
    call = part.value if isinstance(part, ast.FormattedValue) else None
    if not (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and isinstance(call.func.value, ast.Name)
        and call.func.value.id == "math"
    ):
        raise ValueError("not a literal")
    number = getattr(math, call.func.attr)(*(ast.literal_eval(arg) for arg in call.args))
    spec = "".join(_formatted(p) for p in part.format_spec.values) if part.format_spec else ""
    return format(number, spec)


def _checker_call(function: ast.FunctionDef) -> ast.Call | None:
    """The ``compare_strings(...)`` or ``verify(...)`` call of a test body."""
    for node in ast.walk(function):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("compare_strings", "verify")
        ):
            return node
    return None


def _call_settings(call: ast.Call, params: dict) -> tuple[dict, list]:
    """The call's keyword settings (a parameter name resolves to its row value) and positional args."""

    def resolve(node: ast.expr) -> object:
        return params[node.id] if isinstance(node, ast.Name) and node.id in params else _value(node)

    settings = {k.arg: resolve(k.value) for k in call.keywords if k.arg in _SETTINGS}
    return settings, [resolve(a) if isinstance(a, ast.Name) else a for a in call.args]


def _rows(function: ast.FunctionDef) -> Iterator[dict]:
    """Each parametrized row (or the literal calls of a test without rows) as bound values."""
    for decorator in function.decorator_list:
        if isinstance(decorator, ast.Call) and getattr(decorator.func, "attr", "") == "parametrize":
            names = [n.strip() for n in ast.literal_eval(decorator.args[0]).split(",")]
            for row in decorator.args[1].elts:
                try:
                    yield dict(zip(names, (_value(v) for v in row.elts), strict=True))
                except (ValueError, TypeError, SyntaxError):
                    logger.warning("%s: skipped a row that is not literal", function.name)
            return
    for node in ast.walk(function):  # e.g. `assert compare_strings("$\\frac{1}{3}$", "0.3333$", ...) == 1`
        if (
            isinstance(node, ast.Compare)
            and isinstance(node.left, ast.Call)
            and getattr(node.left.func, "id", "") == "compare_strings"
        ):
            try:
                gold, pred = (_value(a) for a in node.left.args[:2])
                yield {"gold": gold, "pred": pred, "expected": _value(node.comparators[0]), "_call": node.left}
            except (ValueError, TypeError, SyntaxError):
                logger.warning("%s: skipped a call that is not literal", function.name)


def cases_of(source: str, suite: str, upstream: dict, licence: str) -> Iterator[dict]:
    """The labelled cases of one test file's source."""
    for function in ast.parse(source).body:
        if not (isinstance(function, ast.FunctionDef) and function.name.startswith("test_")):
            continue
        call = _checker_call(function)
        if call is None:
            continue
        for params in _rows(function):
            settings, positional = _call_settings(params.pop("_call", call), params)
            if call.func.id == "verify":  # test_yujianll: verify(parse(gold), parse(pred)), math-verify defaults
                settings = {"match_types": ["latex", "expr"], "boxed_match_priority": 55}
            elif len(positional) > 2:  # lighteval's compare_strings(gold, pred, language, match_type)
                settings.update(zip(("language", "match_types"), positional[2:4], strict=False))
            settings = {
                "match_types": settings.pop("match_type", None) or settings.get("match_types"),
                **{k: v for k, v in settings.items() if k != "match_types"},
            }
            settings = {**_DEFAULTS, **{k: v for k, v in settings.items() if v is not None}}
            if "precision" in params:
                settings["precision"] = params["precision"]
            for key in ("strict", "allow_set_relation_comp", "language"):
                settings[key] = params.get(key, settings[key])
            if "NativeLetters" in settings["match_types"]:
                continue  # multiple-choice letters, not a math answer
            if "boxed_match_priority" not in settings:
                settings["boxed_match_priority"] = 0 if suite == "math-verify" else 55
            label = params.get("expected", params.get("result"))
            yield {
                "suite": suite,
                "family": function.name,
                "gold": params["gold"],
                "completion": params["pred"],
                "label": bool(label),
                "settings": settings,
                "upstream": {**upstream, "test": function.name},
                "licence": licence,
            }


def _git_show(git_dir: str, spec: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", git_dir, "show", spec], check=True, capture_output=True, text=True
    ).stdout


def convert(git_dir: str, repo: str, files: tuple[str, ...], suite: str, licence: str) -> list[dict]:
    """Every case of `files` at the HEAD of the snapshot `git_dir`."""
    commit = subprocess.run(
        ["git", "--git-dir", git_dir, "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    cases = []
    for path in files:
        upstream = {"repo": repo, "commit": commit, "file": path}
        cases.extend(cases_of(_git_show(git_dir, f"HEAD:{path}"), suite, upstream, licence))
    return cases


def main(argv: list[str] | None = None) -> int:
    """Write ``upstream_math_verify.jsonl`` and ``upstream_lighteval.jsonl``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--math-verify", required=True, help="git directory of huggingface/Math-Verify")
    parser.add_argument("--lighteval", required=True, help="git directory of huggingface/lighteval")
    parser.add_argument("--out", default=str(Path(__file__).with_name("data")))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    jobs = (
        (
            args.math_verify,
            "huggingface/Math-Verify",
            MATH_VERIFY_FILES,
            "math-verify",
            "Apache-2.0 (the repository's LICENCE; its test files carry an MIT header)",
            "upstream_math_verify.jsonl",
        ),
        (args.lighteval, "huggingface/lighteval", LIGHTEVAL_FILES, "lighteval", "MIT", "upstream_lighteval.jsonl"),
    )
    for git_dir, repo, files, suite, licence, name in jobs:
        cases = convert(git_dir, repo, files, suite, licence)
        with open(Path(args.out) / name, "w", encoding="utf-8") as out:
            out.writelines(json.dumps(case, ensure_ascii=False) + "\n" for case in cases)
        logger.info("%s: %d cases -> %s", suite, len(cases), name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
