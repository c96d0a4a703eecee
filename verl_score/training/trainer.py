"""``score_sync``: verl 0.9.1's v1 synchronous trainer plus SCoRe's credit, loss, schedule and metrics.

Select with ``trainer.v1.trainer_mode=score_sync`` (registered with verl's ``register_trainer`` on import of this
module; ``verl_score.register`` imports it). Nothing in verl is edited; these methods are overridden:

* ``on_init_end``        installs :func:`verl_score.training.loss.score_loss` in the actor workers
                         (``actor_rollout_wg.set_loss_fn``, the documented hook) after checking the KL settings.
* ``_compute_advantage`` reads the per-attempt rewards (``score_t1 … score_tK`` in ``extra_fields.reward_extra_info``)
                         and the per-token ``attempt_index`` from TransferQueue — verl's own step fetches neither —
                         and writes per-attempt advantages (γ = 0) plus an aligned ``score_attempt_index``.
* ``_update_actor``      stamps the current stage on the batch meta (``extra_info["score_stage"]``); the TQ dispatch
                         turns it into a ``NonTensorData`` field of the TensorDict the loss receives in the worker.
* ``_compute_metrics`` / ``_val_metrics_update``  add the self-correction metrics of :mod:`verl_score.metrics`
                         (verl 0.9.1's v1 trainer never logs training ``reward_extra_info``).
* ``_validate``          labels a validation with the stage of the step it validates (``score/stage``).

A mixin (:mod:`verl_score.training.resume_log`) keeps the file logger's pre-resume lines when a run resumes.

Why the stage travels with the batch rather than by re-calling ``set_loss_fn`` on a stage change: the meta field is
atomic with the data it labels (no extra Ray round trip, no window where a worker holds the previous stage's loss),
it needs no state in the worker, and it also works for trainers that keep several batches in flight.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from collections import defaultdict
from functools import partial

import numpy as np
import torch
import transfer_queue as tq
from tensordict import TensorDict
from transfer_queue import KVBatchMeta
from verl.protocol import DataProto
from verl.trainer.ppo.rollout_corr_helper import compute_rollout_correction_and_add_to_batch
from verl.trainer.ppo.v1 import PPOTrainerSync, register_trainer
from verl.utils.config import omega_conf_to_dataclass
from verl.workers.utils.padding import response_to_nested

from verl_score.contracts.keys import (
    ANSWER_CHANGED,
    EPISODE_ATTEMPT_INDEX,
    LOSS_ATTEMPT_INDEX,
    REWARD_EXTRA_INFO,
    REWARD_FAILED,
    STAGE,
    failed_t,
    score_t,
)
from verl_score.llm.failure_monitor import FailureRateExceeded, FailureRateMonitor, MonitorConfig
from verl_score.metrics import (
    attempt_failed_from_reward_info,
    attempt_scores_from_reward_info,
    episode_metrics,
    guidance_split_metrics,
    metrics_from_extra_fields,
    scored_episodes,
    val_guidance_sources,
)
from verl_score.training.credit import attempt_masks, compute_score_advantages, resolve_estimator, trainable_rows
from verl_score.training.loss import score_loss
from verl_score.training.resume_log import ResumedMetricsLogMixin
from verl_score.training.run_length import check_run_length
from verl_score.training.schedule import stage_at
from verl_score.training.validate import validate_score

__all__ = ["ScoreTrainerSync", "resolve_estimator"]

logger = logging.getLogger(__name__)
logger.setLevel(os.getenv("VERL_LOGGING_LEVEL", "INFO"))

def per_attempt_mean(values: torch.Tensor, masks: torch.Tensor) -> list[float | None]:
    """Mean of ``values`` ``[B, T]`` over each attempt's tokens (``masks`` ``[K, B, T]``); None for an attempt with no
    token in the batch."""
    out: list[float | None] = []
    for mask in masks:
        m = mask.float()
        out.append(float((values * m).sum() / m.sum()) if m.sum() > 0 else None)
    return out


def attempt_kl_metrics(data: TensorDict, rows: torch.Tensor, masks: torch.Tensor) -> dict[str, float]:
    """How far each attempt has moved from the reference: ``score/kl_ref_t{k}/mean``, the mean over attempt-k
    tokens of log π_old − log π_ref on the sampled tokens (the k1 estimate of KL(π‖π_ref) per token).

    Why besides the loss's ``actor/score/kl_attempt1``: that one is the attempt-1 KL summed over attempt-1 tokens
    and divided by ALL policy tokens (the term β2 multiplies), so it shrinks as attempt 2 grows and cannot be
    compared across attempts. This is a per-token mean per attempt: in Stage I attempt 1's should stay near 0 while
    attempt 2's grows. It is a mean log-ratio on the sampled (top-k / top-p) tokens, so it can be slightly negative;
    when the rollout's log-probs are reused as the old policy's (bypass mode) it also carries the rollout engine's
    numerical mismatch with the training forward pass, which on a GPU engine can be of the order of a small drift.
    Empty when the batch has no reference log-probs (no KL loss)."""
    keys = data.keys()
    if "old_log_probs" not in keys or "ref_log_prob" not in keys:
        return {}
    diff = _as_nested(data["old_log_probs"]).to_padded_tensor(padding=0.0) - _as_nested(
        data["ref_log_prob"]
    ).to_padded_tensor(padding=0.0)
    means = per_attempt_mean(diff[rows].float(), masks)
    return {f"score/kl_ref_t{k}/mean": v for k, v in enumerate(means, start=1) if v is not None}


def _flag(column: list | None, i: int) -> bool:
    """Row ``i`` of a per-sample 0/1 column of verl's validation ``reward_extra_infos_dict`` (absent = 0)."""
    return column is not None and i < len(column) and column[i] is not None and float(column[i]) > 0


