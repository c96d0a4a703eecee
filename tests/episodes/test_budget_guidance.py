"""Budgeting, guidance providers, task routing and YAML wiring of ``score_two_attempt`` (instant engine, real
Qwen2.5 tokenizer; no model needed)."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest
from omegaconf import OmegaConf

from verl.experimental.agent_loop.agent_loop import _agent_loop_registry

from verl_score.episodes.budget import AttemptBudget, BudgetError
from verl_score.contracts.guidance import Guidance, register_guidance
from verl_score.episodes.guidance import StaticGuidance, build_guidance_provider
from verl_score.episodes.output import ScoreAgentLoopOutput
from verl_score.episodes.two_attempt import ScoreTwoAttemptAgentLoop, resolve_task
from verl_score.episodes.worker_build import instantiate_agent_loop
from verl_score.prompts import MATH_SELF_CORRECTION

from tests.episodes.conftest import GREEDY, PROBLEM, CannedServerManager, make_loop, trainer_config

REPO = pathlib.Path(__file__).resolve().parents[2]


def im_end(tokenizer) -> int:
    return tokenizer.convert_tokens_to_ids("<|im_end|>")


# ---------------------------------------------------------------- budget
def test_budget_split_and_leftovers():
    b = AttemptBudget.create(response_length=300, num_attempts=2, instruction_reserve=100)
    assert b.max_tokens_for(1, used=0) == 100  # (300 - 100) // 2
    assert b.max_tokens_for(2, used=10 + 90) == 200  # attempt 1 stopped after 10, instruction took 90: all the rest
    b3 = AttemptBudget.create(response_length=400, num_attempts=3, instruction_reserve=50)
    assert b3.max_tokens_for(1, used=0) == 100  # (400 - 2*50) // 3
    capped = AttemptBudget.create(
        response_length=300, num_attempts=2, instruction_reserve=100, attempt_max_tokens=[50, 150]
    )
    assert capped.max_tokens_for(1, used=0) == 50 and capped.max_tokens_for(2, used=140) == 150


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(response_length=150, num_attempts=2, instruction_reserve=100), "cannot hold 2 attempts"),
        (dict(response_length=300, num_attempts=2, instruction_reserve=100, attempt_max_tokens=150), "exceed"),
        (dict(response_length=300, num_attempts=2, instruction_reserve=100, attempt_max_tokens=[64]), "per attempt"),
        (dict(response_length=300, num_attempts=2, instruction_reserve=10, attempt_max_tokens=[8, 64]), "below"),
    ],
)
def test_budget_errors(kwargs, match):
    with pytest.raises(BudgetError, match=match):
        AttemptBudget.create(**kwargs)


@pytest.mark.asyncio
async def test_impossible_budget_fails_at_construction(tokenizer):
    manager = CannedServerManager([11, 12])
    with pytest.raises(BudgetError, match=r"response_length=120 cannot hold 2 attempts of >= 32 tokens"):
        make_loop(manager, tokenizer, response_length=120)
    with pytest.raises(BudgetError, match="cannot hold 3 attempts"):
        make_loop(manager, tokenizer, response_length=256, num_attempts=3)
    assert manager.requests == []


@pytest.mark.asyncio
async def test_last_attempt_never_truncated_away(tokenizer):
    """An engine that never stops: attempt 1 gets only its share, attempt 2 the rest, total == response_length."""
    manager = CannedServerManager(list(range(2000, 2600)), stop=None)
    loop = make_loop(manager, tokenizer, response_length=300)
    out = await loop.run(dict(GREEDY), raw_prompt=PROBLEM)
    first, second = (r["max_tokens"] for r in manager.requests)
    reserve = loop.instruction_reserve
    assert first == (300 - reserve) // 2
    assert out.attempt_index.count(1) == first and out.attempt_index.count(2) == second > 0
    assert len(out.response_ids) == 300  # nothing was cut: everything was budgeted
    assert out.extra_fields["attempt_truncated"] == [True, True]


@pytest.mark.asyncio
async def test_early_stop_hands_slack_to_next_attempt(tokenizer):
    manager = CannedServerManager([2001, 2002, 2003], stop=im_end(tokenizer))
    loop = make_loop(manager, tokenizer, response_length=300)
    out = await loop.run(dict(GREEDY), raw_prompt=PROBLEM)
    used_before_attempt2 = len(out.response_ids) - out.attempt_index.count(2)
    assert manager.requests[1]["max_tokens"] == 300 - used_before_attempt2
    assert out.extra_fields["attempt_truncated"] == [False, False]
    assert out.extra_fields["attempt_texts"] == [tokenizer.decode([2001, 2002, 2003])] * 2


@pytest.mark.asyncio
async def test_correct_first_attempt_does_not_end_episode(tokenizer):
    answer = tokenizer.encode("Final Answer: The final answer is $5$. I hope it is correct.")
    manager = CannedServerManager(answer, stop=im_end(tokenizer))
    loop = make_loop(manager, tokenizer, num_attempts=3, response_length=512)
    out = await loop.run(dict(GREEDY), raw_prompt=PROBLEM, reward_model={"ground_truth": "5"})
    assert len(manager.requests) == 3 and out.extra_fields["num_attempts"] == 3
    assert len({r["request_id"] for r in manager.requests}) == 1  # one sticky request id per episode
    assert out.extra_fields["min_global_steps"] == 4 and out.extra_fields["max_global_steps"] == 6


@pytest.mark.asyncio
async def test_no_rollout_logprobs(tokenizer):
    class NoLogprobs(CannedServerManager):
        async def generate(self, request_id, **kw):
            out = await super().generate(request_id, **kw)
            return out.model_copy(update={"log_probs": None})

    out = await make_loop(NoLogprobs([5, 6, 7]), tokenizer).run(dict(GREEDY), raw_prompt=PROBLEM)
    assert out.response_logprobs is None
    d = out.as_dict()
    assert "rollout_log_probs" not in d and d["attempt_index"].shape == d["response_mask"].shape


def test_output_rejects_misaligned_attempt_index():
    with pytest.raises(ValueError, match="one entry per response token"):
        ScoreAgentLoopOutput(prompt_ids=[1], response_ids=[2, 3], response_mask=[1, 1], attempt_index=[1], metrics={})


# ---------------------------------------------------------------- guidance
class SpyGuidance:
    """Records what it is shown; returns a fixed hint (or an over-long one)."""

    name = "spy"

    def __init__(self, text: str = "Check each step once more.", max_text_tokens: int | None = 16):
        self.text, self.max_text_tokens, self.calls = text, max_text_tokens, []

    async def instruction(self, problem_messages, previous_attempt_text, task, *, attempt, previous_attempts):
        self.calls.append(dict(problem=problem_messages, previous=previous_attempt_text, task=task, attempt=attempt,
                               previous_attempts=list(previous_attempts)))
        return Guidance(self.text, "spy")


register_guidance("test_spy")(SpyGuidance)


@pytest.mark.asyncio
async def test_guidance_provider_selected_by_kwarg(tokenizer):
    manager = CannedServerManager([2001, 2002], stop=im_end(tokenizer))
    loop = make_loop(manager, tokenizer, guidance="test_spy", num_attempts=3, response_length=400)
    out = await loop.run(dict(GREEDY), raw_prompt=PROBLEM, extra_info={"task": "math", "answer": "5"})
    spy = loop.guidance_provider
    assert isinstance(spy, SpyGuidance) and out.extra_fields["guidance"] == ["spy", "spy"]
    zeros = tokenizer.decode([t for t, m in zip(out.response_ids, out.response_mask) if m == 0])
    assert zeros.count("Check each step once more.") == 2
    # the provider sees the problem and the attempts only -- never extra_info or the reward model
    call = spy.calls[-1]
    assert call["problem"] == PROBLEM and call["attempt"] == 3 and len(call["previous_attempts"]) == 2
    assert "5" not in repr(call)


@pytest.mark.asyncio
async def test_overlong_guidance_falls_back_to_static(tokenizer):
    manager = CannedServerManager([2001, 2002], stop=im_end(tokenizer))
    loop = make_loop(manager, tokenizer, guidance="test_spy",
                     guidance_kwargs={"text": "hint " * 300, "max_text_tokens": 16}, response_length=300)
    out = await loop.run(dict(GREEDY), raw_prompt=PROBLEM)
    assert out.extra_fields["guidance"] == ["spy_rejected"]
    assert out.extra_fields["guidance_reasons"] == ["over_reserve"]  # the reason the per-reason metrics count
    zeros = tokenizer.decode([t for t, m in zip(out.response_ids, out.response_mask) if m == 0])
    assert MATH_SELF_CORRECTION in zeros and "hint" not in zeros


def test_guidance_registry():
    assert isinstance(build_guidance_provider("static"), StaticGuidance)
    assert build_guidance_provider("static") is build_guidance_provider("static")  # one per worker process
    with pytest.raises(ValueError, match="unknown guidance provider 'nope'"):
        build_guidance_provider("nope")


# ---------------------------------------------------------------- task routing
def test_resolve_task():
    assert resolve_task({"extra_info": {"task": "code"}, "ability": "math"}) == "code"
    assert resolve_task({"ability": "MATH"}) == "math"
    assert resolve_task({"ability": "Python"}) == "code"
    assert resolve_task({}) == "math"
    with pytest.raises(ValueError, match="unknown SCoRe task"):
        resolve_task({"ability": "chess"})
    with pytest.raises(ValueError, match="no default_task"):
        resolve_task({}, default=None)


# ---------------------------------------------------------------- YAML wiring, as verl's AgentLoopWorker does it
@pytest.mark.asyncio
async def test_agent_loops_yaml_instantiates_like_verl(tokenizer, monkeypatch):
    entries = OmegaConf.load(REPO / "configs" / "agent_loops.yaml")
    assert _agent_loop_registry["score_two_attempt"]["_target_"].endswith("ScoreTwoAttemptAgentLoop")  # @register
    monkeypatch.setattr(
        "verl.experimental.agent_loop.agent_loop._agent_loop_registry", dict(_agent_loop_registry), raising=True
    )
    from verl.experimental.agent_loop import agent_loop as al

    for entry in entries:
        al._agent_loop_registry[entry.name] = entry
    cfg = trainer_config(response_length=1024)
    built: dict[str, Any] = {}
    for name in ("score_two_attempt", "score_k_attempt"):
        built[name] = instantiate_agent_loop(al._agent_loop_registry[name], cfg,
                                             CannedServerManager([7, 8], stop=im_end(tokenizer)), tokenizer)
        assert isinstance(built[name], ScoreTwoAttemptAgentLoop)
    # no run config here (no score block): the default K; a composed run config's K: tests/episodes/test_run_settings.py
    assert built["score_two_attempt"].num_attempts == 2 and built["score_k_attempt"].num_attempts == 2
    out = await built["score_k_attempt"].run(dict(GREEDY), raw_prompt=PROBLEM)
    assert out.extra_fields["num_attempts"] == 2 and out.extra_fields["guidance"] == ["static"]


@pytest.mark.asyncio
async def test_overlong_episode_is_cut_consistently(tokenizer, monkeypatch):
    """If an engine/budget ever overran rollout.response_length, every per-token field and the texts are cut alike."""
    manager = CannedServerManager(list(range(3000, 3400)), stop=None)
    loop = make_loop(manager, tokenizer, response_length=300)
    monkeypatch.setattr(loop, "budget", type("Unbounded", (), {"max_tokens_for": staticmethod(lambda a, used: 400)})())
    out = await loop.run(dict(GREEDY), raw_prompt=PROBLEM)
    lengths = {len(out.response_ids), len(out.response_mask), len(out.attempt_index), len(out.response_logprobs)}
    assert lengths == {300}
    assert out.attempt_index.count(1) == 300 and out.attempt_index.count(2) == 0  # attempt 1 alone overran
    kept = [t for t, a in zip(out.response_ids, out.attempt_index) if a == 1]
    assert out.extra_fields["attempt_texts"] == [tokenizer.decode(kept), ""]
    assert out.extra_fields["attempt_truncated"] == [True, True]
