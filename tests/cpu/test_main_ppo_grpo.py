"""verl's real ``main_ppo`` runs GRPO end to end on CPU through verl-score's platform and hfcpu rollout backend.

A random tiny model never solves GSM8K, so this run uses a reward that varies with the text
(``tests/cpu/varying_reward.py``): without it every advantage is 0, the actor never moves and the weight-sync check
would pass vacuously.
"""

from __future__ import annotations

import pytest

from tests.cpu.run_utils import REPO, read_metrics, run_launcher, tail

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def grpo_run(tmp_path_factory, assets):
    run_dir = tmp_path_factory.mktemp("tiny_grpo")
    proc, log = run_launcher(
        "run_tiny_grpo_cpu.sh",
        run_dir,
        f"reward.custom_reward_function.path={REPO / 'tests/cpu/varying_reward.py'}",
        "trainer.total_training_steps=2",
        # fp32: the weight-sync check below needs rollout and actor to agree exactly; in bf16 they differ by rounding
        # (docs/cpu.md 4a, tests/cpu/test_precision.py), which would hide a missing sync
        env={"VERL_SCORE_CPU_PRECISION": "fp32"},
    )
    assert proc.returncode == 0, tail(log)
    return read_metrics(run_dir, "verl_score", "tiny_grpo_cpu"), log


def test_two_grpo_steps_with_rollout_ref_advantage_and_update(grpo_run):
    metrics, _ = grpo_run
    assert [m["step"] for m in metrics] == [1, 2]
    for m in metrics:
        d = m["data"]
        for phase in ("gen", "old_log_prob", "ref", "adv", "update_actor", "update_weights"):
            assert d[f"timing_s/{phase}"] > 0, phase
        assert d["response_length/mean"] > 0
        # GRPO: group-normalised advantages are non-zero because rewards differ inside each group.
        assert d["critic/advantages/max"] > 0 > d["critic/advantages/min"]
        assert d["actor/grad_norm"] > 0


def test_actor_moved_and_next_rollout_used_the_new_weights(grpo_run):
    step1, step2 = (m["data"] for m in grpo_run[0])
    # The KL to the frozen reference is 0 before the first update and > 0 after it: the actor's weights changed.
    assert step1["actor/kl_loss"] < 1e-6
    assert step2["actor/kl_loss"] > 1e-4
    # Step 2's rollout log-probs (hfcpu) agree with the updated actor's recomputed log-probs: per-sequence mean
    # log-prob within 1e-4 and token-level KL ~ 0. Without the weight sync they disagree by orders of magnitude more.
    assert step2["rollout_corr/log_ppl_diff_max"] < 1e-4
    assert abs(step2["rollout_corr/kl"]) < 1e-6
    assert step2["training/rollout_actor_probs_pearson_corr"] > 0.9999


def test_step_metrics_printed_by_verl(grpo_run):
    _, log = grpo_run
    assert "step:2 - " in log and "actor/pg_loss" in log
