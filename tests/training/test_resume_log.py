"""A resumed run keeps its metrics log (verl_score.training.resume_log), checked against verl's own ``Tracking`` /
``FileLogger``, which truncate the file when ``fit()`` starts. The end-to-end resumed ``main_ppo`` run is
tests/training/test_resume_main_ppo.py."""

from __future__ import annotations

import json

import pytest
from omegaconf import OmegaConf
from verl.utils.tracking import Tracking

from verl_score.training.resume_log import ResumedMetricsLogMixin, file_logger_path, lines_to_keep

PROJECT, EXPERIMENT = "proj", "exp"


def line(step: int, **data) -> bytes:
    return json.dumps({"step": step, "data": data}).encode() + b"\n"


def train(step: int) -> bytes:
    return line(step, **{"training/global_step": step, "score/acc@t1": step / 10})


def val(step: int) -> bytes:
    return line(step, **{"val-core/gsm8k/score/acc@t1": 0.5})


# A run killed after step 3 whose last checkpoint is step 2: validation before training, steps 1-3, and a line the
# kill cut short.
KILLED_RUN = [val(0), train(1), train(2), train(3), b'{"step": 4, "da']


def test_keeps_steps_up_to_the_checkpoint_and_drops_what_is_redone():
    kept, dropped = lines_to_keep(KILLED_RUN, resumed_step=2, redo_validation=True)
    assert kept == [val(0), train(1), train(2)]
    assert dropped == 2  # step 3 (redone) and the cut line


def test_a_previous_resumes_validation_of_the_same_step():
    log = [val(0), train(1), train(2), val(2), train(3)]  # resumed once from step 2 already, killed again
    assert lines_to_keep(log, 2, redo_validation=True)[0] == [val(0), train(1), train(2)]  # logged again
    assert lines_to_keep(log, 2, redo_validation=False)[0] == [val(0), train(1), train(2), val(2)]


class FakeVerlTrainer:
    """What the mixin needs from verl's v1 ``PPOTrainer``: ``_load_checkpoint`` setting ``global_steps`` and the
    ``on_*`` hooks, with ``fit()``'s order of events replayed by :func:`fit`."""

    def __init__(self, resumed_step: int, val_before_train: bool = True, backends=("console", "file")):
        self.config = OmegaConf.create({"trainer": {
            "project_name": PROJECT, "experiment_name": EXPERIMENT, "logger": list(backends),
            "val_before_train": val_before_train}})
        self.resumed_step = resumed_step
        self.hooks: list[str] = []

    def _load_checkpoint(self):
        self.global_steps = self.resumed_step

    def on_validate_begin(self):
        self.hooks.append("validate")

    def on_train_begin(self):
        self.hooks.append("train")


class Trainer(ResumedMetricsLogMixin, FakeVerlTrainer):
    pass


def fit(trainer: Trainer, new_steps: range) -> None:
    """verl 0.9.1's ``PPOTrainer.fit`` (trainer_base.py) around our hooks: build Tracking (opens the file "wb"),
    validate before training, train, validate on the last step."""
    cfg = trainer.config.trainer
    trainer.logger = Tracking(project_name=cfg.project_name, experiment_name=cfg.experiment_name,
                              default_backend=list(cfg.logger))
    if cfg.val_before_train:
        trainer.on_validate_begin()
        trainer.logger.log(data=json.loads(val(trainer.global_steps))["data"], step=trainer.global_steps)
    trainer.on_train_begin()
    for step in new_steps:
        if step == new_steps[-1]:
            trainer.on_validate_begin()
        trainer.logger.log(data=json.loads(train(step))["data"], step=step)
    trainer.logger.finish()


@pytest.fixture
def log_path(tmp_path, monkeypatch):
    monkeypatch.delenv("VERL_FILE_LOGGER_PATH", raising=False)
    monkeypatch.setenv("VERL_FILE_LOGGER_ROOT", str(tmp_path / "logs"))
    path = file_logger_path(PROJECT, EXPERIMENT)
    assert path == tmp_path / "logs" / PROJECT / f"{EXPERIMENT}.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"".join(KILLED_RUN))
    return path


def steps_in(path) -> list[tuple[int, bool]]:
    recs = [json.loads(x) for x in path.read_text().splitlines()]
    return [(r["step"], "training/global_step" in r["data"]) for r in recs]


@pytest.mark.parametrize("val_before_train", [True, False])
def test_resumed_fit_logs_every_step_once(log_path, val_before_train):
    trainer = Trainer(resumed_step=2, val_before_train=val_before_train)
    trainer._load_checkpoint()
    fit(trainer, range(3, 5))
    training = [s for s, is_train in steps_in(log_path) if is_train]
    assert training == [1, 2, 3, 4]
    assert log_path.read_bytes().startswith(val(0) + train(1) + train(2))  # the pre-resume lines, byte for byte
    assert [s for s, is_train in steps_in(log_path) if not is_train] == ([0, 2] if val_before_train else [0])
    # the lines go in once, although fit() calls on_validate_begin again on the last step
    assert trainer.hooks == (["validate", "train", "validate"] if val_before_train else ["train", "validate"])


def test_a_fresh_run_starts_a_new_log_as_verl_does(log_path):
    trainer = Trainer(resumed_step=0)
    trainer._load_checkpoint()
    fit(trainer, range(1, 3))
    assert steps_in(log_path) == [(0, False), (1, True), (2, True)]


def test_without_the_file_logger_nothing_is_read_or_written(log_path):
    trainer = Trainer(resumed_step=2, backends=("console",))
    trainer._load_checkpoint()
    fit(trainer, range(3, 4))
    assert log_path.read_bytes() == b"".join(KILLED_RUN)  # verl never opened it



def test_score_sync_keeps_the_log():
    from verl.trainer.ppo.v1 import PPOTrainerSync

    from verl_score.training.trainer import ScoreTrainerSync

    mro = ScoreTrainerSync.__mro__
    assert ResumedMetricsLogMixin in mro and mro.index(ResumedMetricsLogMixin) < mro.index(PPOTrainerSync)


@pytest.mark.parametrize("step, stage", [(0, None), (1, 1.0), (2, 2.0), (3, 2.0)])
def test_validation_is_labelled_with_the_stage_of_its_step(step, stage, monkeypatch):
    """A run resumed at step N validates N's weights before training: the line carries N's stage (Stage II from
    step 2 here), not the Stage I the trainer starts in; a fresh run's step 0 has no stage."""
    from verl.trainer.ppo.v1 import PPOTrainerSync

    from verl_score.training.config import ScoreConfig
    from verl_score.training.trainer import ScoreTrainerSync

    monkeypatch.setattr(PPOTrainerSync, "_validate", lambda self: {"val-core/gsm8k/score/acc@t1": 0.5}, raising=False)
    tr = ScoreTrainerSync.__new__(ScoreTrainerSync)
    tr.score_cfg = ScoreConfig.from_config({"schedule": {"mode": "sequential", "stage1_steps": 1}})
    tr.global_steps = step
    metrics = tr._validate()
    assert metrics["val-core/gsm8k/score/acc@t1"] == 0.5
    assert metrics.get("score/stage") == stage
