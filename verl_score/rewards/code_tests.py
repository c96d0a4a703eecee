"""``code_tests``: run the response's program against the row's unit tests inside the bubblewrap sandbox.

Why: public SCoRe code ``exec``s model code in the trainer (one ``os.environ`` read leaks keys; one
``os.kill(os.getppid(), 9)`` ends training). Here the program and each test are cells of one fresh sandboxed
interpreter. A test passes only if its cell finished without an exception AND the driver reported it under the
run's secret nonce, so ``sys.exit(0)`` / ``os._exit(0)`` before the tests, or printing "passed", earns nothing.

Ground-truth schema (``reward_model.ground_truth`` as a dict or a JSON string; missing keys are also looked up in
``extra_info``):
  * HumanEval: ``{"test": "def check(candidate): ...", "entry_point": "f", "prompt": "<signature+docstring>"}``.
    The response may hold the whole function or only its body: when it defines ``entry_point`` it is appended to
    the prompt (keeping the prompt's imports and helpers), otherwise it is the body and continues the prompt.
  * MBPP: ``{"test_list": ["assert f(1) == 2", ...], "test_setup_code": "", "test_imports": ["import math"]}``;
    each assert is its own cell, so ``tests_passed`` counts them.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any, Mapping

from verl_score.rewards.base import RewardResult
from verl_score.rewards.extract import extract_code
from verl_score.rewards.registry import register_reward
from verl_score.sandbox import Sandbox, SandboxConfig

_TEST_KEYS = ("test", "entry_point", "prompt", "test_list", "test_setup_code", "test_imports")


@register_reward("code_tests")
class CodeTestsReward:
    """1.0 when every test passes (or the passed fraction with ``partial_credit``); 0.0 otherwise.

    ``extra``: ``reason`` (``ok`` / ``wrong`` / ``program_error`` / ``no_code`` / ``timeout`` / ``output_limit`` /
    ``died`` / ``sandbox_error``, the last one marks the result ``failed``), ``tests_passed``, ``tests_total``.
    """

    def __init__(self, sandbox: Mapping[str, Any] | SandboxConfig | None = None, partial_credit: bool = False,
                 code_block: str = "last", raw_fallback: bool = True):
        self.sandbox = Sandbox(sandbox)
        self.partial_credit = partial_credit
        self.code_kwargs = dict(block=code_block, raw_fallback=raw_fallback)
        extract_code("", **self.code_kwargs)

    async def __call__(self, solution: str, ground_truth: Any, extra_info: dict[str, Any]) -> RewardResult:
        start = time.perf_counter()
        spec = parse_test_spec(ground_truth, extra_info)
        code = extract_code(solution, **self.code_kwargs)
        extra: dict[str, Any] = {"tests_total": float(_n_tests(spec)), "tests_passed": 0.0,
                                 "answer_found": float(code is not None)}
        if code is None:
            return _result(0.0, "no_code", extra, start)
        cells, first_test = build_cells(spec, code)
        run = await self.sandbox.run_cells(cells)
        extra["sandbox_status"] = run.status
        test_cells = run.cells[first_test:]
        passed = sum(c.ok for c in test_cells) if run.completed else 0
        extra["tests_passed"] = float(passed)
        if run.status == "sandbox_error":
            extra["error"] = run.stderr[-500:]
            return _result(0.0, "sandbox_error", extra, start, failed=True)
        if run.status != "ok":
            return _result(0.0, run.status, extra, start)
        setup_or_program_failed = not all(c.ok for c in run.cells[:first_test])
        if setup_or_program_failed:
            bad = next(c for c in run.cells[:first_test] if not c.ok)
            extra["error"] = f"{bad.exception['type']}: {bad.exception['message']}"[:500]
            return _result(0.0, "program_error", extra, start)
        total = len(test_cells)
        if passed == total:
            return _result(1.0, "ok", extra, start)
        score = passed / total if self.partial_credit and total else 0.0
        return _result(score, "wrong", extra, start)


def parse_test_spec(ground_truth: Any, extra_info: Mapping[str, Any] | None) -> dict[str, Any]:
    """Normalise the ground truth into ``{test, entry_point, prompt}`` or ``{test_list, ...}``; else a clear error."""
    if isinstance(ground_truth, str):
        try:
            ground_truth = json.loads(ground_truth)
        except json.JSONDecodeError:
            raise ValueError("code_tests ground truth must be a dict or a JSON object string") from None
    spec = dict(ground_truth) if isinstance(ground_truth, Mapping) else {}
    for key in _TEST_KEYS:
        if key not in spec and extra_info and key in extra_info:
            spec[key] = extra_info[key]
    if spec.get("test_list") is not None and len(spec["test_list"]) > 0:
        spec["test_list"] = [str(t) for t in spec["test_list"]]
        return spec
    if spec.get("test") and spec.get("entry_point"):
        return spec
    raise ValueError(
        "code_tests needs HumanEval-style {'test', 'entry_point'[, 'prompt']} or MBPP-style {'test_list'[, "
        "'test_setup_code', 'test_imports']} in the ground truth or extra_info; "
        f"got keys {sorted(spec)}"
    )


def build_cells(spec: Mapping[str, Any], code: str) -> tuple[list[str], int]:
    """Cells to run and the index of the first test cell (earlier cells are setup and the program)."""
    cells: list[str] = []
    imports = spec.get("test_imports")
    if imports is not None and len(imports) > 0:
        cells.append("\n".join(str(i) for i in imports))
    if spec.get("test_setup_code"):
        cells.append(str(spec["test_setup_code"]))
    if spec.get("test_list") is not None and len(spec.get("test_list")) > 0:
        cells.append(code)
        first = len(cells)
        return cells + list(spec["test_list"]), first
    entry = str(spec["entry_point"])
    prompt = str(spec.get("prompt") or "")
    if prompt and not re.search(rf"^\s*def\s+{re.escape(entry)}\s*\(", code, re.MULTILINE):
        program = prompt + code  # a body completion continues the prompt's signature
    else:
        program = (prompt + "\n\n" if prompt else "") + code
    cells.append(program)
    first = len(cells)
    # ``test`` only defines check(); calling it is the test (a separate cell so a crash in either is attributed).
    return cells + [str(spec["test"]) + f"\n\ncheck({entry})\n"], first


def _n_tests(spec: Mapping[str, Any]) -> int:
    return len(spec["test_list"]) if spec.get("test_list") is not None and len(spec["test_list"]) else 1


def _result(score: float, reason: str, extra: dict, start: float, failed: bool = False) -> RewardResult:
    extra["reason"] = reason
    extra["correct"] = float(reason == "ok")
    extra["elapsed_ms"] = (time.perf_counter() - start) * 1e3
    return RewardResult(score=score, extra=extra, failed=failed)
