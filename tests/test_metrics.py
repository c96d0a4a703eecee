"""The paper's self-correction metric definitions, checked against Table 2 of Kumar et al. 2024 (MATH500, N=500)."""

import math

import numpy as np
import pytest

from verl_score.metrics import edit_distance_ratio, metrics_from_extra_fields, self_correction_metrics


def outcome_table(n: int, c_c: int, c_i: int, i_c: int) -> tuple[np.ndarray, np.ndarray]:
    """A shuffled N-problem outcome table with the given counts of (t1, t2) = (✓,✓), (✓,✗), (✗,✓); rest (✗,✗)."""
    i_i = n - c_c - c_i - i_c
    pairs = [(1, 1)] * c_c + [(1, 0)] * c_i + [(0, 1)] * i_c + [(0, 0)] * i_i
    rng = np.random.default_rng(0)
    pairs = [pairs[j] for j in rng.permutation(n)]
    return np.array([p[0] for p in pairs], float), np.array([p[1] for p in pairs], float)


def pct(m: dict, key: str) -> float:
    return round(100 * m[key], 1)


def test_table2_base_model_row():
    # base: Acc@t1 52.6 (263/500), Δc→i 15.8 (79), Δi→c 4.6 (23) -> Acc@t2 = 263 - 79 + 23 = 207 = 41.4
    s1, s2 = outcome_table(500, c_c=263 - 79, c_i=79, i_c=23)
    m = self_correction_metrics(s1, s2)
    assert [pct(m, k) for k in ("acc@t1", "acc@t2", "delta_t1_t2", "delta_i2c_uncond", "delta_c2i_uncond")] == [
        52.6,
        41.4,
        -11.2,
        4.6,
        15.8,
    ]
    # the prose's conditional fix rate: 4.6 / 47.4 = 9.7% (printed as 9.5% in the paper)
    assert pct(m, "fix_rate_i2c_cond") == 9.7


def test_table2_score_row_and_conditional_fix_rate():
    # SCoRe: Acc@t1 60.0 (300), Δi→c 5.8 (29), Δc→i 1.4 (7) -> Acc@t2 = 322 = 64.4
    s1, s2 = outcome_table(500, c_c=300 - 7, c_i=7, i_c=29)
    m = self_correction_metrics(s1, s2)
    assert [pct(m, k) for k in ("acc@t1", "acc@t2", "delta_t1_t2", "delta_i2c_uncond", "delta_c2i_uncond")] == [
        60.0,
        64.4,
        4.4,
        5.8,
        1.4,
    ]
    assert pct(m, "fix_rate_i2c_cond") == 14.5  # 29 / 200: the "14.5%" of the prose
    assert m["break_rate_c2i_cond"] == pytest.approx(7 / 300)


def test_conditional_rate_with_empty_denominator_is_nan_not_zero():
    m = self_correction_metrics([1, 1], [1, 0])
    assert math.isnan(m["fix_rate_i2c_cond"])
    assert m["break_rate_c2i_cond"] == 0.5


def test_partial_reward_is_not_correct():
    m = self_correction_metrics([0.5, 1.0], [1.0, 0.99])
    assert m["acc@t1"] == 0.5 and m["acc@t2"] == 0.5 and m["delta_i2c_uncond"] == 0.5


def test_edit_distance_ratio_is_levenshtein_over_total_length():
    assert edit_distance_ratio("abc", "abc") == 0.0
    assert edit_distance_ratio("", "") == 0.0
    assert edit_distance_ratio("kitten", "sitting") == pytest.approx(3 / 13)
    assert edit_distance_ratio("aaaa", "") == 1.0


def test_identical_attempts_rate_counts_verbatim_copies_only():
    m = self_correction_metrics([0, 1, 0, 1], [0, 1, 1, 1], texts_t1=["x = 2", "y", "a b", "q"],
                                texts_t2=["x = 2\n", "y.", "a  b", "q"])
    # a trailing newline is a copy; a changed character or spacing is not
    assert m["identical_attempts_rate"] == pytest.approx(2 / 4)
    assert "identical_attempts_rate" not in self_correction_metrics([0], [1])  # no texts, no rate


def test_answer_change_ratio_from_answers_or_flags():
    m = self_correction_metrics([0, 1, 0], [1, 1, 0], answers_t1=["1", "2", "x"], answers_t2=["3", "2", "y"])
    assert m["answer_change_ratio"] == pytest.approx(2 / 3)
    m = self_correction_metrics([0, 1], [1, 1], answer_changed=[True, False])
    assert m["answer_change_ratio"] == 0.5
    assert "answer_change_ratio" not in self_correction_metrics([0], [1])


