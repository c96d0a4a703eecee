"""Reward shaping for attempt k >= 2: registered shapings, each owning its parameters.

YAML (``score.shaping``)::

    shaping: {name: progress, kwargs: {alpha: 10.0}}     # the paper: r̂_k = r_k + α·(r_k − r_{k−1})
    shaping: {name: flip_bonus, kwargs: {bonus: 1.0}}    # r̂_k = r_k + b·1[attempt k−1 wrong ∧ attempt k right]
    shaping: {name: none}                                # Table 4's "without reward shaping" ablation

A shaping is a class registered under its name; its constructor's keyword parameters are its ``kwargs`` (so a new
shaping needs no edit to the config classes), and :func:`build_shaping` refuses an unknown name (listing the
registered ones) or an unknown parameter (listing the shaping's own). Switching shapings from the command line:
hydra merges a dict override into the node, so drop the old parameters first
(``~score.shaping.kwargs score.shaping.name=none``).

Why shaping: without it Stage II collapses to "repeat attempt 1" (paper §5.2); the bonus pays for *progress*
between attempts. It is added to attempt-k's reward only, never to attempt-1 tokens (γ = 0, App. A.2).

What a std normalisation does to it is a property of the shaping, :attr:`Shaping.cancelled_by_std`: the start-up
check (:func:`verl_score.training.credit.check_shaping_survives`) refuses an estimator that divides by a std together
with a shaping that such a division would cancel.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from verl_score.registry import Registry

__all__ = ["SHAPINGS", "Shaping", "build_shaping", "get_shaping_cls", "register_shaping", "shaping_params"]

SHAPINGS: Registry[type] = Registry("score.shaping.name", hint="set as score.shaping: {name: ..., kwargs: {...}}")


class Shaping:
    """A registered shaping: ``shaping(r_prev [B], r_cur [B], correct_threshold) -> shaped r_cur [B]``.

    Subclasses take their parameters as constructor keywords (a frozen dataclass is the usual form) and override
    :attr:`cancelled_by_std` when their bonus can be zero (the base says True: assume a shaping matters).
    """

    def __call__(self, r_prev: torch.Tensor, r_cur: torch.Tensor, correct_threshold: float) -> torch.Tensor:
        raise NotImplementedError

    @property
    def cancelled_by_std(self) -> bool:
        """True when dividing attempt k's advantage by a group / batch std would undo (most of) this shaping.

        A bonus that, with the previous attempt's reward equal across a group, is an affine map of r_k (progress,
        the flip bonus on binary rewards) normalises to exactly the unshaped advantage (docs/design.md).
        """
        return True


def register_shaping(name: str) -> Callable[[type], type]:
    """Register a :class:`Shaping` class under ``name`` (same idea as verl's ``register_adv_est``); anything else
    (an old-style shaping function ``f(r_prev, r_cur, ...)``) is a ``TypeError`` naming the class API."""
    add = SHAPINGS.register(name)

    def decorator(cls: type) -> type:
        if not (isinstance(cls, type) and issubclass(cls, Shaping)):
            raise TypeError(
                f"register_shaping({name!r}) got {cls!r}: a shaping is a subclass of "
                "verl_score.training.shaping.Shaping whose constructor keywords are its score.shaping.kwargs and whose "
                "__call__(r_prev, r_cur, correct_threshold) returns the shaped r_cur (e.g. a frozen dataclass; see "
                "Progress in verl_score/training/shaping.py)"
            )
        return add(cls)

    return decorator


def get_shaping_cls(name: str) -> type:
    return SHAPINGS.get(name)


def shaping_params(name: str) -> list[str]:
    """The parameter names shaping ``name`` accepts in ``score.shaping.kwargs`` (``["*"]``: any)."""
    sig = inspect.signature(get_shaping_cls(name))
    if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        return ["*"]
    return sorted(p.name for p in sig.parameters.values() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))


def build_shaping(name: str, kwargs: Mapping[str, Any] | None = None) -> Shaping:
    """The shaping ``name`` built with ``kwargs``; unknown names and parameters are ``ValueError`` listing what is
    valid (``UnknownPluginError`` for the name)."""
    cls = get_shaping_cls(name)
    kwargs = dict(kwargs or {})
    params = shaping_params(name)
    unknown = sorted(set(kwargs) - set(params)) if params != ["*"] else []
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {unknown} in score.shaping.kwargs for shaping {name!r}; its parameters: {params}"
            " (switching shapings: on the command line ~score.shaping.kwargs score.shaping.name=...; in a YAML that"
            " extends a SCoRe config, `shaping: {name: ..., kwargs: null}` -- YAML merges kwargs into the base's,"
            " null replaces them)"
        )
    shaping = cls(**kwargs)
    if not callable(shaping):
        raise TypeError(f"shaping {name!r} built {shaping!r}, which is not callable")
    return shaping


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"score.shaping.kwargs.{name} must be a number, got {value!r}")
    return float(value)


class _WeightedBonus(Shaping):
    """A bonus scaled by one numeric weight, the dataclass field named by ``WEIGHT``: the weight is checked to be a
    number on construction, and a std cancels the shaping exactly when the weight is not zero (weight 0 is no bonus,
    so nothing is there to cancel)."""

    WEIGHT: ClassVar[str]

    def __post_init__(self):
        object.__setattr__(self, self.WEIGHT, _number(self.WEIGHT, getattr(self, self.WEIGHT)))

    @property
    def cancelled_by_std(self) -> bool:
        return getattr(self, self.WEIGHT) != 0


@register_shaping("progress")
@dataclass(frozen=True)
class Progress(_WeightedBonus):
    """The paper's Stage II bonus: r̂_k = r_k + α·(r_k − r_{k−1}) (α = 10, "ideally larger than 1.0")."""

    WEIGHT: ClassVar[str] = "alpha"
    alpha: float = 10.0

    def __call__(self, r_prev, r_cur, correct_threshold):
        return r_cur + self.alpha * (r_cur - r_prev)


@register_shaping("flip_bonus")
@dataclass(frozen=True)
class FlipBonus(_WeightedBonus):
    """r̂_k = r_k + b·1[attempt k−1 wrong ∧ attempt k right]: pays only incorrect→correct flips."""

    WEIGHT: ClassVar[str] = "bonus"
    bonus: float = 1.0

    def __call__(self, r_prev, r_cur, correct_threshold):
        flipped = (r_prev < correct_threshold) & (r_cur >= correct_threshold)
        return r_cur + self.bonus * flipped.to(r_cur.dtype)


@register_shaping("none")
@dataclass(frozen=True)
class NoShaping(Shaping):
    """r̂_k = r_k (the "without reward shaping" ablation, Table 4)."""

    def __call__(self, r_prev, r_cur, correct_threshold):
        return r_cur.clone()

    @property
    def cancelled_by_std(self) -> bool:
        return False
