"""SCoRe-SFT end to end on CPU: MPS fixture trajectories -> the converter's SFT parquet -> verl's real SFT trainer
(``torchrun -m verl.trainer.sft_trainer``, FSDP2 on gloo, fp32) with the tiny Qwen2, via scripts/run_score_sft_cpu.sh.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from tests.cpu.run_utils import read_metrics, run_launcher, tail

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sft_run(tmp_path_factory, assets):
    run_dir = tmp_path_factory.mktemp("score_sft")
    proc, log = run_launcher("run_score_sft_cpu.sh", run_dir, "trainer.total_training_steps=1")
    assert proc.returncode == 0, tail(log)
    return run_dir, log


def test_sft_data_is_the_converters_multiturn_messages(sft_run):
    run_dir, _ = sft_run
    frame = pd.read_parquet(run_dir / "data" / "sft" / "train.parquet")
    assert len(frame) >= 2
    roles = [[m["role"] for m in msgs] for msgs in frame["messages"]]
    assert all(r[:2] == ["system", "user"] and r[-1] == "assistant" for r in roles)
    # observations are user turns (no SFT loss on interpreter output)
    assert any(m["role"] == "user" and m["content"].startswith("Observation:") for msgs in frame["messages"]
               for m in msgs)


def test_one_step_logs_a_finite_loss_and_saves_a_checkpoint(sft_run):
    run_dir, log = sft_run
    metrics = read_metrics(run_dir, "verl_score", "score_sft_cpu")
    assert [m["step"] for m in metrics] == [1]
    data = metrics[0]["data"]
    assert math.isfinite(data["train/loss"]) and data["train/loss"] > 0
    assert math.isfinite(data["train/grad_norm"]) and data["train/grad_norm"] > 0
    assert data["train/global_tokens"] > 0
    ckpt = run_dir / "checkpoints" / "global_step_1"
    assert (ckpt / "model_world_size_1_rank_0.pt").stat().st_size > 0
    assert (ckpt / "huggingface" / "config.json").exists()
    assert (run_dir / "checkpoints" / "latest_checkpointed_iteration.txt").read_text().strip() == "1"
    assert "step:1 - " in log and "train/loss" in log
