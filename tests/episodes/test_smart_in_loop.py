"""SMART guidance inside the real two-attempt loop: the guide (a real loopback HTTP endpoint) sees the problem and
attempt 1 only; the loop screens its hint against the row's ground truth and falls back to the static instruction on
a leak; with ``backend: policy`` the policy itself (the loop's server manager) writes the hint."""

from __future__ import annotations

import json

import pytest

from tests.episodes.conftest import CannedServerManager, make_loop
from testkit.fault_server import Ok, Status
from tests.teacher.guide_replies import guide_reply, is_classifier_request
import verl_score.teacher.guidance  # noqa: F401  registers "smart" (verl_score.register does this in workers)
from verl_score.prompts import MATH_SELF_CORRECTION

PROBLEM = [{"role": "user", "content": "Melanie has 5 vacuum cleaners left ... how many did she start with?"}]
GREEDY = {"temperature": 0.0, "top_p": 1.0, "top_k": -1}
ROW = {"raw_prompt": PROBLEM, "extra_info": {"task": "math"}, "reward_model": {"ground_truth": "18"}}


def _im_end(tokenizer) -> int:
    return tokenizer.convert_tokens_to_ids("<|im_end|>")


def _instruction_text(tokenizer, out) -> str:
    return tokenizer.decode([t for t, m in zip(out.response_ids, out.response_mask) if m == 0])


def _smart_loop(tokenizer, server, **kwargs):
    manager = CannedServerManager([2001, 2002], stop=_im_end(tokenizer))
    guidance_kwargs = {"client": {"base_url": server.base_url, "max_retries": 0, "timeout_s": 5.0}, **kwargs}
    return manager, make_loop(manager, tokenizer, guidance="smart", guidance_kwargs=guidance_kwargs, response_length=600)


@pytest.mark.asyncio
async def test_accepted_hint_reaches_attempt_two_and_guide_never_sees_the_answer(tokenizer, fault_server):
    fault_server.set_default(guide_reply("Re-check how many she sold at the red house."))
    manager, loop = _smart_loop(tokenizer, fault_server)
    out = await loop.run(dict(GREEDY), **ROW)
    assert out.extra_fields["guidance"] == ["smart"] and out.extra_fields["guidance_reasons"] == [""]
    assert [is_classifier_request(r.body) for r in fault_server.requests] == [False, True]  # hint, then the check
    assert "Re-check how many she sold at the red house." in _instruction_text(tokenizer, out)
    # attempt 2 was generated after the hint: its prompt holds the hint's tokens
    assert len(manager.requests) == 2 and len(manager.requests[1]["prompt_ids"]) > len(manager.requests[0]["prompt_ids"])
    sent = json.dumps(fault_server.requests[0].body)
    assert "18" not in sent and "vacuum cleaners" in sent


@pytest.mark.asyncio
async def test_hint_equivalent_to_the_answer_is_rejected_by_the_loops_screen(tokenizer, fault_server):
    # "eighteen" passes the format rules; only the screen against the row's ground truth (18) catches it.
    fault_server.set_default(guide_reply("Maybe she started with eighteen of them."))
    _, loop = _smart_loop(tokenizer, fault_server)
    out = await loop.run(dict(GREEDY), **ROW)
    assert out.extra_fields["guidance"] == ["smart_rejected"]
    text = _instruction_text(tokenizer, out)
    assert MATH_SELF_CORRECTION in text and "eighteen" not in text


@pytest.mark.asyncio
async def test_policy_backend_uses_the_loops_own_server_manager(tokenizer):
    manager = CannedServerManager([2001, 2002], stop=_im_end(tokenizer))
    loop = make_loop(manager, tokenizer, guidance="smart", guidance_kwargs={"backend": "policy"}, response_length=600)
    out = await loop.run(dict(GREEDY), **ROW)
    # attempt 1, the policy writing the hint, (the verdict classifier when the rules passed the hint), attempt 2
    source, reason = out.extra_fields["guidance"][0], out.extra_fields["guidance_reasons"][0]
    asked_classifier = source == "smart" or reason.startswith("classifier_")
    assert len(manager.requests) == 3 + asked_classifier
    assert source in {"smart", "smart_rejected", "smart_failed"}
    assert out.extra_fields["guidance"][0] != "smart_failed" or "policy_not_attached" not in repr(loop.guidance_provider.metrics())


@pytest.mark.asyncio
async def test_rejection_reason_reaches_extra_fields_and_a_failing_classifier_never_passes(tokenizer, fault_server):
    """A verdict the rules catch, and a clean hint whose classifier call fails (HTTP 500 after the retry): both give
    the static instruction, and the loop records why, for the per-reason metrics."""
    fault_server.script_requests(Ok("Check again - your final total is wrong."))
    _, loop = _smart_loop(tokenizer, fault_server)
    out = await loop.run(dict(GREEDY), **ROW)
    assert (out.extra_fields["guidance"], out.extra_fields["guidance_reasons"]) == (["smart_rejected"], ["verdict"])
    fault_server.script_requests(Ok("Re-check how many she sold at the red house."), Status(500))
    out = await loop.run(dict(GREEDY), **ROW)
    assert out.extra_fields["guidance_reasons"] == ["classifier_failed"]
    assert out.extra_fields["guidance"] == ["smart_rejected"]
    text = _instruction_text(tokenizer, out)
    assert MATH_SELF_CORRECTION in text and "red house" not in text