def _rows(nested: torch.Tensor) -> list[torch.Tensor]:
    return list(nested.unbind()) if getattr(nested, "is_nested", False) else list(nested)


def _as_list(values) -> list:
    """Non-tensor TQ fields come back as a NonTensorStack, a tensordict LinkedList or a numpy array (see verl's
    ``_compute_reward_colocate``); normalise to a plain list of per-row Python objects."""
    if isinstance(values, list):
        return list(values)
    if hasattr(values, "tolist"):
        return list(values.tolist())
    return list(values)


def _as_nested(t: torch.Tensor) -> torch.Tensor:
    """TransferQueue returns jagged per-token fields; a stacked one (all rows equally long) is made jagged."""
    return t if t.is_nested else torch.nested.as_nested_tensor(list(t), layout=torch.jagged)


@dataclass
class _StepBatch:
    """One training batch as the advantage step reads it from TransferQueue, checked and padded.

    Shapes: B = ``n_rows`` (padding rows included), T = ``width`` (longest response), K = attempts."""

    data: TensorDict  #: the fetched fields (``_FETCHED``)
    response_mask_nested: torch.Tensor  #: jagged, as stored: the layout written-back fields must have
    response_mask: torch.Tensor  #: ``[B, T]``; rollout correction may mask more tokens
    attempt_index: torch.Tensor  #: ``[B, T]`` int64, 0 off policy tokens and on padding rows
    raw: torch.Tensor  #: ``[B, K]`` per-attempt rewards as the reward function gave them
    failed: torch.Tensor  #: ``[B, K]`` bool, that attempt's reward check failed
    uids: np.ndarray  #: ``[B]`` group ids
    is_padding: np.ndarray  #: ``[B]`` verl's synthetic padding rows (they train nothing)
    width: int  #: T

    @property
    def n_rows(self) -> int:
        return len(self.is_padding)

    @property
    def real(self) -> np.ndarray:
        """Indices of the rows that are episodes, not padding."""
        return np.nonzero(~self.is_padding)[0]

    @property
    def excluded(self) -> torch.Tensor:
        """``[B]`` episodes with a failed reward check: zero advantage, out of their group's statistics."""
        return self.failed.any(dim=1) & torch.as_tensor(~self.is_padding)


