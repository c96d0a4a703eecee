"""MBPP rows whose tests the strict two-process harness cannot carry are marked ``"harness": "shared_process"`` at
conversion, and the mark is checked against the real reference solutions in the real sandbox.

Fixture ``mbpp_shared_state.jsonl`` (MBPP original format, hand-written: MBPP is not obtainable offline): task 601
as MBPP ships it (``max_chain_length`` with a ``Pair`` class the tests construct); a binary-tree row modelled on
MBPP's tree tasks (``test_setup_code`` defines ``Node`` and builds ``root``); and a plain-data control row.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from data_preprocess.code_harness import shared_process_reason


def _rows_by_task(rows, out) -> dict[int, dict]:
    return {int(r["extra_info"]["id"].split("/")[-1]): r for p in out.glob("*.parquet") for r in rows(p)}


def test_reason_is_static_and_specific():
    assert "Pair" in shared_process_reason(["assert f([Pair(1, 2)], 1) == 1"], "", "class Pair:\n    pass\n")
    assert "Node" in shared_process_reason(["assert h(root) == 1"], "class Node:\n    pass\nroot = Node()", "")
    # a class the tests never touch, a helper function, plain data: the strict harness carries these
    unused_class = "class _Cache:\n    pass\ndef f(x):\n    return x + 1"
    assert shared_process_reason(["assert f(1) == 2"], "", unused_class) is None
    two_functions = "def g(x):\n    return x\ndef f(x):\n    return 2"
    assert shared_process_reason(["assert f(g(1)) == 2"], "import math", two_functions) is None


def test_conversion_marks_only_rows_that_need_it(convert, rows, fixtures):
    report, out = convert("mbpp", "--input", str(fixtures / "mbpp_shared_state.jsonl"))
    assert report.marked == {"harness shared_process": 2}
    by_task = _rows_by_task(rows, out)
    for task in (601, 927):
        spec = json.loads(by_task[task]["reward_model"]["ground_truth"])
        assert spec["harness"] == "shared_process" and by_task[task]["extra_info"]["harness_reason"]
    assert "Pair" in by_task[601]["extra_info"]["harness_reason"]
    plain = by_task[603]
    assert "harness" not in json.loads(plain["reward_model"]["ground_truth"])
    # not "strict" in extra_info: code_tests reads "harness" from extra_info too and it would override a
    # route-wide shared_process setting
    assert plain["extra_info"]["harness_reason"] == "" and "harness" not in plain["extra_info"]


@pytest.fixture(scope="module")
def reward():
    from verl_score.rewards.registry import build_reward

    return build_reward("code_tests", sandbox={"timeout_s": 10, "cpu_s": 5, "max_concurrency": 2})


def test_reference_solutions_in_the_sandbox(convert, rows, fixtures, reward):
    """The reference solution scores 1 under the row's ground truth as converted, and 0 (strict_unsupported) once
    the mark is removed: the mark is needed and sufficient; the unmarked control row passes strictly."""
    _, out = convert("mbpp", "--input", str(fixtures / "mbpp_shared_state.jsonl"))
    for task, r in sorted(_rows_by_task(rows, out).items()):
        ei = r["extra_info"]
        response = f"[BEGIN]\n{ei['reference_solution']}\n[DONE]"
        gt = r["reward_model"]["ground_truth"]
        converted = asyncio.run(reward(response, gt, ei))
        assert converted.score == 1.0, (task, converted.extra)
        spec = json.loads(gt)
        if spec.pop("harness", None):
            ei = {k: v for k, v in ei.items() if k != "harness"}
            strict = asyncio.run(reward(response, json.dumps(spec), ei))
            assert strict.score == 0.0 and strict.extra["reason"] == "strict_unsupported", (task, strict.extra)
        else:
            assert converted.extra["harness_shared_process"] == 0.0
