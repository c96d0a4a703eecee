"""End to end: real ``python -m verl.trainer.main_ppo`` on CPU with the ``score_sync`` trainer and the
``score_two_attempt`` agent loop — Stage I on step 1, Stage II on step 2, validation at the end — and the SCoRe
metrics in verl's ``file`` logger output.

Runs ``scripts/run_tiny_score_cpu.sh`` (configs/score_math.yaml on the tiny Qwen2, hfcpu rollout backend), 1 step
per stage.
The reward is ``tests/training/fixtures/pseudo_score_fn.py`` (a hash of each attempt, same output contract as the real
``score_fn``), because a random tiny model never earns a real reward and every gradient would be 0.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "run_tiny_score_cpu.sh"


@pytest.mark.integration
def test_main_ppo_runs_both_stages_and_logs_score_metrics(tmp_path):
    env = dict(os.environ)
    env.update(
        RUN_DIR=str(tmp_path),
        VERL_FILE_LOGGER_ROOT=str(tmp_path / "logs"),
        REWARD_FN=str(ROOT / "tests/training/fixtures/pseudo_score_fn.py"),
        STAGE1_STEPS="1",
        STAGE2_STEPS="1",
        EXPERIMENT="score_e2e",
    )
    proc = subprocess.run(["bash", str(SCRIPT)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    # the launcher ends by printing the self-correction table from the logger output
    assert "| step | stage | Acc@t1 | Acc@t2 |" in proc.stdout

    log = tmp_path / "logs" / "verl_score" / "score_e2e.jsonl"
    steps = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    by_step = {rec["step"]: rec["data"] for rec in steps}
    assert by_step[1]["score/stage"] == 1 and by_step[2]["score/stage"] == 2
    for s in (1, 2):
        m = by_step[s]
        for key in ("score/acc@t1", "score/acc@t2", "score/delta_i2c_uncond", "score/delta_c2i_uncond",
                    "score/edit_distance_ratio", "score/answer_change_ratio", "score/reward_t2/mean",
                    "score/attempt2_tokens/mean", "actor/score/kl_attempt1"):
            assert key in m, (s, key, sorted(k for k in m if k.startswith(("score", "actor"))))
        assert m["score/attempt2_tokens/mean"] > 0  # attempt 2 was generated and is in the loss
    assert by_step[1]["actor/score/beta2_effective"] == 0.1 and by_step[2]["actor/score/beta2_effective"] == 0.0
    assert any(k.startswith("val-core/") and k.endswith("/score/acc@t2") for k in by_step[2])
