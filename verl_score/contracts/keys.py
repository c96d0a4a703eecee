"""The string keys that cross the episode -> reward -> trainer boundary, in one place.

Why: an episode's fields travel through verl as plain dict keys (``AgentLoopOutput.as_dict()`` into TransferQueue,
``extra_fields`` merged into the reward's ``extra_info``, the reward's dict back as ``reward_extra_info``). A key
spelled twice is a key that can drift: the writer renames it, the reader gets ``None`` and a metric or a mask is
silently wrong. Every writer and reader in the package names them from here.

Two names for the attempt index are two different fields, on purpose: :data:`EPISODE_ATTEMPT_INDEX` is what the
agent loop records per response token, :data:`LOSS_ATTEMPT_INDEX` is the trainer's checked copy (attempts beyond
``score.num_attempts`` refused, padding zeroed) that the worker's loss reads. The loss never reads the loop's field.
"""

from __future__ import annotations

# ------------------------------------------------------------------------------------- episode -> trainer (tensors)
#: per-token int64 attempt index of an episode (0 = injected token, k = attempt k), aligned with ``response_ids``
EPISODE_ATTEMPT_INDEX = "attempt_index"

# ---------------------------------------------------------------------------------------- trainer -> worker loss
#: the trainer's per-token attempt index, aligned with ``response_mask`` (0 = injected / padding)
LOSS_ATTEMPT_INDEX = "score_attempt_index"
#: non-tensor meta field carrying the stage (1 or 2) into the worker
STAGE = "score_stage"

# ------------------------------------------------------ episode ``extra_fields`` -> reward ``extra_info``, metrics
#: the K attempt texts of a two-attempt episode, in order
ATTEMPT_TEXTS = "attempt_texts"
#: K, as the loop ran it
NUM_ATTEMPTS = "num_attempts"
#: per instruction turn, where it came from (``Guidance.source``)
GUIDANCE = "guidance"
#: per instruction turn, why it fell back (``Guidance.reason``; ``""`` when it did not)
GUIDANCE_REASONS = "guidance_reasons"
#: per attempt, whether it hit its token budget
ATTEMPT_TRUNCATED = "attempt_truncated"
#: prefix-rollout episodes: the generated steps, first first
STEP_TEXTS = "step_texts"
#: prefix-rollout episodes: the answer the loop committed (None = none)
FINAL_ANSWER_TEXT = "final_answer_text"
#: prefix-rollout episodes: why the episode ended
STOP_REASON = "stop_reason"
NUM_TOOL_CALLS = "num_tool_calls"
NUM_TOOL_ERRORS = "num_tool_errors"
NUM_ASSISTANT_TURNS = "num_assistant_turns"
#: verl's key: the reward's dict, stored back into an episode's ``extra_fields``
REWARD_EXTRA_INFO = "reward_extra_info"

# --------------------------------------------------------- reward ``reward_extra_info`` -> trainer, metrics, eval
#: the final attempt's reward
SCORE = "score"
#: the final attempt is fully correct (verl's core validation metric)
ACC = "acc"
#: 1.0 when any attempt's check failed (judge down, sandbox broken, verify timeout)
REWARD_FAILED = "reward_failed"
ANSWER_FOUND = "answer_found"
ANSWER_CHANGED = "answer_changed"
#: prefix of the per-attempt reward keys ``score_t1 … score_tK``
SCORE_T_PREFIX = "score_t"


def score_t(k: int) -> str:
    """Attempt ``k``'s raw reward (``score_t1`` ...)."""
    return f"{SCORE_T_PREFIX}{k}"


def acc_t(k: int) -> str:
    """Attempt ``k`` fully correct (``acc_t1`` ...)."""
    return f"acc_t{k}"


def failed_t(k: int) -> str:
    """Attempt ``k``'s reward check failed (``failed_t1`` ...)."""
    return f"failed_t{k}"


def guidance_t2(bucket: str) -> str:
    """One-hot column: the instruction before attempt 2 came from ``bucket``."""
    return f"guidance_t2_{bucket}"


def guidance_t2_rejected(reason: str) -> str:
    """One-hot column: the instruction before attempt 2 was a SMART hint rejected for ``reason``."""
    return f"guidance_t2_rejected_{reason}"
