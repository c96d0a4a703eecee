"""Self-correction metrics (SCoRe, Kumar et al. 2024, §4-§6): ONE implementation for training, validation and eval.

Why one module: the paper mixes two kinds of rate. Its tables (2, 3) report Δi→c and Δc→i as fractions of *all*
problems (unconditional), while the prose ("14.5% vs 9.5%") reports the fix rate among problems whose first attempt
was wrong (conditional). Computing both here, with the kind in the metric name, keeps train / val / eval numbers
comparable and stops the two kinds from being confused.

Names (all values are fractions in [0, 1]; multiply by 100 for the paper's percentages):

=========================  ====================================================================================
``acc@t{k}``               accuracy of attempt k (``acc@t2`` is attempt 2 for any K)
``delta_t1_t2``            Acc@t2 − Acc@t1 (the paper's Δ(t1, t2))
``acc@tK`` / ``delta_t1_tK``  with K > 2 attempts: the last attempt's accuracy and Acc@tK − Acc@t1
``delta_i2c_uncond``       #(wrong at t1, right at t2) / #problems (Tables 2-3, Δi→c)
``delta_c2i_uncond``       #(right at t1, wrong at t2) / #problems (Tables 2-3, Δc→i)
``fix_rate_i2c_cond``      #(wrong at t1, right at t2) / #(wrong at t1) (the prose's 14.5% for SCoRe)
``break_rate_c2i_cond``    #(right at t1, wrong at t2) / #(right at t1)
``answer_change_ratio``    fraction of episodes whose extracted final answers differ between attempts
``edit_distance_ratio``    mean of Levenshtein(y1, y2) / (len(y1) + len(y2)) (paper Fig. 4)
``identical_attempts_rate``  fraction of episodes whose attempt 2 repeats attempt 1 verbatim (whitespace-stripped):
                           the collapse of naive multi-turn training that SCoRe's Stage I exists to prevent,
                           visible even when the mean edit distance hides it (two empty attempts count as a copy)
``episodes_scored``        N of the rates above: episodes whose every attempt's reward check succeeded
``episodes_reward_failed`` episodes left out of every rate because a check failed (verify timeout, sandbox or
                           judge error): no verdict is not a wrong answer (:func:`scored_episodes`)
=========================  ====================================================================================

The transition rates (Δi→c, Δc→i, fix / break rates, answer change, edit distance, identical attempts) always compare
attempts 1 and 2.

A conditional rate with an empty denominator is NaN (undefined), never 0: a 0 would read as "never fixes".

Guidance split (SMART): ``guidance/acc@t2/{source}`` is attempt-2 accuracy among episodes whose instruction before
attempt 2 came from ``source`` (smart / smart_rejected / smart_failed / static / other), ``guidance/frac/{source}``
their share, ``guidance/rejected_rate`` the rejected share of SMART calls and ``guidance/rejected_rate/{reason}``
its split by rejection reason (:data:`GUIDANCE_REJECTION_REASONS`; they sum to ``rejected_rate``). A guide that leaks
a verdict shows up as ``acc@t2/smart`` far above ``acc@t2/static``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from rapidfuzz.distance import Levenshtein

from verl_score.contracts import keys

__all__ = [
    "CORRECT_THRESHOLD",
    "GUIDANCE_BUCKETS",
    "GUIDANCE_REJECTION_REASONS",
    "attempt_failed_from_reward_info",
    "attempt_scores_from_reward_info",
    "episode_metrics",
    "scored_episodes",
    "guidance_bucket",
    "guidance_source_with_reason",
    "guidance_split_metrics",
    "val_guidance_sources",
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
        texts_t1, texts_t2: optional ``[N]`` attempt texts; give ``edit_distance_ratio``, ``identical_attempts_rate``.
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
        out["identical_attempts_rate"] = float(
            np.mean([a.strip() == b.strip() for a, b in zip(texts_t1, texts_t2, strict=True)])
        )
    return out


def scored_episodes(
    scores: Sequence[Sequence[float]] | np.ndarray,
    failed: Sequence[Sequence[bool]] | np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Which episodes a rate may count: those whose every attempt was actually checked.

    Why: an episode with a failed reward check (verify timeout, sandbox error, judge down) has no verdict, and
    counting it as wrong turns a verifier hiccup into a fake i→c or c→i flip. Training already gives such episodes
    no update; training, validation and offline evaluation all exclude them from every accuracy and flip rate
    through this one function and count them beside (``episodes_reward_failed``).

    Args:
        scores: ``[N, K]`` raw per-attempt rewards.
        failed: ``[N, K]`` per-attempt "check failed" flags (None: nothing failed).

    Returns:
        (``scores[keep]`` as ``[N', K]`` float64, ``keep`` as ``[N]`` bool).
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2:
        raise ValueError(f"scores must be [N, K], got shape {s.shape}")
    if failed is None:
        return s, np.ones(s.shape[0], dtype=bool)
    f = np.asarray(failed, dtype=bool)
    if f.shape != s.shape:
        raise ValueError(f"failed {f.shape} must have the shape of scores {s.shape}")
    keep = ~f.any(axis=1)
    return s[keep], keep


def episode_metrics(
    scores: Sequence[Sequence[float]] | np.ndarray,
    failed: Sequence[Sequence[bool]] | np.ndarray | None = None,
    *,
    texts: Sequence[Sequence[str]] | None = None,
    answers: Sequence[Sequence[Any]] | None = None,
    answer_changed: Sequence[float | bool] | None = None,
    threshold: float = CORRECT_THRESHOLD,
) -> dict[str, float]:
    """Every self-correction metric of a set of K-attempt episodes: the one code path of training, validation and
    offline evaluation.

    Attempt 2 is always attempt 2 (``acc@t2``, ``delta_t1_t2`` and the transition rates compare attempts 1 and 2,
    the paper's quantities); with K > 2 every ``acc@t{k}`` is added, plus ``acc@tK`` and ``delta_t1_tK`` (first to
    last). Episodes with a failed check are left out of every rate (:func:`scored_episodes`) and counted:
    ``episodes_scored`` (the N of the rates) and ``episodes_reward_failed``.

    Args:
        scores: ``[N, K]`` raw per-attempt rewards, K >= 2.
        failed: ``[N, K]`` per-attempt failed-check flags, or None.
        texts: optional ``[N]`` lists of the attempts' texts (at least 2 each): edit distance, identical attempts.
        answers: optional ``[N]`` lists of extracted answers (at least 2 each): answer-change ratio.
        answer_changed: optional ``[N]`` precomputed answer-change flags (used when ``answers`` is None).
        threshold: correctness threshold, see :data:`CORRECT_THRESHOLD`.

    Returns:
        metric name -> float; only the two counts when no episode was scored.
    """
    s_all = np.asarray(scores, dtype=np.float64)
    if s_all.ndim != 2 or s_all.shape[1] < 2:
        raise ValueError(f"scores must be [N, K] with K >= 2, got shape {s_all.shape}")
    s, keep = scored_episodes(s_all, failed)
    out: dict[str, float] = {"episodes_scored": float(len(s)), "episodes_reward_failed": float((~keep).sum())}
    if len(s) == 0:
        return out
    idx = np.nonzero(keep)[0]

    def pick(values: Sequence[Any] | None, what: str) -> list[Any] | None:
        if values is None:
            return None
        if len(values) != len(keep):
            raise ValueError(f"{what} must have one entry per episode ({len(keep)}), got {len(values)}")
        return [values[i] for i in idx]

    kept_texts, kept_answers, kept_changed = pick(texts, "texts"), pick(answers, "answers"), pick(answer_changed, "answer_changed")
    out.update(
        self_correction_metrics(
            s[:, 0],
            s[:, 1],
            texts_t1=[str(t[0]) for t in kept_texts] if kept_texts is not None else None,
            texts_t2=[str(t[1]) for t in kept_texts] if kept_texts is not None else None,
            answers_t1=[a[0] for a in kept_answers] if kept_answers is not None else None,
            answers_t2=[a[1] for a in kept_answers] if kept_answers is not None else None,
            answer_changed=kept_changed if kept_answers is None else None,
            threshold=threshold,
        )
    )
    k_att = s.shape[1]
    for k in range(3, k_att + 1):
        out[f"acc@t{k}"] = float(is_correct(s[:, k - 1], threshold).mean())
    if k_att > 2:
        out["acc@tK"] = out[f"acc@t{k_att}"]
        out["delta_t1_tK"] = out["acc@tK"] - out["acc@t1"]
    return out


def attempt_scores_from_reward_info(reward_extra_info: Mapping[str, Any]) -> list[float]:
    """Per-attempt raw rewards ``[r1, …, rK]`` from the reward function's ``score_t1 … score_tK`` keys.

    Raises KeyError when ``score_t1`` is missing: without per-attempt scores there is nothing to credit or measure,
    and a silent 0 would train / report garbage.
    """
    if keys.score_t(1) not in reward_extra_info:
        raise KeyError(
            "reward_extra_info has no 'score_t1': the reward function must score each attempt "
            "(verl_score/rewards/score_fn.py with extra_info['attempt_texts'])"
        )
    scores = []
    k = 1
    while keys.score_t(k) in reward_extra_info:
        scores.append(float(reward_extra_info[keys.score_t(k)]))
        k += 1
    return scores


def attempt_failed_from_reward_info(reward_extra_info: Mapping[str, Any], num_attempts: int) -> list[bool]:
    """Per-attempt "the reward check failed" flags ``[f1, …, fK]`` (``failed_t1 … failed_tK`` from ``score_fn``).

    Without per-attempt flags, ``reward_failed`` (any attempt failed) marks every attempt failed — the episode is
    excluded either way. A reward function that reports neither is taken as never failing.
    """
    if any(keys.failed_t(k) in reward_extra_info for k in range(1, num_attempts + 1)):
        return [bool(float(reward_extra_info.get(keys.failed_t(k), 0.0) or 0.0)) for k in range(1, num_attempts + 1)]
    any_failed = bool(float(reward_extra_info.get(keys.REWARD_FAILED, 0.0) or 0.0))
    return [any_failed] * num_attempts


#: where the instruction before attempt 2 came from (``extra_fields["guidance"][0]`` of the two-attempt loop)
GUIDANCE_BUCKETS = ("static", "smart", "smart_rejected", "smart_failed", "other")
#: why a SMART hint was rejected (``extra_fields["guidance_reasons"]``): the leakage rules, the verdict classifier,
#: the loop's length reserve; anything else counts as ``other``
GUIDANCE_REJECTION_REASONS = (
    "non_english", "verdict", "final_answer", "reference_answer", "full_solution_code", "full_solution_length",
    "full_solution_equations", "full_solution_steps", "empty", "classifier_verdict", "classifier_doubt",
    "classifier_failed", "over_reserve", "other",
)  # fmt: skip


def guidance_source_with_reason(source: Any, reason: Any = None) -> str:
    """``"smart_rejected:verdict"`` for a rejected turn with a reason (how the per-reason split travels through
    :func:`guidance_split_metrics`), else the source unchanged."""
    s = "static" if source is None else str(source)
    if reason is None or guidance_bucket(s) != "smart_rejected":
        return s  # no reasons recorded at all (episodes from before they were): no per-reason split
    return f"{s}:{reason or 'other'}"  # a recorded but empty reason counts as "other", as validation counts it


def guidance_bucket(source: Any) -> str:
    """Map a loop's guidance source to one of :data:`GUIDANCE_BUCKETS` (a too-long hint is recorded as
    ``{source}_rejected``; a failed one as ``smart_failed``; a ``:reason`` suffix is ignored)."""
    s = "static" if source is None else str(source).split(":", 1)[0]
    if s.startswith("smart_failed"):
        return "smart_failed"
    if s.startswith("smart") and s.endswith("_rejected"):
        return "smart_rejected"
    if s in ("smart", "static"):
        return s
    return "other"


def guidance_split_metrics(
    sources_t2: Sequence[Any], scores_t2: Sequence[float] | np.ndarray, *, threshold: float = CORRECT_THRESHOLD
) -> dict[str, float]:
    """Attempt-2 accuracy split by guidance source, plus the SMART rejection / failure rates (names: module doc).

    Args:
        sources_t2: ``[N]`` source of the instruction before attempt 2, per episode.
        scores_t2: ``[N]`` raw attempt-2 rewards of the same episodes.
    """
    buckets = [guidance_bucket(s) for s in sources_t2]
    correct = is_correct(scores_t2, threshold)
    if len(buckets) != correct.size:
        raise ValueError("sources_t2 and scores_t2 must describe the same episodes")
    n = len(buckets)
    if n == 0:
        return {}
    out: dict[str, float] = {}
    for b in GUIDANCE_BUCKETS:
        idx = [i for i, x in enumerate(buckets) if x == b]
        out[f"guidance/frac/{b}"] = len(idx) / n
        if idx:
            out[f"guidance/acc@t2/{b}"] = float(correct[idx].mean())
    smart_calls = sum(b.startswith("smart") for b in buckets)
    out["guidance/rejected_rate"] = _safe_div(buckets.count("smart_rejected"), smart_calls)
    out["guidance/failed_rate"] = _safe_div(buckets.count("smart_failed"), smart_calls)
    reasons = [str(s).split(":", 1)[1] for s, b in zip(sources_t2, buckets) if b == "smart_rejected" and ":" in str(s)]
    if smart_calls and reasons:
        known = [r if r in GUIDANCE_REJECTION_REASONS else "other" for r in reasons]
        for r in GUIDANCE_REJECTION_REASONS:
            out[f"guidance/rejected_rate/{r}"] = known.count(r) / smart_calls
    return out


def val_guidance_sources(reward_extra_infos: Mapping[str, Sequence[Any]], n: int) -> list[str] | None:
    """Per-sample attempt-2 guidance source from ``score_fn``'s one-hot ``guidance_t2_{bucket}`` columns (the only
    per-sample data verl's validation keeps); None when the reward function did not emit them."""
    cols = {b: reward_extra_infos.get(keys.guidance_t2(b)) for b in GUIDANCE_BUCKETS}
    if all(c is None for c in cols.values()):
        return None
    why = {r: reward_extra_infos.get(keys.guidance_t2_rejected(r)) for r in GUIDANCE_REJECTION_REASONS}

    def first(columns: Mapping[str, Any], i: int) -> str | None:
        hit = [k for k, c in columns.items() if c is not None and i < len(c) and c[i] is not None and float(c[i]) > 0]
        return hit[0] if hit else None

    return [guidance_source_with_reason(first(cols, i) or "other", first(why, i)) for i in range(n)]


