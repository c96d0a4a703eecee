"""MBPP rows whose tests the strict two-process harness cannot carry are recognised at conversion
(``extra_info.harness_reason``) but stay strict unless ``--shared-process-rows`` asks for the one-interpreter
harness; the mark is checked against the real reference solutions and a reward hack in the real sandbox.

Why opt-in: in the shared-process harness a program that returns an always-equal object from
``max_chain_length`` scored 1.0 on task 601 (program and tests share one interpreter; the hack corpus shows 17
such hacks, some of which forge the driver's records, so no rewrite of the asserts could close them). A wrong
program must never earn reward by default.

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


def test_conversion_records_the_reason_but_stays_strict(convert, rows, fixtures):
    report, out = convert("mbpp", "--input", str(fixtures / "mbpp_shared_state.jsonl"))
    assert report.marked == {"strict harness cannot carry (score 0)": 2}
    by_task = _rows_by_task(rows, out)
    for task in (601, 927):
        assert "harness" not in json.loads(by_task[task]["reward_model"]["ground_truth"])
        assert by_task[task]["extra_info"]["harness_reason"]
    assert "Pair" in by_task[601]["extra_info"]["harness_reason"]
    plain = by_task[603]
    assert "harness" not in json.loads(plain["reward_model"]["ground_truth"])
    # never "harness" in extra_info: code_tests reads that key from extra_info too (a per-row "strict" would
    # override a route-wide shared_process setting, a per-row "shared_process" would downgrade a strict route)
    assert plain["extra_info"]["harness_reason"] == ""
    assert all("harness" not in r["extra_info"] for r in by_task.values())


def test_opt_in_marks_only_rows_that_need_it(convert, rows, fixtures):
    report, out = convert("mbpp", "--input", str(fixtures / "mbpp_shared_state.jsonl"), "--shared-process-rows")
    assert report.marked == {"harness shared_process (gameable)": 2}
    by_task = _rows_by_task(rows, out)
    for task in (601, 927):
        spec = json.loads(by_task[task]["reward_model"]["ground_truth"])
        assert spec["harness"] == "shared_process" and by_task[task]["extra_info"]["harness_reason"]
    assert "harness" not in json.loads(by_task[603]["reward_model"]["ground_truth"])


@pytest.fixture(scope="module")
def reward():
    from verl_score.rewards.registry import build_reward

    return build_reward("code_tests", sandbox={"timeout_s": 10, "cpu_s": 5, "max_concurrency": 4})


@pytest.fixture(scope="module")
def reward_row_harness():
    """A route that opted in to rows' own harness requests (``row_harness: true``)."""
    from verl_score.rewards.registry import build_reward

    return build_reward("code_tests", row_harness=True, sandbox={"timeout_s": 10, "cpu_s": 5, "max_concurrency": 4})


def _score_all(reward, cases):
    async def run():
        return await asyncio.gather(*(reward(resp, gt, ei) for resp, gt, ei in cases))

    return asyncio.run(run())


def test_reference_solutions_and_the_always_equal_hack_in_the_sandbox(convert, rows, fixtures, reward,
                                                                      reward_row_harness):
    """Default conversion: the always-equal hack scores 0 on every row (it scored 1.0 on task 601 when the row was
    marked shared_process by default); the references of the recognised rows score 0 (``strict_unsupported``), the
    plain control row 1. With ``--shared-process-rows`` and a route that honours rows' harness requests
    (``row_harness: true``) the references score 1: the mark is needed and sufficient. A strict route refuses the
    request (the row cannot weaken it): scored strictly, counted."""
    from tests.rewards.hack_corpus import HACKS

    hack = next(h for h in HACKS if h.name == "always_equal_pair_chain")
    _, strict_out = convert("mbpp", "--input", str(fixtures / "mbpp_shared_state.jsonl"))
    _, shared_out = convert("mbpp", "--input", str(fixtures / "mbpp_shared_state.jsonl"), "--shared-process-rows")
    strict_rows, shared_rows = _rows_by_task(rows, strict_out), _rows_by_task(rows, shared_out)
    tasks = sorted(strict_rows)
    assert tasks == [601, 603, 927]

    def case(r, program):
        return f"[BEGIN]\n{program}\n[DONE]", r["reward_model"]["ground_truth"], r["extra_info"]

    cases = [case(strict_rows[t], strict_rows[t]["extra_info"]["reference_solution"]) for t in tasks]
    cases.append(case(strict_rows[601], hack.program))
    cases.append(case(shared_rows[601], shared_rows[601]["extra_info"]["reference_solution"]))
    results = _score_all(reward, cases)
    strict_refs, hacked, refused = results[:3], results[3], results[4]
    assert (refused.score, refused.extra["row_harness_refused"]) == (0.0, 1.0)
    shared_refs = _score_all(
        reward_row_harness,
        [case(shared_rows[t], shared_rows[t]["extra_info"]["reference_solution"]) for t in tasks],
    )

    assert (hacked.score, hacked.extra["tests_passed"], hacked.extra["harness_shared_process"]) == (0.0, 0.0, 0.0)
    assert hacked.extra["reason"] == "strict_unsupported", hacked.extra
    for task, strict, shared in zip(tasks, strict_refs, shared_refs):
        assert shared.score == 1.0, (task, shared.extra)
        if task == 603:
            assert strict.score == 1.0 and strict.extra["harness_shared_process"] == 0.0
            assert shared.extra["harness_shared_process"] == 0.0
        else:
            assert (strict.score, strict.extra["reason"]) == (0.0, "strict_unsupported"), (task, strict.extra)
            assert shared.extra["harness_shared_process"] == 1.0
