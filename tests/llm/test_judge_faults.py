"""llm_judge against the fault-injecting server: failures are counted and flagged, never a silent 0; the
failure-rate monitor stops the run."""

from __future__ import annotations

import asyncio
import json

import pytest

from testkit.fault_server import FaultServer, Hang, Malformed, Ok, Status
from verl_score.llm.failure_monitor import FailureRateExceeded, get_monitor
from verl_score.rewards.llm_judge import JudgeError, LLMJudgeReward, VerdictError, parse_verdict
from verl_score.rewards.registry import build_reward, registered_rewards

KEY = "sk-JUDGE-SECRET-42"


pytestmark = pytest.mark.usefixtures("fresh_monitors")


def judge(server: FaultServer, **kw) -> LLMJudgeReward:
    client = dict(base_url=server.base_url, api_key=KEY, backoff_base_s=0.01, backoff_max_s=0.02, max_retries=1)
    client.update(kw.pop("client", {}))
    kw.setdefault("on_failure", "score")
    if kw["on_failure"] == "score":
        kw.setdefault("failure_score", 0.0)
    return build_reward("llm_judge", client=client, **kw)  # type: ignore[return-value]


def run(j: LLMJudgeReward, solution: str = "x = 2", gt: str = "2") -> object:
    return asyncio.run(j(solution, gt, {"question": "Solve x + 1 = 3."}))


def test_registered() -> None:
    assert "llm_judge" in registered_rewards()


def test_equivalent_and_not(fault_server: FaultServer) -> None:
    fault_server.script_requests(
        Ok('{"equivalent": true, "reason": "same"}'), Ok('{"equivalent": false, "reason": "no"}')
    )
    j = judge(fault_server)
    yes, no = run(j), run(j)
    assert (yes.score, yes.failed, yes.extra["judge_failed"]) == (1.0, False, 0)
    assert (no.score, no.failed, no.extra["judge_failed"]) == (0.0, False, 0)
    assert set(yes.extra) == set(no.extra)
    body = fault_server.requests[0].body
    assert body["response_format"]["type"] == "json_schema"
    assert "Solve x + 1 = 3." in body["messages"][1]["content"] and "x = 2" in body["messages"][1]["content"]


def test_malformed_body_is_a_flagged_failure_not_a_silent_zero(fault_server: FaultServer) -> None:
    fault_server.set_default(Malformed())
    j = judge(fault_server, failure_score=-1.0)
    res = run(j)
    assert res.failed is True and res.extra["judge_failed"] == 1 and res.score == -1.0
    assert j.client.stats.failures["bad_response"] == 1 and len(fault_server.requests) == 2  # 1 retry, then give up


def test_non_json_verdict_is_reasked_then_a_failure(fault_server: FaultServer) -> None:
    fault_server.set_default(Ok("I think they are the same."))
    j = judge(fault_server, max_verdict_retries=2)
    res = run(j)
    assert res.failed is True and res.extra["judge_failed"] == 1 and res.extra["judge_calls"] == 3
    assert len(fault_server.requests) == 3
    assert j.stats.retries == 2 and j.stats.failures["bad_verdict"] == 1 and j.stats.successes == 0
    assert j.client.stats.successes == 3  # the HTTP calls themselves succeeded: the verdicts were the failure


def test_bad_verdict_then_good_recovers(fault_server: FaultServer) -> None:
    fenced = 'Sure! ```json\n{"equivalent": false, "reason": "r"}\n```'
    fault_server.script_requests(Ok('{"equivalent": "yes"}'), Ok(fenced))
    j = judge(fault_server, max_verdict_retries=1)
    res = run(j)
    assert res.failed is False and res.score == 0.0 and res.extra["judge_calls"] == 2
    assert j.stats.snapshot() | {"mean_latency_s": 0} == {
        "calls": 1, "successes": 1, "requests": 0, "retries": 1, "failures": 0, "mean_latency_s": 0,
        "errors/bad_verdict": 1,
    }


def test_on_failure_raise(fault_server: FaultServer) -> None:
    fault_server.set_default(Status(500))
    with pytest.raises(JudgeError) as info:
        run(judge(fault_server, on_failure="raise"))
    assert info.value.kind == "http_5xx" and KEY not in str(info.value)


