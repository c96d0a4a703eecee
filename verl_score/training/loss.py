"""SCoRe Stage I / Stage II actor loss, with the signature of verl's ``workers/utils/losses.py: ppo_loss``.

Paper objectives (Kumar et al. 2024), written as a loss to minimise over one mini-batch:

    Stage I  (Eq. 3):  L = PG(attempt-2 tokens, A2)                 + β2·KL(attempt-1 tokens) + β1·KL(all policy tokens)
    Stage II (Eq. 4):  L = PG(attempt-1 tokens, A1) + PG(attempt-2, A2)                      + β1·KL(all policy tokens)

* PG is verl's registered policy loss (``actor.policy_loss.loss_mode``, default ``vanilla`` = PPO-clip; with one
  epoch on fresh samples the ratio is 1 and it is exactly on-policy REINFORCE, the paper's optimiser).
  A_k comes from :mod:`verl_score.training.credit` (attempt-k tokens see only r̂_k, γ = 0).
* KL is KL(π‖π_ref) per token (a per-token surrogate of the paper's sequence-level KL on y1: the sequence-level
  score-function terms are dropped, as in verl's own KL loss; see docs/design.md), ``core_algos.kl_penalty(log_prob, ref_log_prob, actor.kl_loss_type)`` on
  differentiable ``log_prob`` (never ``.item()``), so it carries gradient. Use a type whose gradient is unbiased
  for ∇KL(π‖π_ref) (``low_var_kl+``, ``k3+``, ``k2``): see :data:`~verl_score.training.config.UNBIASED_KL_GRAD_TYPES`.
* β1 = ``actor.kl_loss_coef`` (verl's own knob, ``use_kl_loss=True`` keeps the ref model); β2 = ``score.beta2``.
* Every term is aggregated with verl's ``agg_loss`` and the *same* global normaliser (``batch_num_tokens`` = all
  policy tokens of the mini-batch, for token-mean), so β1, β2 and the PG keep exactly the paper's relative weights.
* Masks: ``response_mask`` (1 = policy token) AND the per-token ``score_attempt_index`` written by the trainer; the
  instruction, template tokens and padding are in no term.

The stage arrives with the batch as a non-tensor meta field ``score_stage`` (set by ``ScoreTrainerSync`` in
``batch.extra_info``; verl's TransferQueue dispatch turns ``extra_info`` into ``NonTensorData`` on the TensorDict
that reaches this function inside the Ray worker). Stage and data therefore travel together — no second RPC, no
race between a re-``set_loss_fn`` and an in-flight update.
"""

from __future__ import annotations

from typing import Any

import torch
from tensordict import TensorDict
from verl.trainer.ppo.core_algos import agg_loss, get_policy_loss_fn, kl_penalty
from verl.utils import tensordict_utils as tu
from verl.utils.metric import AggregationType, Metric
from verl.workers.config import ActorConfig
from verl.workers.utils.padding import no_padding_2_padding

from verl_score.contracts.keys import LOSS_ATTEMPT_INDEX, STAGE
from verl_score.training.config import UNBIASED_KL_GRAD_TYPES, ScoreConfig
from verl_score.training.schedule import STAGE_I, STAGE_II

__all__ = [
    "OBJECTIVE_PRESERVING_AGG_MODES",
    "check_loss_config",
    "score_loss",
    "score_loss_terms",
]



#: verl ``loss_agg_mode`` values under which every SCoRe term (PG on the stage's attempts, β1 on all policy tokens,
#: β2 on attempt-1 tokens) is a sum over its tokens divided by ONE normaliser shared by all terms (the mini-batch's
#: policy tokens, its sequences, or a constant), so β1, β2 and α keep the paper's relative weights.
#: ``seq-mean-token-mean`` is not here: it divides each row's term by that term's own token count, so it averages
#: attempt 1 and attempt 2 together within a row in Stage II (a long attempt's tokens weigh less), and divides the β2
#: term by attempt 1's length alone (β2's pull on a token grows as attempt 1 shortens).
OBJECTIVE_PRESERVING_AGG_MODES = frozenset({"token-mean", "token-sum", "seq-mean-token-sum", "seq-mean-token-sum-norm"})


