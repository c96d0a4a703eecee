"""SCoRe's learning signal is the paper's: the α bonus survives the estimator, failed reward checks never train,
metrics are named for the attempt they measure (issue 10). Each test here failed on the code before the fix."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from transfer_queue import KVBatchMeta
from verl.utils.tensordict_utils import list_of_dict_to_tensordict

from tests.training.test_configs import load
from tests.training.test_trainer import ATTS, FakeTQ, episode
from verl_score import config_check
from verl_score.metrics import metrics_from_extra_fields
from verl_score.rewards.base import RewardResult
from verl_score.rewards.score_fn import summarize
from verl_score.training import trainer as trainer_mod
from verl_score.training.config import ScoreConfig
from verl_score.training.credit import check_shaping_survives, compute_score_advantages
from verl_score.training.trainer import ScoreTrainerSync, resolve_estimator

torch.set_num_threads(1)

# 2 groups x 2 samples, each trajectory [attempt 1: 2 tokens | injected | attempt 2: 2 tokens]
ATT = torch.tensor([[1, 1, 0, 2, 2]] * 4)
MASK = (ATT > 0).long()
UID = np.array(["a", "a", "b", "b"], dtype=object)


def C(**kw) -> ScoreConfig:  # noqa: N802 - a ScoreConfig from keyword dicts, as the YAML gives them
    return ScoreConfig.from_config(kw)


def _adv(raw, cfg, estimator, *, stage=2, norm=True, valid=None, values=None):
    adv, ret, shaped = compute_score_advantages(
        torch.tensor(raw, dtype=torch.float32), ATT, MASK, UID, stage=stage, cfg=cfg, estimator=estimator,
        norm_adv_by_std_in_grpo=norm, valid=valid, values=values,
    )
    return adv, ret, shaped


def _a2(adv):
    return adv[:, 3]  # one token of attempt 2


# ------------------------------------------------------------------------------------------ 1. shaping survives
@pytest.mark.parametrize("name", ["score_math", "score_code"])
def test_default_configs_keep_the_alpha_bonus(name):
    """All first attempts wrong in a group (the common case): std-normalised GRPO turns r2 + α(r2 − r1) back into
    the unshaped advantage. The shipped default must not: α=10 must change attempt 2's advantage."""
    cfg = load(name)
    score = ScoreConfig.from_config(cfg.score)
    estimator = resolve_estimator(score, cfg.algorithm.adv_estimator)
    norm = cfg.algorithm.get("norm_adv_by_std_in_grpo", True)
    check_shaping_survives(score, estimator, norm)  # the default passes its own start-up check
    raw = [[0.0, 1.0], [0.0, 0.0], [0.0, 1.0], [0.0, 0.0]]  # r1 = 0 everywhere
    shaped_adv, _, _ = _adv(raw, score, estimator, norm=norm)
    plain = ScoreConfig.from_config({**OmegaConf.to_container(cfg.score), "shaping": {"name": "none"}})
    plain_adv, _, _ = _adv(raw, plain, estimator, norm=norm)
    # RLOO: A2 = ±(1+α)·1 with shaping, ±1 without — α reaches the update at full scale
    assert torch.allclose(_a2(shaped_adv), (1 + score.shaping.shaping.alpha) * _a2(plain_adv))
    assert not torch.allclose(_a2(shaped_adv), _a2(plain_adv))


def test_std_normalised_grpo_cancels_alpha_which_is_why_it_is_refused():
    """The defect itself, measured: with r1 constant per group, GRPO(std) gives identical advantages for α=10 and
    α=0 — and the start-up check refuses that combination, naming the key and the fixes."""
    raw = [[0.0, 1.0], [0.0, 0.0], [1.0, 1.0], [1.0, 0.0]]
    cfg10, cfg0 = C(), C(shaping={"name": "progress", "kwargs": {"alpha": 0.0}})
    assert torch.allclose(_adv(raw, cfg10, "grpo")[0], _adv(raw, cfg0, "grpo")[0])
    with pytest.raises(ValueError) as err:
        check_shaping_survives(cfg10, "grpo", True)
    msg = str(err.value)
    for needle in ("norm_adv_by_std_in_grpo", "score.adv_estimator=rloo", "score.allow_std_normalised_shaping",
                   "score.shaping.name=none", "alpha=10"):
        assert needle in msg, (needle, msg)


