"""The replay-buffer hook that removes verl's 2 s poll: it builds verl's own buffer class, only the interval differs."""

from __future__ import annotations

import inspect

import pytest
from omegaconf import OmegaConf
from verl.trainer.ppo.v1.replay_buffer import ReplayBuffer, ReplayBufferAsync

from verl_score.cpu.replay_buffer import DEFAULT_POLL_INTERVAL_S, HYDRA_OVERRIDES, make_replay_buffer


def _kwargs(mode: str, **sampler_kwargs):
    return dict(
        trainer_mode=mode,
        trainer_config=OmegaConf.create({}),
        max_off_policy_threshold=8,
        max_off_policy_strategy="drop",
        sampler_kwargs=OmegaConf.create(sampler_kwargs),
        refill_fn=lambda n: None,
    )


def test_verl_still_hard_codes_a_two_second_poll():
    """Why the hook exists (docs/cpu.md §2); if verl makes it configurable, switch to verl's key and drop the hook."""
    assert inspect.signature(ReplayBuffer.__init__).parameters["poll_interval"].default == 2.0
    assert "poll_interval" not in inspect.getsource(__import__("verl.trainer.ppo.v1.trainer_base", fromlist=["x"]).PPOTrainer._build_replay_buffer)


@pytest.mark.parametrize("mode, cls", [("sync", ReplayBuffer), ("score_sync", ReplayBufferAsync), ("colocate_async", ReplayBufferAsync)])
def test_same_class_as_verl_would_build_with_a_short_poll(mode, cls):
    buf = make_replay_buffer(**_kwargs(mode))
    assert type(buf) is cls and buf.poll_interval == DEFAULT_POLL_INTERVAL_S < 2.0
    assert make_replay_buffer(**_kwargs(mode, poll_interval=0.5)).poll_interval == 0.5


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="poll_interval"):
        make_replay_buffer(**_kwargs("sync", poll_interval=0))
    with pytest.raises(ValueError, match="sync_refill_failed_groups"):
        make_replay_buffer(**_kwargs("sync", sync_refill_failed_groups=True))


@pytest.mark.parametrize("launcher", ["run_tiny_score_cpu", "run_tiny_grpo_cpu", "run_tiny_score_rl_cpu",
                                      "run_smollm2_score_cpu"])
def test_cpu_launchers_select_it(launcher):
    """Through ``+platform=cpu`` (configs/platform/cpu.yaml): read from the launcher's composed config, which
    tests/test_compositions.py keeps equal to what the launcher composes today."""
    from pathlib import Path

    snapshot = Path(__file__).resolve().parents[2] / f"tests/data/compositions/{launcher}__default.yaml"
    cfg = OmegaConf.load(snapshot)
    for override in HYDRA_OVERRIDES:
        key, value = override.split("=", 1)
        assert OmegaConf.select(cfg, key) == value, (launcher, key)
