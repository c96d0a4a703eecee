"""``scripts/eval_qwen2.5-7b_score.sh`` end to end on CPU: the SGLang launcher is replaced by a stand-in package
(``tests/eval/fake_sglang``) that serves SmolLM2 through the real llama.cpp server; everything else -- start in its
own process group, wait for /health + one generation, run the eval CLI and the plots CLI, stop the server -- is the
script as users run it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers.llamacpp_server import free_port

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.integration
def test_eval_script_starts_evaluates_and_stops_the_server(gsm8k_parquet, tmp_path):
    port = free_port()
    out = tmp_path / "out"
    env = dict(
        os.environ,
        MODEL_PATH=str(tmp_path / "ckpt"), DATA=str(gsm8k_parquet), OUT_DIR=str(out), PORT=str(port), TP="1",
        MAX_TOKENS="8", CONCURRENCY="1", HEALTH_TIMEOUT="180", SGLANG_ARGS="--mem-fraction-static 0.5",
        FAKE_SGLANG_ARGV=str(tmp_path / "argv.json"),
        PYTHONPATH=os.pathsep.join([str(Path(__file__).parent / "fake_sglang"), str(REPO)]),
        PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
    )
    proc = subprocess.run(["bash", "scripts/eval_qwen2.5-7b_score.sh", "--limit", "1", "--no-progress"],
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
