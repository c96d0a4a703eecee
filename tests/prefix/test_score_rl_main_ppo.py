"""SCoRe-RL through verl's real ``main_ppo`` on CPU (scripts/run_tiny_score_rl_cpu.sh): RL rows converted from the
MPS fixtures, the ``score_prefix_rollout`` agent loop in verl's agent-loop worker, the key-step reward routed by
``score_fn.compute_score`` from configs/score_rl.yaml, GRPO, one actor update.

The model is random: it writes no code and no final answer, so its first step matches neither the teacher's nor the
student's step and scores 0.1. That is the real key-step value, and it tells this reward apart from a plain answer
check (which would give 0).
"""

from __future__ import annotations

import json
import math

import pytest

from tests.cpu.run_utils import read_metrics, run_launcher, tail

pytestmark = pytest.mark.integration

KEY_STEP_VALUES = (0.0, 0.1, 0.5, 1.0)


@pytest.fixture(scope="module")
def rl_run(tmp_path_factory, assets):
    run_dir = tmp_path_factory.mktemp("score_rl")
    proc, log = run_launcher(
        "run_tiny_score_rl_cpu.sh",
        run_dir,
        "trainer.total_training_steps=1",
        "trainer.val_before_train=True",  # validation logs the reward function's extra keys per data source
        f"trainer.rollout_data_dir={run_dir / 'rollouts'}",
    )
    assert proc.returncode == 0, tail(log)
    return run_dir, read_metrics(run_dir, "verl_score", "tiny_score_rl_cpu"), log


def test_one_grpo_step_with_key_step_rewards(rl_run):
    _, metrics, _ = rl_run
    train = [m for m in metrics if "training/global_step" in m["data"] or "critic/score/mean" in m["data"]]
    assert [m["step"] for m in train] == [1]
    d = train[0]["data"]
    for phase in ("gen", "ref", "adv", "update_actor"):
        assert d[f"timing_s/{phase}"] > 0, phase
    # fp32: the CPU launchers reuse the rollout's log-probs as old log-probs (cpu_env.sh), no actor forward for them;
    # bf16: recomputed (rollout and actor round differently), and verl logs the rollout/actor gap
    _, _, log = rl_run
    if "[cpu] precision fp32" in log:
        assert d["timing_s/old_log_prob"] < d["timing_s/ref"]
    else:
        assert "[cpu] precision bf16" in log and d["timing_s/old_log_prob"] > 0
        assert abs(d["rollout_corr/kl"]) < 0.05
    # reward metrics from the key-step reward: every trajectory's score is one of the paper's values
    assert 0.0 <= d["critic/score/min"] <= d["critic/score/mean"] <= d["critic/score/max"] <= 1.0
    assert d["critic/score/max"] > 0, "a random first step is 'neither' = 0.1, never 0 unless it repeats the mistake"
    assert math.isfinite(d["actor/pg_loss"]) and math.isfinite(d["actor/kl_loss"])
    assert d["response_length/mean"] > 0


def test_validation_logs_the_reward_functions_keys(rl_run):
    _, metrics, _ = rl_run
    val = {k: v for m in metrics for k, v in m["data"].items() if k.startswith("val-")}
    keys = {k.split("/")[2] for k in val if k.count("/") >= 3}
    assert {"score", "acc", "reward_failed"} <= keys, sorted(val)
    assert all(v == 0 for k, v in val.items() if "/reward_failed/" in k), "the key-step check itself failed"
    assert all(v in KEY_STEP_VALUES or 0 <= v <= 1 for k, v in val.items() if "/score/" in k)


def test_rollouts_resumed_from_the_verified_prefix_and_scored_per_key_step(rl_run):
    run_dir, _, _ = rl_run
    lines = [json.loads(x) for f in sorted((run_dir / "rollouts").glob("*.jsonl")) for x in f.read_text().splitlines()]
    assert len(lines) == 4  # 2 prompts x n=2
    for rec in lines:
        assert min(abs(rec["score"] - v) for v in KEY_STEP_VALUES) < 1e-6, rec["score"]
    # The prompt the policy continued is the converter's rendered verified prefix. Both RL rows of the fixtures
    # (mps-0001, mps-0005) have a one-step prefix without code, so the rollout continues that assistant message
    # after a blank line (score_prefix_rollout's continue_prefix_turn) instead of opening a new assistant turn.
    for rec in lines:
        prompt = rec["input"]  # decoded without special tokens: "system\n...user\n...assistant\n..."
        assert prompt.count("\nassistant\n") == 1 and "\nassistant\nThought: " in prompt, prompt
        assert prompt.endswith("\n\n"), repr(prompt[-60:])
