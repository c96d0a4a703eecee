"""Interrupt a trajectory generator and restart it: the checks ``test_mps_scripted`` and ``test_bc_init_scripted``
both make of the shared ``run_datagen`` writer.

One copy, so the two generators are held to the same contract: a SIGKILL plus a torn last line loses nothing, and
the restart writes each unwritten problem once, after the bytes that were already there; an endpoint outage writes
nothing, and a restart once it is back writes every problem.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from testkit import scripted_teacher as scripted
from testkit.fault_server import Ok, Status
from verl_score.teacher.mps import Problem, run_datagen

REPO = Path(__file__).resolve().parents[2]


def kill_midway_then_resume(cli_args: list[str], out: Path, fault_server, reply, total: int) -> dict:
    """Run ``python -m <cli_args>`` slowly, SIGKILL it once three lines are out, append a torn line, run it again to
    the end; return the restart's summary (its resume figures already checked)."""
    fault_server.set_default(Ok(content_fn=reply, latency_s=0.15))
    cmd = [sys.executable, "-m", *cli_args]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if out.exists() and len(out.read_bytes().splitlines()) >= 3:
            break
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    before = out.read_bytes()
    done_before = len(before.splitlines())
    assert 3 <= done_before < total, "the run must be killed mid-way"
    with open(out, "ab") as fh:  # what a kill during write() would leave
        fh.write(b'{"id": "easy-999", "problem": "torn')
    fault_server.set_default(Ok(content_fn=reply))
    res = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["skipped_existing"] == done_before and summary["repaired_bytes"] > 0
    assert summary["written"] == total - done_before
    assert out.read_bytes().startswith(before)
    return summary


def outage_then_restart(fault_server, make_solver, out: Path, reply) -> tuple[dict, dict]:
    """``run_datagen`` on two easy problems while the endpoint answers 503, then again once it answers with
    ``reply``; the two summaries (``make_solver(fault_server)`` builds a fresh solver per run, as a restart would)."""
    problems = [Problem(p["id"], p["problem"], p["ground_truth"]) for p in scripted.easy_problems(2)]
    fault_server.set_default(Status(503))
    down = asyncio.run(run_datagen(problems, out, make_solver(fault_server), progress=False))
    assert not out.exists() or out.read_text() == ""  # nothing of the outage is written
    fault_server.set_default(Ok(content_fn=reply))
    back = asyncio.run(run_datagen(problems, out, make_solver(fault_server), progress=False))
    return down, back
