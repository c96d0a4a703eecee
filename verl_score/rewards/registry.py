"""Name → reward-module class registry, in the style of verl's ``register_adv_est`` / ``register_policy_loss``.

Modules register with ``@register_reward("name")``; YAML picks them by name (``reward_kwargs.routes``), so swapping a
verifier is a one-line config change and adding one never touches an if-chain. The built-in modules are imported on
the first lookup of a name not registered yet (keeps ``import verl_score.rewards`` cheap).
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

from verl_score.registry import Registry
from verl_score.rewards.base import RewardModule

__all__ = ["REWARDS", "build_reward", "get_reward_cls", "register_reward", "registered_rewards"]

T = TypeVar("T", bound=type)

REWARDS: Registry[type] = Registry(
    "reward module",
    builtins=(
        "verl_score.rewards.math_equiv",
        "verl_score.rewards.exact_match",
        "verl_score.rewards.code_tests",
        "verl_score.rewards.llm_judge",
        "verl_score.rewards.key_step",
    ),
)


def register_reward(name: str) -> Callable[[T], T]:
    """Class decorator: make the reward module available under ``name``."""
    return REWARDS.register(name)


def get_reward_cls(name: str) -> type:
    """Look up a registered module class; an unknown name lists the known ones (``UnknownPluginError``)."""
    return REWARDS.get(name)


def build_reward(name: str, **kwargs: Any) -> RewardModule:
    """Instantiate the module registered as ``name`` with its YAML kwargs."""
    return get_reward_cls(name)(**kwargs)


def registered_rewards() -> list[str]:
    return REWARDS.names()
