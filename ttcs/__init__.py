"""ttcs: test-time curriculum synthesis.

A Synthesizer model writes variants of each test problem at the edge of what a Solver
model can do; the Solver trains by GRPO on the test problems plus those variants,
rewarded by agreement with its own majority vote. Run it with the `ttcs` command
(Hydra); see README.md.
"""

__version__ = "0.1.0"
