"""``scripts/eval_qwen2.5-7b_score.sh`` end to end on CPU: the SGLang launcher is replaced by a stand-in package
(``tests/eval/fake_sglang``) that serves SmolLM2 through the real llama.cpp server; everything else -- start in its
own process group, wait for /health + one generation, run the eval CLI and the plots CLI, stop the server -- is the
script as users run it, in the README's form (``bash scripts/eval_qwen2.5-7b_score.sh <checkpoint> <parquet>``)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from testkit.llamacpp_server import free_port

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.integration
def test_eval_script_starts_evaluates_and_stops_the_server(gsm8k_parquet, tmp_path):
    port = free_port()
    out = tmp_path / "out"
    env = dict(
        {k: v for k, v in os.environ.items() if k not in ("MODEL_PATH", "DATA")},
        OUT_DIR=str(out), PORT=str(port), TP="1",
        MAX_TOKENS="8", CONCURRENCY="1", HEALTH_TIMEOUT="180", SGLANG_ARGS="--mem-fraction-static 0.5",
        FAKE_SGLANG_ARGV=str(tmp_path / "argv.json"),
        PYTHONPATH=os.pathsep.join([str(Path(__file__).parent / "fake_sglang"), str(REPO)]),
        PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
    )
    proc = subprocess.run(["bash", "scripts/eval_qwen2.5-7b_score.sh", str(tmp_path / "ckpt"), str(gsm8k_parquet),
                           "--limit", "1", "--no-progress"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    argv = json.loads((tmp_path / "argv.json").read_text())
    assert argv[:8] == ["--model-path", str(tmp_path / "ckpt"), "--host", "127.0.0.1", "--port", str(port),
                        "--tp", "1"]
    assert "--served-model-name" in argv and argv[-2:] == ["--mem-fraction-static", "0.5"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_scored"] == 1 and summary["failed"] == 0
    assert summary["config"]["endpoint"] == f"http://127.0.0.1:{port}/v1"
    assert summary["config"]["model"] == "qwen2.5-7b-score" and summary["config"]["max_tokens"] == 8
    assert "| all | 1 |" in proc.stdout and "server stopped" in proc.stdout
    assert (out / "plots" / "transitions.png").is_file() and (out / "plots" / "edit_distance_hist.png").is_file()
    assert "xllamacpp listening" in (out / "sglang_server.log").read_text()
    with socket.socket() as s:  # the server is gone
        assert s.connect_ex(("127.0.0.1", port)) != 0


def _readme_eval_line() -> str:
    lines = [x for x in (REPO / "README.md").read_text().splitlines()
             if x.startswith("bash scripts/eval_qwen2.5-7b_score.sh")]
    assert len(lines) == 1, lines
    return lines[0].split("#")[0].strip()


def test_readme_command_form_runs_to_the_gpu_boundary(tmp_path):
    """The README's line, placeholders filled, up to where the GPU server would start (the dry run prints the eval
    command, then the server command). It used to stop at once with "set MODEL_PATH"."""
    line = _readme_eval_line()
    assert line == "bash scripts/eval_qwen2.5-7b_score.sh <checkpoint> <parquet>"
    ckpt, data = tmp_path / "global_step_9" / "hf", tmp_path / "test.parquet"
    env = {k: v for k, v in os.environ.items() if k not in ("MODEL_PATH", "DATA", "MAX_TOKENS", "OUT_DIR")}
    proc = subprocess.run(["bash", "-c", line.replace("<checkpoint>", str(ckpt)).replace("<parquet>", str(data))
                           + " --limit 3"], cwd=REPO, capture_output=True, text=True, timeout=60,
                          env={**env, "VERL_SCORE_COMPOSE_ONLY": "args"})
    assert proc.returncode == 0, proc.stderr
    eval_cmd, server_cmd = (json.loads(x) for x in proc.stdout.strip().splitlines()[-2:])
    assert server_cmd[server_cmd.index("--model-path") + 1] == str(ckpt)
    assert eval_cmd[:3] == ["python", "-m", "verl_score.eval"] and eval_cmd[-2:] == ["--limit", "3"]
    assert eval_cmd[eval_cmd.index("--data") + 1] == str(data)
    assert eval_cmd[eval_cmd.index("--out-dir") + 1] == "outputs/eval/hf-test"
    assert "--max-tokens" not in eval_cmd  # the CLI's default: training's per-attempt budget


def test_without_a_checkpoint_the_script_prints_its_usage():
    env = {k: v for k, v in os.environ.items() if k != "MODEL_PATH"}
    proc = subprocess.run(["bash", "scripts/eval_qwen2.5-7b_score.sh", "--limit", "1"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.startswith("usage: bash scripts/eval_qwen2.5-7b_score.sh CHECKPOINT [PARQUET]")
