"""LoRA as a launcher option (``LORA_RANK`` / ``LORA_ALPHA`` / ``LORA_TARGET_MODULES``, scripts/lib/lora.sh) and its
start-up checks (:func:`verl_score.training.lora.check_lora`), through the real launchers' dry runs.

GPU launchers are composed with the tiny local model as ``MODEL`` (no hub access here), CPU launchers with their own
model (SmolLM2); the model checks read only ``config.json`` (a meta-device skeleton)."""

from __future__ import annotations

import importlib.util
import json
import os
import pathlib
import subprocess

import pytest

from verl_score.config_check import compose
from verl_score.training.lora import check_lora

REPO = pathlib.Path(__file__).resolve().parents[1]
GPU_SCORE = "run_qwen2.5-7b_score.sh"


def _run(script: str, tmp_path: pathlib.Path, env: dict[str, str], mode: str = "1", *overrides: str):
    full = {**os.environ, "VERL_SCORE_COMPOSE_ONLY": mode, "RUN_DIR": str(tmp_path / "run"),
            "DATA_DIR": str(tmp_path / "data"), **env}
    return subprocess.run(["bash", str(REPO / "scripts" / script), *overrides], cwd=REPO, env=full,
                          capture_output=True, text=True, timeout=300)


def _model_keys(proc: subprocess.CompletedProcess) -> dict:
    return json.loads(proc.stdout.strip().splitlines()[-1])["config"]["actor_rollout_ref"]["model"]


