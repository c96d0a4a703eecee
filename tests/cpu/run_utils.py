"""Helpers for integration tests that run a launcher script end to end and read verl's file-logger output."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]


def run_launcher(script: str, run_dir: pathlib.Path, *overrides: str, timeout: int = 900, env: dict | None = None):
    """Run ``scripts/<script>`` with ``RUN_DIR=run_dir``; return (completed process, log text)."""
    full_env = {**os.environ, "RUN_DIR": str(run_dir), **(env or {})}
    proc = subprocess.run(
        ["bash", str(REPO / "scripts" / script), *overrides],
        cwd=REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    log = proc.stdout + proc.stderr
    (run_dir / "launcher.log").write_text(log)
    return proc, log


def read_metrics(run_dir: pathlib.Path, project: str, experiment: str) -> list[dict]:
    """verl's ``file`` logger: one ``{"step": n, "data": {...}}`` line per step under VERL_FILE_LOGGER_ROOT."""
    path = run_dir / "logs" / project / f"{experiment}.jsonl"
    assert path.exists(), f"no file-logger output at {path}"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def short_attempt_loops(tmp: pathlib.Path, attempt_tokens: int) -> pathlib.Path:
    """``configs/agent_loops.yaml`` with ``score_two_attempt``'s attempts capped at ``attempt_tokens`` (and no
    minimum), written under ``tmp``: behaviour tests whose attempts are a few tokens keep a step cheap this way."""
    import yaml

    loops = yaml.safe_load((REPO / "configs/agent_loops.yaml").read_text())
    for loop in loops:
        if loop["name"] == "score_two_attempt":
            loop.update(attempt_max_tokens=attempt_tokens, min_attempt_tokens=1)
    path = tmp / "agent_loops.yaml"
    path.write_text(yaml.safe_dump(loops))
    return path


def tiny_score_overrides(tmp: pathlib.Path, prompts: int, samples: int, lr: float, attempt_tokens: int,
                         max_response: int) -> list[str]:
    """The overrides the tiny SCoRe behaviour tests share: ``prompts`` x ``samples`` episodes a step in one update,
    top-k 20 sampling, short attempts (:func:`short_attempt_loops`), prompts up to 192 tokens, a fixed data order."""
    return [
        f"data.train_batch_size={prompts}",
        f"actor_rollout_ref.rollout.n={samples}",
        f"actor_rollout_ref.actor.ppo_mini_batch_size={prompts}",
        "data.max_prompt_length=192",
        f"data.max_response_length={max_response}",
        "actor_rollout_ref.rollout.top_k=20",
        f"actor_rollout_ref.actor.optim.lr={lr}",
        f"actor_rollout_ref.rollout.agent.agent_loop_config_path={short_attempt_loops(tmp, attempt_tokens)}",
        "data.seed=7",
    ]


#: save the actor's weights (only) at every step and keep them all, for :func:`merge_actor`
EVERY_STEP_WEIGHTS = ("trainer.save_freq=1", "trainer.max_actor_ckpt_to_keep=null",
                      "actor_rollout_ref.actor.checkpoint.save_contents=[model]")


def merge_actor(run_dir: pathlib.Path, step: int, target: pathlib.Path) -> pathlib.Path:
    """The actor of ``run_dir/checkpoints/global_step_<step>`` merged into a Hugging Face folder at ``target`` (verl's
    own ``model_merger``, as the study merges its units): behaviour tests read the trained policy's exact
    probabilities from it instead of sampling it."""
    proc = subprocess.run([sys.executable, "-m", "verl.model_merger", "merge", "--backend", "fsdp", "--local_dir",
                           str(run_dir / "checkpoints" / f"global_step_{step}" / "actor"), "--target_dir", str(target)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, tail(proc.stdout + proc.stderr)
    return target


def tail(log: str, n: int = 4000) -> str:
    return log[-n:]
