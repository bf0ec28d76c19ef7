"""Prompts: the Solver's (instruction, multiple-choice options, chat or plain layout) and the Synthesizer's templates.

Instruct models get their own chat template; base models (no template) get a plain
"Question: ... Answer:" layout. The same function serves evaluation and training, so the
Solver is trained on exactly the prompts it is evaluated on. Synthesizer templates are
text files with a ``{reference}`` slot, built in under ``conf/prompts/`` or given as a path.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from pathlib import Path


def _find_config_dir() -> Path:
    """The installed copy (``ttcs/conf``) when there is one, else the source tree's ``conf/``."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "conf", here.parent / "conf"):  # in a checkout ttcs/conf links to conf/
        if (candidate / "config.yaml").is_file():
            return candidate.resolve()
    return here.parent / "conf"


CONFIG_DIR = _find_config_dir()
PROMPTS_DIR = CONFIG_DIR / "prompts"

MATH_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."
CHOICE_INSTRUCTION = (
    "Answer the following multiple choice question. Reason step by step, then put the letter "
    "of the correct option within \\boxed{}."
)
INSTRUCTIONS = {"math": MATH_INSTRUCTION, "multiple_choice": CHOICE_INSTRUCTION}


def question_text(question: str, choices: Sequence[str] | None = None, kind: str = "math") -> str:
    """The user turn: the question, the options (lettered A, B, ...) when given, the instruction."""
    if kind not in INSTRUCTIONS:
        raise ValueError(f"unknown prompt kind {kind!r}; choose one of {sorted(INSTRUCTIONS)}")
    parts = [question.strip()]
    if choices:
        if len(choices) > len(string.ascii_uppercase):
            raise ValueError(f"too many options ({len(choices)})")
        parts.append("\n".join(f"{string.ascii_uppercase[i]}. {c}" for i, c in enumerate(choices)))
    parts.append(INSTRUCTIONS[kind])
    return "\n\n".join(parts)


def uses_chat_template(tokenizer, chat_template: str | bool = "auto") -> bool:
    """Whether prompts go through the tokenizer's chat template (`auto`: when it has one)."""
    if chat_template == "auto":
        return bool(getattr(tokenizer, "chat_template", None))
    return bool(chat_template)


def render(tokenizer, user_text: str, *, chat_template: str | bool = "auto", system_prompt: str | None = None) -> str:
    """The full prompt string that goes to the model, ending where the answer should start."""
    if uses_chat_template(tokenizer, chat_template):
        messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
        messages.append({"role": "user", "content": user_text})
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    prefix = f"{system_prompt.strip()}\n\n" if system_prompt else ""
    return f"{prefix}Question: {user_text}\nAnswer: Let's think step by step."


def solver_prompt(
    tokenizer, problem, *, kind: str = "math", chat_template: str | bool = "auto", system_prompt: str | None = None
) -> str:
    """Prompt for one `ttcs.data.Problem` (uses its question and, when present, its choices)."""
    text = question_text(problem.question, getattr(problem, "choices", None), kind)
    return render(tokenizer, text, chat_template=chat_template, system_prompt=system_prompt)


def template_path(name_or_path: str) -> Path | None:
    """The file of a Synthesizer prompt template: a text file, or a name under ``conf/prompts/``; None if neither."""
    for path in (Path(name_or_path).expanduser(), PROMPTS_DIR / f"{name_or_path}.txt"):
        if path.is_file():
            return path
    return None


def builtin_templates() -> list[str]:
    """The names of the built-in Synthesizer templates (the files under ``conf/prompts/``)."""
    return sorted(p.stem for p in PROMPTS_DIR.glob("*.txt"))


def load_template(name_or_path: str) -> str:
    """A Synthesizer prompt template's text (see `template_path`)."""
    path = template_path(name_or_path)
    if path is None:
        raise FileNotFoundError(
            f"no Synthesizer template {name_or_path!r}; built-in templates: {', '.join(builtin_templates())}"
        )
    return path.read_text()