def check_loss_config(actor: ActorConfig, score: ScoreConfig) -> None:
    """Fail at start-up on settings that would silently train a different objective."""
    if actor.loss_agg_mode not in OBJECTIVE_PRESERVING_AGG_MODES:
        why = (
            "it divides each row's term by that term's own token count: attempts 1 and 2 are averaged together "
            "within a row in Stage II and the β2 term is divided by attempt 1's length, which changes the "
            "objective's weights"
            if actor.loss_agg_mode == "seq-mean-token-mean"
            else "it is not a loss aggregation the SCoRe loss knows to keep the objective's weights"
        )
        raise ValueError(
            f"actor_rollout_ref.actor.loss_agg_mode={actor.loss_agg_mode!r} is refused: {why}. Fix: use one of "
            f"{sorted(OBJECTIVE_PRESERVING_AGG_MODES)} (token-mean is verl's default)."
        )
    if not actor.use_kl_loss:
        raise ValueError(
            "SCoRe needs actor_rollout_ref.actor.use_kl_loss=True: it builds the reference model that both the "
            "β1 (all tokens) and β2 (attempt 1, Stage I) KL terms need"
        )
    if score.require_unbiased_kl_grad and actor.kl_loss_type not in UNBIASED_KL_GRAD_TYPES:
        raise ValueError(
            f"actor.kl_loss_type={actor.kl_loss_type!r}: as a per-token loss its gradient is not an unbiased "
            "estimate of ∇KL(π‖π_ref) (k1's expected gradient is 0, k3/low_var_kl descends KL(π_ref‖π)). Use one "
            f"of {sorted(UNBIASED_KL_GRAD_TYPES)} (e.g. low_var_kl+), or set score.require_unbiased_kl_grad=false"
        )


