"""SMART guidance against a real loopback HTTP server: accepted hints, fallbacks on failure/leak, counters."""

from __future__ import annotations

import asyncio
import inspect
import json
from types import SimpleNamespace

import pytest

from testkit.fault_server import Hang, Ok, Status
from tests.teacher.guide_replies import guide_reply
from verl_score.contracts.guidance import Guidance, GuidanceProvider
from verl_score.episodes.guidance import build_guidance_provider
from verl_score.prompts import MATH_SELF_CORRECTION
from verl_score.teacher.guidance import SmartGuidance, guide_messages

PROBLEM = [
    {"role": "system", "content": "You are a math expert."},
    {"role": "user", "content": "Melanie has 5 vacuum cleaners left after ... how many did she start with?"},
]
ATTEMPT = "She started with 5 * 2 + 2 = 12 ... Final Answer: The final answer is $12$."
GOLD = "18"


def _provider(server, **kw):
    client = {"base_url": server.base_url, "max_retries": kw.pop("max_retries", 1), "backoff_base_s": 0.01,
              "timeout_s": kw.pop("timeout_s", 5.0)}
    # These tests script one reply per guide call; the verdict classifier's extra call (on by default) has its own
    # tests in test_verdict_classifier.py, so it is off here unless a test asks for it.
    kw.setdefault("verdict_classifier", False)
    return SmartGuidance(client=client, **kw)


def _instruction(p, task="math"):
    return asyncio.run(p.instruction(PROBLEM, ATTEMPT, task, attempt=2, previous_attempts=(ATTEMPT,)))


def test_signature_cannot_carry_ground_truth():
    params = set(inspect.signature(SmartGuidance.instruction).parameters)
    assert params == {"self", "problem_messages", "previous_attempt_text", "task", "attempt", "previous_attempts"}
    assert set(inspect.signature(guide_messages).parameters) == {"problem_messages", "attempt_text"}


def test_accepted_hint_goes_after_static_instruction(fault_server):
    fault_server.set_default(Ok("Re-check how many she sold at the red house."))
    p = _provider(fault_server)
    assert isinstance(p, GuidanceProvider)
    g = _instruction(p)
    assert g.source == "smart"
    assert g.text.startswith(MATH_SELF_CORRECTION) and "Suggestive Correction: Re-check" in g.text
    body = fault_server.requests[0].body
    sent = json.dumps(body["messages"])
    assert "DO NOT include ANY SOLUTION" in sent and ATTEMPT[:20] in sent and "Melanie" in sent
    assert "18" not in sent  # the guide never sees the ground truth
    assert body["max_tokens"] == 128 and body["temperature"] == 0.7
    m = p.metrics()
    assert (m["guidance/smart_rate"], m["guidance/fallback_rate"], m["guidance/rejected_rate"]) == (1.0, 0.0, 0.0)


def test_endpoint_failure_falls_back_and_counts(fault_server):
    fault_server.set_default(Status(500))
    p = _provider(fault_server, max_retries=1)
    g = _instruction(p)
    assert g == Guidance(MATH_SELF_CORRECTION, "smart_failed")
    assert len(fault_server.requests) == 2  # the shared client's retry ran first
    m = p.metrics()
    assert m["guidance/fallback_rate"] == 1.0 and m["guidance/failed/http_5xx"] == 1.0


def test_timeout_and_empty_fall_back(fault_server):
    fault_server.script_requests(Hang(5.0), Ok("   "))
    p = _provider(fault_server, max_retries=0, timeout_s=0.3)
    assert _instruction(p).source == "smart_failed"
    assert _instruction(p).source == "smart_failed"
    m = p.metrics()
    assert m["guidance/failed/timeout"] == 1.0 and m["guidance/failed/empty"] == 1.0