@pytest.mark.parametrize(
    "cfg,estimator,norm,refused",
    [
        (C(), "grpo", True, True),
        (C(), "gae", True, True),  # verl always whitens GAE
        (C(shaping={"name": "flip_bonus"}), "grpo", True, True),
        (C(allow_std_normalised_shaping=True), "grpo", True, False),  # explicit opt-in
        (C(), "grpo", False, False),  # mean baseline only: keeps α
        (C(shaping={"name": "none"}), "grpo", True, False),
        (C(shaping={"name": "progress", "kwargs": {"alpha": 0.0}}), "grpo", True, False),
        (C(), "rloo", True, False),
        (C(), "reinforce", True, False),
        (C(), "gae_unwhitened", True, False),
    ],
)
def test_cancelling_combinations_are_refused_unless_opted_in(cfg, estimator, norm, refused):
    if refused:
        with pytest.raises(ValueError, match="cancels the reward shaping"):
            check_shaping_survives(cfg, estimator, norm)
    else:
        check_shaping_survives(cfg, estimator, norm)


def test_unknown_shaping_name_fails_at_start_up():
    with pytest.raises(ValueError, match="unknown score.shaping.name 'progres'"):
        check_shaping_survives(C(shaping={"name": "progres"}), "rloo", True)


def test_dry_run_refuses_grpo_with_shaping():
    """The launchers' VERL_SCORE_COMPOSE_ONLY dry run runs the same check (no GPU needed to see the mistake)."""
    cfg = load("score_math", ["algorithm.adv_estimator=grpo"])
    with pytest.raises(ValueError, match="cancels the reward shaping"):
        config_check.check_score(cfg)
    ok = load("score_math", ["algorithm.adv_estimator=grpo", "score.allow_std_normalised_shaping=true"])
    assert "score.adv_estimator+score.shaping" in config_check.check_score(ok)
    assert "score.adv_estimator+score.shaping" in config_check.check_score(load("score_math"))


def test_gae_unwhitened_is_returns_minus_values_and_keeps_alpha():
    raw = [[0.0, 1.0], [0.0, 0.0], [0.0, 1.0], [0.0, 0.0]]
    values = torch.full(ATT.shape, 0.25)
    adv10, ret10, _ = _adv(raw, C(), "gae_unwhitened", values=values)
    adv0, _, _ = _adv(raw, C(shaping={"name": "none"}), "gae_unwhitened", values=values)
    m = MASK.bool()
    assert torch.allclose(adv10[m], (ret10 - values)[m])
    assert _a2(adv10)[0] == pytest.approx(11 - 0.25) and _a2(adv0)[0] == pytest.approx(1 - 0.25)


# ------------------------------------------------------------------------------------------ 2. failed rewards
def test_failed_episode_gets_zero_advantage_and_leaves_the_group_statistics():
    """Row 0's r1 check failed (scored 0) next to a correct r2: it would earn the full flip bonus. Excluded, it gets
    0 everywhere and is left out of its group's statistics. Its group-mate is then alone: verl's RLOO would give it
    baseline 0, i.e. its raw shaped reward as advantage, beside baseline-subtracted batch-mates; it trains nothing
    instead (credit.trainable_rows)."""
    raw = [[0.0, 1.0], [1.0, 1.0], [0.0, 1.0], [0.0, 0.0]]
    valid = torch.tensor([False, True, True, True])
    adv, ret, _ = _adv(raw, C(), "rloo", valid=valid)
    assert torch.all(adv[0] == 0)
    assert torch.all(adv[1] == 0)  # alone in group a: no baseline, no update
    # group b untouched by the exclusion
    ref, _, _ = _adv(raw[2:] * 2, C(), "rloo")
    assert torch.allclose(adv[2:], ref[:2])


def test_failed_excluded_episode_keeps_its_values_as_returns():
    values = torch.full(ATT.shape, 0.5)
    raw = [[0.0, 1.0], [1.0, 1.0], [0.0, 1.0], [0.0, 0.0]]
    adv, ret, _ = _adv(raw, C(), "gae_unwhitened", valid=torch.tensor([True, True, True, False]),
                       values=values)
    assert torch.all(adv[3] == 0) and torch.allclose(ret[3][MASK[3].bool()], torch.tensor(0.5))


