"""code_tests: program extraction, MBPP asserts and HumanEval check, and the reward hacks it must not pay."""

from __future__ import annotations

import asyncio
import json

import pytest

from verl_score.rewards.code_tests import parse_test_spec
from verl_score.rewards.extract import extract_code
from verl_score.rewards.registry import build_reward

MBPP = {
    "test_list": ["assert add(1, 2) == 3", "assert add(-1, 1) == 0", "assert add(2, 2) == 4"],
    "test_setup_code": "",
    "test_imports": [],
}
HUMANEVAL = {
    "prompt": 'def inc(x: int) -> int:\n    """Return x + 1."""\n',
    "entry_point": "inc",
    "test": "def check(candidate):\n    assert candidate(1) == 2\n    assert candidate(-1) == 0\n",
}


@pytest.fixture(scope="module")
def reward():
    return build_reward("code_tests", sandbox={"timeout_s": 5, "cpu_s": 3, "max_concurrency": 8, "test_timeout_s": 2})


@pytest.fixture(scope="module")
def partial():
    return build_reward("code_tests", partial_credit=True, sandbox={"timeout_s": 5, "cpu_s": 3})


def run(module, response, gt, extra=None):
    return asyncio.run(module(response, gt, extra or {}))


def test_fenced_program_passes_mbpp(reward):
    response = "Here you go:\n```python\ndef add(a, b):\n    return a + b\n```\nHope it helps."
    result = run(reward, response, MBPP)
    assert result.score == 1.0 and result.extra["tests_passed"] == 3.0


def test_begin_done_block_and_json_ground_truth(reward):
    response = "[BEGIN]\ndef add(a, b):\n    return a + b\n[DONE]"
    assert run(reward, response, json.dumps(MBPP)).score == 1.0


def test_wrong_program_fails_and_partial_credit_counts(reward, partial):
    response = "```python\ndef add(a, b):\n    return a * b if a < 0 else a + b\n```"
    strict = run(reward, response, MBPP)
    assert strict.score == 0.0 and strict.extra["reason"] == "wrong" and strict.extra["tests_passed"] == 2.0
    assert run(partial, response, MBPP).score == pytest.approx(2 / 3)


def test_humaneval_full_function_and_body(reward):
    full = "```python\ndef inc(x: int) -> int:\n    return x + 1\n```"
    body = "    return x + 1\n"
    wrong = "```python\ndef inc(x):\n    return x\n```"
    assert run(reward, full, HUMANEVAL).score == 1.0
    assert run(reward, body, HUMANEVAL).score == 1.0
    assert run(reward, wrong, HUMANEVAL).score == 0.0


def test_tests_from_extra_info(reward):
    response = "```python\ndef add(a, b):\n    return a + b\n```"
    assert run(reward, response, {}, {"test_list": MBPP["test_list"]}).score == 1.0


@pytest.mark.parametrize(
    "hack",
    [
        "import sys\nsys.exit(0)",                      # exit before the tests run
        "import os\nos._exit(0)",                       # hard exit with success code
        "print('ALL TESTS PASSED')\nraise SystemExit",  # fake success text
        "def add(a, b):\n    import os; os.kill(os.getpid(), 9)",
    ],
)
def test_reward_hacks_earn_nothing(reward, hack):
    result = run(reward, f"```python\n{hack}\n```", MBPP)
    assert result.score == 0.0, result.extra
    assert result.extra["reason"] in ("program_error", "died", "wrong")


def test_syntax_error_and_no_code(reward):
    assert run(reward, "```python\ndef add(a, b) return a+b\n```", MBPP).extra["reason"] == "program_error"
    strict = build_reward("code_tests", raw_fallback=False)
    result = run(strict, "I don't know.", MBPP)
    assert result.extra["reason"] == "no_code" and result.score == 0.0


def test_timeouts_are_wrong_not_failed(reward):
    result = run(reward, "```python\ndef add(a, b):\n    while True: pass\n```", MBPP)
    assert result.score == 0.0 and result.extra["reason"] in ("timeout", "died") and not result.failed


def test_code_extraction_rules():
    assert extract_code("```python\na = 1\n```\ntext\n```python\nb = 2\n```") == "b = 2\n"
    assert extract_code("```python\na = 1\n```\n```python\nb = 2\n```", block="all") == "a = 1\n\nb = 2\n"
    assert extract_code("```bash\nls\n```\n```\nx = 3\n```") == "x = 3\n"
    assert extract_code("```python\ndef f():\n    return 1") == "def f():\n    return 1\n"  # truncated fence
    assert extract_code("x = 1", raw_fallback=False) is None


def test_bad_ground_truth_is_a_clear_error():
    with pytest.raises(ValueError, match="HumanEval-style"):
        parse_test_spec({"tests": []}, {})
    with pytest.raises(ValueError, match="JSON"):
        parse_test_spec("not json", {})


def test_mbpp_imports_and_setup_reach_both_processes(reward):
    spec = {"test_list": ["assert area(1) == round(math.pi, 2) + BONUS"], "test_imports": ["import math"],
            "test_setup_code": "BONUS = 1"}
    response = "```python\ndef area(r):\n    return round(math.pi * r * r, 2) + BONUS\n```"
    result = run(reward, response, spec)
    assert result.score == 1.0 and result.extra["harness_shared_process"] == 0.0


def test_shared_process_fallback_is_per_row_only_where_the_route_allows_it(reward):
    """A row asking for the gameable shared-process harness gets it only on a route with ``row_harness: true``;
    on a strict route it is scored strictly and counted (a dataset row must not weaken the reward)."""
    spec = dict(MBPP, test_list=["xs = [2, 1]\nsort_in_place(xs)\nassert xs == [1, 2]"])  # needs a side effect
    response = "```python\ndef sort_in_place(xs):\n    xs.sort()\n```"
    strict = run(reward, response, spec)
    assert strict.score == 0.0 and strict.extra["harness_shared_process"] == 0.0  # arguments are copies
    refused = run(reward, response, dict(spec, harness="shared_process"))
    assert refused.score == 0.0 and refused.extra["harness_shared_process"] == 0.0
    assert refused.extra["row_harness_refused"] == 1.0
    opted = build_reward("code_tests", row_harness=True, sandbox=reward.sandbox.config)
    shared = run(opted, response, dict(spec, harness="shared_process"))
    assert shared.score == 1.0 and shared.extra["harness_shared_process"] == 1.0
    assert shared.extra["row_harness_refused"] == 0.0
    with pytest.raises(ValueError, match="harness"):
        run(reward, response, dict(spec, harness="loose"))
    with pytest.raises(ValueError, match="harness"):
        build_reward("code_tests", harness="loose")


def test_unsupported_value_is_a_counted_zero_not_a_crash(reward, partial):
    response = "```python\ndef add(a, b):\n    return iter([a + b])\n```"  # an iterator is not plain data
    for module in (reward, partial):
        result = run(module, response, MBPP)
        assert result.score == 0.0 and not result.failed
        assert result.extra["reason"] == "strict_unsupported" and result.extra["strict_unsupported_tests"] == 3.0