def metrics_from_extra_fields(
    extra_fields: Sequence[Mapping[str, Any]], *, threshold: float = CORRECT_THRESHOLD
) -> dict[str, float]:
    """Self-correction metrics from the agent loop's per-trajectory ``extra_fields`` (as stored in TransferQueue).

    Each item carries ``reward_extra_info`` (``score_t1 … score_tK``, ``failed_t1 … failed_tK``, optional
    ``answer_changed``) and ``attempt_texts``. The metrics are :func:`episode_metrics`'s (attempt 2 is attempt 2;
    ``acc@tK`` / ``delta_t1_tK`` with K > 2; failed checks excluded and counted). Episodes without ``score_t2``
    (single-attempt loops) are skipped. With ``extra_fields["guidance"]`` the attempt-2 guidance split is added
    (``guidance/…``), over the same scored episodes.
    """
    per_attempt: list[list[float]] = []
    failed: list[list[bool]] = []
    texts, changed, sources = [], [], []
    have_texts, have_changed, have_sources = True, True, True
    for ef in extra_fields:
        info = (ef or {}).get(keys.REWARD_EXTRA_INFO) or {}
        if keys.score_t(2) not in info:
            continue
        scores = attempt_scores_from_reward_info(info)
        per_attempt.append(scores)
        failed.append(attempt_failed_from_reward_info(info, len(scores)))
        attempt_texts = (ef or {}).get(keys.ATTEMPT_TEXTS)
        if attempt_texts is not None and len(attempt_texts) >= 2:
            texts.append([str(attempt_texts[0]), str(attempt_texts[1])])
        else:
            have_texts = False
        guidance = (ef or {}).get(keys.GUIDANCE)
        if guidance is not None and len(guidance) >= 1:
            reasons = (ef or {}).get(keys.GUIDANCE_REASONS)
            sources.append(guidance_source_with_reason(guidance[0], reasons[0] if reasons is not None and len(reasons)
                                                       else None))
        else:
            have_sources = False
        if keys.ANSWER_CHANGED in info and info[keys.ANSWER_CHANGED] is not None:
            changed.append(float(info[keys.ANSWER_CHANGED]))
        else:
            have_changed = False
    if not per_attempt:
        return {}
    k_min = min(len(s) for s in per_attempt)
    scores_arr = np.array([s[:k_min] for s in per_attempt], dtype=np.float64)  # [N, K]
    failed_arr = np.array([f[:k_min] for f in failed], dtype=bool)
    out = episode_metrics(
        scores_arr,
        failed_arr,
        texts=texts if have_texts else None,
        answer_changed=changed if have_changed and k_min == 2 else None,
        threshold=threshold,
    )
    if have_sources:
        _, keep = scored_episodes(scores_arr, failed_arr)
        kept = np.nonzero(keep)[0]
        out.update(guidance_split_metrics([sources[i] for i in kept], scores_arr[kept, 1], threshold=threshold))
    return out
