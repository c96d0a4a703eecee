"""Per-attempt credit assignment with γ = 0 across the attempt boundary (SCoRe App. A.2).

Each attempt is its own bandit step: attempt-k tokens are credited only with attempt k's (shaped) reward r̂_k. The
common public bug is one scalar — or GAE with γ = λ = 1 — that lets attempt 2's reward and bonus reach attempt-1
tokens; then Stage II teaches "be wrong first, fix later" and collapses (paper Fig. 9).

How leakage is ruled out by construction: every estimator below is called once *per attempt*, on that attempt's
rewards and token mask only, and its output is written only onto that attempt's tokens. Batch / group statistics
(GRPO mean & std, RLOO leave-one-out mean, GAE whitening) therefore mix samples *within* an attempt, never attempts.
The group estimators reuse verl's own functions (``core_algos.compute_grpo_outcome_advantage`` /
``compute_rloo_outcome_advantage`` / ``compute_gae_advantage_return``) so normalisation matches stock verl.

Shapes: B = trajectories, T = padded response length, K = attempts per episode.
``attempt_index[b, t]`` is 0 on injected tokens (instruction, template, EOS, padding) and k on attempt k's tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from verl.trainer.ppo import core_algos

from verl_score.registry import Registry, UnknownPluginError
from verl_score.training.config import ScoreConfig
from verl_score.training.schedule import STAGE_I

__all__ = [
    "SCORE_ADV_ESTIMATORS",
    "attempt_masks",
    "check_shaping_survives",
    "compute_score_advantages",
    "get_score_adv_estimator",
    "has_group_baseline",
    "place_outcome_rewards",
    "register_score_adv_est",
    "resolve_estimator",
    "shape_attempt_rewards",
    "std_normalises",
    "trainable_rows",
]

#: fn(rewards [B,K], attempt_index [B,T], response_mask [B,T], index [B], *, values, gamma, lam,
#:    norm_adv_by_std_in_grpo, algo_config) -> (advantages [B,T], returns [B,T])
ScoreAdvFn = Callable[..., tuple[torch.Tensor, torch.Tensor]]
#: name -> estimator, each with its metadata ``divides_by_std`` (fn(norm_adv_by_std_in_grpo) -> True when the
#: estimator divides attempt k's advantage by a std of the (shaped) rewards of other samples; such a division is
#: scale-invariant, so it undoes most of α: :func:`check_shaping_survives`) and ``group_baseline`` (the baseline comes
#: from the other samples of the prompt's group, as in RLOO and GRPO: a group left with one valid sample has no
#: baseline there, :func:`trainable_rows`)
SCORE_ADV_ESTIMATORS: Registry[ScoreAdvFn] = Registry(
    "SCoRe advantage estimator", hint="set score.adv_estimator, or algorithm.adv_estimator to one of them"
)


def register_score_adv_est(
    name: str,
    divides_by_std: Callable[[bool], bool] = lambda norm_adv_by_std_in_grpo: False,
    group_baseline: bool = False,
) -> Callable[[ScoreAdvFn], ScoreAdvFn]:
    """Register a per-attempt advantage estimator (our analogue of verl's ``register_adv_est``).

    verl's own estimators cannot be used directly: the v1 trainer hands them only ``rm_scores`` (one scalar per
    trajectory) and ``response_mask``, never the per-attempt rewards or the attempt index.

    ``divides_by_std(norm_adv_by_std_in_grpo)`` declares whether the estimator normalises by a std of the rewards
    (then shaping needs ``score.allow_std_normalised_shaping``). ``group_baseline`` declares that its baseline is
    computed from the prompt's other samples (then a sample alone in its group trains nothing: :func:`trainable_rows`).
    """
    return SCORE_ADV_ESTIMATORS.register(name, divides_by_std=divides_by_std, group_baseline=group_baseline)


def std_normalises(estimator: str, norm_adv_by_std_in_grpo: bool) -> bool:
    """Whether ``estimator`` (a registered name) divides each attempt's advantage by a std of the rewards."""
    return bool(SCORE_ADV_ESTIMATORS.meta(estimator)["divides_by_std"](bool(norm_adv_by_std_in_grpo)))


