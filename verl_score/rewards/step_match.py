"""The step-matcher contract of the ``key_step`` reward: what a matcher returns (``StepMatch``) and where matchers
register.

Why its own module: ``key_step`` looks matchers up and ``llm_judge`` registers one; both depend on this module, so
neither imports the other at import time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

__all__ = ["StepMatch", "register_step_matcher"]

T = TypeVar("T", bound=type)

_MATCHERS: dict[str, type] = {}


@dataclass
class StepMatch:
    """``label``: ``teacher`` (matches the correction), ``mistake`` (repeats the error) or ``neither``."""

    label: str
    failed: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.label not in ("teacher", "mistake", "neither"):
            raise ValueError(f"StepMatch.label must be teacher/mistake/neither, got {self.label!r}")


def register_step_matcher(name: str) -> Callable[[T], T]:
    """Class decorator: make a step matcher selectable as ``key_step``'s ``matcher: name``."""

    def decorator(cls: T) -> T:
        existing = _MATCHERS.get(name)
        if existing is not None and existing is not cls:
            raise ValueError(f"step matcher {name!r} already registered to {existing.__qualname__}")
        _MATCHERS[name] = cls
        return cls

    return decorator
