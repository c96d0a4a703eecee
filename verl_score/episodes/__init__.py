"""SCoRe episodes as verl agent loops.

* ``two_attempt``: ``score_two_attempt`` -- attempt 1, the paper's self-correction instruction, attempt 2 (K attempts
  for inference-time scaling), with a per-token ``attempt_index`` for the loss.
* ``guidance``: where that instruction comes from (``static`` here; SMART guidance registers itself).
* ``budget``: per-attempt ``max_tokens`` inside ``rollout.response_length``.
* ``output``: the ``AgentLoopOutput`` subclass that carries ``attempt_index`` to the trainer.

Importing this package registers nothing; ``verl_score.register`` imports ``verl_score.episodes.two_attempt``.
"""
