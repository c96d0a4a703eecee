"""PythonSession: replayed prefixes give later cells the same state; observations carry stdout and errors."""

from __future__ import annotations

import asyncio
import logging
import warnings

import pytest

from verl_score.sandbox import PythonSession, Sandbox, SandboxConfig, SandboxUnavailableError


@pytest.fixture(scope="module")
def sandbox():
    return Sandbox(SandboxConfig(timeout_s=5, cpu_s=3))


def test_prefix_variable_visible_to_first_tool_call(sandbox):
    session = PythonSession(sandbox, prefix_cells=["import math\nradius = 3", "area = math.pi * radius ** 2"])

    async def go():
        first = await session.execute("print(round(area, 3))")
        second = await session.execute("radius * 2")  # a trailing expression is echoed, like a REPL
        third = await session.execute("undefined_name + 1")
        fourth = await session.execute("print(radius)")  # the failing cell did not break the session
        return first, second, third, fourth

    first, second, third, fourth = asyncio.run(go())
    assert first.ok and first.observation() == "28.274\n"
    assert second.ok and second.stdout == "6\n"
    assert third.exception["type"] == "NameError" and "undefined_name" in third.observation()
    assert fourth.stdout == "3\n"
    assert len(session.history) == 6


def test_cells_share_one_interpreter_and_report_each(sandbox):
    run = sandbox.run_cells_sync(["x = [1, 2]", "x.append(3); print(x)", "raise SystemExit(0)", "print(len(x))"])
    assert run.completed
    assert [c.ok for c in run.cells] == [True, True, False, True]
    assert run.cells[1].stdout == "[1, 2, 3]\n" and run.cells[3].stdout == "3\n"
    assert run.cells[2].exception["type"] == "SystemExit"


def test_timeout_in_a_cell_is_its_observation(sandbox):
    run = sandbox.run_cells_sync(["y = 1", "import time\ntime.sleep(60)"], timeout_s=1.5)
    assert run.status == "timeout" and run.cells[0].ok
    assert run.cells[1].exception["type"] == "Killed" and "timeout" in run.cells[1].observation()


def test_missing_bwrap_is_a_clear_error():
    with pytest.raises(SandboxUnavailableError, match="allow_unsandboxed_subprocess_i_understand_the_risk"):
        Sandbox(SandboxConfig(bwrap="no-such-bwrap-binary"))


def test_unsandboxed_opt_in_warns_on_every_use(caplog):
    sandbox = Sandbox(SandboxConfig(bwrap="no-such-bwrap-binary", timeout_s=5,
                                    allow_unsandboxed_subprocess_i_understand_the_risk=True))
    assert sandbox.backend == "unsandboxed"
    with caplog.at_level(logging.WARNING, logger="verl_score.sandbox.runner"), warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        first = sandbox.run_cells_sync(["print(1 + 1)"])
        second = sandbox.run_cells_sync(["print(2 + 2)"])
    assert first.cells[0].stdout == "2\n" and second.cells[0].stdout == "4\n"
    assert sum("UNISOLATED" in r.getMessage() for r in caplog.records) == 2


def test_bad_config_is_rejected():
    with pytest.raises(ValueError, match="timeout_s"):
        SandboxConfig(timeout_s=0)
    with pytest.raises(ValueError, match="unknown SandboxConfig keys"):
        SandboxConfig.from_mapping({"timeout": 3})
