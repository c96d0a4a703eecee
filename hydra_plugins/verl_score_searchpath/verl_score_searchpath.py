"""Puts verl's config directory and verl-score's ``configs/`` on every hydra search path.

Hydra discovers plugins in the ``hydra_plugins`` namespace package (``hydra_plugins/`` has no ``__init__.py``): from the
repository root (``python -m verl.trainer.main_ppo`` puts the working directory on ``sys.path``) and after
``pip install -e .`` (pyproject.toml packages ``hydra_plugins*``). With it:

* ``pkg://verl.trainer.config``: our configs extend verl's ``ppo_trainer`` in their defaults list without setting
  ``hydra.searchpath`` (hydra 1.3 accepts that key only in the primary config, so a config that set it could not be
  extended: ``smart_score_math`` extends ``score_math``, which extends ``score_base``);
* ``configs/`` (when this plugin runs from a checkout or an editable install, where the folder exists): its groups
  (``platform/cpu``, ``guidance/smart``) and configs compose with verl's own primary config too, e.g.
  ``python -m verl.trainer.main_ppo +platform=cpu ...`` or ``--config-name=smart_score_math`` without
  ``--config-path``.

Both are appended, after the primary config directory: a config of the same name there wins.
"""

from __future__ import annotations

from pathlib import Path

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin

#: verl-score's configs/ (repository root / configs)
CONFIGS = Path(__file__).resolve().parents[2] / "configs"


class VerlScoreSearchPathPlugin(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        # the resolvers our configs use, in the process that composes (verl_score/config_resolvers.py)
        from verl_score.config_resolvers import register_resolvers

        register_resolvers()
        search_path.append(provider="verl-score", path="pkg://verl.trainer.config")
        if (CONFIGS / "score_base.yaml").is_file():
            search_path.append(provider="verl-score", path=f"file://{CONFIGS}")
