"""Does the batch split over the training GPUs? A start-up check, and the batch a launcher fits to a node.

Why not leave it to verl: verl 0.9.1 asserts the first of these deep in its start-up with a message that names no
key (``real_train_batch_size (512) must be divisible by minimal possible batch size (7)``), and the micro-batch ones
only in the workers (``verl/workers/engine/utils.py: prepare_micro_batches``), after a whole rollout. A node that
lends GPUs to a served SMART guide (7 of 8 left) is the common way to hit them.

Per step, each GPU holds ``train_batch_size × rollout.n / world`` rows for the log-prob passes (old policy,
reference, critic values) and ``ppo_mini_batch_size × rollout.n / world`` per actor / critic update; each share must
be a whole number of that pass's micro-batches. Megatron / Ulysses parallel sizes are not modelled (FSDP only).

No heavy import here: the bash launchers run this file as a script (``python verl_score/training/node_shape.py fit
…``; ``-m`` would import verl through the package first, ~5 s).
"""

from __future__ import annotations

import argparse
import math
from typing import Any

__all__ = ["check_node_shape", "fit_batch", "micro_batches"]


def micro_batches(cfg: Any) -> dict[str, int]:
    """``{key: micro-batch per GPU}`` of every pass that splits the batch (unset ones left out)."""
    ar = cfg.actor_rollout_ref
    keys = {
        "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu": ar.actor.get("ppo_micro_batch_size_per_gpu"),
        "actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu": ar.rollout.get(
            "log_prob_micro_batch_size_per_gpu"
        ),
        "actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu": ar.ref.get("log_prob_micro_batch_size_per_gpu"),
    }
    critic = cfg.get("critic", None)
    if critic is not None and critic.get("enable", False):
        keys["critic.ppo_micro_batch_size_per_gpu"] = critic.get("ppo_micro_batch_size_per_gpu")
        keys["critic.forward_micro_batch_size_per_gpu"] = critic.get("forward_micro_batch_size_per_gpu")
    return {k: int(v) for k, v in keys.items() if v is not None}


def fit_batch(batch: int, n: int, world: int, micros: list[int]) -> int:
    """The largest train batch <= ``batch`` whose rollouts split evenly over ``world`` GPUs in whole micro-batches of
    every size in ``micros`` (0 if none)."""
    step = math.lcm(*micros) if micros else 1
    for b in range(batch, 0, -1):
        if (b * n) % world == 0 and ((b * n) // world) % step == 0:
            return b
    return 0


def check_node_shape(cfg: Any) -> None:
    """Refuse a batch, mini-batch, micro-batch or rollout tensor parallelism that does not split over the training
    GPUs, naming the keys and a batch that would (mini-batch = batch, the configs' on-policy setting)."""
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
    micros = micro_batches(cfg)
    fits = fit_batch(batch, n, world, list(micros.values()))
    fix = f"data.train_batch_size={fits}" if fits else "another GPU count"
    if (batch * n) % world:
        raise ValueError(
            f"data.train_batch_size={batch} x actor_rollout_ref.rollout.n={n} = {batch * n} rollouts do not split "
            f"over the {gpus}. Fix: {fix} (with a mini-batch equal to it), or a GPU count that divides {batch * n}."
        )
    mini = int(actor.ppo_mini_batch_size)
    shares = {"batch": batch * n // world}
    if (mini * n) % world or mini * n < world:
        raise ValueError(
            f"actor_rollout_ref.actor.ppo_mini_batch_size={mini} x rollout.n={n} does not split over the {gpus}. "
            f"Fix: a mini-batch whose {n}-fold is a multiple of {world}."
        )
    shares["mini-batch"] = mini * n // world
    for key, micro in micros.items():
        share = "mini-batch" if key.endswith("ppo_micro_batch_size_per_gpu") else "batch"
        if shares[share] % micro:
            raise ValueError(
                f"each GPU's share of a {share} ({shares[share]} sequences on each of the {world} GPUs) is not a whole "
                f"number of {key}={micro}. Fix: {fix}, or a micro-batch that divides {shares[share]}."
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="print the largest train batch that splits over the GPUs")
    sub = parser.add_subparsers(dest="cmd", required=True)
    fit = sub.add_parser("fit")
    fit.add_argument("batch", type=int)
    fit.add_argument("n", type=int, help="rollout.n")
    fit.add_argument("world", type=int, help="training GPUs")
    fit.add_argument("micros", type=int, nargs="*", help="micro-batch sizes per GPU")
    ns = parser.parse_args(argv)
    print(fit_batch(ns.batch, ns.n, ns.world, ns.micros))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
