"""Scripted student and teacher for MPS tests and the benchmark, served over real HTTP by the fault server.

One ``content_fn`` answers both roles (told apart by the system prompt) as a pure function of the conversation,
so a run is deterministic whatever the concurrency.

Problem "arith": 3 + 4 * 2 (gold 11). The student: step 0 thought, step 1 ``a = 4 * 2``, step 2 the MISTAKE
``b = 3 * a`` (24), step 3 boxes 24. The teacher: first error at step 2, corrected step ``b = 3 + a``; once that
step is in (its observation is 11) the student boxes 11 and the teacher's second review finds no error.
Problem "easy-*": the student answers at once (\\boxed{gold}) and the teacher finds no error.
"""

from __future__ import annotations

import json
import re
from typing import Any

from verl_score.teacher.mps import TEACHER_SYSTEM
from verl_score.contracts.steps import MPS_SYSTEM

ARITH = "What is 3 + 4 * 2?"
STUDENT_STEPS = [
    "Thought: Multiplication comes before addition.",
    "Thought: Compute the product first.\nCode:\n```python\na = 4 * 2\nprint(a)\n```",
    "Thought: Now combine it with 3.\nCode:\n```python\nb = 3 * a\nprint(b)\n```",
    "Thought: The value is 24.\nFinal Answer: 24",
]
CORRECTED = {"thought": "Add 3 to the product.", "code": "b = 3 + a\nprint(b)"}
VERDICT_ERROR = json.dumps({"first_error_step": 2, "corrected_step": CORRECTED, "reason": "3 must be added."})
VERDICT_CLEAN = json.dumps({"first_error_step": None, "corrected_step": None, "reason": "All steps are right."})


def _is_student(body: dict[str, Any]) -> bool:
    return body["messages"][0]["content"] == MPS_SYSTEM


def student_reply(body: dict[str, Any]) -> str:
    msgs = body["messages"]
    problem = msgs[1]["content"]
    if problem != ARITH:
        gold = re.search(r"\[(\-?\d+)\]", problem)
        return f"Thought: I know this one.\nFinal Answer: \\boxed{{{gold.group(1) if gold else 0}}}"
    if any(m["role"] == "user" and m["content"].startswith("Observation:\n11") for m in msgs):
        return "Thought: So the value is 11.\nFinal Answer: \\boxed{11}"
    n_steps = sum(m["content"].count("Thought:") for m in msgs if m["role"] == "assistant")
    return STUDENT_STEPS[min(n_steps, len(STUDENT_STEPS) - 1)]


def teacher_reply(body: dict[str, Any]) -> str:
    user = body["messages"][1]["content"]
    if ARITH in user and "Steps 0 to" not in user:
        return VERDICT_ERROR
    return VERDICT_CLEAN


def reply(body: dict[str, Any]) -> str:
    """The fault server's ``content_fn``."""
    if _is_student(body):
        return student_reply(body)
    assert body["messages"][0]["content"] == TEACHER_SYSTEM, "unknown role"
    return teacher_reply(body)


def easy_problems(n: int, start: int = 0) -> list[dict[str, str]]:
    """Problems the scripted student solves at once; the gold is embedded as ``[N]`` so the reply is a function."""
    return [{"id": f"easy-{i:03d}", "problem": f"Say the number [{i}].", "ground_truth": str(i)}
            for i in range(start, start + n)]
