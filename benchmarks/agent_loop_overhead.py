"""CPU overhead of one SCoRe two-attempt episode vs two ``single_turn_agent`` episodes, with an instant engine.

    python benchmarks/agent_loop_overhead.py [--iterations 200] [--tokens 256] [--json out.json]

The engine answers immediately with canned tokens, so the figures are the agent loops' own CPU cost per episode:
instantiation the way verl's worker does it (``hydra.utils.instantiate``, once per trajectory), chat-template
rendering, continuous-token merges, budgeting, decoding the attempt texts and building the output. Two single-turn
episodes generate the same number of tokens as one two-attempt episode, so the ratio is the price of the instruction
turn and the SCoRe bookkeeping. Target: <= 1.1x.

Recorded 2026-11-22 (2 shared CPU cores, 1 thread, real Qwen2.5 tokenizer, 200 interleaved iterations, medians):

    tokens/attempt   one score_two_attempt   two single_turn_agent   ratio (median / of means)
    256              6.2 ms                  9.5 ms                  0.66x / 0.63x
    1024             31.5 ms                 45.7 ms                 0.69x / 0.67x

The two-attempt episode is cheaper because the pair of single-turn episodes pays verl's per-trajectory
instantiation (continuous-token builder) and the full prompt render twice; the instruction turn (two small template
renders) and decoding the attempt texts cost less than that, and the construction-time budget measurements are
cached per tokenizer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from typing import Any

os.environ.setdefault("VERL_SCORE_CPU_THREADS", "1")

from verl.experimental.agent_loop.agent_loop import _agent_loop_registry  # noqa: E402
from verl.experimental.agent_loop.single_turn_agent_loop import SingleTurnAgentLoop  # noqa: E402,F401 (registers)
from verl.workers.rollout.replica import TokenOutput  # noqa: E402

import verl_score.episodes.two_attempt  # noqa: E402,F401 (registers score_two_attempt)
from verl_score.episodes.worker_build import instantiate_agent_loop, rollout_config  # noqa: E402

PROBLEM = [
    {
        "role": "user",
        "content": "Let $f(x) = 3x^2 - 5x + 2$. Find all real numbers $a$ such that $f(a) = f(2a - 1)$. "
        "Express your answer as a comma-separated list.",
    }
]
GREEDY = {"temperature": 0, "top_p": 1.0, "top_k": -1, "repetition_penalty": 1.0, "logprobs": True}


class InstantServerManager:
    """verl's generate contract with no model: ``tokens`` (cut to ``max_tokens``) and their log-probs, at once."""

    def __init__(self, tokens: list[int]):
        self.tokens = tokens
        self.extra = {"global_steps": 1, "min_global_steps": 1, "max_global_steps": 1}

    async def generate(self, request_id: str, *, prompt_ids: list[int], sampling_params: dict, **_: Any) -> TokenOutput:
        ids = self.tokens[: int(sampling_params.get("max_tokens", len(self.tokens)))]
        return TokenOutput(token_ids=ids, log_probs=[-0.1] * len(ids), stop_reason="completed", num_preempted=0,
                           extra_fields=dict(self.extra))


def _tokenizer():
    from transformers import AutoTokenizer

    from verl_score.assets import asset_path

    return AutoTokenizer.from_pretrained(asset_path("qwen_tokenizer"))


async def _episode(name: str, cfg, tokenizer, manager) -> None:
    loop = instantiate_agent_loop(_agent_loop_registry[name], cfg, manager, tokenizer)
    await loop.run(dict(GREEDY), raw_prompt=PROBLEM, extra_info={"task": "math"}, index=0)


async def _measure(iterations: int, tokens: int) -> dict[str, Any]:
    tokenizer = _tokenizer()
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
    body = tokenizer.encode(" The answer follows from expanding both sides and collecting terms." * 64)
    attempt = body[: tokens - 1] + [eos]  # a normally finished attempt of `tokens` tokens
    manager = InstantServerManager(attempt)
    cfg = rollout_config(prompt_length=1024, response_length=2 * tokens + 256)
    for _ in range(10):  # warm-up: caches, lazy imports, thread pool
        await _episode("score_two_attempt", cfg, tokenizer, manager)
        await _episode("single_turn_agent", cfg, tokenizer, manager)

    two, single = [], []
    for _ in range(iterations):  # interleaved so machine noise hits both sides alike
        t0 = time.perf_counter()
        await _episode("score_two_attempt", cfg, tokenizer, manager)
        t1 = time.perf_counter()
        await _episode("single_turn_agent", cfg, tokenizer, manager)
        await _episode("single_turn_agent", cfg, tokenizer, manager)
        t2 = time.perf_counter()
        two.append(t1 - t0)
        single.append(t2 - t1)
    med_two, med_single = statistics.median(two), statistics.median(single)
    return {
        "iterations": iterations,
        "tokens_per_attempt": tokens,
        "two_attempt_episode_ms_median": 1e3 * med_two,
        "two_single_turn_episodes_ms_median": 1e3 * med_single,
        "ratio_median": med_two / med_single,
        "ratio_of_means": statistics.fmean(two) / statistics.fmean(single),
        "target": 1.1,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--tokens", type=int, default=256, help="tokens per attempt")
    parser.add_argument("--json", type=str, default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)
    result = asyncio.run(_measure(args.iterations, args.tokens))
    print(f"one score_two_attempt episode      : {result['two_attempt_episode_ms_median']:.3f} ms (median)")
    print(f"two single_turn_agent episodes     : {result['two_single_turn_episodes_ms_median']:.3f} ms (median)")
    print(f"ratio (median / of means)          : {result['ratio_median']:.3f}x / {result['ratio_of_means']:.3f}x "
          f"(target <= {result['target']}x)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
