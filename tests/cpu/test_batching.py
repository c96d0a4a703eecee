"""Continuous batching in the hfcpu generator, on the real tiny Qwen2: concurrent requests are decoded together and
give the same tokens and log-probs as one-at-a-time generation; slots are reused; bad input fails one request only."""

from __future__ import annotations

import asyncio
import concurrent.futures

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from verl_score.cpu.generator import ABORTED, LENGTH, STOP, HFGenerator

QUESTIONS = [
    "What is 2 + 3?",
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many?",
    "hi",
    "List three prime numbers and explain why each of them is prime.",
]


@pytest.fixture(scope="module")
def tiny(assets):
    torch.set_num_threads(1)
    path = assets["tiny_qwen"]
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, attn_implementation="sdpa").eval()
    prompts = [
        tok.encode(tok.apply_chat_template([{"role": "user", "content": q}], add_generation_prompt=True, tokenize=False),
                   add_special_tokens=False)
        for q in QUESTIONS
    ]
    assert len({len(p) for p in prompts}) == len(prompts)  # mixed lengths: the batch needs left padding
    return model, prompts


def _gen(model, **kw) -> HFGenerator:
    return HFGenerator(model=model, prompt_length=128, response_length=32, num_threads=1, **kw)


async def _concurrently(gen: HFGenerator, prompts, params):
    return await asyncio.gather(
        *[gen.generate(f"r{i}", prompt_ids=p, sampling_params=params[i]) for i, p in enumerate(prompts)]
    )


def _forward_logprobs(model, prompt, tokens, temperature):
    with torch.no_grad():
        logits = model(torch.tensor([prompt + tokens])).logits[0, len(prompt) - 1 : -1].float() / temperature
    return torch.log_softmax(logits, -1).gather(-1, torch.tensor(tokens)[:, None])[:, 0]


def test_batched_greedy_tokens_equal_serial(tiny):
    model, prompts = tiny
    params = [{"temperature": 0.0, "max_tokens": 24, "ignore_eos": True}] * len(prompts)
    serial_gen = _gen(model)
    serial = [serial_gen.generate_sync(p, params[0]).token_ids for p in prompts]
    assert serial_gen.max_batch_seen == 1
    gen = _gen(model)
    batched = asyncio.run(_concurrently(gen, prompts, params))
    assert gen.max_batch_seen == len(prompts)  # really decoded together
    assert [o.token_ids for o in batched] == serial
    assert all(len(t) == 24 for t in serial)


def test_logprobs_match_forward_pass_in_a_mixed_batch(tiny):
    """Mixed prompt lengths, temperatures, top-k/top-p and max_tokens in one batch: every log-prob within 1e-4."""
    model, prompts = tiny
    params = [
        {"temperature": 0.0, "max_tokens": 20, "ignore_eos": True},
        {"temperature": 1.0, "max_tokens": 12, "seed": 3, "ignore_eos": True},
        {"temperature": 0.7, "top_p": 0.9, "max_tokens": 16, "seed": 4, "ignore_eos": True},
        {"temperature": 1.3, "top_k": 50, "max_tokens": 8, "seed": 5, "ignore_eos": True},
    ]
    gen = _gen(model)
    outs = asyncio.run(_concurrently(gen, prompts, params))
    assert gen.max_batch_seen == len(prompts)
    for out, prompt, p in zip(outs, prompts, params):
        assert len(out.token_ids) == p["max_tokens"] and out.stop_reason == LENGTH
        temperature = p["temperature"] or 1.0
        expected = _forward_logprobs(model, prompt, out.token_ids, temperature)
        assert torch.allclose(torch.tensor(out.log_probs), expected, atol=1e-4), p
    # A seeded request draws the same tokens whether it runs alone or in a batch.
    alone = _gen(model).generate_sync(prompts[2], params[2])
    assert alone.token_ids == outs[2].token_ids
    # top-k really restricts the draw: every sampled token is among the 50 most likely.
    with torch.no_grad():
        logits = model(torch.tensor([prompts[3] + outs[3].token_ids])).logits[0, len(prompts[3]) - 1 : -1]
    ranks = (logits > logits.gather(-1, torch.tensor(outs[3].token_ids)[:, None])).sum(-1)
    assert int(ranks.max()) < 50