#: what the advantage step reads from TransferQueue
_FETCHED = ["uid", "response_mask", "extra_fields", EPISODE_ATTEMPT_INDEX, "rollout_log_probs", "old_log_probs",
            "ref_log_prob", "values"]


def _refuse_multi_output(batch: KVBatchMeta) -> None:
    """One ``AgentLoopOutput`` per trajectory (keys ``{uid}_{session}_0``): the attempts are one sequence."""
    multi = [
        key
        for key, tag in zip(batch.keys, batch.tags, strict=True)
        if not tag.get("is_padding", False) and key.rsplit("_", 2)[-1] != "0"
    ]
    if multi:
        raise NotImplementedError(
            f"score_sync expects one AgentLoopOutput per trajectory (both attempts in one sequence, keys "
            f"'{{uid}}_{{session}}_0'); got multi-output keys such as {multi[0]!r}"
        )


def _fetch_attempts(batch: KVBatchMeta, k_att: int) -> _StepBatch:
    """Fetch the batch and check it: the episode's attempt index has one entry per response token, every episode
    has exactly ``k_att`` per-attempt rewards, and no token belongs to an attempt beyond ``k_att``."""
    data = tq.kv_batch_get(keys=batch.keys, partition_id=batch.partition_id, select_fields=_FETCHED)
    if EPISODE_ATTEMPT_INDEX not in data.keys():
        raise KeyError(
            f"no per-token '{EPISODE_ATTEMPT_INDEX}' in TransferQueue: use the score_two_attempt agent loop "
            "(rollout.agent.default_agent_loop=score_two_attempt)"
        )
    response_mask_nested = _as_nested(data["response_mask"])
    resp_lens = response_mask_nested.offsets().diff().tolist()
    n_rows = len(batch)
    width = max(resp_lens) if resp_lens else 0
    is_padding = np.array([bool(tag.get("is_padding", False)) for tag in batch.tags], dtype=bool)

    response_mask = response_mask_nested.to_padded_tensor(padding=0)
    attempt_index = torch.zeros((n_rows, width), dtype=torch.int64)
    for i, row in enumerate(_rows(data[EPISODE_ATTEMPT_INDEX])):
        if is_padding[i]:
            continue  # verl's synthetic padding rows copy fields from a real sample; they train nothing
        if row.numel() != resp_lens[i]:
            raise ValueError(
                f"{EPISODE_ATTEMPT_INDEX} of {batch.keys[i]} has {row.numel()} tokens, response has {resp_lens[i]}"
            )
        attempt_index[i, : resp_lens[i]] = row.to(torch.int64)
    attempt_index = attempt_index * (response_mask > 0)

    raw, failed = _attempt_rewards(_as_list(data["extra_fields"]), batch.keys, is_padding, k_att)
    if attempt_index.numel() and int(attempt_index.max()) > k_att:
        raise ValueError(
            f"{EPISODE_ATTEMPT_INDEX} reaches {int(attempt_index.max())} > score.num_attempts={k_att}: tokens of "
            "extra attempts would keep their loss mask and KL with no advantage. The SCoRe loops read K from "
            "score.num_attempts (verl_score/contracts/run_settings.py): is the episode from another agent loop?"
        )
    return _StepBatch(data, response_mask_nested, response_mask, attempt_index, raw, failed,
                      np.array(_as_list(data["uid"]), dtype=object), is_padding, width)


