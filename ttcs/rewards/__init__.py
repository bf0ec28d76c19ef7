"""Reward functions: the Synthesizer's (a combiner and one module per term) and the Solver's.

- `ttcs.rewards.synthesizer`: the Synthesizer's reward for one batch of variants, combining
  one module per term: `format`, `capability`, `copying` (copy penalty; its near-copy tests
  also serve the curriculum filter) and `repetition`; the claim check is the recipe's
  (`ttcs.recipes`: the paper's claimed answer must exist, the small-model recipe's `claim_verdict`).
- `ttcs.rewards.solver`: the Solver's reward, agreement with its own majority vote.

Every reward term is a pure function of plain values (strings, floats): no I/O, no
globals, no environment variables, so it can be tested with literals and reused by any
trainer.
"""