def test_metrics_from_agent_loop_extra_fields():
    efs = [
        {"attempt_texts": ["a b", "a b"], "reward_extra_info": {"score": 1.0, "score_t1": 1.0, "score_t2": 1.0}},
        {"attempt_texts": ["x", "y"], "reward_extra_info": {"score": 1.0, "score_t1": 0.0, "score_t2": 1.0}},
        {"attempt_texts": ["q", "q"], "reward_extra_info": {"score": 0.0, "score_t1": 1.0, "score_t2": 0.0}},
        {"reward_extra_info": {"score": 1.0}},  # a single-attempt trajectory: skipped
    ]
    m = metrics_from_extra_fields(efs)
    assert m["acc@t1"] == pytest.approx(2 / 3) and m["acc@t2"] == pytest.approx(2 / 3)
    assert m["delta_i2c_uncond"] == pytest.approx(1 / 3) and m["delta_c2i_uncond"] == pytest.approx(1 / 3)
    assert m["edit_distance_ratio"] == pytest.approx((0 + 0.5 + 0) / 3)
    assert metrics_from_extra_fields([{"reward_extra_info": {"score": 1.0}}]) == {}


def test_failed_checks_leave_every_rate_the_same_way_in_train_val_and_eval():
    """One set of episodes, one with a verifier timeout on attempt 2: training's metrics (extra_fields), validation's
    (reward_extra_infos_dict) and the offline evaluation's (records) all leave it out of every rate, count it, and
    agree to the last digit. Before, training and validation logged the timeout as a c→i flip."""
    from verl_score.eval.report import group_metrics
    from verl_score.training.config import ScoreConfig
    from verl_score.training.trainer import ScoreTrainerSync

    episodes = [  # (scores, failed)
        ([1.0, 0.0], [False, True]),  # right, then a timeout: no verdict on attempt 2
        ([1.0, 1.0], [False, False]),
        ([0.0, 1.0], [False, False]),
        ([0.0, 0.0], [False, False]),
    ]
    extra_fields = [
        {
            "reward_extra_info": {
                **{f"score_t{k}": s for k, s in enumerate(scores, 1)},
                **{f"failed_t{k}": float(f) for k, f in enumerate(failed, 1)},
            },
            "attempt_texts": ["a", "b"],
        }
        for scores, failed in episodes
    ]
    train = metrics_from_extra_fields(extra_fields)
    assert train["episodes_scored"] == 3 and train["episodes_reward_failed"] == 1
    assert train["delta_c2i_uncond"] == 0.0  # the timeout is not a c→i flip
    assert train["acc@t1"] == pytest.approx(1 / 3) and train["acc@t2"] == pytest.approx(2 / 3)

    tr = ScoreTrainerSync.__new__(ScoreTrainerSync)
    tr.score_cfg = ScoreConfig()
    info = {key: [ef["reward_extra_info"][key] for ef in extra_fields] for key in extra_fields[0]["reward_extra_info"]}
    val = tr._val_metrics_update(["ds"] * 4, list("abcd"), info, [3] * 4)

    records = [
        {
            "status": "reward_failed" if any(failed) else "ok",
            "attempts": [{"reward": s, "text": t, "reward_failed": f} for s, t, f in zip(scores, "ab", failed)],
        }
        for scores, failed in episodes
    ]
    evaluation = group_metrics(records)
    for key in ("acc@t1", "acc@t2", "delta_t1_t2", "delta_i2c_uncond", "delta_c2i_uncond", "fix_rate_i2c_cond"):
        assert train[key] == val[f"val-core/ds/score/{key}"] == evaluation[key], key
    assert val["val-core/ds/score/episodes_reward_failed"] == 1 and evaluation["n"] == 3


def test_episode_metrics_with_every_episode_failed_reports_only_counts():
    from verl_score.metrics import episode_metrics

    assert episode_metrics([[1.0, 0.0]], [[False, True]]) == {"episodes_scored": 0.0, "episodes_reward_failed": 1.0}
    with pytest.raises(ValueError, match="shape"):
        episode_metrics([[1.0, 0.0]], [[False]])


def test_validation_falls_back_to_reward_failed_like_training():
    """A reward function that reports only ``reward_failed`` (no per-attempt flags): validation leaves the episode
    out the way training does (attempt_failed_from_reward_info)."""
    from verl_score.training.config import ScoreConfig
    from verl_score.training.trainer import ScoreTrainerSync

    tr = ScoreTrainerSync.__new__(ScoreTrainerSync)
    tr.score_cfg = ScoreConfig()
    info = {"score_t1": [1.0, 0.0], "score_t2": [0.0, 1.0], "reward_failed": [1.0, 0.0]}
    val = tr._val_metrics_update(["ds"] * 2, ["a", "b"], info, [3, 3])
    assert val["val-core/ds/score/episodes_reward_failed"] == 1 and val["val-core/ds/score/delta_c2i_uncond"] == 0.0
    train = metrics_from_extra_fields(
        [{"reward_extra_info": {k: v[i] for k, v in info.items()}, "attempt_texts": ["a", "b"]} for i in range(2)]
    )
    assert train["episodes_reward_failed"] == 1 and train["acc@t2"] == val["val-core/ds/score/acc@t2"] == 1.0
