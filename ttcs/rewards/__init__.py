"""Reward functions, one module per model that is rewarded.

- `ttcs.rewards.synthesizer`: the Synthesizer's reward for one batch of variants
  (format, capability, copy penalty, repetition penalty).

Every reward term is a pure function of plain values (strings, floats): no I/O, no
globals, no environment variables, so it can be tested with literals and reused by any
trainer.
"""
