"""A scripted BC teacher (served over real loopback HTTP by the fault server): a pure function of the conversation.

* ``ARITH`` (3 + 4 * 2, gold 11): solves it right in three CodeAct steps (code runs in the real sandbox).
* ``WRONG`` (gold 14): solves it WRONG (boxes 24) -- the verifier must drop it.
* ``BROKEN``: every reply opens a code block it never closes -- re-asked, then a counted protocol violation.
* ``FIXABLE``: the first reply invents its own ``Observation:``; after the re-ask it answers properly.
* any problem with ``[N]`` in it: answers ``\\boxed{N}`` at once (bulk problems for resume tests).
"""

from __future__ import annotations

import re
from typing import Any

from verl_score.contracts.steps import MPS_SYSTEM
from verl_score.teacher.bc_init import REASK

ARITH = "What is 3 + 4 * 2?"
WRONG = "What is 2 + 4 * 3?"
BROKEN = "What is 5 * 5?"
FIXABLE = "What is 6 * 7?"
ARITH_STEPS = [
    "Thought: Multiplication comes first.\nCode:\n```python\na = 4 * 2\nprint(a)\n```",
    "Thought: Add 3 to the product.\nCode:\n```python\nb = 3 + a\nprint(b)\n```",
    "Thought: The interpreter says 11.\nFinal Answer: \\boxed{11}",
]
WRONG_STEPS = [
    "Thought: Add first.\nCode:\n```python\nprint((2 + 4) * 3)\n```",
    "Thought: So it is 18... no, I will say 24.\nFinal Answer: 24",
]


def _n_steps(msgs: list[dict[str, Any]]) -> int:
    return sum(m["content"].count("Thought:") for m in msgs[2:] if m["role"] == "assistant")


def reply(body: dict[str, Any]) -> str:
    msgs = body["messages"]
    assert msgs[0]["content"] == MPS_SYSTEM, "the BC teacher is prompted like the MPS student"
    problem = msgs[1]["content"]
    reasked = msgs[-1]["role"] == "user" and msgs[-1]["content"].startswith(REASK.split("{", 1)[0])
    if problem == ARITH:
        return ARITH_STEPS[min(_n_steps(msgs), len(ARITH_STEPS) - 1)]
    if problem == WRONG:
        return WRONG_STEPS[min(_n_steps(msgs), len(WRONG_STEPS) - 1)]
    if problem == BROKEN:
        return "Thought: Multiply.\nCode:\n```python\nprint(5 * 5)\n"
    if problem == FIXABLE:
        if not reasked:
            return "Thought: Multiply.\nObservation: 42\nFinal Answer: 42"
        return "Thought: 6 times 7 is 42.\nFinal Answer: \\boxed{42}"
    gold = re.search(r"\[(\-?\d+)\]", problem)
    return f"Thought: I know this one.\nFinal Answer: \\boxed{{{gold.group(1) if gold else 0}}}"