def test_leaking_hints_are_rejected_with_reasons(fault_server):
    fault_server.script_requests(
        Ok("The answer is 18."),
        Ok("You should end with \\boxed{18}."),
        Ok("She must have started with eighteen."),  # passes the format rules; the reference screen catches it
        Ok("Check the units in step 2."),
    )
    p = _provider(fault_server)
    out = [_instruction(p) for _ in range(4)]
    assert [g.source for g in out[:2]] == ["smart_rejected", "smart_rejected"]
    assert out[0].text == MATH_SELF_CORRECTION
    screened = [asyncio.run(p.screen(g, reference=GOLD)) for g in out[2:]]
    assert screened[0] == Guidance(MATH_SELF_CORRECTION, "smart_rejected")
    assert screened[1].source == "smart" and "step 2" in screened[1].text
    m = p.metrics()
    assert m["guidance/calls"] == 4.0
    assert m["guidance/rejected_rate"] == 0.75 and m["guidance/smart_rate"] == 0.25
    assert m["guidance/fallback_rate"] == 0.75
    assert m["guidance/rejected/final_answer"] == 2.0 and m["guidance/rejected/reference_answer"] == 1.0
    assert p.reset_metrics()["guidance/calls"] == 4.0 and p.metrics()["guidance/calls"] == 0.0


def test_registered_as_smart_and_built_from_plain_kwargs(fault_server):
    fault_server.set_default(guide_reply("Check the units in step 2."))  # the classifier (on by default) hears NO
    p = build_guidance_provider("smart", client={"base_url": fault_server.base_url})
    assert isinstance(p, SmartGuidance)
    assert p is build_guidance_provider("smart", client={"base_url": fault_server.base_url})  # cached per process
    assert _instruction(p, task="code").source == "smart"


def test_env_vars_configure_the_guide_endpoint(fault_server, monkeypatch):
    monkeypatch.setenv("GUIDE_API_BASE", fault_server.base_url)
    monkeypatch.setenv("GUIDE_API_KEY", "sk-guide-secret")
    fault_server.set_default(guide_reply("Check the units in step 2."))  # the classifier (on by default) hears NO
    p = SmartGuidance()
    assert _instruction(p).source == "smart"
    assert fault_server.requests[0].headers["Authorization"] == "Bearer sk-guide-secret"
    assert "sk-guide-secret" not in repr(p._backend.client.config)


class _FakeTokenizer:
    chat_template = "{{ messages }}"

    def apply_chat_template(self, messages, add_generation_prompt, tokenize):
        assert add_generation_prompt and tokenize
        return [ord(c) % 256 for c in json.dumps(messages)][:64]

    def decode(self, ids, skip_special_tokens):
        return bytes(ids).decode()


class _FakePolicy:
    """verl's token-level contract: generate(request_id, *, prompt_ids, sampling_params) -> .token_ids."""

    def __init__(self, reply: str):
        self.reply, self.calls = reply, []

    async def generate(self, request_id, *, prompt_ids, sampling_params, **kwargs):
        self.calls.append((request_id, list(prompt_ids), dict(sampling_params)))
        return SimpleNamespace(token_ids=list(self.reply.encode()), log_probs=None)


def test_policy_backend_uses_token_level_generate():
    p = SmartGuidance(backend="policy", verdict_classifier=False)  # one policy call per turn: the hint
    assert _instruction(p).source == "smart_failed"  # not attached yet: static, counted
    policy = _FakePolicy("Re-read the question: what is asked at the end?")
    p.attach_policy(policy, _FakeTokenizer())
    g = _instruction(p)
    assert g.source == "smart" and "what is asked" in g.text
    (_, prompt_ids, sampling), = policy.calls
    assert prompt_ids and sampling["max_tokens"] == 128
    assert p.metrics()["guidance/failed/policy_not_attached"] == 1.0


def test_screened_instruction_and_batch_rates(fault_server):
    from verl_score.teacher.guidance import rates_from_sources, screened_instruction

    fault_server.script_requests(Ok("Count again: eighteen."), Ok("Check the units in step 2."))
    p = _provider(fault_server)
    leak = asyncio.run(screened_instruction(p, PROBLEM, ATTEMPT, "math", reference=GOLD))
    hint = asyncio.run(screened_instruction(p, PROBLEM, ATTEMPT, "math", reference=GOLD))
    assert (leak.source, hint.source) == ("smart_rejected", "smart")
    # the guide's prompt never contained the gold, although the caller held it
    assert all("18" not in json.dumps(r.body["messages"]) for r in fault_server.requests)
    rates = rates_from_sources([["smart"], ["smart_rejected"], ["smart_failed"], ["smart"], ["static"]])
    assert rates == {"guidance/smart_rate": 0.5, "guidance/fallback_rate": 0.5, "guidance/rejected_rate": 0.25,
                     "guidance/failed_rate": 0.25}
