"""Counters for every call an ``LLMClient`` makes, readable and resettable per training step.

A judge that quietly retries half its requests, or drops 2% of them, changes rewards without any error; these
counters make that visible in verl's metrics (``snapshot(prefix)`` returns flat numbers) and let tests assert exact
retry counts. Updates can come from several event loops / threads (async callers plus the sync wrapper's loop), so
they are guarded by a lock.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class CallStats:
    """``calls``: logical calls; ``requests``: HTTP attempts; ``retries``: re-attempts; ``errors``: per-attempt error
    kinds (retried or not); ``failures``: calls that finally failed, by the last error's kind."""

    calls: int = 0
    successes: int = 0
    requests: int = 0
    retries: int = 0
    errors: Counter = field(default_factory=Counter)
    failures: Counter = field(default_factory=Counter)
    latency_s_total: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def record_request(self) -> None:
        with self._lock:
            self.requests += 1

    def record_retry(self, kind: str) -> None:
        with self._lock:
            self.retries += 1
            self.errors[kind] += 1

    def record_success(self, latency_s: float) -> None:
        with self._lock:
            self.calls += 1
            self.successes += 1
            self.latency_s_total += latency_s

    def record_failure(self, kind: str, latency_s: float) -> None:
        with self._lock:
            self.calls += 1
            self.errors[kind] += 1
            self.failures[kind] += 1
            self.latency_s_total += latency_s

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    def snapshot(self, prefix: str = "") -> dict[str, float]:
        """Flat numeric view for metrics; ``prefix`` namespaces it (e.g. ``"judge/"``)."""
        with self._lock:
            out: dict[str, float] = {
                f"{prefix}calls": self.calls,
                f"{prefix}successes": self.successes,
                f"{prefix}requests": self.requests,
                f"{prefix}retries": self.retries,
                f"{prefix}failures": sum(self.failures.values()),
                f"{prefix}mean_latency_s": self.latency_s_total / self.calls if self.calls else 0.0,
            }
            for kind, n in sorted(self.failures.items()):
                out[f"{prefix}failures/{kind}"] = n
            for kind, n in sorted(self.errors.items()):
                out[f"{prefix}errors/{kind}"] = n
        return out

    def reset(self) -> dict[str, float]:
        """Zero the counters (start of a step) and return what they held."""
        snap = self.snapshot()
        with self._lock:
            self.calls = self.successes = self.requests = self.retries = 0
            self.errors.clear()
            self.failures.clear()
            self.latency_s_total = 0.0
        return snap
