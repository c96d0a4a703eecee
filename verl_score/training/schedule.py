"""Stage schedule: which SCoRe stage (1 or 2) a global step trains. Pure functions of the step number."""

from __future__ import annotations

from verl_score.training.config import ScheduleConfig

__all__ = ["STAGE_I", "STAGE_II", "stage_at"]

STAGE_I = 1
STAGE_II = 2


def stage_at(global_step: int, schedule: ScheduleConfig) -> int:
    """Stage trained at ``global_step`` (verl's steps start at 1).

    sequential: steps 1..N1 are Stage I, every later step Stage II (N1 = 0 → Stage II only).
    interleave: period P = N1 + N2; step s is Stage I when (s − 1) mod P < N1, else Stage II.
    """
    if global_step < 1:
        raise ValueError(f"global_step starts at 1, got {global_step}")
    n1 = schedule.stage1_steps
    if schedule.mode == "sequential":
        return STAGE_I if global_step <= n1 else STAGE_II
    period = n1 + schedule.stage2_steps
    return STAGE_I if (global_step - 1) % period < n1 else STAGE_II