def test_failure_score_must_be_explicit(fault_server: FaultServer) -> None:
    with pytest.raises(ValueError, match="failure_score"):
        LLMJudgeReward(client={"base_url": fault_server.base_url}, on_failure="score")
    with pytest.raises(ValueError, match="on_failure"):
        LLMJudgeReward(client={"base_url": fault_server.base_url}, on_failure="zero")


def test_hang_timeout_counts_as_judge_failure(fault_server: FaultServer) -> None:
    fault_server.set_default(Hang(30))
    j = judge(fault_server, client={"timeout_s": 0.3, "max_retries": 1})
    res = run(j)
    assert res.failed and j.client.stats.failures["timeout"] == 1 and j.client.stats.retries == 1


def test_threshold_stop(fault_server: FaultServer) -> None:
    """10% threshold, min 10 calls, window 20: 9 ok + 2 failures = 18% > 10% trips at the 11th call."""
    fault_server.script_requests(*[Ok() for _ in range(9)])
    fault_server.set_default(Status(500))
    j = judge(fault_server, client={"max_retries": 0}, monitor={"threshold": 0.10, "window": 20, "min_calls": 10})
    for _ in range(9):
        assert run(j).failed is False
    first_failure = run(j)  # 1/10 = 10%: not above the threshold yet
    assert first_failure.failed is True
    with pytest.raises(FailureRateExceeded) as info:
        run(j)  # 2/11 = 18%
    msg = str(info.value)
    assert "18.2%" in msg and "10.0%" in msg and "http_5xx" in msg
    assert fault_server.base_url in msg and KEY not in msg
    # latched: the next call stops before sending anything, for every judge sharing the process-wide monitor
    n = len(fault_server.requests)
    other = judge(fault_server)
    with pytest.raises(FailureRateExceeded):
        run(other)
    assert len(fault_server.requests) == n
    assert get_monitor("llm_judge").tripped


def test_monitor_needs_min_calls(fault_server: FaultServer) -> None:
    fault_server.set_default(Status(500))
    j = judge(fault_server, client={"max_retries": 0}, monitor={"threshold": 0.10, "window": 50, "min_calls": 5})
    for _ in range(4):  # 100% failures, but too few calls to judge the endpoint
        assert run(j).failed
    with pytest.raises(FailureRateExceeded):
        run(j)


def test_parse_verdict_is_strict() -> None:
    assert parse_verdict('{"equivalent": true, "reason": "a"}') == (True, "a")
    assert parse_verdict('Verdict: {"equivalent": false} done') == (False, "")
    bad_replies = ["", "yes", "{broken", "[true]", '{"reason": "x"}', '{"equivalent": "true"}', '{"equivalent": 1}']
    bad_replies.append('{"note": 1} {"equivalent": true}')  # the first object is the verdict; no cherry-picking
    for bad in bad_replies:
        with pytest.raises(VerdictError):
            parse_verdict(bad)


def test_endpoint_and_key_from_env(fault_server: FaultServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUDGE_API_BASE", fault_server.base_url)
    monkeypatch.setenv("JUDGE_API_KEY", KEY)
    j = LLMJudgeReward(client={"model": "judge-model"}, on_failure="raise")
    assert run(j).score == 1.0
    req = fault_server.requests[0]
    assert req.headers["Authorization"] == f"Bearer {KEY}" and json.dumps(req.body).count("judge-model") == 1
    assert KEY not in repr(j)


def test_built_from_yaml(fault_server: FaultServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hydra path: kwargs arrive as an OmegaConf node, nested ``extra_body`` included."""
    from omegaconf import OmegaConf

    monkeypatch.setenv("MY_JUDGE_KEY", KEY)
    kwargs = OmegaConf.create(
        f"""
        client: {{base_url: "{fault_server.base_url}", model: j, api_key_env: MY_JUDGE_KEY, timeout_s: 5,
                  extra_body: {{top_k: 1, chat_template_kwargs: {{enable_thinking: false}}}}}}
        on_failure: score
        failure_score: 0.0
        monitor: {{threshold: 0.2, window: 50, min_calls: 10}}
        """
    )
    j = build_reward("llm_judge", **kwargs)
    assert asyncio.run(j("4", "4", {})).score == 1.0
    req = fault_server.requests[0]
    assert req.body["top_k"] == 1 and req.body["chat_template_kwargs"] == {"enable_thinking": False}
    assert req.headers["Authorization"] == f"Bearer {KEY}"
    assert j.monitor.config.threshold == 0.2
