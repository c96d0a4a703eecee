"""Name → reward-module class registry, in the style of verl's ``register_adv_est`` / ``register_policy_loss``.

Modules register with ``@register_reward("name")``; YAML picks them by name (``reward_kwargs.routes``), so swapping a
verifier is a one-line config change and adding one never touches an if-chain.
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

from verl_score.rewards.base import RewardModule

_REWARDS: dict[str, type] = {}

T = TypeVar("T", bound=type)


def register_reward(name: str) -> Callable[[T], T]:
    """Class decorator: make the reward module available under ``name``."""

    def decorator(cls: T) -> T:
        existing = _REWARDS.get(name)
        if existing is not None and existing is not cls:
            raise ValueError(f"reward module {name!r} already registered to {existing.__qualname__}")
        _REWARDS[name] = cls
        return cls

    return decorator


def get_reward_cls(name: str) -> type:
    """Look up a registered module class; an unknown name lists the known ones."""
    _import_builtin_modules()
    try:
        return _REWARDS[name]
    except KeyError:
        raise KeyError(f"unknown reward module {name!r}; registered: {sorted(_REWARDS)}") from None


def build_reward(name: str, **kwargs: Any) -> RewardModule:
    """Instantiate the module registered as ``name`` with its YAML kwargs."""
    return get_reward_cls(name)(**kwargs)


def registered_rewards() -> list[str]:
    _import_builtin_modules()
    return sorted(_REWARDS)


def _import_builtin_modules() -> None:
    """Import the built-in modules so their ``@register_reward`` decorators run (lazy: keeps import cheap)."""
    import importlib

    for mod in ("math", "exact_match", "code_tests", "llm_judge", "key_step"):
        importlib.import_module(f"verl_score.rewards.{mod}")
