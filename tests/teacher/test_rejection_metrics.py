"""SMART rejections by reason reach both metric paths: training (``metrics_from_extra_fields`` on the episodes'
``extra_fields``) and validation (``score_fn``'s one-hot ``guidance_t2_rejected_{reason}`` columns, read back by
the trainer's own ``_val_metrics_update``, which this change does not touch)."""

from __future__ import annotations

import math

import pytest

from verl_score.metrics import (
    GUIDANCE_REJECTION_REASONS,
    guidance_bucket,
    guidance_source_with_reason,
    metrics_from_extra_fields,
    val_guidance_sources,
)
from verl_score.rewards.base import RewardResult
from verl_score.rewards.score_fn import summarize
from verl_score.teacher.leakage import REASONS
from verl_score.teacher.verdict_classifier import CLASSIFIER_REASONS

EPISODES = [  # (guidance source, reason, attempt-1 score, attempt-2 score)
    ("smart", "", 0.0, 1.0),
    ("smart_rejected", "verdict", 0.0, 1.0),
    ("smart_rejected", "verdict", 1.0, 1.0),
    ("smart_rejected", "non_english", 0.0, 0.0),
    ("smart_rejected", "classifier_failed", 0.0, 0.0),
    ("smart_failed", "timeout", 0.0, 1.0),
    ("static", "", 1.0, 1.0),
]


def test_every_reason_the_screen_can_give_has_a_column():
    produced = set(REASONS) | set(CLASSIFIER_REASONS) | {"over_reserve"}
    assert produced <= set(GUIDANCE_REJECTION_REASONS) and "other" in GUIDANCE_REJECTION_REASONS


def test_source_with_reason_keeps_the_buckets():
    assert guidance_source_with_reason("smart_rejected", "verdict") == "smart_rejected:verdict"
    # failures keep their kind in the provider's counters, not in the per-reason rejection split
    assert guidance_source_with_reason("smart_failed", "timeout") == "smart_failed"
    assert guidance_source_with_reason("smart", "") == "smart"
    # a rejection whose recorded reason is empty counts as "other" (validation's mapping), so the split sums up
    assert guidance_source_with_reason("smart_rejected", "") == "smart_rejected:other"
    assert guidance_source_with_reason("smart_rejected", None) == "smart_rejected"
    assert guidance_bucket("smart_rejected:verdict") == "smart_rejected"


def _expected(reason: str) -> float:
    smart_calls = sum(s.startswith("smart") for s, *_ in EPISODES)  # 6
    return sum(r == reason for s, r, *_ in EPISODES if s == "smart_rejected") / smart_calls


def test_training_metrics_have_a_rate_per_reason():
    efs = [{"reward_extra_info": {"score_t1": s1, "score_t2": s2}, "attempt_texts": ["a", "b"],
            "guidance": [src], "guidance_reasons": [why]} for src, why, s1, s2 in EPISODES]
    m = metrics_from_extra_fields(efs)
    assert m["guidance/rejected_rate"] == pytest.approx(4 / 6)
    for r in GUIDANCE_REJECTION_REASONS:
        assert m[f"guidance/rejected_rate/{r}"] == pytest.approx(_expected(r)), r
    assert m["guidance/rejected_rate/verdict"] == pytest.approx(2 / 6)
    assert sum(m[f"guidance/rejected_rate/{r}"] for r in GUIDANCE_REJECTION_REASONS) == pytest.approx(4 / 6)
    assert m["guidance/acc@t2/smart_rejected"] == 0.5  # the bucket split is unchanged by the reason suffix
    # episodes from before this change (no guidance_reasons): no per-reason keys, nothing else changes
    old = metrics_from_extra_fields([{k: v for k, v in ef.items() if k != "guidance_reasons"} for ef in efs])
    assert not any(k.startswith("guidance/rejected_rate/") for k in old)
    assert old["guidance/rejected_rate"] == m["guidance/rejected_rate"]


def _rows():
    return [summarize([RewardResult(s1), RewardResult(s2)], per_attempt=True, guidance=[src], guidance_reasons=[why])
            for src, why, s1, s2 in EPISODES]


def test_score_fn_columns_are_one_hot_and_the_same_for_every_row():
    rows = _rows()
    assert all(set(r) == set(rows[0]) for r in rows)  # verl builds the batch's arrays from the first row's keys
    assert rows[1]["guidance_t2_rejected_verdict"] == 1.0
    assert sum(rows[1][f"guidance_t2_rejected_{r}"] for r in GUIDANCE_REJECTION_REASONS) == 1.0
    for i in (0, 5, 6):  # accepted, failed, static: no rejection column set
        assert not any(rows[i][f"guidance_t2_rejected_{r}"] for r in GUIDANCE_REJECTION_REASONS)
    odd = summarize([RewardResult(0.0), RewardResult(0.0)], per_attempt=True, guidance=["smart_rejected"],
                    guidance_reasons=["something_new"])
    assert odd["guidance_t2_rejected_other"] == 1.0


def test_validation_metrics_have_a_rate_per_reason():
    """Through the trainer's real ``_val_metrics_update`` (reward columns in, metric names out)."""
    from types import SimpleNamespace

    from verl_score.training.trainer import ScoreTrainerSync

    rows = _rows()
    info = {k: [r[k] for r in rows] for k in rows[0]}
    assert val_guidance_sources(info, len(rows))[1] == "smart_rejected:verdict"
    tr = ScoreTrainerSync.__new__(ScoreTrainerSync)
    tr.score_cfg = SimpleNamespace(num_attempts=2, correct_threshold=1.0)
    m = tr._val_metrics_update(["gsm8k"] * len(rows), [str(i) for i in range(len(rows))], info, [4] * len(rows))
    for r in GUIDANCE_REJECTION_REASONS:
        assert m[f"val-core/gsm8k/score/guidance/rejected_rate/{r}"] == pytest.approx(_expected(r)), r
    # verl's own averaging of the columns: the share of all validation episodes (7) rejected for that reason
    assert m["val-aux/gsm8k/guidance_t2_rejected_verdict/mean@1"] == pytest.approx(2 / 7)
    assert not math.isnan(m["val-core/gsm8k/score/guidance/rejected_rate"])
