"""The BC cold start's SFT on CPU: the teacher-trajectory fixture -> ``convert_parquet.py bc`` -> verl's real SFT
trainer (torchrun, FSDP2 on gloo, fp32, the tiny Qwen2), via scripts/run_bc_init_sft_cpu.sh, one step."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from tests.cpu.run_utils import read_metrics, run_launcher, tail

pytestmark = pytest.mark.integration


def test_bc_init_sft_one_step(tmp_path, assets):
    proc, log = run_launcher("run_bc_init_sft_cpu.sh", tmp_path, "trainer.total_training_steps=1")
    assert proc.returncode == 0, tail(log)
    frame = pd.read_parquet(tmp_path / "data" / "sft" / "train.parquet")
    assert sorted(frame["id"]) == ["bc-0001", "bc-0002", "bc-0004"]  # verified-correct teacher trajectories only
    assert any(m["role"] == "user" and m["content"].startswith("Observation:") for msgs in frame["messages"]
               for m in msgs)  # the sandbox's observations are (loss-free) user turns
    assert (tmp_path / "data" / "sft" / "sharegpt.json").exists()
    metrics = read_metrics(tmp_path, "verl_score", "bc_init_sft_cpu")
    assert [m["step"] for m in metrics] == [1]
    assert math.isfinite(metrics[0]["data"]["train/loss"]) and metrics[0]["data"]["train/loss"] > 0
    assert (tmp_path / "checkpoints" / "global_step_1" / "huggingface" / "config.json").exists()
