"""The Student-Centered SCoRe chain on CPU exactly as the README writes it: BC cold-start SFT -> SCoRe-SFT from its
checkpoint -> SCoRe-RL (real ``main_ppo``) from that one -> merge -> CodeAct eval of the result.

The README's block is run as one bash script with ``runs/`` pointed at a temporary folder (the only change). Before
the SFT launchers saved ``hf_model``, step 2's ``MODEL=.../global_step_1/huggingface`` was a folder of config and
tokenizer only, and the chain stopped there.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest
import torch
import yaml
from safetensors.torch import load_file

from tests.cpu.run_utils import REPO, tail

MARKER = "tests/prefix/test_chain_cpu.py"


def readme_chain() -> str:
    """The fenced bash block that follows the paragraph naming this test."""
    text = (REPO / "README.md").read_text()
    at = text.index(MARKER)
    block = re.search(r"```bash\n(.*?)```", text[at:], flags=re.S)
    assert block, "no bash block after the README's chain paragraph"
    return block.group(1)


def weights(hf_dir) -> dict[str, torch.Tensor]:
    return {k: v.float() for k, v in load_file(str(next(hf_dir.glob("*.safetensors")))).items()}


def moved(a: dict, b: dict) -> float:
    return max(float((a[k] - b[k]).abs().max()) for k in a)


def overrides(run_dir) -> list[str]:
    return yaml.safe_load((run_dir / "hydra" / ".hydra" / "overrides.yaml").read_text())


@pytest.mark.integration
def test_readme_chain_runs_on_cpu(tmp_path, assets):
    script = readme_chain()
    assert script.count("\n") == 6 and "verl.model_merger merge" in script
    runs = tmp_path / "runs"
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", script.replace("runs/", f"{runs}/")], cwd=REPO,
                          env=dict(os.environ), capture_output=True, text=True, timeout=1500)
    log = proc.stdout + proc.stderr
    (tmp_path / "chain.log").write_text(log)
    assert proc.returncode == 0, tail(log)

    bc, sft = (runs / name / "checkpoints" / "global_step_1" / "huggingface"
               for name in ("bc_init_sft_cpu", "score_sft_cpu"))
    # each SFT stage saved weights the next one loaded, and trained them
    assert moved(weights(assets["tiny_qwen"]), weights(bc)) > 0
    assert moved(weights(bc), weights(sft)) > 0
    assert f"model.path={bc}" in overrides(runs / "score_sft_cpu")
    assert f"actor_rollout_ref.model.path={sft}" in overrides(runs / "tiny_score_rl_cpu")
    rl_log = runs / "tiny_score_rl_cpu" / "logs" / "verl_score" / "tiny_score_rl_cpu.jsonl"
    rl_steps = [json.loads(x)["step"] for x in rl_log.read_text().splitlines()]
    assert rl_steps == [1]
    # the merged RL checkpoint is what the eval loaded and scored
    summary = json.loads((runs / "eval_cpu" / "summary.json").read_text())
    assert summary["config"]["model"] == str(runs / "tiny_score_rl_cpu" / "hf")
    assert summary["n_scored"] == 2 and summary["failed"] == 0


@pytest.mark.parametrize("script", ["run_score_sft_cpu.sh", "run_tiny_score_rl_cpu.sh"])
def test_a_checkpoint_folder_without_weights_stops_the_launcher_at_once(script, tmp_path, assets):
    """What verl leaves in ``huggingface/`` without ``hf_model``: the launcher says so in one line, before torchrun or
    Ray start."""
    model = tmp_path / "global_step_1" / "huggingface"
    shutil.copytree(assets["tiny_qwen"], model)
    for f in model.glob("*.safetensors"):
        f.unlink()
    proc = subprocess.run(["bash", f"scripts/{script}"], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "MODEL": str(model), "RUN_DIR": str(tmp_path / "run")})
    assert proc.returncode == 2, tail(proc.stdout + proc.stderr)
    assert proc.stderr.strip().splitlines()[-1].startswith(f"error: MODEL={model}: no model weights")
