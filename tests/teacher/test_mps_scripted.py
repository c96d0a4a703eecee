"""Mentored Problem Solving against a scripted student/teacher over real loopback HTTP (deterministic)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from testkit import scripted_teacher as scripted
from testkit.fault_server import Hang, Ok
from tests.teacher.datagen_resume import kill_midway_then_resume, outage_then_restart
from verl_score.llm import LLMClient
from verl_score.teacher.mps import MentoredSolver, MPSConfig, Problem, load_problems, run_datagen
from verl_score.teacher.mps_schema import validate_record

REPO = Path(__file__).resolve().parents[2]
ARITH = Problem("arith-1", scripted.ARITH, "11", "unit")


def _solver(server, teacher_url=None, **cfg):
    fast = {"max_retries": 0, "backoff_base_s": 0.01, "timeout_s": 5.0}
    student = LLMClient(base_url=server.base_url, **fast)
    teacher = LLMClient(base_url=teacher_url or server.base_url, **{**fast, **cfg.pop("teacher_client", {})})
    return MentoredSolver(student, teacher, MPSConfig(**cfg))


def _student_bodies(server):
    return [r.body for r in server.requests if scripted._is_student(r.body)]


def test_first_error_correction_resumes_from_prefix(fault_server):
    fault_server.set_default(Ok(content_fn=scripted.reply))
    rec = asyncio.run(_solver(fault_server).solve(ARITH))
    validate_record(rec)
    assert rec["kept"] and rec["correct"] and rec["final_answer"] == "11" and rec["drop_reason"] is None
    assert rec["verified_prefix_len"] == 2
    steps = rec["steps"]
    # the verified prefix is the student's steps 0-1 as generated (with the sandbox's real observations)
    assert steps[0] == {"thought": "Multiplication comes before addition.", "code": "", "observation": ""}
    assert steps[1] == {"thought": "Compute the product first.", "code": "a = 4 * 2\nprint(a)", "observation": "8\n"}
    # step 2 is the teacher's step, run for real after replaying the prefix's cells (a = 8 -> 11)
    assert steps[2] == rec["teacher_step"] == {**scripted.CORRECTED, "observation": "11\n"}
    assert rec["student_mistake_step"] == {"thought": "Now combine it with 3.", "code": "b = 3 * a\nprint(b)",
                                           "observation": "24\n"}
    assert steps[3]["thought"] == "So the value is 11." and len(steps) == 4
    assert [i["step_index"] for i in rec["interventions"]] == [2]
    assert (rec["teacher_calls"], rec["teacher_failures"], rec["student_calls"]) == (2, 0, 5)
    # the student resumed from steps[:2] + corrected step, and never saw the ground truth or the teacher prompt
    resumed = json.dumps(_student_bodies(fault_server)[-1]["messages"])
    assert "a = 4 * 2" in resumed and "b = 3 + a" in resumed and "Observation:\\n11" in resumed
    assert "b = 3 * a" not in resumed
    for body in _student_bodies(fault_server):
        assert "Reference answer" not in json.dumps(body)
    # the teacher's second review was told the corrected prefix is fixed
    teacher_bodies = [r.body for r in fault_server.requests if not scripted._is_student(r.body)]
    assert "Reference answer: 11" in teacher_bodies[0]["messages"][1]["content"]
    assert "Steps 0 to 2 are already verified" in teacher_bodies[1]["messages"][1]["content"]


def test_converter_accepts_the_output(fault_server, tmp_path):
    """data_preprocess's mps source turns our record into an RL row whose prompt holds the verified prefix."""
    from data_preprocess.core import RawRow
    from data_preprocess.sources.mps import MPS

    fault_server.set_default(Ok(content_fn=scripted.reply))
    rec = asyncio.run(_solver(fault_server).solve(ARITH))
    ex = MPS(argparse.Namespace(input=None, seed=0, sft_fraction=0.5, disjoint_with=[])).convert(
        RawRow("x.jsonl", 1, rec))
    assert ex.extra["verified_prefix_len"] == 2 and ex.extra["teacher_step_fields"]["code"] == "b = 3 + a\nprint(b)"
    assert [m["role"] for m in ex.prompt] == ["system", "user", "assistant", "user"]  # prefix: steps 0-1 + obs
    assert "a = 4 * 2" in ex.prompt[2]["content"] and "b = 3" not in json.dumps(ex.prompt)


def test_malformed_teacher_json_is_retried_then_counted(fault_server):
    teacher_replies = iter(["I think step 2 is wrong", '{"first_error_step": 2}', "{ nope"])

    def reply(body):
        return scripted.student_reply(body) if scripted._is_student(body) else next(teacher_replies)

    fault_server.set_default(Ok(content_fn=reply))
    rec = asyncio.run(_solver(fault_server, teacher_attempts=3).solve(ARITH))
    validate_record(rec)
    assert not rec["kept"] and rec["drop_reason"] == "teacher_failed"
    assert (rec["teacher_calls"], rec["teacher_malformed"], rec["teacher_failures"]) == (3, 3, 1)
    assert rec["teacher_failure_kinds"] == ["malformed"]
    assert rec["final_answer"] == "24" and not rec["correct"] and len(rec["steps"]) == 4
    # the re-ask carries the validation error back to the teacher
    last_teacher = [r.body for r in fault_server.requests if not scripted._is_student(r.body)][-1]
    assert "invalid" in last_teacher["messages"][-1]["content"]


