"""Fixtures shared by the judge tests of this folder."""

from __future__ import annotations

from typing import Iterator

import pytest

from verl_score.llm.failure_monitor import reset_monitors


@pytest.fixture
def fresh_monitors() -> Iterator[None]:
    """Empty failure-rate monitors before and after the test: the monitors are process-wide (one per judge name),
    so a test's failures would otherwise count towards the next test's rate. Opted into per module with
    ``pytestmark = pytest.mark.usefixtures("fresh_monitors")`` (the client tests here do not use monitors)."""
    reset_monitors()
    yield
    reset_monitors()
