"""The top-level ``score:`` config block, as frozen dataclasses.

Why our own dataclass and not verl's schema: verl's ``ppo_trainer`` has no ``score`` key, so hydra accepts whatever
our YAML puts there. Parsing it here, with unknown keys rejected, makes a mistyped knob (``score.alhpa``) a loud error
at start-up instead of a silently ignored setting. β1 is deliberately *not* here: it is verl's own
``actor_rollout_ref.actor.kl_loss_coef`` (one source of truth for the KL on all policy tokens).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from verl_score.contracts.run_settings import DEFAULT_NUM_ATTEMPTS, check_num_attempts
from verl_score.training.shaping import Shaping, build_shaping

__all__ = ["RewardFailureConfig", "ScheduleConfig", "ScoreConfig", "ShapingConfig", "UNBIASED_KL_GRAD_TYPES"]

#: verl ``kl_penalty`` types whose per-token *gradient*, on tokens sampled from π, is an unbiased estimate of
#: ∇ KL(π‖π_ref): k2 ("mse") and any "+" type (value of k1/k3, gradient of k2 through verl's straight-through).
#: Plain k1 has zero expected gradient and plain k3 / low_var_kl descends KL(π_ref‖π) (the reverse direction); see
#: tests/training/test_kl_direction.py.
UNBIASED_KL_GRAD_TYPES = frozenset({"mse", "k2", "k1+", "kl+", "k3+", "low_var_kl+", "mse+", "k2+"})


def _from_mapping(cls, data: Mapping[str, Any] | None, path: str):
    """Build dataclass ``cls`` from a mapping, rejecting unknown keys (a typo must not be silently ignored)."""
    if data is None:
        return cls()
    if dataclasses.is_dataclass(data):
        return data
    data = dict(data)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - names)
    if unknown:
        hint = " (a shaping's parameters go under score.shaping.kwargs)" if cls is ShapingConfig else ""
        raise ValueError(f"unknown key(s) {unknown} in `{path}`; valid keys: {sorted(names)}{hint}")
    kwargs = {}
    for f in dataclasses.fields(cls):
        if not f.init or f.name not in data:
            continue
        value = data[f.name]
        sub = (
            {"schedule": ScheduleConfig, "shaping": ShapingConfig, "reward_failure": RewardFailureConfig}.get(f.name)
            if cls is ScoreConfig
            else None
        )
        kwargs[f.name] = _from_mapping(sub, value, f"{path}.{f.name}") if sub is not None else value
    return cls(**kwargs)


@dataclass(frozen=True)
class ScheduleConfig:
    """Which SCoRe stage each global step trains.

    ``sequential`` (the paper): Stage I for ``stage1_steps`` steps, then Stage II until the run ends
    (``trainer.total_training_steps`` ends the run; the start-up check refuses a run whose Stage II would not be
    ``stage2_steps`` long: :mod:`verl_score.training.run_length`).
    ``interleave`` (a project choice, not in the paper): repeat [Stage I × ``stage1_steps``, Stage II ×
    ``stage2_steps``] — the period is ``stage1_steps + stage2_steps``.
    """

    mode: str = "sequential"
    stage1_steps: int = 0
    stage2_steps: int = 0

    def __post_init__(self):
        if self.mode not in ("sequential", "interleave"):
            raise ValueError(f"score.schedule.mode must be 'sequential' or 'interleave', got {self.mode!r}")
        if self.stage1_steps < 0 or self.stage2_steps < 0:
            raise ValueError("score.schedule.stage1_steps / stage2_steps must be >= 0")
        if self.mode == "interleave" and (self.stage1_steps == 0 or self.stage2_steps == 0):
            raise ValueError("score.schedule.mode=interleave needs stage1_steps > 0 and stage2_steps > 0")


@dataclass(frozen=True)
class ShapingConfig:
    """``score.shaping: {name, kwargs}``: a registered shaping and its own parameters
    (:mod:`verl_score.training.shaping`). Built, and so checked, at parse time: an unknown name lists the registered
    shapings, an unknown parameter lists the shaping's own."""

    name: str = "progress"
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    shaping: Shaping = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "kwargs", dict(self.kwargs or {}))
        object.__setattr__(self, "shaping", build_shaping(self.name, self.kwargs))

    @property
    def active(self) -> bool:
        """True when a std normalisation of the advantage would cancel this shaping (a property of the shaping)."""
        return bool(self.shaping.cancelled_by_std)


