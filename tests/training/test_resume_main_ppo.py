"""A SCoRe run resumed from a checkpoint, through the real ``main_ppo`` (scripts/run_tiny_score_cpu.sh, tiny Qwen2):
its metrics log holds every training step exactly once and the training report covers them all.

Run 1 trains steps 1-3 (Stage I at step 1, then Stage II), validating before training and saving at steps 2 and 3,
as a run killed after step 3 would leave things. Run 2 resumes from step 2 (``trainer.resume_mode=resume_path``) and
trains to step 4: it redoes step 3. Before verl_score.training.resume_log, verl's file logger reopened the jsonl
with "wb" and run 2's log started at its step-2 validation; the report showed steps 3-4 only.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.cpu.run_utils import read_metrics, run_launcher, tail

pytestmark = pytest.mark.integration

EXPERIMENT = "resume"


def _run(run_dir, stage2_steps: int, *overrides: str):
    env = {"STAGE1_STEPS": "1", "STAGE2_STEPS": str(stage2_steps), "EXPERIMENT": EXPERIMENT,
           "VERL_FILE_LOGGER_ROOT": str(run_dir / "logs"), "CPU_LOG": str(run_dir / f"main_ppo_{stage2_steps}.log")}
    proc, log = run_launcher("run_tiny_score_cpu.sh", run_dir, "trainer.val_before_train=True", *overrides, env=env)
    assert proc.returncode == 0, tail(log)
    return log


@pytest.fixture(scope="module")
def resumed(tmp_path_factory, assets):
    run_dir = tmp_path_factory.mktemp("resume")
    _run(run_dir, 2, "trainer.save_freq=2", "trainer.test_freq=-1")
    first = (run_dir / "logs" / "verl_score" / f"{EXPERIMENT}.jsonl").read_bytes()
    assert (run_dir / "checkpoints" / "global_step_2").is_dir() and (run_dir / "checkpoints" / "global_step_3").is_dir()
    log = _run(run_dir, 3, "trainer.save_freq=-1", "trainer.resume_mode=resume_path",
               f"trainer.resume_from_path={run_dir / 'checkpoints' / 'global_step_2'}")
    final = (run_dir / "logs" / "verl_score" / f"{EXPERIMENT}.jsonl").read_bytes()
    return first, final, read_metrics(run_dir, "verl_score", EXPERIMENT), log


def test_every_training_step_is_logged_exactly_once(resumed):
    first, final, metrics, _ = resumed
    training = [m["step"] for m in metrics if "training/global_step" in m["data"]]
    assert training == [1, 2, 3, 4]
    # run 1's lines up to the checkpoint, byte for byte: its step-0 validation and steps 1-2 (its step 3 is redone)
    first_lines = first.splitlines(keepends=True)
    assert [json.loads(x)["step"] for x in first_lines] == [0, 1, 2, 3]
    assert final.startswith(b"".join(first_lines[:3]))
    assert first_lines[3] not in final
    # then run 2's validation of the step-2 checkpoint, labelled with step 2's stage (Stage II), and steps 3-4
    val = [m for m in metrics if "training/global_step" not in m["data"]]
    assert [m["step"] for m in val] == [0, 2]
    assert "score/stage" not in val[0]["data"] and val[1]["data"]["score/stage"] == 2.0
    assert any(k.startswith("val-core/") for k in val[1]["data"])
    assert [m["data"]["score/stage"] for m in metrics if "training/global_step" in m["data"]] == [1.0, 2.0, 2.0, 2.0]


def test_the_report_covers_the_whole_run(resumed):
    log = resumed[-1]
    rows = re.findall(r"^\| (\d+) \| (\d) \|", log, flags=re.M)  # the launcher's report: | step | stage | ...
    assert rows == [("1", "1"), ("2", "2"), ("3", "2"), ("4", "2")]