def score_loss_terms(
    log_prob: torch.Tensor,
    old_log_prob: torch.Tensor,
    ref_log_prob: torch.Tensor,
    advantages: torch.Tensor,
    response_mask: torch.Tensor,
    attempt_index: torch.Tensor,
    *,
    stage: int,
    config: ActorConfig,
    rollout_is_weights: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """The three SCoRe terms, each a differentiable scalar (pure function over padded tensors).

    Args:
        log_prob: ``[B, T]`` current policy log-probs of the sampled tokens (requires grad).
        old_log_prob: ``[B, T]`` behaviour-policy log-probs (PPO ratio).
        ref_log_prob: ``[B, T]`` reference-policy log-probs.
        advantages: ``[B, T]`` per-attempt advantages (attempt-k tokens carry A_k).
        response_mask: ``[B, T]`` 1 on policy tokens.
        attempt_index: ``[B, T]`` 0 injected, k = attempt k.
        stage: 1 (Stage I) or 2 (Stage II).
        config: verl ``ActorConfig`` (policy loss mode, clip ratios, ``kl_loss_type``, ``loss_agg_mode``,
            ``global_batch_info`` filled by the caller).

    Returns:
        dict with ``pg`` (policy-gradient term), ``kl_all`` (KL over all policy tokens, × β1 by the caller),
        ``kl_attempt1`` (KL over attempt-1 tokens, × β2 in Stage I) and the masks used (bool ``[B, T]``).
    """
    if stage not in (STAGE_I, STAGE_II):
        raise ValueError(f"stage must be 1 or 2, got {stage!r}")
    policy = response_mask.bool()
    attempt1 = policy & (attempt_index == 1)
    later = policy & (attempt_index >= 2)
    # Stage I: PG only on attempts >= 2 (attempt 1 gets no reward). Stage II: every attempt's own tokens.
    pg_mask = later if stage == STAGE_I else (later | attempt1)

    policy_loss_fn = get_policy_loss_fn(config.policy_loss.get("loss_mode", "vanilla"))
    pg, pg_metrics = policy_loss_fn(
        old_log_prob=old_log_prob,
        log_prob=log_prob,
        advantages=advantages,
        response_mask=pg_mask,
        loss_agg_mode=config.loss_agg_mode,
        config=config,
        rollout_is_weights=rollout_is_weights,
    )
    kld = kl_penalty(logprob=log_prob, ref_logprob=ref_log_prob, kl_penalty=config.kl_loss_type)
    kl_all = agg_loss(loss_mat=kld, loss_mask=policy, loss_agg_mode=config.loss_agg_mode, **config.global_batch_info)
    kl_attempt1 = agg_loss(
        loss_mat=kld, loss_mask=attempt1, loss_agg_mode=config.loss_agg_mode, **config.global_batch_info
    )
    return {
        "pg": pg,
        "kl_all": kl_all,
        "kl_attempt1": kl_attempt1,
        "pg_mask": pg_mask,
        "attempt1_mask": attempt1,
        "pg_metrics": pg_metrics,
    }


def score_loss(
    config: ActorConfig,
    model_output: dict[str, Any],
    data: TensorDict,
    dp_group=None,
    *,
    score: ScoreConfig,
):
    """Drop-in for verl's ``ppo_loss`` (install with ``set_loss_fn(partial(score_loss, config=..., score=...))``).

    Returns ``(loss, metrics)`` like ``ppo_loss``. Reads ``score_stage`` from ``data`` and raises if it is
    missing — a silent default stage would train the wrong objective.
    """
    stage = tu.get_non_tensor_data(data=data, key=STAGE, default=None)
    if stage is None:
        raise KeyError(
            f"batch has no '{STAGE}' meta field: the SCoRe loss needs trainer.v1.trainer_mode=score_sync"
        )
    stage = int(stage)
    beta1 = float(config.kl_loss_coef)
    beta2 = float(score.beta2)

    log_prob = no_padding_2_padding(model_output["log_probs"], data)
    entropy = model_output.get("entropy", None)
    if entropy is not None:
        entropy = no_padding_2_padding(entropy, data)

    config.global_batch_info["dp_size"] = data["dp_size"]
    config.global_batch_info["batch_num_tokens"] = data["batch_num_tokens"]
    config.global_batch_info["global_batch_size"] = data["global_batch_size"]
    config.global_batch_info["loss_scale_factor"] = config.loss_scale_factor
    if (
        data["dp_size"] > 1
        or data["batch_num_tokens"] is not None
        or data["global_batch_size"] is not None
        or config.loss_scale_factor is not None
    ):
        metric_aggregation = AggregationType.SUM
    else:
        metric_aggregation = AggregationType.MEAN

    fields = ["response_mask", "old_log_probs", "advantages", "ref_log_prob", LOSS_ATTEMPT_INDEX]
    if "rollout_is_weights" in data:
        fields.append("rollout_is_weights")
    missing = [f for f in fields if f not in data]
    if missing:
        raise KeyError(f"SCoRe loss needs fields {missing} in the batch (use_kl_loss=True, score_sync trainer)")
    padded = data.select(*fields).to_padded_tensor()

    terms = score_loss_terms(
        log_prob=log_prob,
        old_log_prob=padded["old_log_probs"],
        ref_log_prob=padded["ref_log_prob"],
        advantages=padded["advantages"],
        response_mask=padded["response_mask"],
        attempt_index=padded[LOSS_ATTEMPT_INDEX],
        stage=stage,
        config=config,
        rollout_is_weights=padded.get("rollout_is_weights", None),
    )

    # ---- the SCoRe objective, term by term ----
    loss = terms["pg"] + beta1 * terms["kl_all"]
    if stage == STAGE_I:
        loss = loss + beta2 * terms["kl_attempt1"]

    metrics = Metric.from_dict(terms["pg_metrics"], aggregation=AggregationType.MEAN)
    metrics["actor/pg_loss"] = Metric(value=terms["pg"], aggregation=metric_aggregation)
    metrics["kl_loss"] = Metric(value=terms["kl_all"], aggregation=metric_aggregation)
    metrics["kl_coef"] = beta1
    metrics["score/kl_attempt1"] = Metric(value=terms["kl_attempt1"], aggregation=metric_aggregation)
    metrics["score/beta2_effective"] = beta2 if stage == STAGE_I else 0.0
    metrics["score/loss_stage"] = float(stage)

    if entropy is not None and config.entropy_coeff != 0:
        entropy_loss = agg_loss(
            loss_mat=entropy,
            loss_mask=padded["response_mask"].bool(),
            loss_agg_mode=config.loss_agg_mode,
            **config.global_batch_info,
        )
        loss = loss - config.entropy_coeff * entropy_loss
        metrics["actor/entropy_loss"] = Metric(value=entropy_loss, aggregation=metric_aggregation)
    return loss, metrics
