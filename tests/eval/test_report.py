"""Aggregation per data source, failure accounting, the majority vote and the markdown table, on constructed
outcome tables. The rate definitions themselves are tested in tests/test_metrics.py (paper Table 2 rows)."""

from __future__ import annotations

import math

import pytest

from verl_score.eval.report import group_metrics, majority_vote, render_markdown, scaling_metrics, summarize
from verl_score.metrics import self_correction_metrics

from tests.eval.records import record


def outcome_records() -> list[dict]:
    """gsm8k: c→c, c→i, i→c, i→c, i→i ; math: c→c, i→i ; plus one failed episode per source."""
    recs = [
        record("g0", "gsm8k", [1, 1], ["5", "5"], ["a", "a"]),
        record("g1", "gsm8k", [1, 0], ["5", "6"], ["abcd", "abxy"]),
        record("g2", "gsm8k", [0, 1], ["7", "8"], ["kitten", "sitting"]),
        record("g3", "gsm8k", [0, 1], [None, "3"], ["x", "xyz"]),
        record("g4", "gsm8k", [0, 0], ["1", "1"], ["same", "same"]),
        record("g5", "gsm8k", [0, 0], status="generation_failed"),
        record("m0", "math", [1, 1], ["2", "2"]),
        record("m1", "math", [0, 0], ["4", "9"]),
        record("m2", "math", [0, 0], ["4", "9"], status="reward_failed"),
    ]
    return recs


def test_per_source_aggregation_matches_the_shared_metrics_and_counts():
    s = summarize(outcome_records(), num_attempts=2)
    g, m, all_ = s["per_source"]["gsm8k"], s["per_source"]["math"], s["overall"]
    assert g["transitions"] == {"c2c": 1, "c2i": 1, "i2c": 2, "i2i": 1}
    assert m["transitions"] == {"c2c": 1, "c2i": 0, "i2c": 0, "i2i": 1}
    assert all_["transitions"] == {"c2c": 2, "c2i": 1, "i2c": 2, "i2i": 2}
    for block in (g, m, all_):
        assert sum(block["transitions"].values()) == block["n"]
    assert (g["n"], m["n"], all_["n"]) == (5, 2, 7)
    # failed episodes are counted, per source and overall, and excluded from every rate (never scored 0)
    assert (g["failed"], m["failed"], all_["failed"], s["failed"]) == (1, 1, 2, 2)
    assert s["failed_by_status"] == {"generation_failed": 1, "reward_failed": 1}
    assert (s["n_problems"], s["n_episodes"], s["n_scored"]) == (9, 9, 7)
    # gsm8k by hand: acc@t1 = 2/5, acc@t2 = 3/5, Δi→c = 2/5, Δc→i = 1/5, fix = 2/3, break = 1/2
    assert g["acc@t1"] == pytest.approx(0.4) and g["acc@t2"] == pytest.approx(0.6)
    assert g["delta_t1_t2"] == pytest.approx(0.2)
    assert g["delta_i2c_uncond"] == pytest.approx(0.4) and g["delta_c2i_uncond"] == pytest.approx(0.2)
    assert g["fix_rate_i2c_cond"] == pytest.approx(2 / 3) and g["break_rate_c2i_cond"] == pytest.approx(0.5)
    assert g["answer_change_ratio"] == pytest.approx(3 / 5)  # g1, g2, g3 (None -> "3") changed
    assert g["edit_distance_ratio"] == pytest.approx((0 + 2 / 8 + 3 / 13 + 2 / 4 + 0) / 5)
    # math: one correct, one wrong, nothing fixed -> break rate 0 of 1, fix rate 0 of 1
    assert m["acc@t1"] == 0.5 and m["fix_rate_i2c_cond"] == 0.0 and m["break_rate_c2i_cond"] == 0.0
    # overall is the same function over the union, not an average of per-source rates
    ok = [r for r in outcome_records() if r["status"] == "ok"]
    ref = self_correction_metrics([r["attempts"][0]["reward"] for r in ok], [r["attempts"][1]["reward"] for r in ok])
    for key, value in ref.items():
        assert all_[key] == pytest.approx(value), key


