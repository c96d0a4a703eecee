"""Where the SCoRe episode's run-level settings live, and the one reader every consumer uses.

Two settings shape an episode and also the training that consumes it:

* **K, the number of attempts**: ``score.num_attempts`` of the run config. The agent loop runs K attempts, the
  trainer builds K attempt masks and metrics, the reward checks it was handed K attempt texts.
* **guidance**: the run config's top-level ``guidance: {name, kwargs}`` block (``+guidance=smart``:
  ``configs/guidance/smart.yaml``); a run config without one uses the paper's ``static`` instruction.

Why the run config and not ``configs/agent_loops.yaml``: verl hands every agent loop the whole trainer config, but
dataset rows name their loop (``agent_name: score_two_attempt``), so a loop entry cannot be switched per run; and a
K written in two files is a K that disagrees (the trainer refused it only after the first rollout). The loop entries
now name the loops and carry only loop-local knobs (token budget, default task).

A loop entry or a caller may still pass ``num_attempts`` / ``guidance`` as constructor kwargs: without a run config
(``score`` block absent: the eval CLI's local engine, unit tests) they are the settings; under a run config they must
agree with it, or :func:`episode_settings` refuses the loop -- at construction in the worker and, through
:func:`check_agent_loop_entries`, in the ``VERL_SCORE_COMPOSE_ONLY`` dry run and the trainer's start-up.

Both loop names, ``score_two_attempt`` and ``score_k_attempt``, are the same K-attempt SCoRe loop with K read from
``score.num_attempts``: the first is what dataset rows carry, the second an alias kept for rows and configs that name
it (it used to pin K = 4 in ``agent_loops.yaml``; an entry the run uses that still pins another K is refused).

Nothing here imports verl or another part of verl_score but ``contracts.cfg``: ``training`` (the config parser,
``validate_score``) and ``episodes`` (the loop) both read from here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Mapping

from verl_score.contracts.cfg import config_get, to_plain

__all__ = [
    "DEFAULT_GUIDANCE",
    "DEFAULT_NUM_ATTEMPTS",
    "MIN_ATTEMPTS",
    "SCORE_LOOP_TARGETS",
    "EpisodeSettings",
    "check_agent_loop_entries",
    "check_num_attempts",
    "episode_settings",
    "run_guidance",
]

#: the smallest K anywhere (loop, trainer, masks, metrics): SCoRe trains *self-correction*, a second attempt
MIN_ATTEMPTS = 2
#: K when the ``score`` block does not set it (the paper)
DEFAULT_NUM_ATTEMPTS = 2
#: the instruction provider when the run config has no ``guidance`` block (the paper's fixed instruction)
DEFAULT_GUIDANCE = "static"
#: ``_target_`` of the agent loops that read these settings (class paths as data: nothing is imported)
SCORE_LOOP_TARGETS = frozenset({"verl_score.episodes.two_attempt.ScoreTwoAttemptAgentLoop"})

logger = logging.getLogger(__name__)
_WARNED_K_ALIAS: set[int] = set()  # once per process (the worker builds a loop per episode)


def check_num_attempts(k: Any, where: str = "score.num_attempts") -> int:
    """``k`` as an int, refused below :data:`MIN_ATTEMPTS` (the one accepted range)."""
    if isinstance(k, bool) or not isinstance(k, int) and not (isinstance(k, float) and k.is_integer()):
        raise ValueError(f"{where} must be an integer >= {MIN_ATTEMPTS}, got {k!r}")
    if int(k) < MIN_ATTEMPTS:
        raise ValueError(f"{where} must be >= {MIN_ATTEMPTS} (SCoRe trains self-correction), got {k}")
    return int(k)


def has_run_config(cfg: Any) -> bool:
    """The config is a SCoRe run's (it has a ``score`` block): its settings are the only home of K and guidance."""
    return config_get(cfg, "score") is not None


def run_guidance(cfg: Any) -> tuple[str, dict[str, Any]]:
    """``(provider name, kwargs)`` from the run config's ``guidance`` block; ``("static", {})`` without one."""
    block = config_get(cfg, "guidance")
    if not block:
        return DEFAULT_GUIDANCE, {}
    block = to_plain(block)
    if not isinstance(block, Mapping):
        raise ValueError(f"config block 'guidance' must be a mapping {{name, kwargs}}, got {block!r}")
    unknown = sorted(set(block) - {"name", "kwargs"})
    if unknown:
        raise ValueError(f"config block 'guidance' has unknown keys {unknown}; known: ['kwargs', 'name']")
    name = block.get("name")
    if not name:
        raise ValueError("config block 'guidance' needs a 'name' (static | smart | a registered provider)")
    return str(name), dict(block.get("kwargs") or {})