@dataclass(frozen=True)
class RewardFailureConfig:
    """When failed reward checks stop the run (``score.reward_failure``).

    An episode with a failed attempt check (verify timeout, sandbox down, judge error) is excluded from training and
    counted; the run stops once more than ``max_rate`` of the last ``window`` episodes were excluded (after at least
    ``min_episodes``) — like the judge's own monitor, so a broken verifier cannot silently empty every batch.
    """

    max_rate: float = 0.1
    window: int = 512
    min_episodes: int = 32

    def __post_init__(self):
        if not 0.0 <= self.max_rate <= 1.0:
            raise ValueError(f"score.reward_failure.max_rate must be in [0, 1], got {self.max_rate}")
        if self.window < 1 or self.min_episodes < 1 or self.min_episodes > self.window:
            raise ValueError("score.reward_failure needs 1 <= min_episodes <= window")


@dataclass(frozen=True)
class ScoreConfig:
    """SCoRe knobs. Defaults are the paper's MATH setting (App. B, Table 5)."""

    # β2: the strong KL(π‖π_ref) on attempt-1 tokens in Stage I (paper: 0.1 MATH, 0.25 MBPP).
    beta2: float = 0.1
    # Per-attempt credit estimator (verl_score.training.credit registry); None = algorithm.adv_estimator.
    adv_estimator: str | None = None
    # K, attempts per episode (the paper: 2); its one home: the agent loop reads it from here too
    # (verl_score.contracts.run_settings).
    num_attempts: int = DEFAULT_NUM_ATTEMPTS
    # Shape attempt-2 rewards in Stage I too. The paper's Stage I (Eq. 3) maximises the raw r̂(y2): False.
    shape_in_stage1: bool = False
    # A reward >= this counts as correct (shaping's flip bonus and the metrics).
    correct_threshold: float = 1.0
    # Refuse kl_loss_type values whose gradient is not an unbiased ∇KL(π‖π_ref) (k1, k3, low_var_kl without '+').
    require_unbiased_kl_grad: bool = True
    # Opt-in for an estimator that divides attempt k's advantage by a group/batch std (GRPO with
    # norm_adv_by_std_in_grpo, GAE's whitening) while shaping is on: that normalisation largely cancels α
    # (see docs/design.md "What each estimator does to α"). False = such a config is refused at start-up.
    allow_std_normalised_shaping: bool = False
    reward_failure: RewardFailureConfig = field(default_factory=RewardFailureConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    shaping: ShapingConfig = field(default_factory=ShapingConfig)

    def __post_init__(self):
        if self.beta2 < 0:
            raise ValueError("score.beta2 must be >= 0")
        object.__setattr__(self, "num_attempts", check_num_attempts(self.num_attempts))

    @classmethod
    def from_config(cls, data: Mapping[str, Any] | None) -> ScoreConfig:
        """Parse the ``score:`` block (a dict or an OmegaConf node); unknown keys raise ValueError."""
        if data is not None and not isinstance(data, Mapping) and not dataclasses.is_dataclass(data):
            raise TypeError(f"`score` must be a mapping, got {type(data).__name__}")
        if data is not None and not dataclasses.is_dataclass(data):
            try:
                from omegaconf import DictConfig, OmegaConf

                if isinstance(data, DictConfig):
                    data = OmegaConf.to_container(data, resolve=True)
            except ImportError:  # pragma: no cover - omegaconf ships with verl
                pass
        return _from_mapping(cls, data, "score")
