"""Every start-up check of a ``score_sync`` run that needs only its config: one function for the trainer and the dry
run, so ``VERL_SCORE_COMPOSE_ONLY=1`` refuses exactly what the trainer would refuse, before any GPU time is spent.

The run-length check (:mod:`verl_score.training.run_length`) also needs the dataset's size; the dry run counts the
parquet rows, the trainer re-checks with verl's dataset once it is built.
"""

from __future__ import annotations

from typing import Any

from verl_score.training.config import ScoreConfig
from verl_score.training.credit import GROUP_BASELINE, check_shaping_survives, resolve_estimator
from verl_score.training.loss import check_loss_config

__all__ = ["validate_score"]


def validate_score(cfg: Any) -> tuple[ScoreConfig, str]:
    """Parse ``cfg.score`` and refuse configs that would train something other than SCoRe's objective.

    Checks: the ``score`` block parses (unknown keys are errors); the advantage estimator has a per-attempt form and
    does not cancel the shaping; the KL is in the loss, not the reward; a group-baseline estimator has a group
    (``rollout.n >= 2``); the actor's KL type and loss aggregation keep the objective's weights.

    Returns:
        (the parsed :class:`ScoreConfig`, the resolved per-attempt estimator name).
    """
    from verl.utils.config import omega_conf_to_dataclass

    score = ScoreConfig.from_config(cfg.get("score", None))
    estimator = resolve_estimator(score, cfg.algorithm.adv_estimator)
    check_shaping_survives(score, estimator, cfg.algorithm.get("norm_adv_by_std_in_grpo", True))
    if cfg.algorithm.use_kl_in_reward:
        raise ValueError(
            "SCoRe puts its KL terms in the loss (β1 on all tokens, β2 on attempt 1 in Stage I); "
            "set algorithm.use_kl_in_reward=False"
        )
    n = int(cfg.actor_rollout_ref.rollout.n)
    if estimator in GROUP_BASELINE and n < 2:
        raise ValueError(
            f"advantage estimator {estimator!r} takes its baseline from the prompt's other samples, but "
            f"actor_rollout_ref.rollout.n={n}: every sample would be alone in its group and train nothing. Fix: "
            "actor_rollout_ref.rollout.n>=2, or score.adv_estimator=reinforce (the paper's plain REINFORCE)."
        )
    check_loss_config(omega_conf_to_dataclass(cfg.actor_rollout_ref.actor), score)
    check_node_shape(cfg)
    return score, estimator


def check_node_shape(cfg: Any) -> None:
    """The batch and the rollout's tensor parallelism must split over the training GPUs.

    Why here and not left to verl: verl asserts the first of these deep in its start-up with a message that names
    no key, and the others surface only once the workers (and GPU memory) are up. A node that lends GPUs to a served
    SMART guide (7 of 8 left) is the common way to hit them.
    """
    world = int(cfg.trainer.n_gpus_per_node) * int(cfg.trainer.nnodes)
    if str(cfg.trainer.get("device", "cuda")) == "cpu" or world <= 1:
        return
    actor, rollout = cfg.actor_rollout_ref.actor, cfg.actor_rollout_ref.rollout
    n, batch = int(rollout.n), int(cfg.data.train_batch_size)
    gpus = f"trainer.n_gpus_per_node={cfg.trainer.n_gpus_per_node} x trainer.nnodes={cfg.trainer.nnodes} = {world} GPUs"
    tp = int(rollout.get("tensor_model_parallel_size", 1) or 1)
    if world % tp:
        raise ValueError(
            f"actor_rollout_ref.rollout.tensor_model_parallel_size={tp} does not divide the {gpus}: the rollout "
            f"replicas cannot be placed. Fix: a tensor-parallel size that divides {world} (e.g. 1), or another "
            "GPU count."
        )
    if actor.get("use_dynamic_bsz", False):
        return
    if (batch * n) % world:
        raise ValueError(
            f"data.train_batch_size={batch} x actor_rollout_ref.rollout.n={n} = {batch * n} rollouts do not split "
            f"over the {gpus}. Fix: a data.train_batch_size whose {n}-fold is a "
            f"multiple of {world} (e.g. {_fit_batch(batch, n, world, 1)}), or a GPU count that divides {batch * n}."
        )
    mini, micro = int(actor.ppo_mini_batch_size), actor.get("ppo_micro_batch_size_per_gpu", None)
    per_gpu = mini * n // world
    if mini * n % world or per_gpu == 0:
        raise ValueError(
            f"actor_rollout_ref.actor.ppo_mini_batch_size={mini} x rollout.n={n} does not split over the {gpus}. "
            f"Fix: a mini-batch whose {n}-fold is a multiple of {world}."
        )
    if micro is not None and per_gpu % int(micro):
        raise ValueError(
            f"each GPU's share of a mini-batch ({mini} x {n} / {world} = {per_gpu} sequences) is not a multiple of "
            f"actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu={micro}. Fix: a micro-batch that divides "
            f"{per_gpu}, or data.train_batch_size={_fit_batch(batch, n, world, int(micro))}."
        )


def _fit_batch(batch: int, n: int, world: int, micro: int) -> int:
    """The largest train batch <= ``batch`` whose rollouts split evenly over ``world`` GPUs in whole micro-batches
    (0 if none): the suggestion the messages above make."""
    for b in range(batch, 0, -1):
        if (b * n) % world == 0 and ((b * n) // world) % micro == 0:
            return b
    return 0
