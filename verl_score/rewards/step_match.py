"""The step-matcher contract of the ``key_step`` reward: what a matcher returns (``StepMatch``) and where matchers
register.

Why its own module: ``key_step`` looks matchers up and ``llm_judge`` registers one; both depend on this module, so
neither imports the other at import time. The built-in matchers (``rule`` in ``key_step``, ``llm_judge`` in the judge
module) are imported on the first lookup of a name not registered yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

from verl_score.registry import Registry

__all__ = ["STEP_MATCHERS", "StepMatch", "get_step_matcher_cls", "register_step_matcher"]

T = TypeVar("T", bound=type)

STEP_MATCHERS: Registry[type] = Registry(
    "step matcher", builtins=("verl_score.rewards.key_step", "verl_score.rewards.llm_judge")
)


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
    return STEP_MATCHERS.register(name)


def get_step_matcher_cls(name: str) -> type:
    return STEP_MATCHERS.get(name)
