"""Self-correction metrics (SCoRe, Kumar et al. 2024, §4-§6): ONE implementation for training, validation and eval.

Why one module: the paper mixes two kinds of rate. Its tables (2, 3) report Δi→c and Δc→i as fractions of *all*
problems (unconditional), while the prose ("14.5% vs 9.5%") reports the fix rate among problems whose first attempt
was wrong (conditional). Computing both here, with the kind in the metric name, keeps train / val / eval numbers
comparable and stops the two kinds from being confused.

Names (all values are fractions in [0, 1]; multiply by 100 for the paper's percentages):

=========================  ====================================================================================
``acc@t{k}``               accuracy of attempt k
``delta_t1_t2``            Acc@t2 − Acc@t1 (the paper's Δ(t1, t2))
``delta_i2c_uncond``       #(wrong at t1, right at t2) / #problems (Tables 2-3, Δi→c)
``delta_c2i_uncond``       #(right at t1, wrong at t2) / #problems (Tables 2-3, Δc→i)
``fix_rate_i2c_cond``      #(wrong at t1, right at t2) / #(wrong at t1) (the prose's 14.5% for SCoRe)
``break_rate_c2i_cond``    #(right at t1, wrong at t2) / #(right at t1)
``answer_change_ratio``    fraction of episodes whose extracted final answers differ between attempts
``edit_distance_ratio``    mean of Levenshtein(y1, y2) / (len(y1) + len(y2)) (paper Fig. 4)
=========================  ====================================================================================

A conditional rate with an empty denominator is NaN (undefined), never 0: a 0 would read as "never fixes".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from rapidfuzz.distance import Levenshtein

__all__ = [
    "CORRECT_THRESHOLD",
    "attempt_scores_from_reward_info",
    "edit_distance_ratio",
    "is_correct",
    "metrics_from_extra_fields",
    "self_correction_metrics",
]

#: A reward counts as "correct" when it is >= this value. Rewards are binary in the paper (answer matches / all tests
#: pass); a partial score (e.g. a fraction of tests passed) is therefore *not* correct.
CORRECT_THRESHOLD = 1.0


def is_correct(scores: Sequence[float] | np.ndarray, threshold: float = CORRECT_THRESHOLD) -> np.ndarray:
    """Boolean correctness per episode.

    Args:
        scores: shape ``[N]``, raw per-attempt rewards.
        threshold: a score ``>= threshold`` is correct.

    Returns:
        ``np.ndarray[bool]`` of shape ``[N]``.
    """
    return np.asarray(scores, dtype=np.float64) >= threshold


def edit_distance_ratio(text_1: str, text_2: str) -> float:
    """Levenshtein distance between two attempts divided by their total length (paper §4, Fig. 4).

    0 means the second attempt copies the first (no real correction); values near 1 mean an unrelated rewrite.
    Two empty strings give 0.
    """
    total = len(text_1) + len(text_2)
    if total == 0:
        return 0.0
    return Levenshtein.distance(text_1, text_2) / total


def _safe_div(num: float, den: float) -> float:
    return num / den if den > 0 else math.nan


def self_correction_metrics(
    scores_t1: Sequence[float] | np.ndarray,
    scores_t2: Sequence[float] | np.ndarray,
    *,
    texts_t1: Sequence[str] | None = None,
    texts_t2: Sequence[str] | None = None,
    answers_t1: Sequence[Any] | None = None,
    answers_t2: Sequence[Any] | None = None,
    answer_changed: Sequence[float | bool] | None = None,
    threshold: float = CORRECT_THRESHOLD,
) -> dict[str, float]:
    """The paper's self-correction metrics for one set of two-attempt episodes.

    Args:
        scores_t1: shape ``[N]``, raw reward of attempt 1 of each episode.
        scores_t2: shape ``[N]``, raw reward of attempt 2 (the same episodes, same order).
        texts_t1, texts_t2: optional ``[N]`` attempt texts; give ``edit_distance_ratio``.
        answers_t1, answers_t2: optional ``[N]`` extracted final answers; give ``answer_change_ratio``
            (``answers_t1[i] != answers_t2[i]``).
        answer_changed: optional ``[N]`` precomputed per-episode flags (e.g. from the reward function, which knows
            how to extract and compare answers); used when answers are not given.
        threshold: correctness threshold, see :data:`CORRECT_THRESHOLD`.

    Returns:
        dict of metric name -> float (fractions, not percentages). Empty dict for N = 0.
    """
    c1, c2 = is_correct(scores_t1, threshold), is_correct(scores_t2, threshold)
    if c1.shape != c2.shape:
        raise ValueError(f"scores_t1 {c1.shape} and scores_t2 {c2.shape} must describe the same episodes")
    n = c1.size
    if n == 0:
        return {}
    i2c = float(np.sum(~c1 & c2))
    c2i = float(np.sum(c1 & ~c2))
    n_wrong_t1 = float(np.sum(~c1))
    n_right_t1 = float(np.sum(c1))
    out = {
        "acc@t1": float(c1.mean()),
        "acc@t2": float(c2.mean()),
        "delta_t1_t2": float(c2.mean() - c1.mean()),
        "delta_i2c_uncond": i2c / n,
        "delta_c2i_uncond": c2i / n,
        "fix_rate_i2c_cond": _safe_div(i2c, n_wrong_t1),
        "break_rate_c2i_cond": _safe_div(c2i, n_right_t1),
    }
    if answers_t1 is not None and answers_t2 is not None:
        if len(answers_t1) != n or len(answers_t2) != n:
            raise ValueError("answers_t1 / answers_t2 must have one entry per episode")
        out["answer_change_ratio"] = float(np.mean([a != b for a, b in zip(answers_t1, answers_t2, strict=True)]))
    elif answer_changed is not None:
        flags = np.asarray(answer_changed, dtype=np.float64)
        if flags.size != n:
            raise ValueError("answer_changed must have one entry per episode")
        out["answer_change_ratio"] = float(flags.mean())
    if texts_t1 is not None and texts_t2 is not None:
        if len(texts_t1) != n or len(texts_t2) != n:
            raise ValueError("texts_t1 / texts_t2 must have one entry per episode")
        out["edit_distance_ratio"] = float(
            np.mean([edit_distance_ratio(a, b) for a, b in zip(texts_t1, texts_t2, strict=True)])
        )
    return out


def attempt_scores_from_reward_info(reward_extra_info: Mapping[str, Any]) -> list[float]:
    """Per-attempt raw rewards ``[r1, …, rK]`` from the reward function's ``score_t1 … score_tK`` keys.

    Raises KeyError when ``score_t1`` is missing: without per-attempt scores there is nothing to credit or measure,
    and a silent 0 would train / report garbage.
    """
    if "score_t1" not in reward_extra_info:
        raise KeyError(
            "reward_extra_info has no 'score_t1': the reward function must score each attempt "
            "(verl_score/rewards/score_fn.py with extra_info['attempt_texts'])"
        )
    scores = []
    k = 1
    while f"score_t{k}" in reward_extra_info:
        scores.append(float(reward_extra_info[f"score_t{k}"]))
        k += 1
    return scores


def metrics_from_extra_fields(
    extra_fields: Sequence[Mapping[str, Any]], *, threshold: float = CORRECT_THRESHOLD
) -> dict[str, float]:
    """Self-correction metrics from the agent loop's per-trajectory ``extra_fields`` (as stored in TransferQueue).

    Each item carries ``reward_extra_info`` (``score_t1``, ``score_t2``, optional ``answer_changed``) and
    ``attempt_texts``. With K > 2 attempts, every ``acc@t{k}`` is reported and the transition metrics compare the
    first and the last attempt. Episodes without ``score_t2`` (single-attempt loops) are skipped.
    """
    per_attempt: list[list[float]] = []
    texts_first, texts_last, changed = [], [], []
    have_texts, have_changed = True, True
    for ef in extra_fields:
        info = (ef or {}).get("reward_extra_info") or {}
        if "score_t2" not in info:
            continue
        per_attempt.append(attempt_scores_from_reward_info(info))
        texts = (ef or {}).get("attempt_texts")
        if texts is not None and len(texts) >= 2:
            texts_first.append(str(texts[0]))
            texts_last.append(str(texts[-1]))
        else:
            have_texts = False
        if "answer_changed" in info and info["answer_changed"] is not None:
            changed.append(float(info["answer_changed"]))
        else:
            have_changed = False
    if not per_attempt:
        return {}
    k_min = min(len(s) for s in per_attempt)
    scores = np.array([s[:k_min] for s in per_attempt], dtype=np.float64)  # [N, K]
    out = self_correction_metrics(
        scores[:, 0],
        scores[:, -1],
        texts_t1=texts_first if have_texts else None,
        texts_t2=texts_last if have_texts else None,
        answer_changed=changed if have_changed else None,
        threshold=threshold,
    )
    for k in range(3, k_min + 1):
        out[f"acc@t{k}"] = float(is_correct(scores[:, k - 1], threshold).mean())
    return out