def test_conditional_rate_without_denominator_is_nan_and_renders_na():
    s = summarize([record("a", "ds", [1, 1], ["1", "1"]), record("b", "ds", [1, 0], ["1", "2"])], num_attempts=2)
    assert math.isnan(s["overall"]["fix_rate_i2c_cond"])
    table = render_markdown(s)
    row = next(line for line in table.splitlines() if line.startswith("| all |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[:10] == ["all", "2", "100.0", "50.0", "-50.0", "0.0", "50.0", "n/a", "50.0", "50.0"]
    assert cells[11] == "1 / 1 / 0 / 0" and cells[12] == "0"


def test_three_attempts_attempt_two_is_attempt_two():
    """K = 3: acc@t2 and the transitions are attempt 2's (rewards (0, 1, 0) used to give acc@t2 = 0, the last
    attempt's); the last attempt is reported beside it as acc@tK / delta_t1_tK, as training logs them."""
    s = summarize([record("a", "ds", [0, 1, 0]), record("b", "ds", [1, 0, 1])], num_attempts=3)
    o = s["overall"]
    assert o["acc@t1"] == 0.5 and o["acc@t2"] == 0.5 and o["acc@t3"] == 0.5
    assert o["delta_i2c_uncond"] == 0.5 and o["delta_c2i_uncond"] == 0.5
    assert o["transitions"] == {"c2c": 0, "c2i": 1, "i2c": 1, "i2i": 0}
    one = summarize([record("a", "ds", [0, 1, 0])], num_attempts=3)["overall"]
    assert one["acc@t2"] == 1.0 and one["delta_t1_t2"] == 1.0 and one["acc@tK"] == 0.0 and one["delta_t1_tK"] == 0.0
    table = render_markdown(s)
    assert "| Acc@t1 | Acc@t2 | Δ(t1,t2) | Acc@t3 | Δ(t1,t3) |" in table


def test_table_has_header_and_one_row_per_split():
    table = render_markdown(summarize(outcome_records(), num_attempts=2))
    lines = table.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| split |"))
    assert "Acc@t1 | Acc@t2 | Δ(t1,t2) | Δi→c | Δc→i" in lines[header]
    assert lines[header + 1].count("---") == lines[header].count("|") - 1
    assert [line.split("|")[1].strip() for line in lines[header + 2 : header + 5]] == ["all", "gsm8k", "math"]
    assert "failed episodes (excluded from the rates, not scored 0): 2" in table


def test_majority_vote_ties_abstentions_and_whitespace():
    assert majority_vote(["3", "4", "4", "3"], [True, False, False, True]) == ("3", True)  # tie -> first seen
    assert majority_vote([None, "4", None], [False, False, False]) == ("4", False)
    assert majority_vote([None, None], [False, False]) == (None, False)  # abstaining is not solving
    assert majority_vote(["1, 2", "1,2", "7"], [True, True, False]) == ("1,2", True)
    assert majority_vote(["7", "5", "5"], [False, True, True]) == ("5", True)


def test_scaling_vote_per_problem_vs_self_consistency_on_first_attempts():
    # p: first attempts vote 4 (wrong), corrected attempts vote 5 (right); q: both votes right; r: both wrong
    recs = [
        record("p", "ds", [0, 1], ["4", "5"], sample=0),
        record("p", "ds", [0, 1], ["4", "5"], sample=1),
        record("p", "ds", [1, 0], ["5", "6"], sample=2),
        record("q", "ds", [1, 1], ["2", "2"], sample=0),
        record("q", "ds", [0, 1], ["3", "2"], sample=1),
        record("q", "ds", [1, 1], ["2", "2"], sample=2),
        record("r", "ds", [0, 0], ["8", "8"], sample=0),
        record("r", "ds", [0, 0], [None, None], sample=1),
        record("r", "other", [0, 0], status="generation_failed", sample=2),
    ]
    sc = scaling_metrics(recs)
    assert sc["n_problems"] == 3
    assert sc["maj@m_first"] == pytest.approx(1 / 3)  # q only
    assert sc["maj@m_last"] == pytest.approx(2 / 3)  # p and q
    assert sc["mean_acc_first"] == pytest.approx((1 / 3 + 2 / 3 + 0) / 3)
    assert sc["m_mean"] == pytest.approx(8 / 3)  # the failed episode does not vote
    s = summarize(recs, num_attempts=2, num_samples=3)
    assert s["scaling"]["overall"] == sc
    assert s["scaling"]["per_source"]["other"] == {"n_problems": 0}
    table = render_markdown(s)
    assert "| all | 3 | 33.3 | 66.7 |" in table and "| other | 0 | n/a |" in table


def test_guidance_split_reports_sources_apart():
    recs = [record("a", "ds", [0, 1], guidance="smart"), record("b", "ds", [0, 0], guidance="smart"),
            record("c", "ds", [0, 0], guidance="smart_rejected")]
    g = summarize(recs, num_attempts=2)["guidance"]
    assert g == {"smart": {"n": 2, "acc_last": 0.5}, "smart_rejected": {"n": 1, "acc_last": 0.0}}


def test_empty_group():
    m = group_metrics([record("x", "ds", [0, 0], status="generation_failed")])
    assert m == {"n": 0, "transitions": {"c2c": 0, "c2i": 0, "i2c": 0, "i2i": 0}}


def test_answer_change_needs_an_answer_extracting_module():
    recs = [record("a", "code", [0, 1]), record("b", "code", [1, 1])]
    for r in recs:  # code_tests extracts no answer: the key is absent, not None
        for a in r["attempts"]:
            del a["answer"]
    assert "answer_change_ratio" not in group_metrics(recs)
    # math with no answer found in either attempt: a measured "unchanged", not missing
    m = group_metrics([record("c", "math", [0, 0], [None, None]), record("d", "math", [0, 0], [None, "2"])])
    assert m["answer_change_ratio"] == 0.5


def test_a_single_attempt_baseline_reports_its_accuracy():
    """--num-attempts 1 is a baseline run: accuracy only (it crashed on the missing attempt 2 before)."""
    s = summarize([record("a", "ds", [1]), record("b", "ds", [0])], num_attempts=1)
    assert s["overall"]["acc@t1"] == 0.5 and "acc@t2" not in s["overall"] and s["overall"]["num_attempts"] == 1
    assert "| all | 2 | 50.0 | n/a |" in render_markdown(s)
