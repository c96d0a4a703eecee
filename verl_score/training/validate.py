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

__all__ = ["check_correction_model_path", "check_guidance_settings", "check_run_settings", "validate_score"]


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
    name, kwargs = run_guidance(cfg)
    check_guidance_settings(name, kwargs)
    check_correction_model_path(cfg, name, kwargs)
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


def check_guidance_settings(name: str, kwargs: dict[str, Any]) -> None:
    """The ``guidance`` block builds the provider the rollout workers will build: the name is registered
    (``UnknownPluginError`` listing them), the kwargs fit the provider's signature, and SMART's settings are valid
    (a backend it knows; ``backend: endpoint`` with an endpoint). No network call: SMART is built here with its
    start-up probe off (``on_unreachable: null``); the worker probes the endpoint itself. Errors are ``ValueError``."""
    import inspect

    from verl_score.contracts.guidance import GUIDANCE_PROVIDERS

    cls = GUIDANCE_PROVIDERS.get(name)
    try:
        inspect.signature(cls).bind(**kwargs)
    except TypeError as exc:
        try:
            params = [p for p in inspect.signature(cls).parameters if p not in ("self", "chat_backend")]
        except (TypeError, ValueError):
            params = []
        raise ValueError(
            f"guidance {name!r} does not take guidance.kwargs {sorted(kwargs)} ({exc}); its parameters: {params}. "
            "Switching guidance on the command line: ~guidance.kwargs guidance.name=..., or drop the block (static)"
        ) from None
    if name != "smart":
        return
    from verl_score.llm import LLMConfigError

    try:
        cls(**{**kwargs, "on_unreachable": None})  # built as the worker builds it, minus the network probe
    except LLMConfigError as exc:
        raise ValueError(
            f"guidance smart with backend {kwargs.get('backend', 'endpoint')!r} needs a guide endpoint ({exc}): set "
            "GUIDE_API_BASE=<url>/v1 in the launcher's environment (or guidance.kwargs.client.base_url=<url>/v1), "
            "or guidance.kwargs.backend=auto to let the policy guide itself when no endpoint is named"
        ) from None
    except (TypeError, ValueError) as exc:
        raise ValueError(f"guidance smart: invalid guidance.kwargs: {exc}") from None


def check_correction_model_path(cfg: Any, name: str, kwargs: dict[str, Any]) -> None:
    """hrl-reasoning's top-level ``correction_model_path`` is mapped onto the guidance block only by
    ``configs/smart_score_math.yaml``; set anywhere else (``+correction_model_path=...`` over ``+guidance=smart``) it
    would be ignored, and the run would use another guide than the one named. Refused unless the guidance block says
    the same (smart, backend endpoint, client.model = that path)."""
    from verl_score.contracts.cfg import config_get

    path = config_get(cfg, "correction_model_path")
    if path is None:
        return
    client = kwargs.get("client") or {}
    if name == "smart" and kwargs.get("backend") == "endpoint" and str(client.get("model")) == str(path):
        return
    raise ValueError(
        f"correction_model_path={path} is not what the guidance block uses (guidance {name!r}, backend "
        f"{kwargs.get('backend')!r}, client.model {client.get('model')!r}): only --config-name=smart_score_math maps "
        "it onto the guide. Fix: --config-name=smart_score_math correction_model_path=<guide>, or drop it and set "
        "+guidance=smart guidance.kwargs.backend=endpoint guidance.kwargs.client.model=<guide> "
        "(GUIDE_API_BASE=<url>/v1)"
    )
