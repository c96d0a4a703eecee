"""The SCoRe-SFT / SCoRe-RL launchers' exact command lines compose against verl 0.9.1's own hydra schemas.

The GPU launchers cannot run here, so their arguments are captured by running each script in its dry-run mode,
which prints the arguments instead of calling verl (every default and env expansion is the script's own), then
composed with hydra like verl would: a misspelt key fails here, not on an 8-GPU node.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir, initialize_config_module
from omegaconf import OmegaConf

from verl.utils.config import omega_conf_to_dataclass

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "configs"


def captured_args(script: str, program: str, module: str, run_dir: Path) -> list[str]:
    """Hydra overrides ``scripts/<script>`` passes to verl's ``module`` (not run: printed by the launchers' own dry
    run, ``VERL_SCORE_COMPOSE_ONLY=args`` in scripts/lib/verl_entry.sh). The CPU script still converts its fixture
    data, into ``run_dir``."""
    import json

    env = {k: v for k, v in os.environ.items()
           if k not in ("MODEL", "KL_COEF", "USE_KL", "NPROC", "DATA_DIR", "SFT_DATA", "EXPERIMENT")}
    env.update(RUN_DIR=str(run_dir), VERL_SCORE_COMPOSE_ONLY="args")
    out = subprocess.run(["bash", f"scripts/{script}"], cwd=REPO, env=env, capture_output=True, text=True, check=True)
    entry, *args = json.loads(out.stdout.strip().splitlines()[-1])
    assert module == f"verl.trainer.{entry}", (module, entry)
    return [a for a in args if not a.startswith(("--config-path", "--config-name", "hydra."))]


def test_score_rl_yaml_values():
    with initialize_config_dir(config_dir=str(CONFIGS), version_base=None):
        cfg = compose(config_name="score_rl", overrides=["actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=1"])
    a = cfg.actor_rollout_ref
    assert a.rollout.agent.default_agent_loop == "score_prefix_rollout"
    assert cfg.algorithm.adv_estimator == "grpo" and cfg.algorithm.use_kl_in_reward is False
    assert a.actor.use_kl_loss is True and a.actor.kl_loss_coef > 0, "a zero coefficient makes the KL inert"
    kw = cfg.reward.custom_reward_function.reward_kwargs
    assert cfg.reward.custom_reward_function.path == "verl_score/rewards/score_fn.py"
    assert kw.default == "key_step" and kw.modules.key_step.matcher in ("rule", "llm_judge")
    # the reward function accepts these kwargs and builds the key-step module from them
    from verl_score.rewards.score_fn import resolve_route

    name, kwargs = resolve_route("numina_math", OmegaConf.to_container(kw, resolve=True))
    assert name == "key_step" and kwargs["teacher_step_reward"] == 0.5 and kwargs["other_step_reward"] == 0.1
    omega_conf_to_dataclass(a.actor)
    OmegaConf.to_container(cfg, resolve=True)


def test_gpu_rl_launcher_has_official_settings_and_a_live_kl(tmp_path):
    args = captured_args("run_qwen2.5-7b_score_rl.sh", "python3", "verl.trainer.main_ppo", tmp_path)
    with initialize_config_dir(config_dir=str(CONFIGS), version_base=None):
        cfg = compose(config_name="score_rl", overrides=args)
    a = cfg.actor_rollout_ref
    assert cfg.algorithm.adv_estimator == "grpo"
    assert (a.rollout.name, a.rollout.n, a.rollout.tensor_model_parallel_size) == ("sglang", 16, 2)
    assert a.rollout.gpu_memory_utilization == 0.7
    assert (cfg.data.train_batch_size, a.actor.ppo_mini_batch_size, a.actor.optim.lr) == (128, 16, 7e-7)
    assert (cfg.data.max_prompt_length, cfg.data.max_response_length) == (2048, 4096)
    assert (cfg.trainer.total_epochs, cfg.trainer.n_gpus_per_node) == (3, 8)
    assert a.actor.use_kl_loss is True and a.actor.kl_loss_coef == 0.001 and a.actor.kl_loss_type == "low_var_kl+"
    assert a.model.path == "Qwen/Qwen2.5-7B-Instruct"
    assert a.rollout.agent.default_agent_loop == "score_prefix_rollout"
    omega_conf_to_dataclass(a.actor)


@pytest.mark.parametrize("script,nproc,device", [("run_score_sft.sh", 8, "cuda"), ("run_score_sft_cpu.sh", 1, "cpu"),
                                                 ("run_bc_init_sft.sh", 8, "cuda"), ("run_bc_init_sft_cpu.sh", 1, "cpu")])
def test_sft_launchers_compose(script, nproc, device, tmp_path):
    args = captured_args(script, "torchrun", "verl.trainer.sft_trainer", tmp_path)
    with initialize_config_module(config_module="verl.trainer.config", version_base=None):
        cfg = compose(config_name="sft_trainer_engine", overrides=args)
    assert cfg.data.messages_key == "messages" and cfg.data.train_files.endswith("sft/train.parquet")
    assert cfg.trainer.device == device and cfg.trainer.n_gpus_per_node == nproc
    assert cfg.engine.strategy == "fsdp2"
    # the next stage loads MODEL=<checkpoint>/global_step_<N>/huggingface: the weights must be saved there too
    assert "hf_model" in cfg.checkpoint.save_contents and "model" in cfg.checkpoint.save_contents
    assert list(cfg.checkpoint.load_contents) == ["model", "optimizer", "extra"]
    if device == "cpu":
        assert cfg.data.train_files.startswith(str(tmp_path)) and cfg.engine.dtype == "float32"
    else:
        assert cfg.model.path == "Qwen/Qwen2.5-7B-Instruct"


def test_bc_init_launchers_train_on_the_bc_data(tmp_path):
    """The cold-start launchers are the SFT launchers on the BC converter's output (teacher trajectories only)."""
    import pandas as pd

    gpu = captured_args("run_bc_init_sft.sh", "torchrun", "verl.trainer.sft_trainer", tmp_path / "gpu")
    assert "data.train_files=data/bc/sft/train.parquet" in gpu
    assert any(a.startswith("trainer.default_local_dir=") and "bc_init" in a for a in gpu)
    cpu = captured_args("run_bc_init_sft_cpu.sh", "torchrun", "verl.trainer.sft_trainer", tmp_path / "cpu")
    train = next(a.split("=", 1)[1] for a in cpu if a.startswith("data.train_files="))
    frame = pd.read_parquet(train)
    assert sorted(frame["id"]) == ["bc-0001", "bc-0002", "bc-0004"]  # the fixture's wrong trajectory is not kept
    assert "trainer.experiment_name=bc_init_sft_cpu" in cpu
