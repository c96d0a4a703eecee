"""Every launcher in scripts/ composes against verl 0.9.1's own config schema; a mistyped key fails.

Each script is run for real by bash with ``VERL_SCORE_COMPOSE_ONLY=args`` (scripts/lib/verl_entry.sh), which prints
the entry point and the exact argument list the script would pass to verl. The arguments are then composed with
hydra and validated by ``verl_score.config_check`` (verl's ``validate_config`` plus the dataclasses verl builds), in
this process. GPU launchers are checked with the tiny local model as ``MODEL`` (no hub access here).
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess

import pytest

from verl_score import config_check

REPO = pathlib.Path(__file__).resolve().parents[1]
LAUNCHERS = sorted(p.name for p in (REPO / "scripts").glob("*.sh") if re.search(
    r"^\s*(\w+=\S+\s+)*(cpu_logged\s+)?verl_(main_ppo|sft_trainer)\b|^exec bash scripts/run_\S+\.sh", p.read_text(), re.M))

#: environment variants a launcher documents (one composition per variant)
VARIANTS: dict[str, list[dict[str, str]]] = {
    # GRPO/math, PPO+critic/code, SMART-SCoRe (math)
    "run_qwen2.5-7b_score.sh": [{}, {"ALGO": "ppo", "TASK": "code"}, {"GUIDANCE": "smart"}],
}


def _launcher_args(script: str, tmp_path: pathlib.Path, model: str, extra_env: dict[str, str], *overrides: str):
    env = {**os.environ, "VERL_SCORE_COMPOSE_ONLY": "args", "MODEL": model, "RUN_DIR": str(tmp_path / "run"),
           "DATA_DIR": str(tmp_path / "data"), **extra_env}
    proc = subprocess.run(["bash", str(REPO / "scripts" / script), *overrides], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    entry, *args = json.loads(proc.stdout.strip().splitlines()[-1])
    return entry, args


def test_every_launcher_is_covered():
    expected = {"run_tiny_grpo_cpu.sh", "run_tiny_score_cpu.sh", "run_qwen2.5-7b_score.sh", "run_qwen2.5-7b_score_rl.sh",
                "run_tiny_score_rl_cpu.sh", "run_score_sft.sh", "run_score_sft_cpu.sh", "run_bc_init_sft.sh",
                "run_bc_init_sft_cpu.sh", "run_smollm2_score_cpu.sh"}
    assert expected <= set(LAUNCHERS), LAUNCHERS


@pytest.mark.parametrize("script", LAUNCHERS)
def test_launcher_composes_against_verl_schema(script, tmp_path, assets):
    for env in VARIANTS.get(script, [{}]):
        entry, args = _launcher_args(script, tmp_path, str(assets["tiny_qwen"]), env)
        cfg = config_check.compose(entry, args)
        checked = config_check.validate(cfg, entry)
        if entry == "main_ppo":
            assert "<verl.utils.config.validate_config>" in checked and "actor_rollout_ref.actor" in checked
            assert cfg.actor_rollout_ref.model.path == str(assets["tiny_qwen"])
        else:
            assert checked


def test_score_launchers_carry_the_papers_objective(tmp_path, assets):
    entry, args = _launcher_args("run_qwen2.5-7b_score.sh", tmp_path, str(assets["tiny_qwen"]), {})
    cfg = config_check.compose(entry, args)
    assert cfg.trainer.v1.trainer_mode == "score_sync"
    assert cfg.actor_rollout_ref.rollout.name == "sglang" and cfg.trainer.n_gpus_per_node == 8
    assert cfg.score.shaping.kwargs.alpha == 10 and cfg.score.beta2 == 0.1 and cfg.actor_rollout_ref.actor.kl_loss_coef == 0.01
    assert cfg.actor_rollout_ref.actor.ppo_mini_batch_size == cfg.data.train_batch_size  # on-policy, one update
    entry, args = _launcher_args("run_qwen2.5-7b_score.sh", tmp_path, str(assets["tiny_qwen"]), {"ALGO": "ppo", "TASK": "code"})
    cfg = config_check.compose(entry, args)
    assert cfg.algorithm.adv_estimator == "gae" and cfg.critic.enable and cfg.score.beta2 == 0.25


@pytest.mark.parametrize("bad", ["actor_rollout_ref.actor.optim.lrr=1e-6", "trainer.total_training_stepz=3", "score.betta2=0.2"])
def test_mistyped_key_fails(bad, tmp_path, assets):
    entry, args = _launcher_args("run_tiny_score_cpu.sh", tmp_path, str(assets["tiny_qwen"]), {}, bad)
    with pytest.raises(Exception, match=r"(?i)could not override|unknown|unexpected|not in struct|score"):
        config_check.validate(config_check.compose(entry, args), entry)


def test_bad_value_fails_verl_validation(tmp_path, assets):
    entry, args = _launcher_args("run_tiny_grpo_cpu.sh", tmp_path, str(assets["tiny_qwen"]), {}, "data.train_batch_size=1",
                                 "actor_rollout_ref.actor.ppo_mini_batch_size=8")
    with pytest.raises(Exception, match="ppo_mini_batch_size"):
        config_check.validate(config_check.compose(entry, args), entry)


def test_smart_variant_is_score_plus_the_guidance_block(tmp_path, assets):
    """GUIDANCE=smart = the SCoRe command line + one override (+guidance=smart), composing to SMART guidance with
    the guide choice documented in configs/guidance/smart.yaml; the objective is unchanged."""
    base_entry, base = _launcher_args("run_qwen2.5-7b_score.sh", tmp_path, str(assets["tiny_qwen"]), {})
    entry, args = _launcher_args("run_qwen2.5-7b_score.sh", tmp_path, str(assets["tiny_qwen"]), {"GUIDANCE": "smart"})
    assert entry == base_entry and [a for a in args if a not in base] == ["+guidance=smart"]
    cfg = config_check.compose(entry, args)
    g = cfg.guidance
    assert g.name == "smart" and g.kwargs.backend == "auto" and g.kwargs.on_unreachable in ("stop", "fallback")
    assert cfg.score.shaping.kwargs.alpha == 10 and cfg.score.beta2 == 0.1


@pytest.mark.parametrize("script,env", [("run_qwen2.5-7b_score.sh", {"GUIDANCE": "smart"})])
def test_compose_only_dry_run(script, env, tmp_path, assets):
    """``VERL_SCORE_COMPOSE_ONLY=1`` as a user runs it: the launcher's own config_check validates against verl's
    schema and exits 0 without starting anything (no guide server, no probe, no training). The BC launchers' dry runs
    are the generic composition test above (same config_check, arguments captured in-process)."""
    full = {**os.environ, "VERL_SCORE_COMPOSE_ONLY": "1", "MODEL": str(assets["tiny_qwen"]),
            "RUN_DIR": str(tmp_path / "run"), "DATA_DIR": str(tmp_path / "data"),
            "GUIDE_API_BASE": "http://127.0.0.1:9/v1", **env}  # a dead guide: a dry run must not probe it
    proc = subprocess.run(["bash", str(REPO / "scripts" / script)], cwd=REPO, env=full, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "unreachable" not in proc.stderr


def _dry_run_check(env: dict[str, str], tmp_path: pathlib.Path, assets) -> subprocess.CompletedProcess:
    """The launcher as a user runs it with VERL_SCORE_COMPOSE_ONLY=1: its own config check, real bash."""
    full = {**os.environ, "VERL_SCORE_COMPOSE_ONLY": "1", "MODEL": str(assets["tiny_qwen"]),
            "RUN_DIR": str(tmp_path / "run"), "DATA_DIR": str(tmp_path / "data"), **env}
    return subprocess.run(["bash", str(REPO / "scripts" / "run_qwen2.5-7b_score.sh")], cwd=REPO, env=full,
                          capture_output=True, text=True, timeout=300)


def test_smart_with_a_served_guide_fits_the_node_or_is_refused(tmp_path, assets):
    """GUIDE_MODEL_PATH on an 8-GPU node: the guide takes the last GPU (the documented default), training runs on
    7 with a batch and rollout TP that divide them (128 x 4 rollouts do not split over 7: 126 prompts, TP 1), and the
    choice is printed. Shapes that cannot divide are refused by the config check, naming the keys."""
    smart = {"GUIDANCE": "smart", "GUIDE_MODEL_PATH": "/models/guide", "GPUS_PER_NODE": "8"}

    def composed(env, *overrides):
        full = {**os.environ, "VERL_SCORE_COMPOSE_ONLY": "args", "MODEL": str(assets["tiny_qwen"]),
                "DATA_DIR": str(tmp_path / "data"), **smart, **env}
        out = subprocess.run(["bash", str(REPO / "scripts" / "run_qwen2.5-7b_score.sh"), *overrides], cwd=REPO, env=full,
                             capture_output=True, text=True, timeout=300)
        if out.returncode != 0:
            return None, out.stderr
        entry, *args = json.loads(out.stdout.strip().splitlines()[-1])
        cfg = config_check.compose(entry, args)
        config_check.validate(cfg, entry)
        return cfg, out.stderr

    cfg, err = composed({})
    assert "[smart] guide on GPU(s) 7; training on 0 1 2 3 4 5 6 (7 GPUs)" in err
    assert cfg.trainer.n_gpus_per_node == 7 and cfg.data.train_batch_size == 126
    assert cfg.actor_rollout_ref.rollout.tensor_model_parallel_size == 1 and cfg.guidance.name == "smart"
    cfg, _ = composed({"GUIDE_GPUS": "6,7"})
    assert (cfg.trainer.n_gpus_per_node, cfg.actor_rollout_ref.rollout.tensor_model_parallel_size) == (6, 2)
    assert cfg.data.train_batch_size == 126
    # each GPU's share of the log-prob pass must be whole micro-batches (verl asserts it only after a rollout):
    # 126 x 4 / 6 = 84 rows per GPU, not a multiple of 8
    with pytest.raises(ValueError, match=r"84 sequences on each of the 6 GPUs\) is not a whole number of "
                                         r"actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu=8.*train_batch_size=120"):
        composed({"GUIDE_GPUS": "6,7"}, "actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu=8")
    with pytest.raises(ValueError, match=r"data.train_batch_size=128 x actor_rollout_ref.rollout.n=4 = 512 rollouts "
                                         r"do not split over .* = 7 GPUs. Fix: data.train_batch_size=126"):
        composed({"TRAIN_BATCH": "128"})
    with pytest.raises(ValueError, match="tensor_model_parallel_size=2 does not divide"):
        composed({"ROLLOUT_TP": "2"})
    for env in ({"NNODES": "2"}, {"RAY_ADDRESS": "10.0.0.1:6379"}):  # a Ray cluster cannot see CUDA_VISIBLE_DEVICES
        cfg, err = composed(env)
        assert cfg is None and "pass GUIDE_API_BASE instead" in err
    cfg, err = composed({"GUIDE_GPUS": "9"})
    assert cfg is None and "GPU 9 is not one of this node's GPUs" in err


def test_plugin_variable_travels_in_the_ray_runtime_env(tmp_path, assets):
    """Every main_ppo launcher hands VERL_USE_EXTERNAL_MODULES (and a guide endpoint) to verl's ray.init through
    ray_kwargs.ray_init.runtime_env, so the workers of a `ray start` cluster get it (tests/test_ray_cluster_env.py
    checks that on a real cluster)."""
    for script in ("run_qwen2.5-7b_score.sh", "run_qwen2.5-7b_score_rl.sh", "run_tiny_score_cpu.sh"):
        entry, args = _launcher_args(script, tmp_path, str(assets["tiny_qwen"]), {"GUIDE_API_BASE": "http://h:1/v1"})
        cfg = config_check.compose(entry, args)
        env_vars = cfg.ray_kwargs.ray_init.runtime_env.env_vars
        assert env_vars.VERL_USE_EXTERNAL_MODULES == "verl_score.register", script
        assert env_vars.GUIDE_API_BASE == "http://h:1/v1"
    # values hydra would otherwise parse: a comma list (verl splits the variable on commas), IPv6, true, quotes
    odd = {"VERL_USE_EXTERNAL_MODULES": "verl_score.register,json", "GUIDE_API_BASE": "http://[::1]:8000/v1",
           "GUIDE_MODEL": "it's true"}
    entry, args = _launcher_args("run_qwen2.5-7b_score.sh", tmp_path, str(assets["tiny_qwen"]), odd)
    env_vars = config_check.compose(entry, args).ray_kwargs.ray_init.runtime_env.env_vars
    assert dict(env_vars) == odd


def test_sft_launcher_multi_node_uses_a_torchrun_rendezvous(tmp_path):
    """NNODES > 1: torchrun joins the nodes through c10d at MASTER_ADDR:MASTER_PORT (not --standalone), and refuses
    to start without the node's rank."""
    script = ('source scripts/lib/verl_entry.sh; torchrun() { echo "torchrun $*"; }; '
              'verl_sft_trainer model.path=x')
    env = {**os.environ, "NNODES": "2", "NODE_RANK": "1", "MASTER_ADDR": "10.0.0.1", "NPROC_PER_NODE": "8"}
    out = subprocess.run(["bash", "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert ("torchrun --nnodes=2 --node-rank=1 --rdzv-backend=c10d --rdzv-endpoint=10.0.0.1:29500 "
            "--rdzv-id=verl_score_sft --nproc_per_node=8 -m verl.trainer.sft_trainer model.path=x") in out.stdout
    single = subprocess.run(["bash", "-c", script], cwd=REPO, env={**os.environ, "NPROC_PER_NODE": "8"},
                            capture_output=True, text=True, timeout=60)
    assert "torchrun --standalone --nnodes=1 --nproc_per_node=8" in single.stdout
    no_rank = subprocess.run(["bash", "-c", script], cwd=REPO, env={**env, "NODE_RANK": ""}, capture_output=True,
                             text=True, timeout=60)
    assert no_rank.returncode != 0 and "needs NODE_RANK" in no_rank.stderr


def test_rl_launcher_takes_the_node_shape_from_the_environment(tmp_path, assets):
    entry, args = _launcher_args("run_qwen2.5-7b_score_rl.sh", tmp_path, str(assets["tiny_qwen"]),
                                 {"NNODES": "4", "GPUS_PER_NODE": "8"})
    cfg = config_check.compose(entry, args)
    assert (cfg.trainer.nnodes, cfg.trainer.n_gpus_per_node) == (4, 8)


def test_dry_run_without_hub_access_checks_the_rest(tmp_path, assets):
    """The default MODEL is a hub id; on a machine without the hub the dry run says what it could not read and
    checks everything else (it used to stop on the model's config.json)."""
    proc = _dry_run_check({"MODEL": "Qwen/Qwen2.5-7B-Instruct", "HF_HUB_OFFLINE": "1"}, tmp_path, assets)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "actor_rollout_ref.model not checked: Qwen/Qwen2.5-7B-Instruct is not a local folder" in proc.stderr
    validated = json.loads(proc.stdout.strip().splitlines()[-1])["validated"]
    assert "<verl.utils.config.validate_config>" in validated and "actor.loss_agg_mode" in validated