def test_a_request_that_stops_early_frees_its_slot(tiny):
    """Two slots, three requests: the short one leaves after 2 tokens and the waiting one runs beside the long one."""
    model, prompts = tiny
    gen = _gen(model, max_batch_size=2)
    order: list[str] = []
    futures = {}
    for name, prompt, n in (("short", prompts[0], 2), ("long", prompts[1], 30), ("waiting", prompts[2], 5)):
        futures[name] = gen.submit(name, prompt, {"temperature": 0.0, "max_tokens": n, "ignore_eos": True})
        futures[name].add_done_callback(lambda _f, name=name: order.append(name))
    concurrent.futures.wait(futures.values(), timeout=120)
    assert order == ["short", "waiting", "long"]  # static batching would finish "waiting" after "long"
    assert gen.max_batch_seen == 2
    assert [len(futures[n].result().token_ids) for n in ("short", "long", "waiting")] == [2, 30, 5]
    # The waiting request, decoded beside "long" at other padding, still gives its solo greedy tokens.
    assert futures["waiting"].result().token_ids == _gen(model).generate_sync(prompts[2], {"temperature": 0.0, "max_tokens": 5, "ignore_eos": True}).token_ids


def test_stop_token_ids_and_eos_end_a_request(tiny):
    model, prompts = tiny
    gen = _gen(model)
    free = gen.generate_sync(prompts[0], {"temperature": 0.0, "max_tokens": 10, "ignore_eos": True})
    stop_at = free.token_ids[3]
    out = gen.generate_sync(prompts[0], {"temperature": 0.0, "max_tokens": 10, "stop_token_ids": [stop_at]})
    first = free.token_ids.index(stop_at)
    assert out.token_ids == free.token_ids[: first + 1] and out.stop_reason == STOP


def test_bad_requests_fail_alone_and_the_batch_finishes(tiny):
    model, prompts = tiny
    gen = _gen(model)
    greedy = {"temperature": 0.0, "max_tokens": 16, "ignore_eos": True}

    async def scenario():
        good = [asyncio.ensure_future(gen.generate(f"g{i}", prompt_ids=p, sampling_params=greedy)) for i, p in enumerate(prompts[:2])]
        too_long = gen.generate("long", prompt_ids=[1] * 200, sampling_params=greedy)
        unsupported = gen.generate("stop", prompt_ids=prompts[2], sampling_params={**greedy, "stop": ["\n"]})
        unknown = gen.generate("beam", prompt_ids=prompts[2], sampling_params={**greedy, "best_of": 4})
        budget = 160 - len(prompts[3]) - 1  # as long as the context allows: "c" must still be decoding when cancelled
        cancelled = asyncio.ensure_future(
            gen.generate("c", prompt_ids=prompts[3], sampling_params={**greedy, "max_tokens": budget})
        )
        # cancel once "c" is decoding in the running batch (a fixed sleep let a fast, quiet machine finish it first)
        for _ in range(2000):
            if any(r.request_id == "c" and r.token_ids for r in list(gen._requests.values())):
                break
            await asyncio.sleep(0.005)
        cancelled.cancel()
        results = await asyncio.gather(too_long, unsupported, unknown, return_exceptions=True)
        return [await g for g in good], results, cancelled

    outs, errors, cancelled = asyncio.run(scenario())
    assert isinstance(errors[0], ValueError) and "'long'" in str(errors[0]) and "context of 160" in str(errors[0])
    assert isinstance(errors[1], ValueError) and "stop=" in str(errors[1])
    assert isinstance(errors[2], ValueError) and "best_of" in str(errors[2])
    assert cancelled.cancelled()
    solo = _gen(model)
    assert [o.token_ids for o in outs] == [solo.generate_sync(p, greedy).token_ids for p in prompts[:2]]
    # The cancelled row left the batch: nothing is still queued or running.
    for _ in range(100):
        if gen.num_pending() == 0:
            break
        asyncio.run(asyncio.sleep(0.05))
    assert gen.num_pending() == 0


def test_abort_returns_partial_tokens_for_that_request_only(tiny):
    model, prompts = tiny
    gen = _gen(model)
    greedy = {"temperature": 0.0, "ignore_eos": True}
    victim = gen.submit("victim", prompts[0], {**greedy, "max_tokens": 32})
    other = gen.submit("other", prompts[1], {**greedy, "max_tokens": 8})
    assert gen.abort("victim") == ["victim"]
    out = victim.result(timeout=60)
    assert out.stop_reason == ABORTED and len(out.token_ids) < 32 and len(out.log_probs) == len(out.token_ids)
    assert len(other.result(timeout=60).token_ids) == 8
