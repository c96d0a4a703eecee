"""Reading a config node that may be an OmegaConf node, a plain mapping or a dataclass (the same run setting reaches
the dry run as composed YAML, the trainer as a ``DictConfig`` and the workers as dataclasses)."""

from __future__ import annotations

from typing import Any

__all__ = ["config_get", "to_plain"]


def config_get(node: Any, key: str, default: Any = None) -> Any:
    """``node[key]`` for a mapping or an OmegaConf node, ``node.key`` for a dataclass; ``default`` when absent."""
    if node is None:
        return default
    if hasattr(node, "get") and not hasattr(node, "__dataclass_fields__"):
        return node.get(key, default)
    return getattr(node, key, default)


def to_plain(value: Any) -> Any:
    """An OmegaConf node as plain Python containers (interpolations resolved); anything else unchanged."""
    from omegaconf import DictConfig, ListConfig, OmegaConf

    return OmegaConf.to_container(value, resolve=True) if isinstance(value, (DictConfig, ListConfig)) else value