def _attempt_rewards(
    extra_fields: list, keys: list[str], is_padding: np.ndarray, k_att: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-attempt rewards ``[B, K]`` and failed-check flags ``[B, K]`` from each episode's ``reward_extra_info``
    (zeros on padding rows); an episode with another number of attempts is refused."""
    raw = torch.zeros((len(extra_fields), k_att), dtype=torch.float32)
    failed = torch.zeros((len(extra_fields), k_att), dtype=torch.bool)
    for i, ef in enumerate(extra_fields):
        if is_padding[i]:
            continue
        info = (ef or {}).get(REWARD_EXTRA_INFO) or {}
        scores = attempt_scores_from_reward_info(info)
        if len(scores) != k_att:
            raise ValueError(
                f"{keys[i]}: {len(scores)} per-attempt scores but score.num_attempts={k_att}; an episode "
                "must have exactly score.num_attempts attempts (the SCoRe loops read K from score.num_attempts: "
                "is the episode from another agent loop, or the reward not per attempt?)"
            )
        raw[i] = torch.tensor(scores)
        failed[i] = torch.tensor(attempt_failed_from_reward_info(info, k_att))
    return raw, failed


@register_trainer("score_sync")
class ScoreTrainerSync(ResumedMetricsLogMixin, PPOTrainerSync):
    """Synchronous v1 PPO trainer running SCoRe Stage I / Stage II (Kumar et al. 2024). A resumed run keeps the
    metrics log of the steps before the resume (:mod:`verl_score.training.resume_log`)."""

    def _build_replay_buffer(self):
        """verl's base trainer decides "synchronous or not" by comparing ``trainer.v1.trainer_mode`` with the string
        ``"sync"``; under our registered name (``score_sync``) it would take the asynchronous paths: the async replay
        buffer, ``data.gen_batch_size`` forced to 1, TransferQueue state in every checkpoint. This trainer IS verl's
        ``PPOTrainerSync``, so it reports verl's synchronous mode name. This hook is the first place the base
        ``__init__`` reads the mode, right after setting it; ``trainer.v1.sync`` is then the settings block it reads."""
        self.trainer_mode = "sync"
        self.parameter_sync_step = self.config.trainer.v1.get("sync", {}).get("parameter_sync_step", 1)
        return super()._build_replay_buffer()

    def __init__(self, config):
        super().__init__(config)
        self.score_cfg, self.score_estimator = validate_score(config)
        self.score_stage = stage_at(1, self.score_cfg.schedule)

    def _init_dataloader(self):
        """verl's dataloaders, then the run-length check on the dataset verl will really train on (after
        ``data.filter_overlong_prompts``): a run that would stop before ``total_training_steps`` or before Stage II
        is refused here, before any worker starts (:mod:`verl_score.training.run_length`)."""
        super()._init_dataloader()
        n = check_run_length(self.config, len(self.train_dataset), rows_from=f"data.train_files={self.config.data.train_files}")
        logger.info(
            "SCoRe run length: %d rows / batch %d = %d steps per epoch; the run ends at step %d",
            n.train_rows, n.train_batch_size, n.steps_per_epoch, n.last_step,
        )

    # ------------------------------------------------------------------ loss install and stage
    def on_init_end(self):
        if getattr(self, "ref_in_actor", False):
            # verl (trainer_base._setup): with a LoRA rank the reference is the actor with its adapter disabled, so
            # no reference model is built; said once, with the worker roles verl really created
            roles = sorted(str(r) for r in self.role_worker_mapping)
            print(
                f"[score] reference policy: the actor with its LoRA adapter disabled (no separate reference model; "
                f"worker roles {roles})",
                flush=True,
            )
        actor_cfg = omega_conf_to_dataclass(self.config.actor_rollout_ref.actor)
        self.actor_rollout_wg.set_loss_fn(partial(score_loss, config=actor_cfg, score=self.score_cfg))
        super().on_init_end()

    def on_step_begin(self):
        super().on_step_begin()
        self.score_stage = stage_at(self.global_steps, self.score_cfg.schedule)

    def _validate(self) -> dict[str, float]:
        """verl's validation plus ``score/stage``: the stage that trained the weights being validated
        (``stage_at(global_steps)``). Inside training it equals the step's own ``score/stage``; before training it
        labels a resumed run's checkpoint (step N) with N's stage, so a plot's stage shading stays right. A fresh
        run's step-0 validation (no training yet) gets none."""
        metrics = super()._validate()
        if self.global_steps >= 1:
            metrics["score/stage"] = float(stage_at(self.global_steps, self.score_cfg.schedule))
        return metrics

    def _update_actor(self, batch: KVBatchMeta, metrics: dict) -> KVBatchMeta:
        batch.extra_info[STAGE] = int(self.score_stage)
        return super()._update_actor(batch, metrics)

    # ------------------------------------------------------------------ per-attempt credit
    def _compute_advantage(self, batch: KVBatchMeta, metrics: dict) -> KVBatchMeta:
        """Per-attempt advantages with γ = 0; replaces verl's single-scalar-per-trajectory advantage.

        The steps, in order: refuse multi-output episodes; fetch and check the batch (attempt index aligned with the
        response, K rewards per episode: :func:`_fetch_attempts`); verl's rollout correction; per-attempt credit;
        write the advantages and the loss's attempt index back to TransferQueue; count failed reward checks; metrics.
        """
        k_att = self.score_cfg.num_attempts
        _refuse_multi_output(batch)
        step = _fetch_attempts(batch, k_att)
        write_back = self._rollout_correction(step, metrics)
        adv, ret, shaped, singleton = self._credit(step)
        write_back.update({"advantages": adv, "returns": ret, LOSS_ATTEMPT_INDEX: step.attempt_index})
        output = TensorDict(
            {k: response_to_nested(v, step.response_mask_nested) for k, v in write_back.items()},
            batch_size=step.n_rows,
        )
        batch = tq.kv_batch_put(keys=batch.keys, partition_id=batch.partition_id, fields=output)
        if step.excluded.any():
            logger.warning(
                "SCoRe: %d/%d episodes had a failed reward check; they get zero advantage and are left out of the "
                "group statistics",
                int(step.excluded.sum()),
                len(step.real),
            )
        self._record_reward_failures([not bool(step.excluded[i]) for i in step.real])
        metrics.update(self._advantage_metrics(step, adv, shaped, singleton))
        return batch

    def _rollout_correction(self, step: "_StepBatch", metrics: dict) -> dict[str, torch.Tensor]:
        """verl's rollout correction (IS weights / rejection) exactly as ``PPOTrainer._compute_advantage`` does it.

        Updates ``step.response_mask`` when rejection masks tokens, adds verl's IS metrics to ``metrics``, and returns
        the fields to write back (the corrected mask, the IS weights); ``{}`` when the correction is off."""
        rc_cfg = self.config.algorithm.get("rollout_correction", None)
        bypass = rc_cfg and rc_cfg.get("bypass_mode", False)
        data = step.data
        if rc_cfg is None or "rollout_log_probs" not in data.keys() or bypass:
            return {}
        rc = DataProto(
            batch=TensorDict(
                {
                    "old_log_probs": data["old_log_probs"].to_padded_tensor(padding=0.0),
                    "rollout_log_probs": data["rollout_log_probs"].to_padded_tensor(padding=0.0),
                    "response_mask": step.response_mask,
                },
                batch_size=step.n_rows,
            )
        )
        rc, is_metrics = compute_rollout_correction_and_add_to_batch(rc, rc_cfg)
        metrics.update(is_metrics)
        step.response_mask = rc.batch["response_mask"]
        write_back = {"response_mask": step.response_mask}
        if "rollout_is_weights" in rc.batch.keys():
            write_back["rollout_is_weights"] = rc.batch["rollout_is_weights"]
        return write_back

    def _credit(self, step: "_StepBatch") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per-attempt advantages and returns ``[B, T]``, shaped rewards ``[B, K]`` and the valid samples left alone
        in their group ``[B]`` (:func:`~verl_score.training.credit.trainable_rows`). Padding rows and episodes with a
        failed check get zero advantage."""
        data, real = step.data, step.real
        values = data["values"].to_padded_tensor(padding=0.0) if "values" in data.keys() else None
        adv = torch.zeros((step.n_rows, step.width), dtype=torch.float32)
        ret = torch.zeros_like(adv)
        shaped = step.raw.clone()
        excluded = step.excluded
        singleton = torch.zeros(step.n_rows, dtype=torch.bool)
        if len(real):
            sel = torch.as_tensor(real)
            singleton[sel] = ~excluded[sel] & ~trainable_rows(step.uids[real], ~excluded[sel], self.score_estimator)
            adv_r, ret_r, shaped_r = compute_score_advantages(
                step.raw[sel],
                step.attempt_index[sel],
                step.response_mask[sel],
                step.uids[real],
                stage=self.score_stage,
                cfg=self.score_cfg,
                estimator=self.score_estimator,
                values=values[sel] if values is not None else None,
                gamma=self.config.algorithm.gamma,
                lam=self.config.algorithm.lam,
                norm_adv_by_std_in_grpo=self.config.algorithm.get("norm_adv_by_std_in_grpo", True),
                algo_config=self.config.algorithm,
                valid=~excluded[sel],
            )
            adv[sel], ret[sel], shaped[sel] = adv_r, ret_r, shaped_r
        return adv, ret, shaped, singleton

    def _advantage_metrics(
        self, step: "_StepBatch", adv: torch.Tensor, shaped: torch.Tensor, singleton: torch.Tensor
    ) -> dict[str, float]:
        """Step metrics: stage, per-attempt rewards (raw and shaped), failure rates, token counts, advantage sizes and
        the per-attempt KL to the reference."""
        k_att = self.score_cfg.num_attempts
        metrics = {"score/stage": float(self.score_stage)}
        if not len(step.real):
            return metrics
        sel = torch.as_tensor(step.real)
        raw, failed = step.raw, step.failed
        masks = attempt_masks(step.attempt_index[sel], step.response_mask[sel], k_att)
        metrics["score/reward_failed_rate"] = failed[sel].any(dim=1).float().mean().item()
        metrics["score/excluded_episodes"] = float(step.excluded.sum().item())
        # valid samples left alone in their group by those exclusions: no baseline, so no update (credit.py)
        metrics["score/singleton_dropped"] = float(singleton.sum().item())
        for k in range(k_att):
            metrics[f"score/reward_failed_rate_t{k + 1}"] = failed[sel, k].float().mean().item()
            metrics[f"score/reward_t{k + 1}/mean"] = raw[sel, k].mean().item()
            metrics[f"score/shaped_reward_t{k + 1}/mean"] = shaped[sel, k].mean().item()
            metrics[f"score/attempt{k + 1}_tokens/mean"] = masks[k].sum(dim=1).float().mean().item()
        # which attempts the update credits: Stage I must leave attempt 1 at exactly 0
        for k, v in enumerate(per_attempt_mean(adv[sel].abs(), masks), start=1):
            metrics[f"score/advantage_abs_t{k}/mean"] = 0.0 if v is None else v
        metrics.update(attempt_kl_metrics(step.data, sel, masks))
        return metrics

    def _record_reward_failures(self, ok: list[bool]) -> None:
        """Feed the episode outcomes to the failure monitor; stop the run past ``score.reward_failure.max_rate``."""
        rf = self.score_cfg.reward_failure
        monitor = getattr(self, "reward_failure_monitor", None)
        if monitor is None:
            monitor = self.reward_failure_monitor = FailureRateMonitor(
                "score.reward_failure", MonitorConfig(threshold=rf.max_rate, window=rf.window, min_calls=rf.min_episodes)
            )
        try:
            for flag in ok:
                monitor.record(flag, kind=REWARD_FAILED)
        except FailureRateExceeded:
            raise RuntimeError(
                f"SCoRe: {monitor.rate():.1%} of the last episodes had a failed reward check "
                f"(math-verify timeout/error, sandbox failure, judge error), above score.reward_failure.max_rate="
                f"{rf.max_rate} (window {rf.window}, after {rf.min_episodes} episodes). Those episodes train nothing; "
                "stopping instead of training on what is left. Fix the verifier (see reward_extra_info "
                "failed_t1…failed_tK), or raise score.reward_failure.max_rate."
            ) from None

    # ------------------------------------------------------------------ metrics
    def _compute_metrics(self, batch: KVBatchMeta, metrics, timing_raw, global_steps, epoch):
        super()._compute_metrics(batch, metrics, timing_raw, global_steps, epoch)
        metrics["score/stage"] = float(self.score_stage)
        data = tq.kv_batch_get(keys=batch.keys, partition_id=batch.partition_id, select_fields=["extra_fields"])
        extra_fields = [
            ef
            for ef, tag in zip(_as_list(data["extra_fields"]), batch.tags, strict=True)
            if not tag.get("is_padding", False)
        ]
        sc = metrics_from_extra_fields(extra_fields, threshold=self.score_cfg.correct_threshold)
        metrics.update({f"score/{k}": v for k, v in sc.items()})

    def _val_metrics_update(
        self, data_sources, sample_uids, reward_extra_infos_dict, sample_turns, expected_acc_counts=None
    ) -> dict[str, float]:
        """verl's val metrics (``val-core/{ds}/score_t1/mean@N`` …) plus the derived transition rates per source."""
        metric_dict = super()._val_metrics_update(
            data_sources, sample_uids, reward_extra_infos_dict, sample_turns, expected_acc_counts=expected_acc_counts
        )
        k_att = self.score_cfg.num_attempts
        cols = [reward_extra_infos_dict.get(score_t(k)) for k in range(1, k_att + 1)]
        if any(not c for c in cols):
            return metric_dict
        n = len(cols[1])
        fail_cols = [reward_extra_infos_dict.get(failed_t(k)) for k in range(1, k_att + 1)]
        if all(f is None for f in fail_cols):  # no per-attempt flags: "any attempt failed" marks them all, as training
            fail_cols = [reward_extra_infos_dict.get(REWARD_FAILED)] * k_att
        sources = val_guidance_sources(reward_extra_infos_dict, n)
        changed = reward_extra_infos_dict.get(ANSWER_CHANGED)
        by_source: dict[str, list[int]] = defaultdict(list)
        for i, ds in enumerate(data_sources):
            if all(i < len(c) and c[i] is not None for c in cols):
                by_source[str(ds)].append(i)
        for ds, idx in by_source.items():
            scores = np.array([[float(c[i]) for c in cols] for i in idx], dtype=np.float64)
            failed = np.array([[_flag(f, i) for f in fail_cols] for i in idx], dtype=bool)
            flags = None
            if changed is not None and all(i < len(changed) and changed[i] is not None for i in idx):
                flags = [float(changed[i]) for i in idx]
            sc = episode_metrics(
                scores, failed, answer_changed=flags if k_att == 2 else None, threshold=self.score_cfg.correct_threshold
            )
            if sources is not None:
                kept = [i for i, ok in zip(idx, scored_episodes(scores, failed)[1], strict=True) if ok]
                sc.update(
                    guidance_split_metrics(
                        [sources[i] for i in kept],
                        [float(cols[1][i]) for i in kept],
                        threshold=self.score_cfg.correct_threshold,
                    )
                )
            metric_dict.update({f"val-core/{ds}/score/{k}": v for k, v in sc.items()})
        return metric_dict
