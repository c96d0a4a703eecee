"""configs/score_{math,code}.yaml (on configs/score_base.yaml) compose against verl 0.9.1's own ppo_trainer schema, with the paper's values."""

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir, initialize_config_module
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf
from verl.utils.config import omega_conf_to_dataclass

from verl_score.training.config import ScoreConfig
from verl_score.training.loss import check_loss_config
from verl_score.training.trainer import resolve_estimator

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
# the launcher gives these (hardware-dependent); verl's ActorConfig refuses to build without one of them
RUNTIME = ["actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=1"]
MISSING = object()


def load(name: str, overrides: list[str] | None = None):
    with initialize_config_dir(config_dir=str(CONFIGS), version_base=None):
        return compose(config_name=name, overrides=RUNTIME + (overrides or []))


@pytest.mark.parametrize(
    "name,lr,beta2,steps,bs",
    [("score_math", 5e-6, 0.1, 3000, 128), ("score_code", 1e-5, 0.25, 1500, 32)],
)
def test_compose_with_paper_values(name, lr, beta2, steps, bs):
    cfg = load(name)
    a = cfg.actor_rollout_ref
    assert cfg.trainer.v1.trainer_mode == "score_sync"
    assert a.rollout.agent.default_agent_loop == "score_two_attempt"
    assert cfg.reward.custom_reward_function.path == "verl_score/rewards/score_fn.py"
    assert a.actor.optim.lr == lr and a.actor.kl_loss_coef == 0.01 and a.actor.use_kl_loss is True
    assert a.rollout.temperature == 1.0
    assert a.rollout.val_kwargs.do_sample is False and a.rollout.val_kwargs.temperature == 0
    assert cfg.algorithm.use_kl_in_reward is False
    assert cfg.trainer.total_training_steps == steps and cfg.data.train_batch_size == bs
    score = ScoreConfig.from_config(cfg.score)
    assert score.beta2 == beta2 and score.shaping.name == "progress" and score.shaping.shaping.alpha == 10.0
    assert score.schedule.stage1_steps + score.schedule.stage2_steps == steps
    # verl's own dataclasses accept the composed config, and our start-up checks pass
    actor = omega_conf_to_dataclass(a.actor)
    check_loss_config(actor, score)
    assert resolve_estimator(score, cfg.algorithm.adv_estimator) == "rloo"  # keeps α (no std division)
    OmegaConf.to_container(cfg, resolve=True)  # every interpolation resolves


# Keys verl reads with .get() although its schema does not declare them (verl.trainer.ppo.reward.get_custom_reward_fn
# passes custom_reward_function.reward_kwargs to the reward function): these are our reward routes.
READ_BY_VERL_WITHOUT_SCHEMA = "reward.custom_reward_function.reward_kwargs."
# Entries of open dicts verl passes on (ray.init kwargs, the HF model config overrides) that configs/platform/cpu.yaml
# adds, named one by one so a typo in that file (num_gpu, attn_implementaton) is still caught.
OPEN_DICT_ENTRIES = frozenset({
    "ray_kwargs.ray_init.num_gpus",                               # ray.init(num_gpus=...)
    "ray_kwargs.ray_init.include_dashboard",                      # ray.init(include_dashboard=...)
    "actor_rollout_ref.model.override_config.attn_implementation",  # transformers' config.attn_implementation
})


def _verl_base():
    with initialize_config_module(config_module="verl.trainer.config", version_base=None):
        return compose(config_name="ppo_trainer")


def _verl_keys(ours) -> list[str]:
    def leaves(node, prefix=""):
        for k, v in node.items_ex(resolve=False):  # score_base's ${data.train_batch_size} is the task file's
            path = f"{prefix}{k}"
            if OmegaConf.is_dict(v):
                yield from leaves(v, path + ".")
            else:
                yield path

    return [k for k in leaves(ours) if k.split(".")[0] not in ("hydra", "defaults", "score")]


def _unknown_verl_keys(ours, base) -> list[str]:
    def exists(key: str) -> bool:  # a mandatory "???" value (rollout.name) exists although select() cannot read it
        parent, _, leaf = key.rpartition(".")
        node = OmegaConf.select(base, parent, default=MISSING) if parent else base
        return node is not MISSING and OmegaConf.is_dict(node) and leaf in node.keys()

    return [k for k in _verl_keys(ours) if not exists(k) and not k.startswith(READ_BY_VERL_WITHOUT_SCHEMA)
            and k not in OPEN_DICT_ENTRIES]


