"""End to end: real ``python -m verl.trainer.main_ppo`` on CPU with the ``score_sync`` trainer and the
``score_two_attempt`` agent loop — Stage I on step 1, Stage II on step 2, validation at the end — and the SCoRe
metrics in verl's ``file`` logger output.

Runs ``scripts/run_tiny_grpo_cpu.sh`` (the lead's CPU launcher: tiny Qwen2, hfcpu rollout backend) with overrides.
The reward is ``tests/training/fixtures/pseudo_score_fn.py`` (a hash of each attempt, same output contract as the real
``score_fn``), because a random tiny model never earns a real reward and every gradient would be 0.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "run_tiny_grpo_cpu.sh"


@pytest.mark.integration
def test_main_ppo_runs_both_stages_and_logs_score_metrics(tmp_path):
    data = tmp_path / "data"
    subprocess.run(
        [sys.executable, "data_preprocess/convert_parquet.py", "gsm8k", "--target", "score", "--out-dir", str(data),
         "--quiet"],
        cwd=ROOT, check=True,
    )
    rows = pd.read_parquet(next(data.glob("*.parquet")))
    rows.to_parquet(data / "train.parquet")
    rows.head(2).to_parquet(data / "val2.parquet")

    env = dict(os.environ)
    env.update(
        RUN_DIR=str(tmp_path),
        DATA_DIR=str(data),
        VERL_FILE_LOGGER_ROOT=str(tmp_path / "logs"),
        VERL_USE_EXTERNAL_MODULES="verl_score.register,verl_score.episodes.two_attempt,verl_score.training.trainer",
    )
    overrides = [
        "trainer.v1.trainer_mode=score_sync",
        "actor_rollout_ref.rollout.agent.default_agent_loop=score_two_attempt",
        "actor_rollout_ref.actor.kl_loss_type=low_var_kl+",
        "reward.custom_reward_function.path=tests/training/fixtures/pseudo_score_fn.py",
        "data.max_response_length=192",
        f"data.val_files={data / 'val2.parquet'}",
        "+score.beta2=0.1",
        "+score.schedule.mode=sequential",
        "+score.schedule.stage1_steps=1",
        "+score.schedule.stage2_steps=1",
        "trainer.test_freq=2",
        "trainer.experiment_name=score_e2e",
        "trainer.total_training_steps=2",
    ]
    proc = subprocess.run(
        ["bash", str(SCRIPT), *overrides], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1500
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]

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
