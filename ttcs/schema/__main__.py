"""``python -m ttcs.schema``: print the configuration reference (docs/config.md)."""

from ttcs.schema import reference

print(reference())