def has_group_baseline(estimator: str) -> bool:
    """Whether ``estimator``'s baseline comes from the prompt's other samples (False for an unknown name)."""
    return estimator in SCORE_ADV_ESTIMATORS and bool(SCORE_ADV_ESTIMATORS.meta(estimator)["group_baseline"])


def check_shaping_survives(cfg: ScoreConfig, estimator: str, norm_adv_by_std_in_grpo: bool = True) -> None:
    """Refuse, at start-up, an estimator whose std normalisation cancels the Stage II shaping.

    Why: per attempt, (r̂_2 − mean) / std is invariant to affine maps of r̂_2. With r1 equal across a group (all
    first attempts wrong, or all right — the common case), r̂_2 = (1+α)·r2 − α·r1 is affine in r2 and normalises to
    exactly the unshaped advantage; with r1 mixed, the −α·r1 spread inflates the std and shrinks the r2 signal. A
    run would look healthy and train without the paper's bonus. ``score.allow_std_normalised_shaping=true`` keeps
    such a config on purpose.
    """
    # an unknown shaping name or parameter already failed when ``cfg`` was parsed (ShapingConfig builds it)
    if not cfg.shaping.shaping.cancelled_by_std or cfg.allow_std_normalised_shaping:
        return
    if estimator in SCORE_ADV_ESTIMATORS and std_normalises(estimator, norm_adv_by_std_in_grpo):
        what = (
            "GRPO with algorithm.norm_adv_by_std_in_grpo=true divides"
            if estimator == "grpo"
            else f"estimator {estimator!r} divides"
        )
        raise ValueError(
            f"score.adv_estimator / algorithm.adv_estimator={estimator!r} cancels the reward shaping "
            f"(score.shaping.name={cfg.shaping.name!r}: {cfg.shaping.shaping!r}): "
            f"{what} each attempt's advantage by a std of the shaped rewards, which undoes α. Fix: use "
            "score.adv_estimator=rloo (the default) or reinforce"
            + (", or algorithm.norm_adv_by_std_in_grpo=false" if estimator == "grpo" else "")
            + ", or score.shaping.name=none (~score.shaping.kwargs score.shaping.name=none on the command line); to "
            "keep this combination on purpose set "
            "score.allow_std_normalised_shaping=true"
        )


def trainable_rows(index: np.ndarray, valid: torch.Tensor, estimator: str) -> torch.Tensor:
    """The rows an update may train: ``valid`` minus, for group-baseline estimators, every sample left alone in its
    group.

    Why: verl's RLOO and GRPO both give a group of one the baseline 0 (GRPO also std 1), so a lone sample's
    advantage would be its raw shaped reward
    (+11 or −10 at α = 10) beside batch-mates whose advantages are baseline-subtracted: one sample would carry the
    scale of a whole group. A group shrinks to one when the others' reward checks failed (they are excluded); such
    a sample gets no update, is counted (``score/singleton_dropped``), and its group's statistics are not invented.

    Args:
        index: ``[B]`` group ids (verl's ``uid``).
        valid: ``[B]`` bool, rows whose reward checks succeeded.
        estimator: a registered name; only group-baseline estimators (:func:`has_group_baseline`) drop singletons.

    Returns:
        ``[B]`` bool.
    """
    keep = valid.to(torch.bool).cpu().clone()
    if not has_group_baseline(estimator) or not keep.any():
        return keep
    ids = np.asarray(index, dtype=object)
    kept_ids = ids[keep.numpy()]
    uniq, counts = np.unique(kept_ids.astype(str), return_counts=True)
    alone = set(uniq[counts < 2].tolist())
    if alone:
        keep &= torch.as_tensor([str(i) not in alone for i in ids], dtype=torch.bool)
    return keep


def resolve_estimator(score_cfg: ScoreConfig, algorithm_adv_estimator: str) -> str:
    """``score.adv_estimator`` if set, else verl's ``algorithm.adv_estimator`` — which must have a per-attempt form."""
    name = score_cfg.adv_estimator or str(algorithm_adv_estimator)
    if name not in SCORE_ADV_ESTIMATORS:
        raise UnknownPluginError(
            f"advantage estimator {name!r} has no per-attempt (γ = 0) SCoRe form; use one of "
            f"{SCORE_ADV_ESTIMATORS.names()} via score.adv_estimator or algorithm.adv_estimator"
        )
    if name.startswith("gae") and str(algorithm_adv_estimator) != "gae":
        raise ValueError(
            f"score.adv_estimator={name} needs algorithm.adv_estimator=gae (that is what builds the critic)"
        )
    return name


