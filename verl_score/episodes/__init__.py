"""SCoRe episodes as verl agent loops.

* ``two_attempt``: ``score_two_attempt`` -- attempt 1, the paper's self-correction instruction, attempt 2 (K attempts
  for inference-time scaling), with a per-token ``attempt_index`` for the loss.
* ``guidance``: where that instruction comes from (``static`` here; SMART guidance registers itself).
* ``budget``: per-attempt ``max_tokens`` inside ``rollout.response_length``.
* ``output``: the ``AgentLoopOutput`` subclass that carries ``attempt_index`` to the trainer.

Importing this package registers nothing; ``verl_score.register`` imports ``verl_score.episodes.two_attempt``.
"""

# Imported first on purpose: verl/__init__ imports verl_score.register, which imports this package; importing verl
# here, before any submodule, lets that registration finish before a submodule is half-initialised (a fresh Ray
# worker that unpickles one of our classes would otherwise die with a circular import).
import verl  # noqa: E402,F401
