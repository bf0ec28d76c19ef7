"""Answer verifiers: the plugin interface and the registry that finds them.

A verifier turns a model completion into a final answer (`extract`), decides whether two
answers mean the same thing (`equivalent`), and offers a cheap hashable key for the
common cases (`canonical`) so that voting rarely needs a symbolic comparison.

Scoring against a gold answer may ask more of a verifier than voting does. Two optional
methods serve it, and `extract_for_scoring` / `matches_gold` fall back to `extract` /
`equivalent` for plugins without them:

- ``extract_for_scoring(completion)``: extraction with every fallback the verifier trusts
  when a gold answer, not a vote, decides (the ``math`` verifier joins adjacent boxes and
  reads the last math span of a finished completion);
- ``is_correct(gold, answer)``: a comparison that keeps the roles (``equivalent`` is
  symmetric, for clustering; a gold answer and a prediction are not interchangeable).

Verifiers are found through the entry-point group ``ttcs.verifiers``; a third-party
package adds one by declaring, in its own ``pyproject.toml``::

    [project.entry-points."ttcs.verifiers"]
    chem = "my_package.chem:ChemVerifier"

and then ``get_verifier("chem")`` returns an instance, with no change to ttcs.

Example:
    >>> from ttcs.verify import get_verifier
    >>> v = get_verifier("math")
    >>> v.extract(r"so the total is \\boxed{\\frac{1}{2}}")
    '\\\\frac{1}{2}'
    >>> v.equivalent("0.5", r"\\frac{1}{2}")
    True
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points
from typing import Protocol, runtime_checkable

from ttcs.errors import UserError

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "ttcs.verifiers"


@runtime_checkable
class Verifier(Protocol):
    """What every verifier plugin provides.

    Contract: none of the three methods raises on any input string (model output is
    hostile input), and `equivalent` returns within the verifier's timeout.
    """

    name: str

    def extract(self, completion: str) -> str | None:
        """The final answer of a model completion, or None when it states none."""
        ...

    def equivalent(self, a: str, b: str) -> bool:
        """Whether two extracted answers are the same answer."""
        ...

    def canonical(self, answer: str) -> Hashable | None:
        """A key such that equal keys imply equivalent answers; None when unknown."""
        ...


class UnknownVerifierError(UserError, KeyError):
    """Raised by `get_verifier` for a name no installed plugin registers."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


@lru_cache(maxsize=1)
def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available_verifiers() -> list[str]:
    """Names of all installed verifier plugins, sorted."""
    return sorted(_entry_points())


def get_verifier(name: str, **kwargs) -> Verifier:
    """Instantiate the verifier registered under `name` in the ``ttcs.verifiers`` group.

    Args:
        name: the entry-point name, e.g. ``"math"``, ``"multiple_choice"``, ``"exact_match"``.
        **kwargs: passed to the verifier's constructor (e.g. ``timeout=2.0``).

    Returns:
        A fresh verifier instance.

    Raises:
        UnknownVerifierError: no installed plugin has that name; the message lists those that do.
    """
    eps = _entry_points()
    if name not in eps:
        _entry_points.cache_clear()  # a plugin may have been installed since the first look
        eps = _entry_points()
    if name not in eps:
        known = ", ".join(available_verifiers()) or "none (is ttcs installed with `pip install -e .`?)"
        raise UnknownVerifierError(f"unknown verifier {name!r}; available verifiers: {known}")
    factory = eps[name].load()
    verifier = factory(**kwargs)
    if not isinstance(verifier, Verifier):
        raise TypeError(f"entry point {name!r} -> {eps[name].value} does not implement the Verifier interface")
    return verifier


def extract_for_scoring(verifier: Verifier, completion: str) -> str | None:
    """The answer of `completion` as scoring against a gold answer reads it.

    Uses the verifier's ``extract_for_scoring`` when it has one, else its `extract`.
    """
    extract = getattr(verifier, "extract_for_scoring", None)
    return extract(completion) if callable(extract) else verifier.extract(completion)


def matches_gold(verifier: Verifier, gold: str | None, answer: str | None) -> bool:
    """Whether the predicted `answer` is correct for the `gold` answer; False when either is missing.

    Uses the verifier's ``is_correct(gold, answer)`` when it has one, else ``equivalent(answer, gold)``.
    """
    if answer is None or gold is None:
        return False
    judge = getattr(verifier, "is_correct", None)
    return bool(judge(gold, answer) if callable(judge) else verifier.equivalent(answer, gold))
