"""Where the teacher / guide / student endpoints are, from YAML and environment variables.

Production serves the teacher with SGLang or vLLM (or any OpenAI-compatible API); tests point the same code at a
loopback server. Every endpoint is an ``LLMClientConfig`` (``verl_score.llm``), so retries, timeouts, concurrency
and key masking are the shared client's. This module only adds the role conventions: a role ``R`` (``TEACHER``,
``STUDENT``, ``GUIDE``) reads ``R_API_BASE`` / ``R_API_KEY`` / ``R_MODEL`` when the YAML leaves them out, so a
launcher can switch endpoints without editing files and keys never need to be written into YAML.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from verl_score.llm import LLMClientConfig, LLMConfigError

__all__ = ["client_config_for_role", "load_yaml_section"]


def load_yaml_section(path: str | os.PathLike[str] | None, section: str | None = None) -> dict[str, Any]:
    """The mapping at ``section`` of a YAML file (the whole file when ``section`` is None); ``{}`` for no path."""
    if path is None:
        return {}
    from omegaconf import OmegaConf  # verl dependency; resolves ${oc.env:...} interpolations too

    cfg = OmegaConf.to_container(OmegaConf.load(Path(path)), resolve=True)
    if not isinstance(cfg, dict):
        raise LLMConfigError(f"{path}: expected a mapping at the top level")
    if section is None:
        return cfg
    sub = cfg.get(section, {})
    if sub is None:
        return {}
    if not isinstance(sub, dict):
        raise LLMConfigError(f"{path}: section {section!r} must be a mapping")
    return sub


def client_config_for_role(
    role: str, cfg: Mapping[str, Any] | LLMClientConfig | None = None, **overrides: Any
) -> LLMClientConfig:
    """``LLMClientConfig`` for ``role`` (e.g. ``"teacher"``): YAML/dict values first, then ``$ROLE_API_BASE``,
    ``$ROLE_API_KEY`` (by name, so the key is read at request time and never stored in the config) and
    ``$ROLE_MODEL`` for whatever is unset. Unknown keys are an error (``LLMClientConfig.from_dict``)."""
    prefix = role.upper()
    if isinstance(cfg, LLMClientConfig):
        data: dict[str, Any] = {}
        base = cfg
    else:
        data = _plain(cfg)
        base = None
    data.update({k: v for k, v in overrides.items() if v is not None})
    if base is None:
        if not data.get("base_url") and not data.get("base_url_env"):
            data["base_url_env"] = f"{prefix}_API_BASE"
        if not data.get("api_key") and not data.get("api_key_env"):
            data["api_key_env"] = f"{prefix}_API_KEY"
        if "model" not in data and os.environ.get(f"{prefix}_MODEL"):
            data["model"] = os.environ[f"{prefix}_MODEL"]
        return LLMClientConfig.from_dict(data)
    return LLMClientConfig.from_dict(base, **data)


def _plain(cfg: Any) -> dict[str, Any]:
    """A plain dict from a dict / OmegaConf ``DictConfig`` / None."""
    if cfg is None:
        return {}
    try:
        from omegaconf import DictConfig, OmegaConf

        if isinstance(cfg, DictConfig):
            return dict(OmegaConf.to_container(cfg, resolve=True))  # type: ignore[arg-type]
    except ImportError:  # pragma: no cover - omegaconf ships with verl
        pass
    return dict(cfg)
