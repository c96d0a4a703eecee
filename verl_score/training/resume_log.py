"""Keep verl's metrics log whole when a run resumes from a checkpoint.

verl 0.9.1's ``file`` logger (``verl/utils/tracking.py: FileLogger``) opens its jsonl with ``"wb"`` when ``fit()``
builds ``Tracking``, so a resumed run's log held only the steps after the resume: the training report
(``verl_score.training.report``) and the history plots silently covered part of the run. verl has no append switch,
and its path has no hook (``VERL_FILE_LOGGER_PATH``, else ``$VERL_FILE_LOGGER_ROOT/<project>/<experiment>.jsonl``),
so without patching verl the lines have to be read before the truncation and written back after it:

* :meth:`ResumedMetricsLogMixin._load_checkpoint` -- after verl has set ``global_steps`` to the resumed step N (and
  before ``fit()`` truncates), read the log and keep the lines this run will not write again: every step < N, and
  step N's training line. Lines of steps > N (the killed run went on past its last checkpoint) are dropped, because
  the resumed run redoes those steps; so is a validation-only line at step N when ``val_before_train`` will log it
  again (an earlier resume from the same checkpoint).
* the first hook ``fit()`` calls after building ``Tracking`` -- ``on_validate_begin`` when it validates before
  training, else ``on_train_begin`` -- writes the kept lines, byte for byte, at the top of the fresh file, before
  verl logs anything. Every training step is then in the log exactly once, in order.

``score_sync`` (SCoRe) mixes it in. A fresh run (no checkpoint loaded, ``global_steps`` 0) keeps verl's behaviour:
a new log. The lines are held in the trainer's memory between the two moments, which are milliseconds apart in the
same process (verl opens the file and calls the hook right after, in ``fit()``).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

__all__ = ["ResumedMetricsLogMixin", "file_logger_path", "lines_to_keep"]

logger = logging.getLogger(__name__)
logger.setLevel(os.getenv("VERL_LOGGING_LEVEL", "INFO"))

#: logged by verl's ``_compute_metrics`` on every training step and never by a validation-only line
TRAINING_STEP_KEY = "training/global_step"


def file_logger_path(project_name: str, experiment_name: str) -> Path:
    """The path verl 0.9.1's ``FileLogger`` writes, derived the same way (its ``__init__``, ``utils/tracking.py``)."""
    path = os.getenv("VERL_FILE_LOGGER_PATH", None)
    if path is None:
        root = os.path.expanduser(os.getenv("VERL_FILE_LOGGER_ROOT", "."))
        path = os.path.join(root, project_name, f"{experiment_name}.jsonl")
    return Path(path)


def lines_to_keep(lines: list[bytes], resumed_step: int, redo_validation: bool) -> tuple[list[bytes], int]:
    """The lines of a file-logger jsonl that a run resumed at ``resumed_step`` will not log again, and how many were
    dropped.

    Kept: steps < ``resumed_step``; step ``resumed_step``'s training line. Dropped: steps > ``resumed_step`` (redone);
    a validation-only line at ``resumed_step`` when ``redo_validation`` (the resumed run validates before training
    and logs it again); a line that is not a ``{"step": n, ...}`` JSON object (a write cut off by a kill).
    """
    kept: list[bytes] = []
    for raw in lines:
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw)
            step = int(rec["step"])
            data = rec.get("data") or {}
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
        if step > resumed_step:
            continue
        if step == resumed_step and TRAINING_STEP_KEY not in data and redo_validation:
            continue
        kept.append(raw if raw.endswith(b"\n") else raw + b"\n")
    return kept, sum(1 for raw in lines if raw.strip()) - len(kept)


class ResumedMetricsLogMixin:
    """Mix into a verl v1 trainer (before ``PPOTrainer`` in the bases) to carry the pre-resume metrics log over."""

    def _load_checkpoint(self):
        super()._load_checkpoint()
        self._pre_resume_log: list[bytes] | None = None
        trainer_cfg = self.config.trainer
        backends = trainer_cfg.logger
        backends = [backends] if isinstance(backends, str) else list(backends)
        if self.global_steps <= 0 or "file" not in backends:
            return
        path = file_logger_path(trainer_cfg.project_name, trainer_cfg.experiment_name)
        if not path.is_file():
            return
        kept, dropped = lines_to_keep(
            path.read_bytes().splitlines(keepends=True),
            self.global_steps,
            redo_validation=bool(trainer_cfg.get("val_before_train", True)),
        )
        self._pre_resume_log = kept
        self._pre_resume_log_path = path.resolve()
        logger.info(
            "resuming at step %d: keeping %d lines of %s, dropping %d (steps this run redoes, unreadable lines)",
            self.global_steps, len(kept), path, dropped,
        )

    def _restore_pre_resume_log(self) -> None:
        """Write the kept lines into the file logger ``fit()`` just opened (once; later calls do nothing)."""
        kept = getattr(self, "_pre_resume_log", None)
        self._pre_resume_log = None
        if not kept:
            return
        file_logger = getattr(getattr(self, "logger", None), "logger", {}).get("file")
        if file_logger is None:
            return
        if Path(file_logger.filepath).resolve() != self._pre_resume_log_path:
            logger.warning(
                "metrics log moved between checkpoint load (%s) and fit() (%s); pre-resume lines not carried over",
                self._pre_resume_log_path, file_logger.filepath,
            )
            return
        file_logger.fp.write(b"".join(kept))

    def on_validate_begin(self):
        self._restore_pre_resume_log()
        super().on_validate_begin()

    def on_train_begin(self):
        self._restore_pre_resume_log()
        super().on_train_begin()

