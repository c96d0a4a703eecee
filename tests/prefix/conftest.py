"""Fixtures for the SCoRe-RL prefix-rollout tests.

Everything is real -- verl's agent-loop base class and continuous-token helpers, the Qwen2.5 tokenizer and chat
template, the tiny Qwen2, the bubblewrap sandbox, the MPS converter -- except, where a test needs the policy to
write code, the *choice of tokens*: a random tiny model never writes a code block, so ``ScriptedTestEngine`` stands
in for the GPU inference engine and returns fixed token ids (real Qwen2.5 ids of a scripted CodeAct turn), with
log-probs the tiny model assigns to them. It plugs into ``LocalServerManager`` exactly where ``HFGenerator`` does.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, Sequence

import pandas as pd
import pytest
import torch

from verl.workers.rollout.replica import TokenOutput

from verl_score.cpu.generator import HFGenerator, LocalServerManager
from verl_score.episodes.prefix_rollout import ScorePrefixRolloutAgentLoop
from verl_score.episodes.worker_build import build_agent_loop

from tests.episodes.conftest import mask_runs  # noqa: F401 (re-exported: the prefix tests read masks the same way)

REPO = Path(__file__).resolve().parents[2]
FIXTURE = Path(__file__).with_name("fixtures") / "mps_code_prefix.jsonl"
GREEDY = {"temperature": 0, "top_p": 1.0, "top_k": -1, "repetition_penalty": 1.0, "logprobs": True}
FAST_SANDBOX = {"timeout_s": 20.0, "cpu_s": 10, "max_concurrency": 2}


@pytest.fixture(scope="session")
def rl_rows(tmp_path_factory) -> list[dict[str, Any]]:
    """The RL rows the real MPS converter writes for the code-prefix fixture (all problems to RL)."""
    out = tmp_path_factory.mktemp("mps_rl")
    subprocess.run(
        [sys.executable, "data_preprocess/convert_parquet.py", "mps", "--input", str(FIXTURE), "--out-dir", str(out),
         "--sft-fraction", "0", "--quiet"],
        cwd=REPO, check=True, capture_output=True, text=True,
    )
    frame = pd.read_parquet(out / "train.parquet")
    return sorted(frame.to_dict("records"), key=lambda r: r["extra_info"]["mps_id"])


def loop_kwargs(row: dict[str, Any]) -> dict[str, Any]:
    """What verl's agent-loop worker passes to ``run()`` for a dataset row (raw chat + the row's columns)."""
    return {
        "raw_prompt": [dict(m) for m in row["prompt"]],
        "extra_info": row["extra_info"],
        "reward_model": row["reward_model"],
        "data_source": row["data_source"],
        "ability": row["ability"],
    }


def make_loop(server_manager: Any, tokenizer: Any, *, prompt_length: int = 512, response_length: int = 256,
              **kwargs: Any) -> ScorePrefixRolloutAgentLoop:
    """Build the loop the way verl's worker does (keyword arguments); call inside a running event loop."""
    kwargs.setdefault("sandbox", FAST_SANDBOX)
    return build_agent_loop(ScorePrefixRolloutAgentLoop, server_manager, tokenizer, prompt_length=prompt_length,
                            response_length=response_length, **kwargs)


class ScriptedTestEngine:
    """TEST ENGINE: replaces only the GPU inference engine. Turn k returns the real token ids of ``turns[k]`` (the
    last one repeats) followed by ``<|im_end|>``, cut to ``max_tokens``; log-probs are the tiny model's own for
    those forced tokens, so the loop's log-prob bookkeeping is checked against real numbers.

    Same ``generate`` contract as ``HFGenerator`` (used behind ``LocalServerManager``).
    """

    def __init__(self, tokenizer: Any, model: Any, turns: Sequence[str], global_steps: int = 5) -> None:
        self.tokenizer, self.model, self.turns = tokenizer, model, list(turns)
        self.end = tokenizer.convert_tokens_to_ids("<|im_end|>")
        self.global_steps = global_steps
        self.prompts: list[list[int]] = []

    async def generate(self, request_id: str = "", *, prompt_ids: list[int], sampling_params: dict, **_: Any
                       ) -> TokenOutput:
        k = min(len(self.prompts), len(self.turns) - 1)
        self.prompts.append(list(prompt_ids))
        ids = self.tokenizer.encode(self.turns[k], add_special_tokens=False) + [self.end]
        ids = ids[: int(sampling_params["max_tokens"])]
        return TokenOutput(
            token_ids=ids,
            log_probs=forced_logprobs(self.model, list(prompt_ids), ids),
            stop_reason="completed",
            num_preempted=0,
            extra_fields={"global_steps": self.global_steps},
        )


def forced_logprobs(model: Any, prompt_ids: list[int], ids: list[int]) -> list[float]:
    """log p(ids | prompt) under ``model``, token by token (teacher forcing)."""
    if not ids:
        return []
    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([prompt_ids + ids])).logits[0].float()
    p = len(prompt_ids)
    lp = torch.log_softmax(logits[p - 1 : p - 1 + len(ids)], dim=-1)
    return lp.gather(-1, torch.tensor(ids)[:, None])[:, 0].tolist()


def spans(ids: list[int], mask: list[int], value: int) -> list[list[int]]:
    """The contiguous runs of ``ids`` where ``mask == value``."""
    out: list[list[int]] = []
    prev = None
    for t, m in zip(ids, mask):
        if m == value:
            if prev != value:
                out.append([])
            out[-1].append(t)
        prev = m
    return out


def real_generator(model: Any) -> HFGenerator:
    gen = HFGenerator(model=model, prompt_length=512, response_length=256, num_threads=1)
    gen.set_global_steps(7)
    return gen


__all__ = ["GREEDY", "LocalServerManager", "ScriptedTestEngine", "loop_kwargs", "make_loop", "mask_runs", "spans",
           "real_generator", "forced_logprobs"]
