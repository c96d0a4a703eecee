"""Every GPU launcher runs on either rollout engine: ``ROLLOUT=sglang|vllm`` (scripts/lib/rollout.sh).

The RL launchers are composed for both engines through their real dry run (``VERL_SCORE_COMPOSE_ONLY=args``) and
validated against verl 0.9.1's schema, the way tests/test_launchers.py checks the default; the eval launcher prints the
server command it would start. No engine is installed here: what is checked is that the command lines are the ones
verl and the servers expect, and that a wrong engine name stops the script with a clear message.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess

import pytest

from tests.test_launchers import LAUNCHERS, REPO, _launcher_args
from verl_score import config_check

ENGINES = ("sglang", "vllm")
#: launchers that start verl's main_ppo on GPUs (the CPU ones source cpu_env.sh and use the hfcpu backend)
GPU_PPO = sorted(s for s in LAUNCHERS if "verl_main_ppo" in (text := (REPO / "scripts" / s).read_text())
                 and "cpu_env.sh" not in text)


def test_gpu_launchers_are_the_known_ones_and_all_take_rollout():
    assert GPU_PPO == ["run_qwen2.5-7b_score.sh", "run_qwen2.5-7b_score_rl.sh"]
    for script in GPU_PPO + ["eval_qwen2.5-7b_score.sh"]:
        text = (REPO / "scripts" / script).read_text()
        assert "source scripts/lib/rollout.sh" in text, script
        assert "rollout.name=sglang" not in text and "rollout.name=vllm" not in text, f"{script} hard-codes an engine"


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("script", GPU_PPO)
def test_gpu_launcher_composes_for_each_engine(script, engine, tmp_path, assets):
    entry, args = _launcher_args(script, tmp_path, str(assets["tiny_qwen"]), {"ROLLOUT": engine})
    cfg = config_check.compose(entry, args)
    checked = config_check.validate(cfg, entry)
    assert "actor_rollout_ref.rollout" in checked  # verl's RolloutConfig was built from it
    assert cfg.actor_rollout_ref.rollout.name == engine
    # the engine changes nothing else: the default run's arguments differ from these by the engine's name only
    _, default = _launcher_args(script, tmp_path, str(assets["tiny_qwen"]), {})
    engine_arg = f"actor_rollout_ref.rollout.name={engine}"
    assert [a for a in args if a != engine_arg] == [a for a in default if a != "actor_rollout_ref.rollout.name=sglang"]


def _run(script: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", f"scripts/{script}"], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "VERL_SCORE_COMPOSE_ONLY": "args", "MODEL": "m", **env})


@pytest.mark.parametrize("script", GPU_PPO + ["eval_qwen2.5-7b_score.sh"])
def test_unknown_engine_is_refused_by_name(script, tmp_path):
    proc = _run(script, {"ROLLOUT": "trtllm", "MODEL_PATH": str(tmp_path), "RUN_DIR": str(tmp_path)})
    assert proc.returncode == 2 and "ROLLOUT must be sglang or vllm, got 'trtllm'" in proc.stderr, proc.stderr


@pytest.mark.parametrize("engine,module,model_flag,tp_flag", [
    ("sglang", "sglang.launch_server", "--model-path", "--tp"),
    ("vllm", "vllm.entrypoints.openai.api_server", "--model", "--tensor-parallel-size"),
])
def test_eval_launcher_starts_the_engines_server(engine, module, model_flag, tp_flag, tmp_path: pathlib.Path):
    env = {"ROLLOUT": engine, "MODEL_PATH": str(tmp_path / "ckpt"), "TP": "2", "PORT": "30123",
           "SERVER_ARGS": "--flag-a 1"}
    proc = _run("eval_qwen2.5-7b_score.sh", env)
    assert proc.returncode == 0, proc.stderr
    cmd = json.loads(proc.stdout.strip().splitlines()[-1])
    assert cmd[:3] == ["python", "-m", module]
    assert cmd[cmd.index(model_flag) + 1] == str(tmp_path / "ckpt") and cmd[cmd.index(tp_flag) + 1] == "2"
    assert cmd[cmd.index("--port") + 1] == "30123" and cmd[cmd.index("--served-model-name") + 1] == "qwen2.5-7b-score"
    assert cmd[-2:] == ["--flag-a", "1"]