@pytest.mark.parametrize("rollout", ["sglang", "vllm"])
def test_gpu_launcher_with_lora_rank_composes_for_both_engines(rollout, tmp_path, assets):
    """The compose check the issue asks for: the GPU launcher with LORA_RANK, dry-run as a user runs it, for SGLang and
    vLLM; verl's schema, verl's validate_config and our LoRA checks all pass, with the FSDP keys set and adapter mode
    (verl's SGLang / vLLM servers read enable_lora, max_lora_rank and the targets from these same keys)."""
    proc = _run(GPU_SCORE, tmp_path, {"MODEL": str(assets["tiny_qwen"]), "ROLLOUT": rollout, "LORA_RANK": "16"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    m = _model_keys(proc)
    assert (m["lora_rank"], m["lora_alpha"], m["target_modules"], m["lora"]["merge"]) == (16, 32, "all-linear", False)
    assert m["lora"]["rank"] == 0  # Megatron's key stays off
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["config"]["actor_rollout_ref"]["rollout"]["name"] == rollout
    assert "[verl-score] LoRA rank 16, alpha 32, target modules all-linear" in proc.stderr
    if rollout == "vllm" and importlib.util.find_spec("vllm") is None:
        # verl's own vLLM rank check imports vllm; ours (rank <= 512) ran instead, and the dry run says so
        assert "vllm is not installed here" in proc.stderr


def test_lora_env_and_explicit_overrides(tmp_path, assets):
    """LORA_ALPHA and a comma list of modules; an explicit hydra override still wins over the LORA_* variables; no
    LORA_RANK means no LoRA key is touched."""
    env = {"MODEL": str(assets["tiny_qwen"]), "LORA_RANK": "4", "LORA_ALPHA": "8", "LORA_TARGET_MODULES": "q_proj,v_proj"}
    proc = _run(GPU_SCORE, tmp_path, env, "1", "actor_rollout_ref.model.lora_alpha=12")
    assert proc.returncode == 0, proc.stderr[-3000:]
    m = _model_keys(proc)
    assert (m["lora_rank"], m["lora_alpha"], m["target_modules"]) == (4, 12, ["q_proj", "v_proj"])
    plain = _run(GPU_SCORE, tmp_path, {"MODEL": str(assets["tiny_qwen"])}, "args")
    assert plain.returncode == 0
    assert not [a for a in json.loads(plain.stdout.strip().splitlines()[-1]) if a.startswith("actor_rollout_ref.model.lora")]


@pytest.mark.parametrize("script", ["run_smollm2_score_cpu.sh", "run_tiny_grpo_cpu.sh"])
def test_every_cpu_main_ppo_launcher_takes_lora_rank(script, tmp_path, assets):
    proc = _run(script, tmp_path, {"LORA_RANK": "8"}, "args")
    assert proc.returncode == 0, proc.stderr[-3000:]
    entry, *args = json.loads(proc.stdout.strip().splitlines()[-1])
    assert entry == "main_ppo"
    assert {"actor_rollout_ref.model.lora_rank=8", "actor_rollout_ref.model.lora_alpha=16",
            "actor_rollout_ref.model.target_modules=all-linear", "actor_rollout_ref.model.lora.merge=False",
            "+platform=cpu"} <= set(args)
    from verl_score import config_check

    cfg = config_check.compose(entry, args)  # configs/platform/cpu.yaml: the hfcpu rollout, which serves the adapter
    assert cfg.actor_rollout_ref.rollout.name == "hfcpu" and cfg.actor_rollout_ref.model.lora_rank == 8


def test_sft_launcher_refuses_lora_rank(tmp_path):
    """verl's SFT export would write the peft model's keys to huggingface/, which the next stage loads with random
    base weights: refused at start-up with the fix, never exported wrong."""
    proc = _run("run_score_sft_cpu.sh", tmp_path, {"LORA_RANK": "8"}, "args")
    assert proc.returncode == 2
    assert "LORA_RANK=8 with an SFT launcher" in proc.stderr and "Fix: unset LORA_RANK" in proc.stderr


def test_smollm2_cpu_dry_run_with_lora_passes_the_model_checks(tmp_path):
    proc = _run("run_smollm2_score_cpu.sh", tmp_path, {"LORA_RANK": "8"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "LoRA target modules not checked" not in proc.stderr  # a local checkpoint: the model check ran


@pytest.mark.parametrize("env,message", [
    ({"LORA_RANK": "abc"}, "LORA_RANK=abc: the LoRA rank must be a positive integer"),
    ({"LORA_RANK": "-4"}, "LORA_RANK=-4: the LoRA rank must be a positive integer"),
    ({"LORA_RANK": "8", "LORA_ALPHA": "0"}, "LORA_ALPHA=0: the LoRA alpha must be a positive number"),
    # SmolLM2's k_proj is 576 -> 192: rank 200 does not fit it
    ({"LORA_RANK": "200"}, "LoRA rank r=200 exceeds min(in, out)=192 of model.layers.0.self_attn.k_proj"),
    ({"LORA_RANK": "8", "LORA_TARGET_MODULES": "qproj,v_proj"}, "entries ['qproj'] name no module of the model"),
])
def test_bad_lora_input_is_refused_at_start_up_naming_the_fix(env, message, tmp_path):
    proc = _run("run_smollm2_score_cpu.sh", tmp_path, env)
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr[-2000:]


@pytest.fixture(scope="module")
def smollm2_lora_args(tmp_path_factory):
    proc = _run("run_smollm2_score_cpu.sh", tmp_path_factory.mktemp("lora"), {"LORA_RANK": "8"}, "args")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("extra,message", [
    (["actor_rollout_ref.rollout.name=trtllm"],
     "actor_rollout_ref.rollout.name='trtllm' cannot take LoRA weights .* Fix: actor_rollout_ref.rollout.name=sglang"),
    (["actor_rollout_ref.rollout.load_format=safetensors"],
     "rollout.load_format='safetensors' with LoRA in adapter mode on hfcpu.* Fix: actor_rollout_ref.rollout.load_format=dummy"),
    (["actor_rollout_ref.rollout.layered_summon=True"], "Fix: actor_rollout_ref.rollout.layered_summon=False"),
    (["actor_rollout_ref.model.target_modules=[lm_head]"], r"lm_head shares its weight .* \(tied embeddings\)"),
    (["actor_rollout_ref.model.target_modules=[embed_tokens]"], r"model.embed_tokens \(Embedding\)"),
    (["actor_rollout_ref.model.lora_rank=0", "actor_rollout_ref.model.lora.rank=8"],
     "model.lora.rank=8 is Megatron's LoRA key.* Fix: actor_rollout_ref.model.lora_rank="),
    (["actor_rollout_ref.model.lora_rank=abc"], "lora_rank='abc': the LoRA rank must be a positive integer"),
    (["actor_rollout_ref.rollout.name=sglang", "actor_rollout_ref.model.target_modules=.*proj"],
     "SGLang serves LoRA on all linear layers or on a list of module names, not a regex"),
    (["actor_rollout_ref.rollout.name=vllm", "actor_rollout_ref.model.lora_rank=1024"],
     "vLLM serves LoRA ranks up to 512"),
    # verl's merged sync casts to bf16: an fp32 rollout in bypass mode would score old log-probs from other weights
    (["actor_rollout_ref.model.lora.merge=True", "actor_rollout_ref.rollout.dtype=float32",
      "algorithm.rollout_correction.bypass_mode=True"], "casts the merged weights to bf16 .* Fix: actor_rollout_ref.model.lora.merge=False"),
    # a pre-trained adapter: the reference would be the base without it (rank > 0) or verl crashes (rank 0)
    (["actor_rollout_ref.model.lora_adapter_path=/tmp/adapter"], "lora_adapter_path='/tmp/adapter'.* Fix: merge the adapter"),
    (["actor_rollout_ref.model.lora_rank=0", "actor_rollout_ref.model.lora_adapter_path=/tmp/adapter"],
     "crash on its first reference pass"),
])
def test_check_lora_refusals(smollm2_lora_args, extra, message):
    entry, *args = smollm2_lora_args
    with pytest.raises(ValueError, match=message):
        check_lora(compose(entry, args + extra))


def test_check_lora_passes_a_fitting_config_and_ignores_full_fine_tuning(smollm2_lora_args):
    entry, *args = smollm2_lora_args
    assert check_lora(compose(entry, args)) == ["actor_rollout_ref.model.lora_rank", "actor_rollout_ref.model.target_modules"]
    # merged sync may use any rollout load_format; the module list form is checked by name
    assert check_lora(compose(entry, args + ["actor_rollout_ref.model.lora.merge=True",
                                             "algorithm.rollout_correction.bypass_mode=False",
                                             "actor_rollout_ref.rollout.load_format=safetensors",
                                             "actor_rollout_ref.model.target_modules=[q_proj,down_proj]"]))
    full_ft = [a for a in args if not a.startswith(("actor_rollout_ref.model.lora", "actor_rollout_ref.model.target_"))]
    assert check_lora(compose(entry, full_ft)) == []


def test_lora_overrides_go_after_hydra_flags_and_before_every_override():
    """``_lora_first`` (verl_entry.sh): only hydra's value-taking flags consume the next argument; a lone flag (-m,
    --resolve) must not swallow an override, or a user's override would land before the LoRA ones and lose to them."""
    script = (f'source "{REPO}/scripts/lib/verl_entry.sh"; L=(L1=a L2=b); '
              '_lora_first L --config-path=x a=1 -m b=2 --resolve --cfg job -cn score c=3; printf "%s\\n" "${WITH_LORA[@]}"')
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["--config-path=x", "-m", "--resolve", "--cfg", "job", "-cn", "score", "L1=a", "L2=b", "a=1", "b=2",
                   "c=3"], out