def test_malformed_then_valid_verdict_succeeds(fault_server):
    replies = iter(["```json\n{broken", scripted.VERDICT_ERROR, scripted.VERDICT_CLEAN])

    def reply(body):
        return scripted.student_reply(body) if scripted._is_student(body) else next(replies)

    fault_server.set_default(Ok(content_fn=reply))
    rec = asyncio.run(_solver(fault_server).solve(ARITH))
    assert rec["kept"] and rec["teacher_malformed"] == 1 and rec["teacher_failures"] == 0


def test_teacher_timeout_is_a_counted_failure(fault_server):
    from testkit.fault_server import FaultServer

    fault_server.set_default(Ok(content_fn=scripted.reply))
    with FaultServer(default=Hang(10.0)) as slow_teacher:
        solver = _solver(fault_server, teacher_url=slow_teacher.base_url,
                         teacher_client={"timeout_s": 0.3, "max_retries": 1})
        t0 = time.monotonic()
        rec = asyncio.run(solver.solve(ARITH))
        assert time.monotonic() - t0 < 5
        assert len(slow_teacher.requests) == 2  # first try + one retry, each cut at 0.3 s
    validate_record(rec)
    assert not rec["kept"] and rec["drop_reason"] == "teacher_failed"
    assert rec["teacher_failure_kinds"] == ["call:timeout"] and rec["teacher_failures"] == 1


def test_runner_and_parquet_input(fault_server, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"data_source": "openai/gsm8k", "prompt": [{"role": "user", "content": p["problem"]}],
             "reward_model": {"style": "rule", "ground_truth": p["ground_truth"]},
             "extra_info": {"id": p["id"], "index": i, "question": p["problem"]}}
            for i, p in enumerate(scripted.easy_problems(5))]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "in.parquet")
    problems = load_problems(tmp_path / "in.parquet")
    assert [p.id for p in problems] == [f"easy-{i:03d}" for i in range(5)]
    fault_server.set_default(Ok(content_fn=scripted.reply))
    out = tmp_path / "out.jsonl"
    summary = asyncio.run(run_datagen(problems, out, _solver(fault_server, concurrency=3), progress=False))
    assert summary["written"] == 5 and summary["kept"] == 5
    again = asyncio.run(run_datagen(problems, out, _solver(fault_server), progress=False))
    assert again["written"] == 0 and again["skipped_existing"] == 5
    assert len(out.read_text().splitlines()) == 5


def test_resume_after_sigkill(fault_server, tmp_path):
    """Kill the CLI mid-run, leave a torn line, restart: every problem exactly once, no partial lines."""
    n = 12
    inp = tmp_path / "problems.jsonl"
    inp.write_text("".join(json.dumps(p) + "\n" for p in scripted.easy_problems(n)))
    out = tmp_path / "out.jsonl"
    kill_midway_then_resume(["verl_score.teacher.mps", "--input", str(inp), "--output", str(out),
                             "--student-base-url", fault_server.base_url, "--teacher-base-url", fault_server.base_url,
                             "--concurrency", "1", "--no-progress"], out, fault_server, scripted.reply, n)
    lines = out.read_text().splitlines()
    ids = [json.loads(line)["id"] for line in lines]  # every line parses
    assert sorted(ids) == [f"easy-{i:03d}" for i in range(n)]  # each problem exactly once
    assert out.read_bytes().endswith(b"\n")
    for line in lines:
        validate_record(json.loads(line))


def test_launcher_script_end_to_end(fault_server, tmp_path):
    """scripts/run_mps_datagen.sh with TEACHER_API_BASE / STUDENT_API_BASE and the shipped configs/teacher.yaml."""
    inp = tmp_path / "p.jsonl"
    inp.write_text("".join(json.dumps(p) + "\n" for p in scripted.easy_problems(3)))
    fault_server.set_default(Ok(content_fn=scripted.reply))
    env = dict(os.environ, TEACHER_API_BASE=fault_server.base_url, STUDENT_API_BASE=fault_server.base_url,
               TEACHER_API_KEY="sk-t", PYTHONPATH=str(REPO))
    res = subprocess.run(["bash", "scripts/run_mps_datagen.sh", str(inp), str(tmp_path / "o.jsonl"), "--no-progress"],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert json.loads(res.stdout.strip().splitlines()[-1])["kept"] == 3
    teacher_req = next(r for r in fault_server.requests if not scripted._is_student(r.body))
    assert teacher_req.headers["Authorization"] == "Bearer sk-t"
    assert teacher_req.body["response_format"] == {"type": "json_object"}  # from configs/teacher.yaml


def test_student_outage_is_not_written_and_retried_on_restart(fault_server, tmp_path):
    out = tmp_path / "o.jsonl"
    down, back = outage_then_restart(fault_server, _solver, out, scripted.reply)
    assert down["written"] == 0 and down["unwritten"] == {"student_failed": 2}
    assert back["written"] == 2 and back["kept"] == 2
