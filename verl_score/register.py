"""Wire every verl-score plug-in into verl's registries.

Named in ``VERL_USE_EXTERNAL_MODULES=verl_score.register`` by our launchers, so verl imports it at the end of
``import verl`` in every process — the driver, every Ray worker and the agent-loop / reward workers — and the
registrations exist wherever verl looks them up. Idempotent.
"""

from __future__ import annotations

from verl_score.versions import check as _check_versions

_check_versions()  # first: unsupported Python/torch/verl -> a message naming the supported versions

from verl_score.cpu.platform import register_cpu_engines  # noqa: E402  registers the "cpu" platform on import
from verl_score.log_filters import install_log_filters  # noqa: E402
from verl_score.cpu.patches import apply_cpu_patches  # noqa: E402
from verl_score.cpu.rollout import register_hfcpu_rollout  # noqa: E402
from verl_score.config_resolvers import register_resolvers  # noqa: E402

install_log_filters()
register_resolvers()  # ${verl_score.if_null:...} in configs/ (verl resolves the run config in its TaskRunner)
register_hfcpu_rollout()
if apply_cpu_patches():  # only with VERL_PLATFORM=cpu
    register_cpu_engines()

# Agent loops (each registers itself with verl's agent-loop registry on import).
import verl_score.episodes.two_attempt  # noqa: E402,F401  score_two_attempt + "static" guidance
import verl_score.teacher.guidance  # noqa: E402,F401  "smart" guidance provider for the two-attempt loop
import verl_score.training.trainer  # noqa: E402,F401  "score_sync" trainer (trainer.v1.trainer_mode=score_sync)
import verl_score.episodes.prefix_rollout  # noqa: E402,F401  score_prefix_rollout (SCoRe-RL from the verified prefix)
