"""``code_tests``: run the response's program against the row's unit tests inside the bubblewrap sandbox.

Why: public SCoRe code ``exec``s model code in the trainer (one ``os.environ`` read leaks keys; one
``os.kill(os.getppid(), 9)`` ends training). And a policy optimises whatever the reward pays for: if the program
and the tests share an interpreter, an object whose ``__eq__`` is always True, a patched ``math.isclose`` or a walk
up the stack to the harness's reporter earns full marks. So by default (``harness: strict``) the tests run in a
trusted harness process and the program in another (``verl_score/sandbox/_harness.py``): the tests call the
program's functions through proxies, values cross as plain data only, and the harness is non-dumpable so the
program cannot read or write its memory. A test passes only if the harness reported it under the run's secret
nonce, so ``sys.exit(0)`` / ``os._exit(0)``, ``atexit`` hooks or printing "passed" earn nothing either.

``harness: shared_process`` (reward-wide, or per row with ``"harness": "shared_process"`` in the ground truth when
the route allows it with ``row_harness: true``; otherwise such a row is scored strictly and counted in
``extra["row_harness_refused"]``, so a dataset row cannot weaken a strict route) is the weaker fallback for tests that need side effects or shared state with the program (a function that mutates
its argument, a test that inspects a program's class instance): program and tests are cells of ONE sandboxed
interpreter, as before. It is counted in ``extra["harness_shared_process"]`` so nobody mistakes it for the strict
mode; a policy can game it (see docs/rewards.md).

Ground-truth schema (``reward_model.ground_truth`` as a dict or a JSON string; missing keys are also looked up in
``extra_info``):
  * HumanEval: ``{"test": "def check(candidate): ...", "entry_point": "f", "prompt": "<signature+docstring>"}``.
    The response may hold the whole function or only its body: when it defines ``entry_point`` it is appended to
    the prompt (keeping the prompt's imports and helpers), otherwise it is the body and continues the prompt.
  * MBPP: ``{"test_list": ["assert f(1) == 2", ...], "test_setup_code": "", "test_imports": ["import math"]}``;
    each assert is its own cell, so ``tests_passed`` counts them.
"""

from __future__ import annotations

import ast
import builtins
import json
import re
import time
from typing import Any, Mapping

from verl_score.rewards.base import RewardResult
from verl_score.rewards.extract import extract_code
from verl_score.rewards.registry import register_reward
from verl_score.sandbox import Sandbox, SandboxConfig

_TEST_KEYS = ("test", "entry_point", "prompt", "test_list", "test_setup_code", "test_imports", "harness")

#: ``strict``: tests and program in two processes, plain data between them (default). ``shared_process``: the
#: documented weaker fallback, one interpreter for both (tests that need side effects / shared state).
HARNESS_MODES = ("strict", "shared_process")
#: Harness reason codes that mean "this test cannot run in the strict mode" (scored 0, counted).
UNSUPPORTED_REASONS = ("unsupported_type", "unsupported_argument", "value_too_large", "value_too_deep", "bad_reply")


@register_reward("code_tests")
class CodeTestsReward:
    """1.0 when every test passes (or the passed fraction with ``partial_credit``); 0.0 otherwise.

    ``extra``: ``reason`` (``ok`` / ``wrong`` / ``program_error`` / ``no_code`` / ``timeout`` / ``output_limit`` /
    ``died`` / ``strict_unsupported`` / ``sandbox_error``, the last one marks the result ``failed``),
    ``tests_passed``, ``tests_total``, ``harness_shared_process`` (1 when the weaker fallback ran) and
    ``strict_unsupported_tests`` (tests the strict harness could not carry: a value or call outside plain data;
    each scores 0 and is counted here, reason ``strict_unsupported`` when that is why the row failed).
    """

    def __init__(self, sandbox: Mapping[str, Any] | SandboxConfig | None = None, partial_credit: bool = False,
                 code_block: str = "last", raw_fallback: bool = True, harness: str = "strict",
                 row_harness: bool = False):
        if harness not in HARNESS_MODES:
            raise ValueError(f"code_tests harness must be one of {HARNESS_MODES}, got {harness!r}")
        self.sandbox = Sandbox(sandbox)
        self.partial_credit = partial_credit
        self.harness = harness
        self.row_harness = row_harness
        self.code_kwargs = dict(block=code_block, raw_fallback=raw_fallback)
        extract_code("", **self.code_kwargs)

    async def __call__(self, solution: str, ground_truth: Any, extra_info: dict[str, Any]) -> RewardResult:
        start = time.perf_counter()
        spec = parse_test_spec(ground_truth, extra_info)
        asked = spec.get("harness") or self.harness
        if asked not in HARNESS_MODES:
            raise ValueError(f"code_tests row asks for harness {asked!r}; known: {HARNESS_MODES}")
        # a row may weaken the harness only on a route that allows it: the gameable mode is the route's choice
        refused = asked != self.harness and asked == "shared_process" and not self.row_harness
        mode = self.harness if refused else asked
        code = extract_code(solution, **self.code_kwargs)
        extra: dict[str, Any] = {"tests_total": float(_n_tests(spec)), "tests_passed": 0.0,
                                 "answer_found": float(code is not None),
                                 "harness_shared_process": float(mode == "shared_process"),
                                 "row_harness_refused": float(refused),
                                 "strict_unsupported_tests": 0.0}
        if code is None:
            return _result(0.0, "no_code", extra, start)
        if mode == "strict":
            plan = build_harness_plan(spec, code)
            run = await self.sandbox.run_tests(**plan)
            first_test = len(plan["setup"]) + 1
        else:
            cells, first_test = build_cells(spec, code)
            run = await self.sandbox.run_cells(cells)
        extra["sandbox_status"] = run.status
        test_cells = run.cells[first_test:]
        passed = sum(c.ok for c in test_cells) if run.completed else 0
        extra["tests_passed"] = float(passed)
        reasons = [c.reason for c in test_cells if not c.ok and c.reason]
        unsupported = [r for r in reasons if r in UNSUPPORTED_REASONS]
        extra["strict_unsupported_tests"] = float(len(unsupported))
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
        bad = next(c for c in test_cells if not c.ok)
        extra["error"] = f"{bad.exception['type']}: {bad.exception['message']}"[:500] if bad.exception else ""
        if unsupported:
            reason = "strict_unsupported"
        elif "test_timeout" in reasons:
            reason = "timeout"
        elif "program_died" in reasons:
            reason = "died"
        else:
            reason = "wrong"
        return _result(score, reason, extra, start)


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


