"""Every start-up check of a ``score_sync`` run that needs only its config: one function for the trainer and the dry
run, so ``VERL_SCORE_COMPOSE_ONLY=1`` refuses exactly what the trainer would refuse, before any GPU time is spent.

The run-length check (:mod:`verl_score.training.run_length`) also needs the dataset's size; the dry run counts the
parquet rows, the trainer re-checks with verl's dataset once it is built.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from verl_score.contracts.run_settings import check_agent_loop_entries, run_guidance
from verl_score.training.config import ScoreConfig
from verl_score.training.credit import check_shaping_survives, has_group_baseline, resolve_estimator
from verl_score.training.lora import check_lora
from verl_score.training.loss import check_loss_config
from verl_score.training.node_shape import check_node_shape

__all__ = ["check_run_settings", "validate_score"]


def validate_score(cfg: Any) -> tuple[ScoreConfig, str]:
    """Parse ``cfg.score`` and refuse configs that would train something other than SCoRe's objective.

    Checks: the ``score`` block parses (unknown keys are errors; an unknown shaping or shaping parameter too); K and
    guidance have one value the agent loops will run with (:func:`check_run_settings`); the advantage estimator has
    a per-attempt form and does not cancel the shaping; the KL is in the loss, not the reward; a group-baseline estimator has a group
    (``rollout.n >= 2``); the actor's KL type and loss aggregation keep the objective's weights; a LoRA rank fits the
    model and the rollout backend (:func:`verl_score.training.lora.check_lora`).

    Returns:
        (the parsed :class:`ScoreConfig`, the resolved per-attempt estimator name).
    """
    from verl.utils.config import omega_conf_to_dataclass

    score = ScoreConfig.from_config(cfg.get("score", None))
    check_run_settings(cfg)
    estimator = resolve_estimator(score, cfg.algorithm.adv_estimator)
    check_shaping_survives(score, estimator, cfg.algorithm.get("norm_adv_by_std_in_grpo", True))
    if cfg.algorithm.use_kl_in_reward:
        raise ValueError(
            "SCoRe puts its KL terms in the loss (β1 on all tokens, β2 on attempt 1 in Stage I); "
            "set algorithm.use_kl_in_reward=False"
        )
    n = int(cfg.actor_rollout_ref.rollout.n)
    if has_group_baseline(estimator) and n < 2:
        raise ValueError(
            f"advantage estimator {estimator!r} takes its baseline from the prompt's other samples, but "
            f"actor_rollout_ref.rollout.n={n}: every sample would be alone in its group and train nothing. Fix: "
            "actor_rollout_ref.rollout.n>=2, or score.adv_estimator=reinforce (the paper's plain REINFORCE)."
        )
    check_loss_config(omega_conf_to_dataclass(cfg.actor_rollout_ref.actor), score)
    check_node_shape(cfg)
    check_lora(cfg)
    return score, estimator


def check_run_settings(cfg: Any) -> list[str]:
    """K and guidance as the agent loops will resolve them (:mod:`verl_score.contracts.run_settings`): the run's
    ``guidance`` block is well-formed and names a registered provider, and every SCoRe loop entry of
    ``rollout.agent.agent_loop_config_path`` that the run uses (``default_agent_loop`` and the rows' ``agent_name``)
    agrees with ``score.num_attempts`` and the guidance block: an entry that pins another K or guidance is refused
    here, before any rollout. Returns the checked loop names."""
    from verl_score.contracts.guidance import GUIDANCE_PROVIDERS

    name, _ = run_guidance(cfg)
    GUIDANCE_PROVIDERS.get(name)  # UnknownPluginError listing the registered providers
    agent = OmegaConf.select(cfg, "actor_rollout_ref.rollout.agent")
    path = agent.get("agent_loop_config_path", None) if agent is not None else None
    if not path:
        return []
    from verl.utils.import_utils import resolve_config_path

    try:
        resolved = resolve_config_path(str(path))
    except FileNotFoundError:
        print(f"config_check: agent loops not checked: {path} is not on this machine; each loop checks its "
              "settings when it is built", file=sys.stderr)
        return []
    used = {str(agent.get("default_agent_loop", None))}
    for key in ("train_files", "val_files"):
        names, why = parquet_agent_names(OmegaConf.select(cfg, f"data.{key}"))
        if names is None:
            print(f"config_check: the agent loops of data.{key} not checked ({why}); each loop checks its settings "
                  "when it is built", file=sys.stderr)
        else:
            used |= names
    return check_agent_loop_entries(cfg, OmegaConf.load(resolved), used)


def parquet_agent_names(files: Any) -> tuple[set[str], None] | tuple[None, str]:
    """The distinct ``agent_name`` values of the parquet files (one column read), or ``(None, why)`` when a file is
    not on this machine. Files without the column name no loop (their rows use ``default_agent_loop``)."""
    import pyarrow.parquet as pq

    if not files:
        return set(), None
    paths = [files] if isinstance(files, str) else [str(f) for f in files]
    names: set[str] = set()
    for p in paths:
        if not Path(p).is_file():
            return None, f"{p} not found here"
        f = pq.ParquetFile(p)
        if "agent_name" in f.schema_arrow.names:
            names |= {str(v) for v in f.read(columns=["agent_name"]).column(0).unique().to_pylist() if v is not None}
    return names, None
