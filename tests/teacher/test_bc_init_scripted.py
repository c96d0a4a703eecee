"""BC cold start against a scripted teacher over real loopback HTTP: what is kept, what is not, re-asks, resume."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

from testkit import scripted_teacher as scripted
from testkit.fault_server import Ok
from tests.teacher import bc_scripted
from tests.teacher.datagen_resume import kill_midway_then_resume, outage_then_restart
from verl_score.llm import LLMClient
from verl_score.teacher.bc_init import BCConfig, BCSolver, protocol_error
from verl_score.teacher.mps import Problem
from verl_score.teacher.mps_schema import validate_record

REPO = Path(__file__).resolve().parents[2]
FAST = {"max_retries": 0, "backoff_base_s": 0.01, "timeout_s": 5.0}


def _solver(server, **cfg) -> BCSolver:
    return BCSolver(LLMClient(base_url=server.base_url, **FAST), BCConfig(**cfg))


def _solve(server, problem: Problem, **cfg) -> dict:
    solver = _solver(server, **cfg)
    try:
        return asyncio.run(solver.solve(problem))
    finally:
        solver.close()


def test_correct_teacher_trajectory_is_kept_with_real_observations(fault_server):
    fault_server.set_default(Ok(content_fn=bc_scripted.reply))
    rec = _solve(fault_server, Problem("arith", bc_scripted.ARITH, "11", "unit"))
    validate_record(rec)
    assert rec["kept"] and rec["correct"] and rec["drop_reason"] is None and rec["final_answer"] == "11"
    assert [s["observation"] for s in rec["steps"]] == ["8\n", "11\n", ""]  # the sandbox ran the cells (replayed)
    assert rec["teacher_step"] is None and rec["verified_prefix_len"] == 3 and rec["interventions"] == []
    assert (rec["teacher_calls"], rec["student_calls"], rec["protocol_violations"]) == (3, 0, 0)
    assert rec["schema"] == "bc_trajectory_v1"
    # the teacher never saw the reference answer
    assert all("11" not in json.dumps(r.body["messages"][:2]) for r in fault_server.requests)


def test_incorrect_teacher_trajectory_is_written_but_not_kept(fault_server):
    fault_server.set_default(Ok(content_fn=bc_scripted.reply))
    rec = _solve(fault_server, Problem("wrong", bc_scripted.WRONG, "14", "unit"))
    validate_record(rec)
    assert not rec["kept"] and not rec["correct"] and rec["drop_reason"] == "wrong_answer"
    assert rec["final_answer"] == "24" and rec["steps"][0]["observation"] == "18\n"


def test_protocol_breaking_reply_is_reasked_then_counted_never_kept(fault_server):
    fault_server.set_default(Ok(content_fn=bc_scripted.reply))
    rec = _solve(fault_server, Problem("broken", bc_scripted.BROKEN, "25", "unit"), protocol_attempts=3)
    validate_record(rec)
    assert not rec["kept"] and rec["drop_reason"] == "protocol_violation" and rec["protocol_violations"] == 1
    assert (rec["teacher_calls"], rec["teacher_malformed"]) == (3, 3)
    assert rec["teacher_failure_kinds"] == ["protocol:unclosed_code_block"] * 3
    assert rec["steps"] == []  # the broken reply never became a step
    last = fault_server.requests[-1].body["messages"]
    assert last[-1]["role"] == "user" and "unclosed_code_block" in last[-1]["content"]


def test_reask_that_succeeds_keeps_only_the_valid_step(fault_server):
    fault_server.set_default(Ok(content_fn=bc_scripted.reply))
    rec = _solve(fault_server, Problem("fix", bc_scripted.FIXABLE, "42", "unit"))
    assert rec["kept"] and rec["teacher_malformed"] == 1 and rec["protocol_violations"] == 0
    assert rec["teacher_failure_kinds"] == ["protocol:invented_observation"]
    assert [s["thought"] for s in rec["steps"]] == ["6 times 7 is 42."]
    assert "Observation" not in json.dumps(rec["steps"])


def test_protocol_rules():
    assert protocol_error("") == "empty"
    assert protocol_error("Thought: x", "length") == "cut_on_length"
    assert protocol_error("Thought: a\n```python\nx=1\n```\n```python\ny=2\n```") == "several_code_blocks"
    assert protocol_error("Thought: a\nCode:\n```python\nx = 1\nprint(x)\n```") is None
    assert protocol_error("Thought: done.\nFinal Answer: 3") is None


def test_endpoint_outage_is_not_written_and_a_restart_retries(fault_server, tmp_path):
    down, back = outage_then_restart(fault_server, _solver, tmp_path / "bc.jsonl", bc_scripted.reply)
    assert down["written"] == 0 and down["unwritten"] == {"teacher_call_failed": 2}
    assert back["written"] == 2 and back["kept"] == 2 and back["teacher_calls"] == 2


def test_resume_after_sigkill_then_convert(fault_server, tmp_path):
    """Kill the CLI mid-run, leave a torn line, restart: each problem once; then the converter's SFT outputs."""
    n = 10
    inp = tmp_path / "problems.jsonl"
    rows = scripted.easy_problems(n) + [
        {"id": "wrong", "problem": bc_scripted.WRONG, "ground_truth": "14"},
        {"id": "broken", "problem": bc_scripted.BROKEN, "ground_truth": "25"},
    ]
    inp.write_text("".join(json.dumps(p) + "\n" for p in rows))
    out = tmp_path / "bc.jsonl"
    kill_midway_then_resume(["verl_score.teacher.bc_init", "--input", str(inp), "--output", str(out), "--config",
                             "configs/teacher.yaml", "--teacher-base-url", fault_server.base_url, "--concurrency",
                             "1", "--no-progress"], out, fault_server, bc_scripted.reply, len(rows))
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["id"] for r in records) == sorted(r["id"] for r in rows)  # each problem exactly once
    kept = {r["id"] for r in records if r["kept"]}
    assert kept == {f"easy-{i:03d}" for i in range(n)}  # the wrong and the broken one are not kept

    conv = subprocess.run([sys.executable, "data_preprocess/convert_parquet.py", "bc", "--input", str(out),
                           "--out-dir", str(tmp_path / "data"), "--quiet"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert conv.returncode == 0, conv.stderr[-2000:]
    sft = pd.read_parquet(tmp_path / "data" / "sft" / "train.parquet")
    assert sorted(sft["id"]) == sorted(kept)
    assert not (tmp_path / "data" / "train.parquet").exists()  # BC data never becomes RL rows
    share = json.loads((tmp_path / "data" / "sft" / "sharegpt.json").read_text())
    assert len(share) == n and share[0]["conversations"][0]["from"] == "human"
    info = json.loads((tmp_path / "data" / "sft" / "dataset_info.json").read_text())
    assert info["bc_init"]["formatting"] == "sharegpt"
