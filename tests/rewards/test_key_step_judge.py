"""key_step with ``matcher: llm_judge``: step matching by a judge on a real loopback HTTP server (scripted verdicts).

The judge is asked "student step ≡ teacher's step?" and "student step ≡ the student's original mistake?"; a failed
judge call is a failed reward (counted), never a silent 0.1.
"""

from __future__ import annotations

import asyncio
import json

from testkit.fault_server import Ok, Status
from verl_score.rewards.registry import build_reward

EXTRA = {
    "teacher_step": "Thought: divide 84 by 7 with Python.\nCode:\n```python\nprint(84 / 7)\n```",
    "student_mistake_step": "Thought: 84 / 7 is 14.",
    "question": "84 apples shared by 7 children: how many each?",
}
STEP = "Thought: compute 84 divided by 7 exactly.\nCode:\n```python\nprint(84/7)\n```"


def _verdict(equivalent: bool) -> Ok:
    return Ok(json.dumps({"equivalent": equivalent, "reason": "scripted"}))


def _reward(server, **judge):
    client = {"base_url": server.base_url, "max_retries": 0, "timeout_s": 5.0}
    kwargs = {"client": client, "on_failure": "score", "failure_score": 0.0, "max_verdict_retries": 0, **judge}
    return build_reward("key_step", answer_module="exact_match", matcher="llm_judge", matcher_kwargs=kwargs)


def _score(reward, response=STEP):
    return asyncio.run(reward(response, "12", dict(EXTRA)))


def test_judge_says_teacher_step(fault_server):
    fault_server.script_requests(_verdict(True), _verdict(False))
    result = _score(_reward(fault_server))
    assert result.score == 0.5 and result.extra["reason"] == "teacher_step" and not result.failed
    first, second = (json.dumps(r.body) for r in fault_server.requests)
    assert "Reference step" in first and "divide 84 by 7" in first and "84 / 7 is 14" in second


def test_judge_says_repeated_mistake(fault_server):
    fault_server.script_requests(_verdict(False), _verdict(True))
    result = _score(_reward(fault_server))
    assert result.score == 0.0 and result.extra["reason"] == "repeated_mistake" and not result.failed


def test_judge_says_neither(fault_server):
    fault_server.script_requests(_verdict(False), _verdict(False))
    assert _score(_reward(fault_server)).score == 0.1


def test_correct_answer_needs_no_judge(fault_server):
    result = _score(_reward(fault_server), response=STEP + "\nThe final answer is 12.")
    assert result.score == 1.0 and fault_server.requests == []


def test_judge_failure_is_a_counted_failure_not_a_score(fault_server):
    fault_server.set_default(Status(500))
    result = _score(_reward(fault_server))
    assert result.failed and result.extra["reason"] == "matcher_failed"
