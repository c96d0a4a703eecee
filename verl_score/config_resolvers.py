"""OmegaConf resolvers verl-score's configs use (registered where a config is composed or resolved).

* ``${verl_score.if_null:VALUE,THEN,ELSE}``: THEN when VALUE is null, else ELSE. configs/smart_score_math.yaml maps
  SMART-SCoRe's ``correction_model_path`` (null: the policy guides itself) onto the guide settings with it.

Registered by the hydra search-path plugin (hydra_plugins/verl_score_searchpath: every process that composes a
config) and by :mod:`verl_score.register` (every verl process: verl resolves the run config in its TaskRunner, a Ray
actor). Imports nothing but omegaconf; idempotent.
"""

from __future__ import annotations

from typing import Any

__all__ = ["register_resolvers"]


def _if_null(value: Any, then: Any, otherwise: Any) -> Any:
    return then if value is None else otherwise


RESOLVERS = {"verl_score.if_null": _if_null}


def register_resolvers() -> None:
    from omegaconf import OmegaConf

    for name, fn in RESOLVERS.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)