@pytest.mark.parametrize("name", ["score_base", "score_math", "score_code", "platform/cpu"])
def test_every_verl_key_in_our_yaml_exists_in_verls_schema(name):
    """A typo in one of our YAML's verl keys would be merged silently by hydra; check each against ppo_trainer."""
    ours = OmegaConf.load(CONFIGS / f"{name}.yaml")
    keys = _verl_keys(ours)
    assert keys
    assert _unknown_verl_keys(ours, _verl_base()) == []
    if name in ("score_math", "score_code"):
        assert any(k.startswith(READ_BY_VERL_WITHOUT_SCHEMA) for k in keys)  # the routes are really there
    if name == "platform/cpu":
        assert OPEN_DICT_ENTRIES <= set(keys)  # the allowlist names no key the file dropped


def test_a_typo_in_an_open_dict_of_the_cpu_platform_is_caught():
    ours = OmegaConf.load(CONFIGS / "platform" / "cpu.yaml")
    ours.ray_kwargs.ray_init.num_gpu = 1
    ours.actor_rollout_ref.model.override_config.attn_implementaton = "sdpa"
    assert sorted(_unknown_verl_keys(ours, _verl_base())) == [
        "actor_rollout_ref.model.override_config.attn_implementaton", "ray_kwargs.ray_init.num_gpu"]


def test_mistyped_keys_fail():
    with pytest.raises(ConfigCompositionException):
        load("score_math", ["actor_rollout_ref.actor.kl_los_coef=0.1"])  # verl key: hydra struct check
    with pytest.raises(ConfigCompositionException):
        load("score_math", ["score.alhpa=0.1"])
    cfg = load("score_math", ["+score.shaping.alhpa=3"])  # forced in with '+': our parser still refuses it
    with pytest.raises(ValueError, match="alhpa"):
        ScoreConfig.from_config(cfg.score)
    # a shaping's own parameters: hydra lets any key into kwargs, the shaping refuses the ones it does not take
    cfg = load("score_math", ["+score.shaping.kwargs.alhpa=3"])
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['alhpa'\] .* shaping 'progress'; its parameters: "
                                         r"\['alpha'\]"):
        ScoreConfig.from_config(cfg.score)


def test_overrides_reach_score_block():
    cfg = load(
        "score_math",
        ["score.schedule.mode=interleave", "score.schedule.stage1_steps=1", "score.schedule.stage2_steps=1",
         "~score.shaping.kwargs", "score.shaping.name=flip_bonus", "+score.shaping.kwargs.bonus=2.5",
         "score.adv_estimator=reinforce"],
    )
    score = ScoreConfig.from_config(cfg.score)
    assert score.schedule.mode == "interleave" and score.shaping.name == "flip_bonus"
    assert score.shaping.shaping.bonus == 2.5
    assert resolve_estimator(score, cfg.algorithm.adv_estimator) == "reinforce"
    with pytest.raises(ValueError, match="critic"):
        resolve_estimator(ScoreConfig(adv_estimator="gae"), "grpo")
    with pytest.raises(ValueError, match="no per-attempt"):
        resolve_estimator(ScoreConfig(), "reinforce_plus_plus")


@pytest.mark.parametrize("name", ["score_math", "score_code", "score_rl"])
def test_checkpoints_on_disk_are_bounded(name):
    """verl keeps every checkpoint by default: ~30 x ~90 GB for a 7B actor with Adam state at save_freq=100."""
    cfg = load(name)
    assert cfg.trainer.max_actor_ckpt_to_keep == 2 and cfg.trainer.max_critic_ckpt_to_keep == 2


def test_score_trainer_runs_verls_synchronous_paths(assets):
    """verl compares trainer_mode with "sync": under our name it took the async replay buffer, forced
    data.gen_batch_size to 1 and saved TransferQueue state in every checkpoint."""
    from verl.trainer.ppo.v1.replay_buffer import ReplayBuffer

    from verl_score.training.trainer import ScoreTrainerSync

    cfg = load("score_math", [f"actor_rollout_ref.model.path={assets['tiny_qwen']}"])
    tr = ScoreTrainerSync(cfg)
    assert cfg.trainer.v1.trainer_mode == "score_sync"  # registered name unchanged
    assert tr.trainer_mode == "sync" and type(tr.replay_buffer) is ReplayBuffer and tr.parameter_sync_step == 1