@dataclass(frozen=True)
class EpisodeSettings:
    """What a SCoRe agent loop runs with, resolved from the run config (see the module docstring)."""

    num_attempts: int = DEFAULT_NUM_ATTEMPTS
    guidance: str = DEFAULT_GUIDANCE
    guidance_kwargs: dict[str, Any] = field(default_factory=dict)


def episode_settings(
    cfg: Any,
    *,
    num_attempts: Any = None,
    guidance: str | None = None,
    guidance_kwargs: Mapping[str, Any] | None = None,
    loop: str = "score_two_attempt",
) -> EpisodeSettings:
    """K and guidance for a SCoRe loop built under trainer config ``cfg`` with the given constructor kwargs.

    With a run config (a ``score`` block) K is ``score.num_attempts`` and guidance the ``guidance`` block (static
    without one); a kwarg that disagrees is an error naming both places. Without one, the kwargs are the settings.
    """
    guidance_kwargs = to_plain(guidance_kwargs)
    if not has_run_config(cfg):
        k = DEFAULT_NUM_ATTEMPTS if num_attempts is None else to_plain(num_attempts)
        name = DEFAULT_GUIDANCE if guidance is None else str(guidance)
        if guidance is None and guidance_kwargs:
            raise ValueError(f"agent loop {loop!r}: guidance_kwargs without a guidance name")
        return EpisodeSettings(check_num_attempts(k, f"agent loop {loop!r} num_attempts"), name,
                               dict(guidance_kwargs or {}))

    k = check_num_attempts(config_get(config_get(cfg, "score"), "num_attempts", DEFAULT_NUM_ATTEMPTS))
    if num_attempts is not None and to_plain(num_attempts) != k:
        raise ValueError(
            f"agent loop {loop!r} is given num_attempts={num_attempts} but the run's score.num_attempts={k}: K has "
            "one home, score.num_attempts; remove num_attempts from the loop's entry in the agent-loop config "
            "(rollout.agent.agent_loop_config_path), or set score.num_attempts"
        )
    if loop == "score_k_attempt" and k == DEFAULT_NUM_ATTEMPTS and k not in _WARNED_K_ALIAS:
        _WARNED_K_ALIAS.add(k)
        logger.warning(
            "agent loop 'score_k_attempt' runs K=%d attempts (score.num_attempts): the name used to mean K=4 "
            "(configs/agent_loops.yaml pinned it); K now has one home, set score.num_attempts=4 for the old runs", k)
    name, kwargs = run_guidance(cfg)
    given = None if guidance is None else (str(guidance), dict(guidance_kwargs or {}))
    if guidance is None and guidance_kwargs:
        given = (name, dict(guidance_kwargs))
    if given is not None and (given[0] != name or (given[1] and given[1] != kwargs)):
        raise ValueError(
            f"agent loop {loop!r} is given guidance={given[0]!r} (kwargs {given[1]}) but the run config says "
            f"guidance={name!r}: guidance has one home, the run config's top-level `guidance` block (+guidance=smart,"
            " configs/guidance/*.yaml; none = static); remove guidance / guidance_kwargs from the loop's entry"
        )
    return EpisodeSettings(k, name, kwargs)


def check_agent_loop_entries(cfg: Any, entries: Any, used: Any = None) -> list[str]:
    """Resolve the SCoRe loop entries of an agent-loop config (verl's ``agent_loop_config_path`` list) that the run
    uses against run config ``cfg``, as each loop will be built in the workers; returns the names checked.

    ``used``: the loop names the run's rows and ``rollout.agent.default_agent_loop`` name (None = every entry). An
    entry no row uses is not built, so a stale pin there (an old file's ``score_k_attempt: num_attempts: 4``) is not
    an error. A conflict raises ``ValueError`` (see :func:`episode_settings`)."""
    checked = []
    for entry in to_plain(entries) or []:
        if not isinstance(entry, Mapping) or entry.get("_target_") not in SCORE_LOOP_TARGETS:
            continue
        name = str(entry.get("name"))
        if used is not None and name not in used:
            continue
        episode_settings(
            cfg,
            num_attempts=entry.get("num_attempts"),
            guidance=entry.get("guidance"),
            guidance_kwargs=entry.get("guidance_kwargs"),
            loop=name,
        )
        checked.append(name)
    return checked
