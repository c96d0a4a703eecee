"""How long a verl 0.9.1 run really is, and a start-up check that it reaches its configured end.

Why: verl's v1 loop runs ``while epoch < trainer.total_epochs and step <= total_training_steps``, with an epoch of
``⌊train rows / data.train_batch_size⌋`` steps (``PPOTrainer._init_dataloader``). ``trainer.total_training_steps``
therefore only caps the run: with verl's default ``total_epochs=30``, MATH (7,500 rows, batch 128) would stop at
step 1,740 of 3,000 and MBPP (374 rows, batch 32) at step 330, before a 500-step Stage I ends. The last step is
never reached, so the end-of-run validation and the final checkpoint are skipped too, and nothing warns. This module
computes the step the loop really ends at and refuses a run that would end before ``total_training_steps`` or
before Stage II begins, naming the keys, the numbers and the fix.

It runs twice: in the ``VERL_SCORE_COMPOSE_ONLY`` dry run (:mod:`verl_score.config_check`, rows counted from the
parquet metadata when the files are there) and in the trainer after verl has built its dataset
(``ScoreTrainerSync._init_dataloader``, rows after ``data.filter_overlong_prompts``), before any worker starts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verl_score.training.config import ScheduleConfig

__all__ = ["RunLength", "check_run_length", "parquet_rows", "run_length"]


@dataclass(frozen=True)
class RunLength:
    """The numbers that decide where verl's loop ends."""

    train_rows: int
    train_batch_size: int
    total_epochs: int
    total_training_steps: int | None
    steps_per_epoch: int
    #: the global step verl's loop ends at: min(total_training_steps, total_epochs × steps_per_epoch)
    last_step: int


def run_length(
    train_rows: int, train_batch_size: int, total_epochs: int, total_training_steps: int | None
) -> RunLength:
    """verl 0.9.1's arithmetic (``trainer_base.PPOTrainer._init_dataloader`` and ``fit``)."""
    steps_per_epoch = train_rows // train_batch_size
    epoch_bound = steps_per_epoch * total_epochs
    last = epoch_bound if total_training_steps is None else min(int(total_training_steps), epoch_bound)
    return RunLength(train_rows, train_batch_size, total_epochs, total_training_steps, steps_per_epoch, last)


def check_run_length(cfg: Any, train_rows: int, *, rows_from: str = "the training data") -> RunLength:
    """Refuse a run that verl would end early; return its :class:`RunLength`.

    Args:
        cfg: the composed run config (``data``, ``trainer`` and, for SCoRe, ``score.schedule``).
        train_rows: rows verl trains on (after ``data.train_max_samples`` and prompt-length filtering).
        rows_from: where ``train_rows`` came from, for the message.

    Raises:
        ValueError: the batch is larger than the data, the loop ends before ``trainer.total_training_steps``, or
        (``score.schedule``) Stage II would start after the last step although Stage II steps are configured.
    """
    batch = int(cfg.data.train_batch_size)
    epochs = int(cfg.trainer.total_epochs)
    steps = cfg.trainer.get("total_training_steps", None)
    steps = None if steps is None else int(steps)
    n = run_length(train_rows, batch, epochs, steps)
    if n.steps_per_epoch == 0:
        raise ValueError(
            f"data.train_batch_size={batch} is larger than the {train_rows} training rows of {rows_from}: verl's "
            "epoch would have 0 steps. Fix: lower data.train_batch_size, or train on more rows."
        )
    if steps is not None and n.last_step < steps:
        need = math.ceil(steps / n.steps_per_epoch)
        raise ValueError(
            f"the run would stop at step {n.last_step}, not trainer.total_training_steps={steps}: verl ends after "
            f"trainer.total_epochs={epochs} epochs of ⌊{train_rows} rows ({rows_from}) / data.train_batch_size="
            f"{batch}⌋ = {n.steps_per_epoch} steps, so the last step's validation and checkpoint would never run. "
            f"Fix: set trainer.total_epochs>={need}, or trainer.total_training_steps<={n.last_step}."
        )
    if "score" in cfg and cfg.score.get("schedule") is not None:
        _check_stage_switch(ScheduleConfig(**dict(cfg.score.schedule)), n)
    return n


def _check_stage_switch(schedule: ScheduleConfig, n: RunLength) -> None:
    """Stage II starts at step ``stage1_steps + 1`` (both modes) and must start before the run's last step. In
    sequential mode Stage II then runs to the end, so the steps it really gets, max(0, last − stage1_steps), must be
    the ``stage2_steps`` the config states (0 = a Stage I only run): a run whose Stage II silently grows, shrinks or
    never happens is refused."""
    if schedule.mode == "interleave":
        if schedule.stage1_steps >= n.last_step:
            raise ValueError(
                f"score.schedule.stage1_steps={schedule.stage1_steps} >= the run's last step {n.last_step}: the "
                "interleaved schedule would never reach Stage II. Fix: lower score.schedule.stage1_steps or raise "
                "trainer.total_training_steps."
            )
        return
    stage2_real = max(0, n.last_step - schedule.stage1_steps)
    if stage2_real == schedule.stage2_steps:
        return
    if stage2_real == 0:
        raise ValueError(
            f"score.schedule.stage1_steps={schedule.stage1_steps} >= the run's last step {n.last_step} "
            f"(trainer.total_training_steps={n.total_training_steps}, {n.steps_per_epoch} steps per epoch x "
            f"trainer.total_epochs={n.total_epochs}): Stage II would never run although "
            f"score.schedule.stage2_steps={schedule.stage2_steps}. Fix: lower score.schedule.stage1_steps below "
            f"{n.last_step}, raise trainer.total_training_steps, or set score.schedule.stage2_steps=0 for a Stage I "
            "only run."
        )
    raise ValueError(
        f"Stage II would run {stage2_real} steps (steps {schedule.stage1_steps + 1}-{n.last_step}), not "
        f"score.schedule.stage2_steps={schedule.stage2_steps}: in sequential mode Stage II runs from "
        f"score.schedule.stage1_steps={schedule.stage1_steps} to the run's last step. Fix: "
        f"trainer.total_training_steps={schedule.stage1_steps + schedule.stage2_steps}, or "
        f"score.schedule.stage2_steps={stage2_real}."
    )


def parquet_rows(files: str | Sequence[str]) -> tuple[int, None] | tuple[None, str]:
    """Rows in the parquet files verl would read (from their metadata: no data is loaded).

    Returns ``(rows, None)``, or ``(None, why)`` when a file is not on this machine (a dry run on a laptop): the
    trainer then checks the run length at start-up instead.
    """
    import pyarrow.parquet as pq

    paths = [files] if isinstance(files, str) else [str(f) for f in files]
    total = 0
    for p in paths:
        if not Path(p).is_file():
            return None, f"{p} not found here"
        total += pq.ParquetFile(p).metadata.num_rows
    return total, None
