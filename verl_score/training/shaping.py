"""Reward shaping for attempt k >= 2, as a registry of pure functions (choose one in YAML: ``score.shaping.name``).

Why shaping: without it Stage II collapses to "repeat attempt 1" (paper §5.2); the bonus pays for *progress*
between attempts. It is added to attempt-k's reward only, never to attempt-1 tokens (γ = 0, App. A.2).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from verl_score.registry import Registry
from verl_score.training.config import ShapingConfig

__all__ = ["SHAPINGS", "get_shaping_fn", "register_shaping"]

#: fn(r_prev: [B], r_cur: [B], cfg: ShapingConfig, correct_threshold: float) -> shaped r_cur: [B]
ShapingFn = Callable[[torch.Tensor, torch.Tensor, ShapingConfig, float], torch.Tensor]
SHAPINGS: Registry[ShapingFn] = Registry("score.shaping.name")


def register_shaping(name: str) -> Callable[[ShapingFn], ShapingFn]:
    """Register a shaping function under ``name`` (same idea as verl's ``register_adv_est``)."""
    return SHAPINGS.register(name)


def get_shaping_fn(name: str) -> ShapingFn:
    return SHAPINGS.get(name)


@register_shaping("progress")
def progress_bonus(r_prev: torch.Tensor, r_cur: torch.Tensor, cfg: ShapingConfig, correct_threshold: float):
    """The paper's Stage II bonus: r̂_k = r_k + α·(r_k − r_{k−1}) (α = 10). Shapes ``[B]`` → ``[B]``."""
    return r_cur + cfg.alpha * (r_cur - r_prev)


@register_shaping("flip_bonus")
def flip_bonus(r_prev: torch.Tensor, r_cur: torch.Tensor, cfg: ShapingConfig, correct_threshold: float):
    """r̂_k = r_k + b·1[attempt k−1 wrong ∧ attempt k right]: pays only incorrect→correct flips. ``[B]`` → ``[B]``."""
    flipped = (r_prev < correct_threshold) & (r_cur >= correct_threshold)
    return r_cur + cfg.flip_bonus * flipped.to(r_cur.dtype)


@register_shaping("none")
def no_shaping(r_prev: torch.Tensor, r_cur: torch.Tensor, cfg: ShapingConfig, correct_threshold: float):
    """r̂_k = r_k (the "without reward shaping" ablation, Table 4)."""
    return r_cur.clone()