def _setup_cells(spec: Mapping[str, Any]) -> list[str]:
    """MBPP's ``test_imports`` (one cell) and ``test_setup_code``, where given: what runs before the program, in the
    one-interpreter cells and in both processes of the strict harness alike."""
    cells: list[str] = []
    imports = spec.get("test_imports")
    if imports is not None and len(imports) > 0:
        cells.append("\n".join(str(i) for i in imports))
    if spec.get("test_setup_code"):
        cells.append(str(spec["test_setup_code"]))
    return cells


def _has_test_list(spec: Mapping[str, Any]) -> bool:
    """An MBPP-style spec (a non-empty list of asserts) rather than a HumanEval one (``test`` + ``entry_point``)."""
    return spec.get("test_list") is not None and len(spec["test_list"]) > 0


def build_cells(spec: Mapping[str, Any], code: str) -> tuple[list[str], int]:
    """Cells to run and the index of the first test cell (earlier cells are setup and the program)."""
    cells = _setup_cells(spec)
    if _has_test_list(spec):
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


def build_harness_plan(spec: Mapping[str, Any], code: str) -> dict[str, Any]:
    """Arguments of ``Sandbox.run_tests`` for the strict harness.

    MBPP: ``test_imports`` and ``test_setup_code`` run in both processes (the program may use them too), each
    assert is a test. HumanEval: the program is the prompt plus the completion (as in ``build_cells``); the prompt
    also runs in the harness as a trusted prelude so its helpers (``poly``, ``encode_cyclic``...) used by
    ``check`` are the dataset's, not the program's; ``entry_point`` is always proxied to the program.
    """
    setup = _setup_cells(spec)
    if _has_test_list(spec):
        tests = list(spec["test_list"])
        return dict(program=code, tests=tests, setup=setup, names=_loaded_names(tests), prelude="", forced=[])
    cells, first = build_cells({k: v for k, v in spec.items() if k not in ("test_imports", "test_setup_code")}, code)
    entry = str(spec["entry_point"])
    tests = cells[first:]
    names = _loaded_names(tests)
    prompt = str(spec.get("prompt") or "")
    # The prelude costs the harness the prompt's imports (typing: milliseconds per run, on every run): skip it
    # when the tests use nothing the prompt binds besides the entry point.
    bound = _bound_names(prompt) - {entry}
    prelude = prompt if "*" in bound or set(names) & bound else ""
    return dict(program=cells[first - 1], tests=tests, setup=setup, names=[entry, *names], prelude=prelude,
                forced=[entry])


def _bound_names(source: str) -> set[str]:
    """Top-level names a module binds (defs, classes, imports, assignments; ``*`` for a star import)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return set()  # the harness could not run it either
    bound: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
        else:
            bound.update(n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store))
    return bound


def _loaded_names(sources: list[str]) -> list[str]:
    """Global names the tests read (``ast.Name`` loads), in order of first use; builtins are the harness's own."""
    seen: dict[str, None] = {}
    for source in sources:
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            continue  # the harness reports the test's SyntaxError itself
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and not hasattr(builtins, node.id):
                seen.setdefault(node.id, None)
    return list(seen)


def _n_tests(spec: Mapping[str, Any]) -> int:
    return len(spec["test_list"]) if spec.get("test_list") is not None and len(spec["test_list"]) else 1


def _result(score: float, reason: str, extra: dict, start: float, failed: bool = False) -> RewardResult:
    extra["reason"] = reason
    extra["correct"] = float(reason == "ok")
    extra["elapsed_ms"] = (time.perf_counter() - start) * 1e3
    return RewardResult(score=score, extra=extra, failed=failed)
