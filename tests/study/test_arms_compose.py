"""Every trained arm of the study composes through the real launcher's dry run (``VERL_SCORE_COMPOSE_ONLY``).

The arms are hydra overrides on ``scripts/run_smollm2_score_cpu.sh``; a key the config no longer has (the shaping's
parameters moved under ``score.shaping.kwargs``) or a deletion the launcher already made would otherwise surface only
after a unit's Ray start, half an hour into a study run.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("study_cli_arms", ROOT / "scripts/experiments/study.py")
study = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = study  # its dataclasses look their module up
_spec.loader.exec_module(study)
ARMS = study.arms(steps=8, stage1=3, alpha=10.0)


@pytest.mark.parametrize("name", [n for n, a in ARMS.items() if a.trains])
def test_trained_arm_composes_through_the_launcher(name, tmp_path):
    arm = ARMS[name]
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERL_SCORE")}
    env.update({**arm.env, "GRADER": study.GRADER, "VERL_SCORE_COMPOSE_ONLY": "1", "RUN_DIR": str(tmp_path), "PYTHONPATH": str(ROOT),
                "VERL_SCORE_CPU_PRECISION": "fp32"})
    overrides = [*arm.overrides, "score.beta2=0.1"]
    out = subprocess.run(["bash", "scripts/run_smollm2_score_cpu.sh", *overrides], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    if arm.agent == study.SINGLE_TURN_AGENT:
        # one-attempt rows go through verl's stock sync trainer (score_sync assumes two-attempt episodes); its KL
        # (actor.use_kl_loss, beta1) and estimator are the ones the multi-turn arms use
        assert '"trainer_mode": "sync"' in out.stdout and '"use_kl_loss": true' in out.stdout
        assert '"adv_estimator": "rloo"' in out.stdout
        assert '"max_response_length": 128' in out.stdout  # an attempt's tokens in the eval, not the episode's 320
    else:
        assert '"score.adv_estimator+score.shaping"' in out.stdout  # the shaping check ran and passed
    routes = out.stdout.split('"reward_kwargs"', 1)[1][:400]
    assert '"routes"' not in routes and '"policy": "math_verify"' in routes  # the format-agnostic grader
