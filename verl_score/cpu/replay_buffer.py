"""verl's v1 replay buffer with a short poll interval: removes the ~2 s floor (and 2 s granularity) of ``timing_s/gen``.

Why: in verl 0.9.1 the trainer's ``gen`` phase is ``ReplayBuffer.sample`` (``verl/trainer/ppo/v1/trainer_base.py``,
``_step_once``), which loops ``kv_list()`` on TransferQueue until every rollout of the step is finished and sleeps
``self.poll_interval`` between looks (``verl/trainer/ppo/v1/replay_buffer.py``, ``ReplayBuffer._wait_for_next_poll``).
``poll_interval`` defaults to 2.0 in ``ReplayBuffer.__init__`` and ``PPOTrainer._build_replay_buffer`` never passes
it, so no config key reaches it: every ``gen`` (and every validation pass) is rounded *up* to a multiple of 2 s.
On a GPU step of minutes that is noise; on a CPU step of seconds it was half the step (docs/design.md, "CPU path").

The hook verl does offer is ``trainer.v1.sampler.custom_sampler.{path,name}``: verl calls ``name(**kwargs)`` with
the same keyword arguments it gives its own buffer. ``make_replay_buffer`` is that callable: it builds exactly the
class verl would have built (``ReplayBuffer`` for ``trainer_mode=sync``, ``ReplayBufferAsync`` otherwise, as
``_build_replay_buffer`` does) with ``poll_interval`` taken from ``trainer.v1.sampler.sampler_kwargs.poll_interval``
(default ``DEFAULT_POLL_INTERVAL_S``). Enabled in the CPU launchers (``scripts/lib/cpu_env.sh``).

Limit: verl gives custom samplers neither DAPO group filtering (``algorithm.filter_groups``) nor
``sync_refill_failed_groups``; ``make_replay_buffer`` refuses the latter when set in ``sampler_kwargs`` rather than
dropping it silently. No CPU launcher uses either.
"""

from __future__ import annotations

from typing import Any

from verl.trainer.ppo.v1.replay_buffer import ReplayBuffer, ReplayBufferAsync

#: Seconds between TransferQueue looks. One ``kv_list`` is a few ms, so 0.1 s costs ~2-5 % of one core while waiting.
DEFAULT_POLL_INTERVAL_S = 0.1

#: Hydra overrides that select it (the CPU launchers pass these).
HYDRA_OVERRIDES = (
    "trainer.v1.sampler.custom_sampler.path=pkg://verl_score.cpu.replay_buffer",
    "trainer.v1.sampler.custom_sampler.name=make_replay_buffer",
)


def make_replay_buffer(*, trainer_mode: str, sampler_kwargs: Any = None, **kwargs: Any) -> ReplayBuffer:
    """Build verl's own replay buffer for ``trainer_mode`` with a configurable ``poll_interval``."""
    options = dict(sampler_kwargs or {})
    poll_interval = float(options.pop("poll_interval", DEFAULT_POLL_INTERVAL_S))
    if poll_interval <= 0:
        raise ValueError(f"trainer.v1.sampler.sampler_kwargs.poll_interval must be > 0, got {poll_interval}")
    if options.pop("sync_refill_failed_groups", False):
        raise ValueError("verl passes sync_refill_failed_groups only to its built-in sampler; unset custom_sampler")
    cls = ReplayBuffer if trainer_mode == "sync" else ReplayBufferAsync
    return cls(trainer_mode=trainer_mode, sampler_kwargs=options, poll_interval=poll_interval, **kwargs)
