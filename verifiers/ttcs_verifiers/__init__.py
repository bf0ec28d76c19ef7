"""The built-in ttcs verifier plugins: ``math``, ``multiple_choice`` and ``exact_match``.

They are registered in ttcs's ``pyproject.toml`` under the entry-point group
``ttcs.verifiers`` and found with ``ttcs.verify.get_verifier(name)``. The import name is
``ttcs_verifiers`` so that it never shadows the unrelated PyPI package ``verifiers``.

Submodules are imported on demand (the math verifier pulls in a sympy subprocess helper),
so ``import ttcs_verifiers`` stays cheap. The text helpers ttcs itself needs (`last_boxed`,
`matching_braces`) are exported here, so that ttcs imports no private module.
"""

from ttcs_verifiers._text import last_boxed, matching_braces

__all__ = ["last_boxed", "matching_braces"]
