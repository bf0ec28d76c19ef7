"""The one type of a user's mistake: `UserError`.

Every mistake a user can make (a config value, a data file, a model path, a launch, a memory plan, a resumed run
with another config) is raised as a subclass of `UserError` with a message of one line that says what to change.
The ``ttcs`` command prints that line (and writes it to ``run.log`` when a run directory exists) and exits with
status 1; any other exception is a bug and keeps its traceback.

This module imports nothing, so that every other module, torch-free ones included, can raise it.

Example:
    >>> issubclass(ConfigError, UserError), str(ConfigError("eval.k=0: must be an integer >= 1"))
    (True, 'eval.k=0: must be an integer >= 1')
"""

from __future__ import annotations


class UserError(Exception):
    """A mistake in what the user typed or handed in; its message says what to change, in one line."""


class ConfigError(UserError, ValueError):
    """An impossible or unknown config value, in one line: ``key=value: what is allowed``."""


def one_line(err: BaseException) -> str:
    """The error's message on one line (a KeyError's str() is its repr, quotes included).

    Example:
        >>> one_line(KeyError("no such verifier 'x'")), one_line(ValueError("two\\n  lines"))
        ("no such verifier 'x'", 'two lines')
    """
    text = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
    return " ".join(str(text).split())
