"""``AgentLoopOutput`` with SCoRe's per-token attempt index.

The loss needs to know which response tokens belong to which attempt (Stage I: policy gradient on the last attempt,
KL on attempt 1; Stage II: each attempt with its own reward). Splitting by chat-template markers is fragile (pitfall
13 in shared/notes/score-methods.md), so the episode records the span of every attempt as a token-aligned tensor.

How it reaches the trainer (verl 0.9.1 v1, ``trainer/ppo/v1/agent_loop_tq.py``): ``AgentLoopWorkerTQ`` calls
``output.as_dict()`` and stores every value in TransferQueue; a list of equally shaped tensors is stacked, otherwise
it becomes a jagged nested tensor -- exactly what happens to ``response_mask``. The trainer's ``to_padded_tensor()``
then right-pads both with 0 to the same width, so ``attempt_index`` stays aligned with ``response_mask`` everywhere.
The legacy v0 ``AgentLoopWorker`` pads only a fixed set of fields and does not carry this one.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
from pydantic import model_validator

from verl.experimental.agent_loop.agent_loop import AgentLoopOutput

from verl_score.contracts.keys import EPISODE_ATTEMPT_INDEX

__all__ = ["ScoreAgentLoopOutput"]


class ScoreAgentLoopOutput(AgentLoopOutput):
    """A SCoRe episode: ``attempt_index[i]`` is 0 on injected tokens and k on the tokens generated in attempt k."""

    attempt_index: list[int]
    """Aligned with ``response_ids``; nonzero exactly where ``response_mask`` is 1."""

    @model_validator(mode="after")
    def _aligned(self) -> "ScoreAgentLoopOutput":
        n = len(self.response_ids)
        if len(self.response_mask) != n or len(self.attempt_index) != n:
            raise ValueError(
                f"response_ids ({n}), response_mask ({len(self.response_mask)}) and attempt_index "
                f"({len(self.attempt_index)}) must have one entry per response token"
            )
        if self.response_logprobs is not None and len(self.response_logprobs) != n:
            raise ValueError(f"response_logprobs has {len(self.response_logprobs)} entries for {n} response tokens")
        return self

    def as_dict(self) -> dict[str, Any]:
        """verl's dict plus ``attempt_index`` as an int64 tensor shaped like ``response_mask``."""
        output = super().as_dict()
        attempt_index = output.pop(EPISODE_ATTEMPT_INDEX, None)
        if attempt_index is None:
            attempt_index = self.attempt_index
        output[EPISODE_ATTEMPT_INDEX] = torch.tensor(attempt_index, dtype=torch.int64)
        return output


def episode_extra_fields(server_extras: Sequence[Mapping[str, Any]], **fields: Any) -> dict[str, Any]:
    """``extra_fields`` of a multi-generation episode, with the bookkeeping verl's v1 trainer requires.

    Starts from the first generation's server extras, adds ``fields``, then verl's tags: ``min_global_steps`` /
    ``max_global_steps`` = the weight version of the first and the last generation (the v1 trainer crashes without
    them), and the empty ``turn_scores`` / ``tool_rewards`` of verl's own loops so mixed batches concatenate.
    """
    first, last = server_extras[0], server_extras[-1]
    return {
        **first,
        **fields,
        "min_global_steps": first.get("min_global_steps", first.get("global_steps")),
        "max_global_steps": last.get("max_global_steps", last.get("global_steps")),
        "turn_scores": [],
        "tool_rewards": [],
    }
