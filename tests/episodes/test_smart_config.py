"""SMART-SCoRe selected by config: ``score_math +guidance=smart`` (configs/guidance/smart.yaml) composed by hydra
reaches the real two-attempt loop through the trainer config verl hands it, and names the guide -- the policy when
no endpoint is given, an endpoint otherwise -- with the start-up behaviour the file documents for a guide that is
down: stop with a message, or fall back to the static instruction with every fallback counted."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from verl.experimental.agent_loop.agent_loop import DictConfigWrap

import verl_score.teacher.guidance  # noqa: F401  registers "smart" (verl_score.register does this in workers)
from tests.episodes.conftest import CannedServerManager
from tests.teacher.guide_replies import guide_reply
from verl_score.episodes.two_attempt import ScoreTwoAttemptAgentLoop
from verl_score.prompts import MATH_SELF_CORRECTION
from verl_score.teacher.guidance import GuideUnavailableError, SmartGuidance

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
ROW = {"raw_prompt": [{"role": "user", "content": "Melanie has 5 vacuum cleaners left. How many did she start with?"}],
       "extra_info": {"task": "math"}, "reward_model": {"ground_truth": "18"}}
GREEDY = {"temperature": 0.0, "top_p": 1.0, "top_k": -1}


def _composed(name: str = "score_math"):
    with initialize_config_dir(config_dir=str(CONFIGS), version_base=None):
        return compose(config_name=name, overrides=["+guidance=smart", "data.max_response_length=1024"])


def _loop(tokenizer, cfg):
    manager = CannedServerManager([2001, 2002], stop=tokenizer.convert_tokens_to_ids("<|im_end|>"))
    loop = ScoreTwoAttemptAgentLoop(  # as verl's worker builds it: the loop entry of configs/agent_loops.yaml names no
        trainer_config=DictConfigWrap(cfg), server_manager=manager, tokenizer=tokenizer, processor=None,  # guidance
        dataset_cls=None, data_config=DictConfigWrap(cfg.data), hf_model_type="qwen2", attempt_max_tokens=None,
        min_attempt_tokens=32, default_task="math")
    return manager, loop


def _dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"  # nothing listens there once the socket is closed


def test_overlay_changes_only_the_guidance():
    from hydra import compose as c

    smart = _composed()
    with initialize_config_dir(config_dir=str(CONFIGS), version_base=None):
        plain = c(config_name="score_math", overrides=["data.max_response_length=1024"])
    assert smart.guidance.name == "smart" and "guidance" not in plain
    from omegaconf import OmegaConf

    smart_rest = {k: v for k, v in OmegaConf.to_container(smart).items() if k != "guidance"}
    assert smart_rest == OmegaConf.to_container(plain)  # the SCoRe objective and hyperparameters are untouched
    assert _composed("score_code").guidance.name == "smart"  # the code twin


@pytest.mark.asyncio
async def test_no_guide_named_means_the_policy_guides_itself(tokenizer, monkeypatch):
    monkeypatch.delenv("GUIDE_API_BASE", raising=False)
    manager, loop = _loop(tokenizer, _composed())
    assert isinstance(loop.guidance_provider, SmartGuidance) and loop.guidance_provider.backend_kind == "policy"
    out = await loop.run(dict(GREEDY), **ROW)
    source, reason = out.extra_fields["guidance"][0], out.extra_fields["guidance_reasons"][0]
    # attempt 1, the policy writing the hint, the verdict classifier (on in smart.yaml) when the rules passed the
    # hint, attempt 2
    assert len(manager.requests) == 3 + (source == "smart" or reason.startswith("classifier_"))
    assert source in ("smart", "smart_rejected")
    assert loop.guidance_provider.classifier is not None  # the config's default


@pytest.mark.asyncio
async def test_endpoint_guide_writes_the_hint(tokenizer, monkeypatch, fault_server):
    fault_server.set_default(guide_reply("Re-check how many she sold at the red house."))  # classifier hears NO
    monkeypatch.setenv("GUIDE_API_BASE", fault_server.base_url)
    manager, loop = _loop(tokenizer, _composed())
    assert loop.guidance_provider.backend_kind == "endpoint" and loop.guidance_provider.unreachable is None
    out = await loop.run(dict(GREEDY), **ROW)
    assert out.extra_fields["guidance"] == ["smart"] and len(manager.requests) == 2


@pytest.mark.asyncio
async def test_guide_down_at_startup_stops_with_a_clear_message(tokenizer, monkeypatch):
    url = _dead_url()
    monkeypatch.setenv("GUIDE_API_BASE", url)
    monkeypatch.delenv("GUIDE_ON_UNREACHABLE", raising=False)  # the file's default: stop
    with pytest.raises(GuideUnavailableError, match=rf"{url}.*unreachable at start-up.*GUIDE_ON_UNREACHABLE"):
        _loop(tokenizer, _composed())


@pytest.mark.asyncio
async def test_guide_down_at_startup_falls_back_to_static_counted(tokenizer, monkeypatch):
    monkeypatch.setenv("GUIDE_API_BASE", _dead_url())
    monkeypatch.setenv("GUIDE_ON_UNREACHABLE", "fallback")
    manager, loop = _loop(tokenizer, _composed())
    provider = loop.guidance_provider
    assert provider.unreachable and provider.backend_kind == "endpoint"
    before = provider.metrics().get("guidance/failed/guide_unreachable", 0.0)
    out = await loop.run(dict(GREEDY), **ROW)
    assert out.extra_fields["guidance"] == ["smart_failed"] and len(manager.requests) == 2
    text = tokenizer.decode([t for t, m in zip(out.response_ids, out.response_mask) if m == 0])
    assert MATH_SELF_CORRECTION in text and "Suggestive Correction" not in text
    assert provider.metrics()["guidance/failed/guide_unreachable"] == before + 1
