"""Per-attempt credit (γ = 0): attempt-1 tokens never see attempt 2's reward, under GRPO, RLOO, REINFORCE and GAE."""

import numpy as np
import pytest
import torch
from verl.trainer.ppo import core_algos

from verl_score.training.config import ScheduleConfig, ScoreConfig, ShapingConfig
from verl_score.training.credit import (
    attempt_masks,
    compute_score_advantages,
    place_outcome_rewards,
    shape_attempt_rewards,
)
from verl_score.training.schedule import stage_at

torch.set_num_threads(1)

# 6 trajectories, two prompts (groups of 3); attempt 1 | instruction | attempt 2 | EOS | padding
ATT = torch.tensor(
    [
        [1, 1, 1, 0, 0, 2, 2, 2, 0, 0],
        [1, 1, 0, 0, 2, 2, 2, 2, 0, 0],
        [1, 1, 1, 1, 0, 2, 2, 0, 0, 0],
        [1, 1, 1, 0, 0, 2, 2, 2, 2, 0],
        [1, 0, 0, 2, 2, 0, 0, 0, 0, 0],
        [1, 1, 1, 1, 1, 0, 0, 2, 2, 0],
    ]
)
MASK = (ATT > 0).long()
INDEX = np.array(["a", "a", "a", "b", "b", "b"], dtype=object)
R1 = torch.tensor([0.0, 1.0, 0.0, 1.0, 0.0, 0.0])
R2 = torch.tensor([1.0, 1.0, 0.0, 0.0, 1.0, 1.0])
R2_OTHER = torch.tensor([0.0, 0.0, 1.0, 1.0, 1.0, 0.0])
ESTIMATORS = ["grpo", "rloo", "reinforce", "gae"]
VALUES = torch.linspace(-0.5, 0.5, ATT.numel()).reshape(ATT.shape)


def advantages(estimator, r2, stage=2, cfg=None, gamma=1.0, lam=1.0):
    raw = torch.stack([R1, r2], dim=1)
    return compute_score_advantages(
        raw,
        ATT,
        MASK,
        INDEX,
        stage=stage,
        cfg=cfg or ScoreConfig(),
        estimator=estimator,
        values=VALUES,
        gamma=gamma,
        lam=lam,
    )


@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.parametrize("gamma,lam", [(1.0, 1.0), (0.9, 0.95)])
def test_changing_r2_never_changes_attempt1_advantages(estimator, gamma, lam):
    a1 = ATT == 1
    adv_a, ret_a, _ = advantages(estimator, R2, gamma=gamma, lam=lam)
    adv_b, ret_b, _ = advantages(estimator, R2_OTHER, gamma=gamma, lam=lam)
    torch.testing.assert_close(adv_a[a1], adv_b[a1], rtol=0, atol=0)
    torch.testing.assert_close(ret_a[a1], ret_b[a1], rtol=0, atol=0)
    assert not torch.allclose(adv_a[ATT == 2], adv_b[ATT == 2])  # ... while attempt 2 does see its reward
    assert torch.all(adv_a[ATT == 0] == 0) and torch.all(ret_a[ATT == 0] == 0)  # injected tokens get no credit


def test_whole_trajectory_gae_would_leak_which_is_what_we_avoid():
    """Control: verl's plain GAE over the whole response (γ = λ = 1) lets r2 reach attempt-1 tokens."""

    def leaky(r2):
        last = place_outcome_rewards(r2 + 10 * (r2 - R1), MASK.bool())
        return core_algos.compute_gae_advantage_return(last, VALUES, MASK.float(), 1.0, 1.0)[1]

    assert not torch.allclose(leaky(R2)[ATT == 1], leaky(R2_OTHER)[ATT == 1])


def test_grpo_normalises_each_attempt_within_its_group():
    adv, _, shaped = advantages("grpo", R2, cfg=ScoreConfig(shaping=ShapingConfig(name="none")))
    for k, r in ((1, R1), (2, R2)):
        for g in ("a", "b"):
            rows = np.nonzero(INDEX == g)[0]
            x = r[rows]
            expected = (x - x.mean()) / (x.std() + 1e-6)
            for e, row in zip(expected, rows, strict=True):
                toks = ATT[row] == k
                torch.testing.assert_close(adv[row, toks], torch.full((int(toks.sum()),), float(e)))


def test_rloo_and_reinforce_values():
    adv, _, _ = advantages("reinforce", R2, cfg=ScoreConfig(shaping=ShapingConfig(name="none")))
    assert torch.all(adv[0, ATT[0] == 1] == 0.0) and torch.all(adv[0, ATT[0] == 2] == 1.0)
    adv, _, _ = advantages("rloo", R2, cfg=ScoreConfig(shaping=ShapingConfig(name="none")))
    # group a, attempt 1 rewards (0, 1, 0): row 1 gets 1 - mean(0, 0) = 1, row 0 gets 0 - mean(1, 0) = -0.5
    assert torch.allclose(adv[1, ATT[1] == 1], torch.tensor(1.0))
    assert torch.allclose(adv[0, ATT[0] == 1], torch.tensor(-0.5))


def test_gae_attempt1_returns_are_r1_only():
    """γ = λ = 1 inside an attempt, terminal at its end: every attempt-1 token's return is exactly r1."""
    _, ret, _ = advantages("gae", R2)
    for b in range(len(R1)):
        torch.testing.assert_close(ret[b, ATT[b] == 1], torch.full((int((ATT[b] == 1).sum()),), float(R1[b])))


