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
    assert cfg.score.shaping.alpha == 10 and cfg.score.beta2 == 0.1 and cfg.actor_rollout_ref.actor.kl_loss_coef == 0.01
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
    assert cfg.score.shaping.alpha == 10 and cfg.score.beta2 == 0.1


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
