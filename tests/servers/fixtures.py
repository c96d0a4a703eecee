"""Pytest fixtures for real loopback LLM servers, shared by every test module (exposed via ``tests/conftest.py``).

* ``fault_server``: a fresh fault-injecting OpenAI-compatible server per test (starts in milliseconds).
* ``llamacpp_server``: the real llama.cpp server with SmolLM2-135M, one per session (start ~3 s), key enforced.
  When a test using it fails, the server log's tail is attached to the report.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from testkit.fault_server import FaultServer
from testkit.llamacpp_server import LlamaCppServer


@pytest.fixture
def fault_server() -> Iterator[FaultServer]:
    server = FaultServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def llamacpp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaCppServer]:
    log_path = tmp_path_factory.mktemp("llamacpp") / "server.log"
    server = LlamaCppServer(log_path).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.failed and "llamacpp_server" in getattr(item, "fixturenames", ()):
        server = item.funcargs.get("llamacpp_server") if hasattr(item, "funcargs") else None
        if isinstance(server, LlamaCppServer):
            report.sections.append(("llama.cpp server log (tail)", server.log_tail()))