def _failing_setup(monkeypatch, failed_t1, score_cfg=None):
    fake = FakeTQ()
    monkeypatch.setattr(trainer_mod, "tq", fake)
    keys = ["u0_0_0", "u0_1_0", "u1_0_0", "u1_1_0"]
    r1, r2 = [0.0, 1.0, 0.0, 1.0], [1.0, 1.0, 0.0, 0.0]
    for key, att, a, b, f in zip(keys, ATTS, r1, r2, failed_t1, strict=True):
        row = episode(att, a, b)
        row["extra_fields"]["reward_extra_info"].update(failed_t1=float(f), failed_t2=0.0, reward_failed=float(f))
        row["uid"] = key[:2]
        row["old_log_probs"] = torch.zeros(len(att))
        fake.put_rows([key], list_of_dict_to_tensordict([row]))
    tr = ScoreTrainerSync.__new__(ScoreTrainerSync)
    tr.config = OmegaConf.create({"algorithm": {"gamma": 1.0, "lam": 1.0, "adv_estimator": "rloo",
                                                "rollout_correction": None}})
    tr.score_cfg = score_cfg or C()
    tr.score_estimator = "rloo"
    tr.score_stage = 2
    return tr, fake, KVBatchMeta(keys=keys, tags=[{} for _ in keys], partition_id="train")


def test_trainer_excludes_failed_episodes_and_logs_the_rate(monkeypatch):
    tr, fake, batch = _failing_setup(monkeypatch, [1, 0, 0, 0])
    metrics: dict = {}
    tr._compute_advantage(batch, metrics)
    assert torch.all(fake.rows["u0_0_0"]["advantages"] == 0)
    assert metrics["score/excluded_episodes"] == 1.0
    assert metrics["score/reward_failed_rate_t1"] == 0.25 and metrics["score/reward_failed_rate_t2"] == 0.0
    assert metrics["score/reward_failed_rate"] == 0.25
    # u0_1_0 is alone in its group now: no baseline, so no update, counted
    assert torch.all(fake.rows["u0_1_0"]["advantages"] == 0)
    assert metrics["score/singleton_dropped"] == 1.0


@pytest.mark.parametrize("estimator,alone_trains", [("rloo", False), ("grpo", False), ("reinforce", True)])
def test_singleton_rule_applies_to_group_baselines_only(estimator, alone_trains):
    """A lone sample (its group-mates' checks failed) has no group baseline under RLOO / GRPO and trains nothing;
    REINFORCE has no baseline by design, so its lone sample trains as usual."""
    raw = [[0.0, 1.0], [0.0, 1.0], [0.0, 1.0], [0.0, 0.0]]  # row 1 alone in group a after row 0 is excluded
    cfg = C(allow_std_normalised_shaping=True)
    adv, _, _ = _adv(raw, cfg, estimator, valid=torch.tensor([False, True, True, True]))
    assert bool(adv[1].abs().sum() > 0) is alone_trains
    assert adv[2:].abs().sum() > 0  # group b (two valid samples with different rewards) trains either way


def test_group_estimator_without_a_group_is_refused_at_start_up():
    from verl_score.training.validate import validate_score

    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=f"{__file__.rsplit('/tests/', 1)[0]}/configs", version_base=None):
        assert validate_score(compose(config_name="score_math"))[1] == "rloo"  # n = 4: a group
        cfg = compose(config_name="score_math", overrides=["actor_rollout_ref.rollout.n=1"])
    with pytest.raises(ValueError, match=r"'rloo' takes its baseline .*rollout.n=1.*score.adv_estimator=reinforce"):
        validate_score(cfg)


def test_trainer_stops_above_the_failure_rate(monkeypatch):
    cfg = C(reward_failure={"max_rate": 0.3, "window": 8, "min_episodes": 4})
    tr, fake, batch = _failing_setup(monkeypatch, [1, 1, 0, 0], cfg)
    with pytest.raises(RuntimeError, match=r"score.reward_failure.max_rate=0.3"):
        tr._compute_advantage(batch, {})


def test_too_many_attempts_are_refused(monkeypatch):
    tr, fake, batch = _failing_setup(monkeypatch, [0, 0, 0, 0])
    fake.rows["u0_0_0"]["extra_fields"]["reward_extra_info"]["score_t3"] = 1.0
    with pytest.raises(ValueError, match="3 per-attempt scores but score.num_attempts=2"):
        tr._compute_advantage(batch, {})
    tr, fake, batch = _failing_setup(monkeypatch, [0, 0, 0, 0])
    fake.rows["u0_0_0"]["attempt_index"] = torch.tensor([1, 1, 0, 3, 3, 0])
    with pytest.raises(ValueError, match="attempt_index reaches 3 > score.num_attempts=2"):
        tr._compute_advantage(batch, {})


