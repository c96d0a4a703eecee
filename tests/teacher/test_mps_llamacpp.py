"""End to end on CPU: MPS datagen with a REAL llama.cpp server (SmolLM2-135M) as both student and teacher.

A 135M teacher rarely produces a valid verdict, so this test does not expect kept trajectories; it checks what must
hold whatever the models say: every problem gets exactly one schema-valid record, malformed teacher output is
retried and counted, and the output goes through the project's converter without a bad row.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from verl_score.llm import LLMClient
from verl_score.teacher.mps import MentoredSolver, MPSConfig, load_problems, run_datagen
from verl_score.teacher.mps_schema import validate_record

REPO = Path(__file__).resolve().parents[2]
GSM8K = REPO / "data_preprocess" / "fixtures" / "gsm8k.jsonl"


@pytest.mark.integration
def test_mps_datagen_with_real_llamacpp_student_and_teacher(llamacpp_server, tmp_path):
    # Input made the documented way: convert_parquet.py gsm8k -> verl parquet.
    conv = subprocess.run(
        [sys.executable, "data_preprocess/convert_parquet.py", "gsm8k", "--input", str(GSM8K), "--out-dir",
         str(tmp_path / "data"), "--quiet"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert conv.returncode == 0, conv.stderr[-2000:]
    parquet = next((tmp_path / "data").glob("*.parquet"))
    problems = load_problems(parquet)
    assert len(problems) == 3 and all(p.ground_truth.strip() for p in problems)

    client_kw = dict(base_url=llamacpp_server.base_url, api_key=llamacpp_server.api_key,
                     model=llamacpp_server.model, timeout_s=120, max_retries=1, backoff_base_s=0.05)
    student, teacher = LLMClient(**client_kw), LLMClient(**client_kw)
    # Small budgets: on the shared 2-core CI box a 135M model can drop to ~15 prompt tokens/s under load.
    cfg = MPSConfig(max_steps=1, max_interventions=1, teacher_attempts=2, concurrency=2,
                    student_max_tokens=32, teacher_max_tokens=40)
    out = tmp_path / "mps.jsonl"
    summary = asyncio.run(run_datagen(problems, out, MentoredSolver(student, teacher, cfg), progress=False))
    print(json.dumps(summary, sort_keys=True))
    print("student", student.stats.snapshot(), "\nteacher", teacher.stats.snapshot())

    lines = out.read_text().splitlines()
    assert len(lines) == 3 and summary["written"] == 3
    records = [json.loads(line) for line in lines]
    assert sorted(r["id"] for r in records) == sorted(p.id for p in problems)
    for rec in records:
        validate_record(rec)
        assert rec["student_calls"] >= 1 and rec["teacher_calls"] >= 1  # both real endpoints were used
        assert rec["steps"], "the student's output became at least one step"
        if not rec["kept"]:
            assert rec["drop_reason"]
        if rec["drop_reason"] == "teacher_failed":
            assert rec["teacher_failures"] == 1 and rec["teacher_failure_kinds"]
    assert summary["teacher_calls"] == sum(r["teacher_calls"] for r in records)
    assert summary["teacher_malformed"] == sum(r["teacher_malformed"] for r in records)
    assert student.stats.successes >= 3 and teacher.stats.calls >= 3

    # The converter reads the file: kept rows convert, not-kept rows are dropped and counted, none is invalid.
    res = subprocess.run(
        [sys.executable, "data_preprocess/convert_parquet.py", "mps", "--input", str(out), "--out-dir",
         str(tmp_path / "conv"), "--quiet"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    kept = sum(r["kept"] for r in records)
    if kept:
        assert res.returncode == 0, res.stderr[-2000:]
    else:  # nothing to write: the converter must fail for "no rows", not for a bad row
        assert "bad_" not in res.stderr and "missing_field" not in res.stderr, res.stderr[-2000:]