def get_score_adv_estimator(name: str) -> ScoreAdvFn:
    return SCORE_ADV_ESTIMATORS.get(name)


def attempt_masks(attempt_index: torch.Tensor, response_mask: torch.Tensor, num_attempts: int) -> torch.Tensor:
    """Boolean token masks per attempt.

    Args:
        attempt_index: ``[B, T]`` int, 0 = injected token, k = attempt k.
        response_mask: ``[B, T]``, 1 on policy tokens. A token is in attempt k only if it is also a policy token.
        num_attempts: K.

    Returns:
        ``[K, B, T]`` bool; row k−1 is attempt k's policy tokens.
    """
    policy = response_mask.bool()
    return torch.stack([(attempt_index == k) & policy for k in range(1, num_attempts + 1)])


def place_outcome_rewards(rewards: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Put one scalar reward per row on the last token of ``mask`` (an outcome reward, as verl does).

    Args:
        rewards: ``[B]``.
        mask: ``[B, T]`` bool; rows with no token get no reward.

    Returns:
        ``[B, T]`` float, zero everywhere except the last masked token of each row.
    """
    out = torch.zeros(mask.shape, dtype=torch.float32, device=mask.device)
    has = mask.any(dim=1)
    if has.any():
        t = mask.shape[1]
        last = t - 1 - torch.flip(mask.int(), dims=[1]).argmax(dim=1)
        rows = torch.nonzero(has).squeeze(1)
        out[rows, last[rows]] = rewards[rows].to(torch.float32)
    return out


def shape_attempt_rewards(raw: torch.Tensor, stage: int, cfg: ScoreConfig) -> torch.Tensor:
    """Apply the configured shaping to attempts k >= 2; attempt 1 keeps its raw reward.

    Stage I (paper Eq. 3) optimises the raw r̂(y2): no shaping unless ``cfg.shape_in_stage1``.

    Args:
        raw: ``[B, K]`` raw per-attempt rewards (``score_t1 … score_tK``).
        stage: 1 or 2.

    Returns:
        ``[B, K]`` shaped rewards; column 0 is identical to ``raw[:, 0]``.
    """
    shaped = raw.clone().to(torch.float32)
    if stage == STAGE_I and not cfg.shape_in_stage1:
        return shaped
    shaping = cfg.shaping.shaping
    for k in range(1, raw.shape[1]):
        shaped[:, k] = shaping(raw[:, k - 1].float(), raw[:, k].float(), cfg.correct_threshold)
    return shaped


def _broadcast_outcome(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``[B]`` per-row scalar → ``[B, T]`` on ``mask``'s tokens."""
    return scores.to(torch.float32).unsqueeze(-1) * mask.to(torch.float32)


def _per_attempt_outcome(
    outcome_fn: Callable[[torch.Tensor], torch.Tensor],
    rewards: torch.Tensor,
    attempt_index: torch.Tensor,
    response_mask: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run an outcome estimator ``[B] → [B]`` once per attempt; write attempt k's result on attempt-k tokens only."""
    masks = attempt_masks(attempt_index, response_mask, rewards.shape[1])
    adv = torch.zeros(response_mask.shape, dtype=torch.float32, device=response_mask.device)
    for k in range(rewards.shape[1]):
        adv = adv + _broadcast_outcome(outcome_fn(rewards[:, k].float()), masks[k])
    return adv, adv.clone()


def _verl_outcome(estimator: Callable[..., tuple[torch.Tensor, torch.Tensor]],
                  **kwargs: Any) -> Callable[[torch.Tensor], torch.Tensor]:
    """One of verl's outcome estimators (``core_algos.compute_*_outcome_advantage``) as ``[B] → [B]``: each row's
    reward is given as a one-token response, so verl's own group statistics apply unchanged; ``kwargs`` are the
    estimator's (``index``, ``config``, ...)."""

    def outcome(r: torch.Tensor) -> torch.Tensor:
        adv, _ = estimator(token_level_rewards=r.unsqueeze(-1), response_mask=torch.ones_like(r).unsqueeze(-1),
                           **kwargs)
        return adv.squeeze(-1)

    return outcome


@register_score_adv_est(
    "grpo", divides_by_std=lambda norm_adv_by_std_in_grpo: norm_adv_by_std_in_grpo, group_baseline=True
)
def grpo_per_attempt(
    rewards: torch.Tensor,
    attempt_index: torch.Tensor,
    response_mask: torch.Tensor,
    index: np.ndarray,
    *,
    norm_adv_by_std_in_grpo: bool = True,
    algo_config: Any = None,
    **_: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """GRPO, normalised per attempt within the prompt's group: A_k = (r̂_k − mean_g r̂_k) / (std_g r̂_k + ε).

    Args:
        rewards: ``[B, K]`` shaped per-attempt rewards.
        attempt_index, response_mask: ``[B, T]``.
        index: ``[B]`` group id (verl's ``uid``).

    Returns:
        (advantages, returns), both ``[B, T]``; zero on injected tokens.
    """

    outcome = _verl_outcome(core_algos.compute_grpo_outcome_advantage, index=index,
                            norm_adv_by_std_in_grpo=norm_adv_by_std_in_grpo, config=algo_config)
    return _per_attempt_outcome(outcome, rewards, attempt_index, response_mask)


@register_score_adv_est("rloo", group_baseline=True)
def rloo_per_attempt(
    rewards: torch.Tensor,
    attempt_index: torch.Tensor,
    response_mask: torch.Tensor,
    index: np.ndarray,
    *,
    algo_config: Any = None,
    **_: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """REINFORCE with a leave-one-out baseline per attempt: A_k = r̂_k − mean of the group's other r̂_k.

    Shapes as :func:`grpo_per_attempt`.
    """

    outcome = _verl_outcome(core_algos.compute_rloo_outcome_advantage, index=index, config=algo_config)
    return _per_attempt_outcome(outcome, rewards, attempt_index, response_mask)


@register_score_adv_est("reinforce")
def reinforce_per_attempt(
    rewards: torch.Tensor,
    attempt_index: torch.Tensor,
    response_mask: torch.Tensor,
    index: np.ndarray,
    **_: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Plain on-policy REINFORCE, as in the paper (App. B): A_k = r̂_k on attempt-k tokens, no baseline.

    Shapes as :func:`grpo_per_attempt`.
    """
    return _per_attempt_outcome(lambda r: r, rewards, attempt_index, response_mask)


@register_score_adv_est("gae_unwhitened")
def gae_unwhitened_per_attempt(rewards, attempt_index, response_mask, index, **kwargs):
    """:func:`gae_per_attempt` without verl's whitening: A = returns − values (the raw per-attempt GAE), so the
    critic's baseline is subtracted but nothing divides by a std and the shaping's scale survives."""
    return gae_per_attempt(rewards, attempt_index, response_mask, index, whiten=False, **kwargs)


@register_score_adv_est("gae", divides_by_std=lambda norm_adv_by_std_in_grpo: True)  # verl whitens GAE
def gae_per_attempt(
    rewards: torch.Tensor,
    attempt_index: torch.Tensor,
    response_mask: torch.Tensor,
    index: np.ndarray,
    *,
    values: torch.Tensor | None = None,
    gamma: float = 1.0,
    lam: float = 1.0,
    whiten: bool = True,
    **_: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """PPO's GAE with a critic, run separately on each attempt's tokens (γ = 0 across the boundary).

    Attempt k's segment ends in a terminal: r̂_k sits on its last token and the bootstrap value after it is 0, so
    nothing from attempt k+1 (its reward, bonus or values) flows back. Within a segment verl's γ / λ apply. verl's
    ``compute_gae_advantage_return`` skips tokens outside the mask, so calling it with attempt k's mask and rewards
    is exactly segment-wise GAE; its whitening is then per attempt too.

    Args:
        rewards: ``[B, K]`` shaped per-attempt rewards.
        attempt_index, response_mask, values: ``[B, T]`` (values from the critic).

    Returns:
        (advantages ``[B, T]`` whitened per attempt, returns ``[B, T]`` = GAE + values for the critic).
    """
    if values is None:
        raise ValueError("score adv_estimator 'gae' needs critic values (algorithm.adv_estimator=gae builds one)")
    masks = attempt_masks(attempt_index, response_mask, rewards.shape[1])
    adv = torch.zeros(response_mask.shape, dtype=torch.float32, device=response_mask.device)
    ret = torch.zeros_like(adv)
    for k in range(rewards.shape[1]):
        mask_k = masks[k]
        if not mask_k.any():
            continue
        token_rewards = place_outcome_rewards(rewards[:, k], mask_k)
        adv_k, ret_k = core_algos.compute_gae_advantage_return(
            token_level_rewards=token_rewards,
            values=values.float() * mask_k,
            response_mask=mask_k.float(),
            gamma=gamma,
            lam=lam,
        )
        if not whiten:  # verl returns whitened advantages and returns = raw advantages + values
            adv_k = ret_k - values.float()
        adv = adv + adv_k * mask_k
        ret = ret + ret_k * mask_k
    return adv, ret


def compute_score_advantages(
    raw_rewards: torch.Tensor,
    attempt_index: torch.Tensor,
    response_mask: torch.Tensor,
    index: np.ndarray,
    *,
    stage: int,
    cfg: ScoreConfig,
    estimator: str,
    values: torch.Tensor | None = None,
    gamma: float = 1.0,
    lam: float = 1.0,
    norm_adv_by_std_in_grpo: bool = True,
    algo_config: Any = None,
    valid: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Raw per-attempt rewards → shaped rewards → per-attempt advantages, for one stage.

    Stage I (paper Eq. 3) gives attempt 1 **no reward**: its advantages are zeroed (its only training signal is the
    β2 KL in the loss), so even a plain PG loss could not push attempt 1 towards reward.

    ``valid`` (``[B]`` bool, default all True) drops episodes whose reward check failed: they are left out of
    every group / batch statistic (the estimator never sees them) and get advantage 0 on all their tokens (returns =
    their own values, so a critic is not pulled towards a fake 0). A failed r1 next to a correct r2 would otherwise
    earn the full +α flip bonus. With a group-baseline estimator, a sample left alone in its group by those
    exclusions is dropped the same way (:func:`trainable_rows`).

    Args:
        raw_rewards: ``[B, K]`` raw ``score_t1 … score_tK``.
        attempt_index, response_mask: ``[B, T]``.
        index: ``[B]`` group ids.
        stage: 1 or 2.
        estimator: a name registered in :data:`SCORE_ADV_ESTIMATORS`.

    Returns:
        (advantages ``[B, T]``, returns ``[B, T]``, shaped rewards ``[B, K]``).
    """
    if raw_rewards.dim() != 2:
        raise ValueError(f"raw_rewards must be [B, K], got {tuple(raw_rewards.shape)}")
    shaped = shape_attempt_rewards(raw_rewards, stage, cfg)
    fn = get_score_adv_estimator(estimator)
    n_rows = raw_rewards.shape[0]
    keep = torch.ones(n_rows, dtype=torch.bool) if valid is None else valid.to(torch.bool).cpu()
    if keep.shape != (n_rows,):
        raise ValueError(f"valid must be [B]={n_rows}, got {tuple(keep.shape)}")
    keep = trainable_rows(index, keep, estimator)
    adv = torch.zeros(response_mask.shape, dtype=torch.float32, device=response_mask.device)
    ret = values.float() * response_mask if values is not None else torch.zeros_like(adv)
    if keep.any():
        rows = torch.nonzero(keep).squeeze(1)
        adv_k, ret_k = fn(
            shaped[rows],
            attempt_index[rows],
            response_mask[rows],
            np.asarray(index)[rows.numpy()],
            values=values[rows] if values is not None else None,
            gamma=gamma,
            lam=lam,
            norm_adv_by_std_in_grpo=norm_adv_by_std_in_grpo,
            algo_config=algo_config,
        )
        adv[rows], ret[rows] = adv_k.to(adv.dtype), ret_k.to(ret.dtype)
    if stage == STAGE_I:
        first = attempt_masks(attempt_index, response_mask, 1)[0]
        adv = adv.masked_fill(first, 0.0)
    return adv, ret, shaped