def test_stage1_gives_attempt1_no_reward_and_attempt2_the_raw_reward():
    adv, _, shaped = advantages("reinforce", R2, stage=1)
    assert torch.all(adv[ATT == 1] == 0)
    torch.testing.assert_close(shaped[:, 1], R2)  # Eq. 3: no shaping in Stage I
    adv, _, shaped = advantages("reinforce", R2, stage=2)
    torch.testing.assert_close(shaped[:, 1], R2 + 10.0 * (R2 - R1))  # Eq. 4 + bonus α(r2 − r1), α = 10
    torch.testing.assert_close(shaped[:, 0], R1)


def test_shaping_registry():
    raw = torch.stack([torch.tensor([0.0, 1.0, 0.0, 1.0]), torch.tensor([1.0, 0.0, 0.0, 1.0])], 1)
    flip = ScoreConfig(shaping=ShapingConfig(name="flip_bonus", kwargs={"bonus": 2.0}))
    torch.testing.assert_close(shape_attempt_rewards(raw, 2, flip)[:, 1], torch.tensor([3.0, 0.0, 0.0, 1.0]))
    prog = ScoreConfig(shaping=ShapingConfig(name="progress", kwargs={"alpha": 10.0}))
    torch.testing.assert_close(shape_attempt_rewards(raw, 2, prog)[:, 1], torch.tensor([11.0, -10.0, 0.0, 1.0]))
    torch.testing.assert_close(
        shape_attempt_rewards(raw, 1, ScoreConfig(shape_in_stage1=True))[:, 1], torch.tensor([11.0, -10.0, 0.0, 1.0])
    )
    with pytest.raises(ValueError, match="unknown score.shaping.name 'nope'; registered: .*'flip_bonus', 'none'"):
        ShapingConfig(name="nope")  # refused when the config is built, before any reward is shaped


def test_attempt_masks_and_outcome_placement():
    m = attempt_masks(ATT, MASK, 2)
    assert m.shape == (2, *ATT.shape) and not (m[0] & m[1]).any()
    placed = place_outcome_rewards(torch.tensor([3.0, 0, 0, 0, 0, 0]), m[1])
    assert placed[0, 7] == 3.0 and placed.sum() == 3.0


def test_schedule_sequential_and_interleave():
    seq = ScheduleConfig(mode="sequential", stage1_steps=2, stage2_steps=3)
    assert [stage_at(s, seq) for s in range(1, 8)] == [1, 1, 2, 2, 2, 2, 2]
    assert [stage_at(s, ScheduleConfig(stage1_steps=0)) for s in (1, 2)] == [2, 2]
    inter = ScheduleConfig(mode="interleave", stage1_steps=1, stage2_steps=2)
    assert [stage_at(s, inter) for s in range(1, 8)] == [1, 2, 2, 1, 2, 2, 1]
    with pytest.raises(ValueError):
        ScheduleConfig(mode="interleave", stage1_steps=0, stage2_steps=1)
    with pytest.raises(ValueError):
        ScheduleConfig(mode="alternate")


def test_a_new_shaping_registers_with_its_own_parameters():
    """No edit to the config classes: a registered class's constructor keywords are its ``score.shaping.kwargs``,
    they reach the shaped reward, and its ``cancelled_by_std`` (default True) drives the std-normalisation check."""
    from dataclasses import dataclass

    from verl_score.training.credit import check_shaping_survives
    from verl_score.training.shaping import SHAPINGS, Shaping, register_shaping, shaping_params

    @dataclass(frozen=True)
    class Scaled(Shaping):
        factor: float = 1.0

        def __call__(self, r_prev, r_cur, correct_threshold):
            return self.factor * r_cur

    if "test_scaled" not in SHAPINGS:
        register_shaping("test_scaled")(Scaled)
    assert shaping_params("test_scaled") == ["factor"]
    cfg = ScoreConfig.from_config({"shaping": {"name": "test_scaled", "kwargs": {"factor": 3.0}}})
    raw = torch.tensor([[0.0, 1.0], [1.0, 0.5]])
    torch.testing.assert_close(shape_attempt_rewards(raw, 2, cfg)[:, 1], torch.tensor([3.0, 1.5]))
    with pytest.raises(ValueError, match="cancels the reward shaping"):
        check_shaping_survives(cfg, "grpo", True)
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['alpha'\] .* 'test_scaled'; its parameters: "
                                         r"\['factor'\]"):
        ScoreConfig.from_config({"shaping": {"name": "test_scaled", "kwargs": {"alpha": 3.0}}})
    # the built-ins' kwargs reach the reward too
    flip = ScoreConfig.from_config({"shaping": {"name": "flip_bonus", "kwargs": {"bonus": 0.5}}})
    torch.testing.assert_close(shape_attempt_rewards(torch.tensor([[0.0, 1.0]]), 2, flip)[:, 1], torch.tensor([1.5]))
    assert not ScoreConfig.from_config({"shaping": {"name": "none"}}).shaping.active


def test_register_shaping_refuses_what_is_not_a_shaping_class():
    """An old-style shaping function is refused at registration, naming the class API (not a bare TypeError when
    the run builds it)."""
    from verl_score.training.shaping import SHAPINGS, register_shaping

    def old_style(r_prev, r_cur, alpha=10.0):
        return r_cur + alpha * (r_cur - r_prev)

    with pytest.raises(TypeError, match=r"subclass of verl_score.training.shaping.Shaping"):
        register_shaping("test_old_style")(old_style)
    assert "test_old_style" not in SHAPINGS
