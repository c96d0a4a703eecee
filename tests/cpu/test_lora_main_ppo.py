"""LoRA through the real ``main_ppo`` on CPU: ``LORA_RANK=8`` on the SmolLM2 SCoRe launcher, two short steps
(Stage I then Stage II), fp32, verl's old-log-prob recompute kept so that the rollout's log-probs can be compared with
the updated actor's.

What it shows:
* the reference is the actor with its adapter disabled: verl created no reference worker role (the trainer says so
  at start-up, with the roles), the KL to the reference is exactly 0 before the first update (B = 0) and > 0 after it
  (disabling the adapter really removes the update);
* the rollout served each step's adapter: after the update, hfcpu's log-probs equal the updated actor's within 1e-4
  per sequence, while the policy has moved ~100x more than that from the base.

The reward is a per-attempt text hash (``tests/cpu/varying_score_reward.py``) so every group has a non-zero advantage
and step 1 really updates the adapter.
"""

from __future__ import annotations

import pytest

from tests.cpu.run_utils import REPO, read_metrics, run_launcher, tail

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory, assets):
    run_dir = tmp_path_factory.mktemp("smollm2_lora")
    env = {
        "LORA_RANK": "8",
        "VERL_SCORE_CPU_PRECISION": "fp32",  # exact rollout/actor agreement is the point; bf16 rounds differently
        "STAGE1_STEPS": "1",
        "STAGE2_STEPS": "1",
        "PROMPTS_PER_STEP": "2",
        "SAMPLES_PER_PROMPT": "2",
        "HELDOUT_SIZE": "2",
        "LR": "1e-3",  # LoRA wants a larger step than full fine-tuning; large enough to move the policy in one step
        "EXPERIMENT": "smollm2_lora_ci",
        "REWARD_FN": str(REPO / "tests/cpu/varying_score_reward.py"),
        "VERL_FILE_LOGGER_ROOT": str(run_dir / "logs"),
    }
    proc, log = run_launcher(
        "run_smollm2_score_cpu.sh", run_dir,
        "data.max_response_length=160",
        # recompute the old log-probs with the actor (the fp32 launchers reuse the rollout's): the comparison below
        "algorithm.rollout_correction.bypass_mode=False",
        timeout=1500, env=env,
    )
    full = (run_dir / "main_ppo.log").read_text(errors="replace") if (run_dir / "main_ppo.log").exists() else ""
    assert proc.returncode == 0, tail(log) + tail(full)
    return {m["step"]: m["data"] for m in read_metrics(run_dir, "verl_score", "smollm2_lora_ci")}, log + full


def test_the_reference_is_the_actor_with_its_adapter_disabled(lora_run):
    by_step, log = lora_run
    assert "[verl-score] LoRA rank 8, alpha 16, target modules all-linear" in log
    # verl built no reference worker: the only role is the actor + rollout (a full fine-tuning run has actor_rollout_ref)
    assert "[score] reference policy: the actor with its LoRA adapter disabled" in log
    assert "worker roles ['actor_rollout']" in log
    s1, s2 = by_step[1], by_step[2]
    # before the first update B = 0: actor == base == reference, exactly
    assert s1["actor/kl_loss"] == 0 and s1["score/kl_ref_t2/mean"] == 0
    assert s1["actor/grad_norm"] > 0
    # after it the adapter is on in the actor and off in the reference. actor/kl_loss is verl's low-variance (k3)
    # estimate, >= 0 by construction and 0 only when the two agree on every sampled token. (score/kl_ref_t2/mean, the
    # k1 mean log-ratio, is no test of this: on 4 episodes it can sit anywhere near 0, either sign; CI saw -0.015.)
    assert s2["actor/kl_loss"] > 1e-4


def test_the_rollout_serves_the_updated_adapter(lora_run):
    by_step, _ = lora_run
    for step in (1, 2):
        d = by_step[step]
        assert d["rollout_corr/log_ppl_diff_max"] < 1e-4, (step, d["rollout_corr/log_ppl_diff_max"])
        assert abs(d["rollout_corr/kl"]) < 1e-5
        assert d["training/rollout_probs_diff_max"] < 1e-4
    # the agreement is not vacuous: the policy moved from the reference far more than the rollout/actor gap
    gap = by_step[2]["rollout_corr/log_ppl_diff_max"]
    assert by_step[2]["actor/kl_loss"] > 10 * gap
