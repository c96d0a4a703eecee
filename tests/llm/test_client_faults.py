"""LLMClient against the real-HTTP fault-injecting server: retries, Retry-After, timeouts, concurrency, key hygiene."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import threading
import time

import pytest

from testkit.fault_server import FaultServer, Hang, Malformed, Ok, Status
from verl_score.llm import LLMCallError, LLMClient, LLMClientConfig, LLMConfigError
from verl_score.llm.retry import backoff_delay, parse_retry_after

KEY = "sk-SECRET-0123456789abcdef"
MSG = [{"role": "user", "content": "hi"}]


def make_client(server: FaultServer, **kw) -> LLMClient:
    cfg = dict(base_url=server.base_url, model="m", api_key=KEY, backoff_base_s=0.01, backoff_max_s=0.05, timeout_s=2.0)
    cfg.update(kw)
    return LLMClient(cfg)


def test_500_500_200_succeeds_with_exactly_two_retries(fault_server: FaultServer) -> None:
    fault_server.script_requests(Status(500), Status(503), Ok(content="fine"))
    client = make_client(fault_server, max_retries=4)
    result = asyncio.run(client.chat(MSG))
    assert result.text == "fine"
    assert result.attempts == 3
    assert len(fault_server.requests) == 3
    assert client.stats.retries == 2
    assert client.stats.requests == 3
    assert client.stats.errors["http_5xx"] == 2
    assert client.stats.calls == 1 and client.stats.successes == 1 and client.stats.failed == 0
    # the key travelled in every request's Authorization header
    assert {r.headers["Authorization"] for r in fault_server.requests} == {f"Bearer {KEY}"}


def test_retries_exhausted_is_a_counted_failure(fault_server: FaultServer) -> None:
    fault_server.set_default(Status(500))
    client = make_client(fault_server, max_retries=2)
    with pytest.raises(LLMCallError) as info:
        asyncio.run(client.chat(MSG))
    assert info.value.kind == "http_5xx" and info.value.attempts == 3 and info.value.status == 500
    assert len(fault_server.requests) == 3
    assert client.stats.failures["http_5xx"] == 1 and client.stats.retries == 2 and client.stats.successes == 0


def test_429_retry_after_seconds_is_honoured(fault_server: FaultServer) -> None:
    fault_server.script_requests(Status(429, retry_after="1"), Ok())
    client = make_client(fault_server)
    t0 = time.monotonic()
    asyncio.run(client.chat(MSG))
    first, second = fault_server.requests
    assert second.started - first.finished >= 1.0  # server-observed gap, not just client wall time
    assert time.monotonic() - t0 < 1.0 + 0.1 * 1.0 + 1.0  # capped jitter, no extra backoff on top
    assert client.stats.errors["http_429"] == 1 and client.stats.retries == 1


def test_retry_after_is_capped(fault_server: FaultServer) -> None:
    fault_server.script_requests(Status(429, retry_after="3600"), Ok())
    client = make_client(fault_server, retry_after_max_s=0.2)
    t0 = time.monotonic()
    asyncio.run(client.chat(MSG))
    assert time.monotonic() - t0 < 2.0


def test_retry_after_parsing() -> None:
    now = time.time()
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after(" 1.5 ") == 1.5
    http_date = email.utils.formatdate(now + 30, usegmt=True)
    assert 28.0 <= parse_retry_after(http_date, now=now) <= 31.0
    assert parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now=now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
    # backoff: equal jitter within [d/2, d], exponential, capped; Retry-After wins and is capped
    assert all(0.5 <= backoff_delay(0, 1.0, 8.0) <= 1.0 for _ in range(50))
    assert all(4.0 <= backoff_delay(3, 1.0, 8.0) <= 8.0 for _ in range(50))
    assert all(4.0 <= backoff_delay(10, 1.0, 8.0) <= 8.0 for _ in range(50))
    assert 5.0 <= backoff_delay(0, 1.0, 8.0, retry_after_s=5.0) <= 5.5
    assert 2.0 <= backoff_delay(0, 1.0, 8.0, retry_after_s=500.0, retry_after_max_s=2.0) <= 2.2


def test_hang_times_out_is_retried_and_counted(fault_server: FaultServer) -> None:
    fault_server.script_requests(Hang(30), Ok(content="after hang"))
    client = make_client(fault_server, timeout_s=0.5)
    t0 = time.monotonic()
    result = asyncio.run(client.chat(MSG))
    assert result.text == "after hang" and result.attempts == 2
    assert 0.5 <= time.monotonic() - t0 < 5.0
    assert client.stats.errors["timeout"] == 1 and client.stats.retries == 1 and len(fault_server.requests) == 2


def test_hang_every_time_fails_as_timeout(fault_server: FaultServer) -> None:
    fault_server.set_default(Hang(30))
    client = make_client(fault_server, timeout_s=0.3, max_retries=1)
    with pytest.raises(LLMCallError) as info:
        asyncio.run(client.chat(MSG))
    assert info.value.kind == "timeout" and info.value.attempts == 2
    assert client.stats.failures["timeout"] == 1 and client.stats.errors["timeout"] == 2


def test_malformed_body_is_retried_then_a_failure(fault_server: FaultServer) -> None:
    fault_server.set_default(Malformed())
    client = make_client(fault_server, max_retries=1)
    with pytest.raises(LLMCallError) as info:
        asyncio.run(client.chat(MSG))
    assert info.value.kind == "bad_response"
    assert len(fault_server.requests) == 2 and client.stats.failures["bad_response"] == 1


def test_client_error_is_not_retried(fault_server: FaultServer) -> None:
    fault_server.set_default(Status(400))
    client = make_client(fault_server, max_retries=3)
    with pytest.raises(LLMCallError) as info:
        asyncio.run(client.chat(MSG))
    assert info.value.kind == "http_400" and len(fault_server.requests) == 1 and client.stats.retries == 0


def test_connection_refused_is_retried_and_counted() -> None:
    with FaultServer() as server:
        url = server.base_url
    client = LLMClient(base_url=url, api_key=KEY, backoff_base_s=0.01, max_retries=2, timeout_s=2.0)
    with pytest.raises(LLMCallError) as info:
        asyncio.run(client.chat(MSG))
    assert info.value.kind == "connection" and info.value.attempts == 3
    assert client.stats.errors["connection"] == 3 and client.stats.failures["connection"] == 1


def test_concurrency_limit_is_respected(fault_server: FaultServer) -> None:
    fault_server.set_default(Ok(latency_s=0.05))
    client = make_client(fault_server, concurrency=4)

    async def many() -> None:
        await asyncio.gather(*(client.chat(MSG) for _ in range(40)))

    asyncio.run(many())
    assert len(fault_server.requests) == 40
    assert fault_server.max_in_flight == 4  # reached, never exceeded
    assert client.stats.successes == 40


def test_sync_wrapper_from_many_threads_shares_the_cap(fault_server: FaultServer) -> None:
    fault_server.set_default(Ok(latency_s=0.05))
    client = make_client(fault_server, concurrency=3)
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(client.chat_sync(MSG).text)) for _ in range(12)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=20)
    finally:
        client.close()
    assert len(results) == 12 and fault_server.max_in_flight == 3


def test_stats_snapshot_and_reset(fault_server: FaultServer) -> None:
    fault_server.script_requests(Status(502), Ok())
    client = make_client(fault_server)
    asyncio.run(client.chat(MSG))
    snap = client.stats.snapshot("judge/")
    assert snap["judge/calls"] == 1 and snap["judge/retries"] == 1 and snap["judge/errors/http_5xx"] == 1
    assert all(isinstance(v, (int, float)) for v in snap.values())
    before = client.stats.reset()
    assert before["calls"] == 1
    assert client.stats.snapshot()["calls"] == 0 and client.stats.retries == 0 and not client.stats.errors


def test_key_never_in_repr_str_errors_or_logs(fault_server: FaultServer, caplog: pytest.LogCaptureFixture) -> None:
    cfg = LLMClientConfig(base_url=fault_server.base_url, api_key=KEY, backoff_base_s=0.01, max_retries=1)
    assert KEY not in repr(cfg) and KEY not in str(cfg) and "***" in repr(cfg)
    client = LLMClient(cfg)
    assert KEY not in repr(client)
    fault_server.script_requests(Status(500), Ok())
    fault_server.set_default(Status(401))
    with caplog.at_level(logging.DEBUG):
        asyncio.run(client.chat(MSG))
        with pytest.raises(LLMCallError) as info:
            asyncio.run(client.chat(MSG))
    assert KEY not in str(info.value) and KEY not in repr(info.value)
    # per-attempt DEBUG records and retry WARNINGs were captured (where a header or config dump would leak)
    assert any(r.levelno == logging.DEBUG and "chat/completions" in r.getMessage() for r in caplog.records)
    assert any(r.name.startswith("verl_score.llm") and r.levelno == logging.WARNING for r in caplog.records)
    assert KEY not in caplog.text
    # ...while the server did receive it
    assert fault_server.requests[0].headers["Authorization"] == f"Bearer {KEY}"


def test_key_and_endpoint_from_env(fault_server: FaultServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEACHER_API_BASE", fault_server.base_url)
    monkeypatch.setenv("TEACHER_API_KEY", KEY)
    cfg = LLMClientConfig.from_dict({"base_url_env": "TEACHER_API_BASE", "api_key_env": "TEACHER_API_KEY"})
    client = LLMClient(cfg)
    asyncio.run(client.chat(MSG))
    assert fault_server.requests[0].headers["Authorization"] == f"Bearer {KEY}"
    assert KEY not in repr(cfg)
    with pytest.raises(LLMConfigError, match="unknown LLM client option"):
        LLMClientConfig.from_dict({"base_ulr": "x"})
    monkeypatch.delenv("TEACHER_API_BASE")
    with pytest.raises(LLMConfigError, match="TEACHER_API_BASE"):
        LLMClient(cfg)


def test_url_credentials_are_redacted() -> None:
    cfg = LLMClientConfig(base_url="https://user:pw@example.com:8443/v1?key=abc")
    assert cfg.safe_endpoint() == "https://example.com:8443/v1"