def test_score_fn_reports_failures_per_attempt_and_the_guidance_source():
    out = summarize([RewardResult(0.0, failed=True), RewardResult(1.0)], per_attempt=True,
                    guidance=["smart_rejected"])
    assert out["failed_t1"] == 1.0 and out["failed_t2"] == 0.0 and out["reward_failed"] == 1.0
    assert out["guidance_t2_smart_rejected"] == 1.0 and out["guidance_t2_smart"] == 0.0
    static = summarize([RewardResult(0.0), RewardResult(0.0)], per_attempt=True)
    assert static["guidance_t2_static"] == 1.0 and set(static) == set(out)  # same keys for every row (verl)


# ------------------------------------------------------------------------------------------ 4. metric names
def _ef(scores, guidance=None):
    info = {f"score_t{k}": s for k, s in enumerate(scores, start=1)}
    ef = {"reward_extra_info": info, "attempt_texts": [f"t{k}" for k in range(len(scores))]}
    if guidance is not None:
        ef["guidance"] = guidance
    return ef


def test_acc_at_t2_is_attempt_two_for_k3():
    """K = 3, every attempt-2 score 0, the last attempt right: acc@t2 must be 0 (it was 1.0 before the fix)."""
    m = metrics_from_extra_fields([_ef([0, 0, 1]), _ef([1, 0, 1])])
    assert m["acc@t2"] == 0.0 and m["delta_t1_t2"] == -0.5
    assert m["acc@t3"] == 1.0 and m["acc@tK"] == 1.0 and m["delta_t1_tK"] == 0.5
    two = metrics_from_extra_fields([_ef([0, 1])])
    assert "acc@tK" not in two and two["acc@t2"] == 1.0


def test_val_metrics_for_k3_and_guidance_split():
    tr = ScoreTrainerSync.__new__(ScoreTrainerSync)
    tr.score_cfg = C(num_attempts=3)
    info = {"score_t1": [0.0, 1.0], "score_t2": [0.0, 0.0], "score_t3": [1.0, 1.0],
            "guidance_t2_smart": [1.0, 0.0], "guidance_t2_static": [0.0, 1.0]}
    m = tr._val_metrics_update(["math"] * 2, ["a", "b"], info, [3, 3])
    assert m["val-core/math/score/acc@t2"] == 0.0 and m["val-core/math/score/acc@tK"] == 1.0
    assert m["val-core/math/score/delta_t1_tK"] == 0.5
    assert m["val-core/math/score/guidance/frac/smart"] == 0.5
    assert m["val-core/math/score/guidance/acc@t2/static"] == 0.0


def test_training_metrics_split_attempt2_accuracy_by_guidance_source():
    efs = [_ef([0, 1], ["smart"]), _ef([0, 1], ["smart"]), _ef([0, 0], ["smart_rejected"]),
           _ef([0, 0], ["static"]), _ef([0, 1], ["smart_failed"])]
    m = metrics_from_extra_fields(efs)
    assert m["guidance/acc@t2/smart"] == 1.0 and m["guidance/acc@t2/static"] == 0.0
    assert m["guidance/acc@t2/smart_failed"] == 1.0
    assert m["guidance/rejected_rate"] == pytest.approx(1 / 4) and m["guidance/failed_rate"] == pytest.approx(1 / 4)
    assert m["guidance/frac/smart"] == pytest.approx(2 / 5)


# ------------------------------------------------------------------------------------------ 6. smaller items
@pytest.mark.parametrize("name", ["score_math", "score_code", "score_rl"])
def test_every_config_with_a_kl_term_uses_an_unbiased_kl_gradient(name):
    """score_rl.yaml paired kl_loss_coef=0.001 with plain low_var_kl, which descends the reverse KL(π_ref‖π)."""
    from verl_score.training.config import UNBIASED_KL_GRAD_TYPES

    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=f"{__file__.rsplit('/tests/', 1)[0]}/configs", version_base=None):
        actor = compose(config_name=name).actor_rollout_ref.actor  # score_math/score_code extend score_base.yaml
    assert actor.kl_loss_coef > 0 and actor.kl_loss_type in UNBIASED_KL_GRAD_TYPES
