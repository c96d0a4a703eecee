"""A process-wide failure-rate circuit breaker for LLM-backed rewards.

Scoring failed judge calls with a fallback value keeps a run going through a few blips, but when the endpoint is
down or the judge model emits garbage, every reward becomes the fallback and training optimises noise. The
monitor watches the last ``window`` outcomes and, past ``threshold`` (after ``min_calls``), trips: every later
``check`` raises ``FailureRateExceeded`` so the run stops with a message saying why. It is shared per name across
all judge instances of a process (verl may build several), hence the module-level registry.
"""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass
from typing import Any, Mapping


class FailureRateExceeded(RuntimeError):
    """Too many LLM calls failed recently; raised to stop the run rather than train on fallback rewards."""


@dataclass(frozen=True)
class MonitorConfig:
    """``threshold``: failure fraction that trips (strictly above); ``window``: outcomes considered."""

    threshold: float = 0.10
    window: int = 200
    min_calls: int = 20

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {self.threshold}")
        if self.window < 1 or self.min_calls < 1 or self.min_calls > self.window:
            raise ValueError(f"need 1 <= min_calls <= window, got min_calls={self.min_calls} window={self.window}")


class FailureRateMonitor:
    """Sliding window of ok/failed outcomes with a latch once the rate passes the threshold."""

    def __init__(self, name: str, config: MonitorConfig | None = None):
        self.name = name
        self.config = config or MonitorConfig()
        self._outcomes: collections.deque[bool] = collections.deque(maxlen=self.config.window)
        self._last_kinds: collections.deque[str] = collections.deque(maxlen=5)
        self._tripped: str | None = None
        self._lock = threading.Lock()

    def record(self, ok: bool, kind: str | None = None, endpoint: str = "") -> None:
        """Add one outcome; trips the monitor if the rate now exceeds the threshold (raises at once)."""
        with self._lock:
            self._outcomes.append(ok)
            if not ok:
                self._last_kinds.append(kind or "unknown")
            n = len(self._outcomes)
            failures = n - sum(self._outcomes)
            rate = failures / n
            if self._tripped is None and n >= self.config.min_calls and rate > self.config.threshold:
                self._tripped = (
                    f"{self.name}: failure rate {rate:.1%} ({failures}/{n} of the last calls) exceeds the threshold "
                    f"{self.config.threshold:.1%}; last error kinds: {list(self._last_kinds)}; endpoint: "
                    f"{endpoint or '<unknown>'}. Stopping instead of training on fallback rewards — check the "
                    f"endpoint, or raise the threshold in the judge's `monitor` config."
                )
        self.check()

    def check(self) -> None:
        """Raise ``FailureRateExceeded`` if the monitor has tripped."""
        if self._tripped is not None:
            raise FailureRateExceeded(self._tripped)

    @property
    def tripped(self) -> bool:
        return self._tripped is not None

    def rate(self) -> float:
        with self._lock:
            n = len(self._outcomes)
            return (n - sum(self._outcomes)) / n if n else 0.0

    def reset(self) -> None:
        with self._lock:
            self._outcomes.clear()
            self._last_kinds.clear()
            self._tripped = None


_MONITORS: dict[str, FailureRateMonitor] = {}
_MONITORS_LOCK = threading.Lock()


def get_monitor(name: str, config: MonitorConfig | Mapping[str, Any] | None = None) -> FailureRateMonitor:
    """The process-wide monitor called ``name``; the first caller's config wins, a conflicting one is an error."""
    cfg = MonitorConfig(**config) if isinstance(config, Mapping) else config
    with _MONITORS_LOCK:
        mon = _MONITORS.get(name)
        if mon is None:
            mon = _MONITORS[name] = FailureRateMonitor(name, cfg)
        elif cfg is not None and cfg != mon.config:
            raise ValueError(f"monitor {name!r} already exists with {mon.config}, not {cfg}")
        return mon


def reset_monitors() -> None:
    """Forget all monitors (tests; a new run in the same process)."""
    with _MONITORS_LOCK:
        _MONITORS.clear()
