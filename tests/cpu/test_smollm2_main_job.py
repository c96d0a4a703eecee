"""The README's real-model main job, shortened: SmolLM2-135M-Instruct, SCoRe Stage I (1 step) → Stage II (1 step)
through the real ``main_ppo`` with the real math verifier on easy reasoning-gym sums, then the launcher's tables.

Asserts what a short run can show honestly: the real reward is non-zero (the model solves some sums), the policy
gradient is non-zero, and the actor's weights moved (step 2's KL to the frozen reference is > 0; it is exactly 0
while actor == reference). Whether accuracy rises is the experiment's question (scripts/experiments/), not a test's.
4 samples per prompt so a group with differing rewards (hence a non-zero advantage) is near certain.
"""

from __future__ import annotations

import pytest

from tests.cpu.run_utils import read_metrics, run_launcher, tail

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def smollm2_run(tmp_path_factory, assets):
    run_dir = tmp_path_factory.mktemp("smollm2_main")
    env = {
        "STAGE1_STEPS": "1",
        "STAGE2_STEPS": "1",
        "SAMPLES_PER_PROMPT": "4",
        "HELDOUT_SIZE": "2",
        "EXPERIMENT": "smollm2_ci",
        "VERL_FILE_LOGGER_ROOT": str(run_dir / "logs"),
    }
    proc, log = run_launcher("run_smollm2_score_cpu.sh", run_dir, timeout=1500, env=env)
    assert proc.returncode == 0, tail(log) + tail((run_dir / "main_ppo.log").read_text(errors="replace"))
    return read_metrics(run_dir, "verl_score", "smollm2_ci"), proc.stdout


def test_real_reward_is_non_zero_and_weights_changed(smollm2_run):
    metrics, _ = smollm2_run
    by_step = {m["step"]: m["data"] for m in metrics}
    step1, step2 = by_step[1], by_step[2]
    assert step1["score/stage"] == 1 and step2["score/stage"] == 2
    # the real math verifier gave reward: some attempt of some episode was right
    assert max(by_step[s][k] for s in (1, 2) for k in ("score/acc@t1", "score/acc@t2")) > 0
    assert step1["actor/grad_norm"] > 0
    # KL(actor ‖ reference) is 0 before the first update and > 0 after it: the weights changed
    assert step2["actor/kl_loss"] > 1e-7


def test_launcher_prints_both_tables_in_budget(smollm2_run):
    _, out = smollm2_run
    assert "| step | stage | Acc@t1 | Acc@t2 |" in out
    assert "| metric | before (step 0) | after (step 2) | change |" in out
    assert "| Acc@t1 |" in out and "| Δc→i |" in out
    assert len(out.splitlines()) <= 150
