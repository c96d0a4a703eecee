"""Fixtures for the SCoRe episode tests: the real tiny Qwen2 (real Qwen2.5 tokenizer) behind verl's generate contract.

The model is random, so its text is garbage, but every token, log-prob and template boundary is real.
"""

from __future__ import annotations

import copy
from typing import Any, Callable

import pytest
import torch

from verl.workers.rollout.replica import TokenOutput

from verl_score.cpu.generator import HFGenerator, LocalServerManager
from verl_score.episodes.two_attempt import ScoreTwoAttemptAgentLoop
from verl_score.episodes.worker_build import build_agent_loop, rollout_config

GREEDY = {"temperature": 0, "top_p": 1.0, "top_k": -1, "repetition_penalty": 1.0, "logprobs": True}
PROBLEM = [{"role": "user", "content": "What is 2 + 3? Put the answer in a box."}]
CODE_PROBLEM = [{"role": "user", "content": "Write a Python function add(a, b) that returns a + b."}]


@pytest.fixture(scope="session")
def generator(model) -> HFGenerator:
    gen = HFGenerator(model=model, prompt_length=512, response_length=512, num_threads=1)
    gen.set_global_steps(7)
    return gen


def trainer_config(prompt_length: int = 256, response_length: int = 256):
    return rollout_config(prompt_length, response_length)


def mask_runs(mask: list[int]) -> list[tuple[int, int]]:
    """Run-length encoding of a mask: [(value, length), ...]."""
    out: list[tuple[int, int]] = []
    for m in mask:
        if out and out[-1][0] == m:
            out[-1] = (m, out[-1][1] + 1)
        else:
            out.append((m, 1))
    return out


def make_loop(server_manager: Any, tokenizer: Any, *, prompt_length: int = 256, response_length: int = 256, **kwargs):
    """Build the loop the way verl's worker does (all keyword arguments); call inside a running event loop."""
    return build_agent_loop(ScoreTwoAttemptAgentLoop, server_manager, tokenizer, prompt_length=prompt_length,
                            response_length=response_length, **kwargs)


@pytest.fixture
def loop_factory(generator, tokenizer) -> Callable[..., ScoreTwoAttemptAgentLoop]:
    def factory(server_manager: Any = None, **kwargs):
        return make_loop(server_manager or LocalServerManager(generator), tokenizer, **kwargs)

    return factory


def eos_biased_model(model, tokenizer, prompt_ids: list[int], *, min_step: int = 3, horizon: int = 64):
    """A copy of ``model`` whose greedy decode of ``prompt_ids`` ends with ``<|im_end|>`` after a few tokens.

    A random model practically never emits EOS, but the normal-stop path needs one. Only ``lm_head`` gets a bias on
    the ``<|im_end|>`` logit (untied from the embeddings), chosen from the unbiased greedy path so EOS first wins at
    some step >= ``min_step``; the result is still an ordinary causal LM, so log-prob checks stay exact.
    """
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
    with torch.inference_mode():
        out = model.generate(
            input_ids=torch.tensor([prompt_ids]),
            attention_mask=torch.ones(1, len(prompt_ids), dtype=torch.long),
            max_new_tokens=horizon,
            do_sample=False,
            eos_token_id=None,
            output_logits=True,
            return_dict_in_generate=True,
            pad_token_id=eos,
        )
    gaps = [float(step[0].max() - step[0, eos]) for step in out.logits]
    for s in range(min_step, len(gaps)):
        earlier = min(gaps[:s])
        if gaps[s] < earlier:
            bias = (gaps[s] + earlier) / 2
            break
    else:  # pragma: no cover - depends on the seeded weights; fails loudly instead of skipping
        raise AssertionError(f"no step >= {min_step} where <|im_end|> can be made to win first: gaps={gaps}")
    biased = copy.deepcopy(model)
    head = torch.nn.Linear(biased.lm_head.in_features, biased.lm_head.out_features, bias=True)
    with torch.no_grad():
        head.weight.copy_(model.lm_head.weight)
        head.bias.zero_()
        head.bias[eos] = bias
    biased.lm_head = head
    biased.config.tie_word_embeddings = False
    return biased.eval(), s + 1  # number of tokens attempt 1 will have, <|im_end|> included


class CannedServerManager:
    """An instant engine: returns fixed tokens (ending in ``stop`` unless ``truncate``) without any model."""

    def __init__(self, tokens: list[int], stop: int | None = None, global_steps: int = 3):
        self.tokens, self.stop, self.global_steps = list(tokens), stop, global_steps
        self.requests: list[dict[str, Any]] = []

    async def generate(
        self, request_id: str, *, prompt_ids: list[int], sampling_params: dict, **kwargs: Any
    ) -> TokenOutput:
        self.requests.append({"request_id": request_id, "prompt_ids": list(prompt_ids), **sampling_params})
        n = int(sampling_params["max_tokens"])
        ids = (self.tokens + ([self.stop] if self.stop is not None else []))[:n]
        self.global_steps += 1
        return TokenOutput(
            token_ids=ids,
            log_probs=[-0.5] * len(ids),
            stop_reason="completed",
            num_preempted=0,
            extra_fields={"global_steps": self.global_steps, "min_global_steps": self.global_steps,
                          "max_global_steps": self.global_steps},
        )
