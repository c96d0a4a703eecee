"""The single retry policy of ``LLMClient``: what is retryable, and how long to wait.

Exactly one policy runs (no SDK retry loop underneath), so every attempt is counted in ``CallStats`` and
``Retry-After`` is capped by our config.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import time
from dataclasses import dataclass

import aiohttp

# Status codes worth another try: request timeout, conflict/lock, rate limit, and server-side errors.
_RETRYABLE_4XX = {408, 409, 429}


@dataclass(frozen=True)
class ErrorInfo:
    """A classified failure: ``kind`` is a short metric-friendly label; ``retry_after_s`` comes from the server."""

    kind: str
    retryable: bool
    status: int | None = None
    retry_after_s: float | None = None
    detail: str = ""


class BadResponseError(Exception):
    """The server answered 200 but the body is not a usable chat completion (malformed JSON, no choices...)."""


class HTTPStatusError(Exception):
    """The server answered with an error status; keeps ``Retry-After`` and a snippet of the body."""

    def __init__(self, status: int, body: str, retry_after: str | None = None):
        self.status = status
        self.body = body
        self.retry_after = retry_after
        super().__init__(f"HTTP {status}: {body[:200]}")


def classify(exc: BaseException) -> ErrorInfo:
    """Map an exception from one request attempt to an ``ErrorInfo``. Unknown exceptions are not retried."""
    # aiohttp's timeout errors are also ClientErrors, so timeouts are checked first.
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return ErrorInfo("timeout", True, detail=type(exc).__name__)
    if isinstance(exc, HTTPStatusError):
        status = exc.status
        retry_after = parse_retry_after(exc.retry_after)
        if status == 429:
            return ErrorInfo("http_429", True, status, retry_after, _short(exc))
        if status >= 500:
            return ErrorInfo("http_5xx", True, status, retry_after, _short(exc))
        return ErrorInfo(f"http_{status}", status in _RETRYABLE_4XX, status, retry_after, _short(exc))
    if isinstance(exc, (aiohttp.ClientError, ConnectionError)):
        return ErrorInfo("connection", True, detail=f"{type(exc).__name__}: {_short(exc)}")
    if isinstance(exc, (BadResponseError, json.JSONDecodeError)):
        return ErrorInfo("bad_response", True, detail=_short(exc))
    return ErrorInfo("other", False, detail=f"{type(exc).__name__}: {_short(exc)}")


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds from now: an integer/float of seconds or an HTTP date; ``None`` if absent/garbled."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if parsed is None:
            return None
        seconds = parsed.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def backoff_delay(
    retry_index: int,
    base_s: float,
    max_s: float,
    retry_after_s: float | None = None,
    retry_after_max_s: float = 60.0,
    rng: random.Random | None = None,
) -> float:
    """Wait before retry ``retry_index`` (0-based).

    Without ``Retry-After``: "equal jitter" on ``min(max_s, base_s * 2**k)``, i.e. uniform in [d/2, d], so clients
    that failed together do not retry together, yet the wait never collapses to zero. With ``Retry-After``: the
    server's value (capped), plus up to 10% jitter — never less than the server asked for.
    """
    r = rng.random() if rng is not None else random.random()
    if retry_after_s is not None:
        wait = min(retry_after_s, retry_after_max_s)
        return wait + 0.1 * wait * r
    d = min(max_s, base_s * (2**retry_index))
    return d / 2 + (d / 2) * r


def _short(exc: BaseException, limit: int = 200) -> str:
    text = str(exc).replace("\n", " ")
    return text if len(text) <= limit else text[:limit] + "..."
