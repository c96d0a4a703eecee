"""BC cold start end to end on CPU with a REAL llama.cpp server (SmolLM2-135M) as the teacher, through the CLI.

A 135M model rarely solves a GSM8K problem or follows the CodeAct format, so kept trajectories are not expected;
what must hold whatever it says: one schema-valid record per problem, a protocol-breaking reply never kept, every
kept record verified correct, the counters add up, and the converter takes the file without a bad row.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from verl_score.teacher.mps_schema import validate_record

REPO = Path(__file__).resolve().parents[2]
GSM8K = REPO / "data_preprocess" / "fixtures" / "gsm8k.jsonl"


@pytest.mark.integration
def test_bc_init_cli_with_real_llamacpp_teacher(llamacpp_server, tmp_path):
    conv = subprocess.run([sys.executable, "data_preprocess/convert_parquet.py", "gsm8k", "--input", str(GSM8K),
                           "--out-dir", str(tmp_path / "data"), "--quiet"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert conv.returncode == 0, conv.stderr[-2000:]
    parquet = next((tmp_path / "data").glob("*.parquet"))
    out = tmp_path / "bc.jsonl"
    env = dict(os.environ, PYTHONPATH=str(REPO), TEACHER_API_KEY=llamacpp_server.api_key)
    # Small budgets: on the shared 2-core CI box a 135M model can drop to ~15 prompt tokens/s under load.
    res = subprocess.run(
        [sys.executable, "-m", "verl_score.teacher.bc_init", "--input", str(parquet), "--output", str(out),
         "--config", "configs/teacher.yaml", "--teacher-base-url", llamacpp_server.base_url,
         "--teacher-model", llamacpp_server.model, "--teacher-max-retries", "1", "--max-steps", "2",
         "--teacher-max-tokens", "48",
         "--concurrency", "2", "--no-progress"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=400)
    assert res.returncode == 0, res.stderr[-3000:]
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    print(json.dumps(summary, sort_keys=True))
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == summary["written"] == summary["problems"] == 3
    for rec in records:
        validate_record(rec)
        assert rec["teacher_calls"] >= 1 and rec["student_calls"] == 0
        assert rec["kept"] == (rec["drop_reason"] is None)
        if rec["kept"]:
            assert rec["correct"] and rec["protocol_violations"] == 0
        if rec["drop_reason"] == "protocol_violation":
            assert rec["teacher_malformed"] >= 3 and not rec["kept"]
    assert summary["teacher_calls"] == sum(r["teacher_calls"] for r in records)
    assert summary["teacher_client"]["successes"] >= 3  # the real endpoint answered
    assert summary["teacher_malformed"] == sum(r["teacher_malformed"] for r in records)

    conv = subprocess.run([sys.executable, "data_preprocess/convert_parquet.py", "bc", "--input", str(out),
                           "--out-dir", str(tmp_path / "bc"), "--quiet"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert "bad_" not in conv.stderr and "missing_field" not in conv.stderr and "empty_field" not in conv.stderr, \
        conv.stderr[-2000:]
    if any(r["kept"] for r in records):
        assert conv.returncode == 0 and (tmp_path / "bc" / "sft" / "train.parquet").exists()
