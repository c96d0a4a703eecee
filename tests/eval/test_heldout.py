"""The main job's before/after held-out table: read from verl's validation dumps, paired standard errors."""

from __future__ import annotations

import json
import math

import pytest

from verl_score.eval import heldout


def _dump(path, pairs, found=None):
    with open(path, "w") as f:
        for i, (s1, s2) in enumerate(pairs):
            rec = {"input": "q", "output": "a", "score": s2, "step": 0, "score_t1": s1, "score_t2": s2}
            if found is not None:
                rec["answer_found"] = found[i]
            f.write(json.dumps(rec) + "\n")


def test_rates_and_paired_standard_errors():
    recs = [{"score_t1": a, "score_t2": b} for a, b in [(1, 1), (1, 0), (0, 1), (0, 1), (0, 0)]]
    m = heldout.heldout_metrics(recs)
    assert m["n"] == 5
    assert m["acc@t1"][0] == pytest.approx(0.4) and m["acc@t2"][0] == pytest.approx(0.6)
    assert m["delta_t1_t2"][0] == pytest.approx(0.2)
    assert m["delta_i2c"][0] == pytest.approx(0.4) and m["delta_c2i"][0] == pytest.approx(0.2)
    # paired: sd of (c2 - c1) = sd([0, -1, 1, 1, 0]) with ddof=1, over sqrt(5)
    d = [0, -1, 1, 1, 0]
    mean = sum(d) / 5
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / 4)
    assert m["delta_t1_t2"][1] == pytest.approx(sd / math.sqrt(5))
    assert "no_answer_last" not in m  # not in the records: not invented


def test_first_and_last_dump_make_before_and_after(tmp_path, capsys):
    _dump(tmp_path / "0.jsonl", [(0, 0), (1, 0), (0, 0), (1, 1)], found=[0, 1, 1, 1])
    _dump(tmp_path / "3.jsonl", [(0, 1), (1, 1), (0, 0), (1, 1)], found=[1, 1, 1, 1])
    _dump(tmp_path / "12.jsonl", [(1, 1), (1, 1), (0, 1), (1, 1)], found=[1, 1, 1, 1])
    assert heldout.main([str(tmp_path), "--json", str(tmp_path / "h.json")]) == 0
    out = capsys.readouterr().out
    assert "before (step 0)" in out and "after (step 12)" in out  # numeric order, not "12" < "3"
    assert "| Acc@t1 | 50.0 ± 28.9 | 75.0 ± 25.0 | +25.0 |" in out
    assert "| Δ(t1,t2) | -25.0 ± 25.0 | +25.0 ± 25.0 | +50.0 |" in out
    assert "| no answer (last attempt) | 25.0 ± 25.0 | 0.0 ± 0.0 | -25.0 |" in out
    saved = json.loads((tmp_path / "h.json").read_text())
    assert saved["steps"] == [0, 12]


def test_missing_dumps_and_missing_attempt_scores_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="validation_data_dir"):
        heldout.main([str(tmp_path)])
    with pytest.raises(ValueError, match="score_t1"):
        heldout.heldout_metrics([{"score": 1.0}])


def test_three_attempts_attempt_two_is_attempt_two():
    """K = 3 with rewards (0, 1, 0): attempt 2 was right, so Acc@t2 is 1 (it read the last attempt as t2 before)."""
    m = heldout.heldout_metrics([{"score_t1": 0, "score_t2": 1, "score_t3": 0}])
    assert m["num_attempts"] == 3
    assert m["acc@t2"][0] == 1.0 and m["delta_t1_t2"][0] == 1.0 and m["delta_i2c"][0] == 1.0
    assert m["acc@tK"][0] == 0.0 and m["delta_t1_tK"][0] == 0.0


def test_failed_reward_checks_are_left_out_and_counted(tmp_path, capsys):
    """A verifier timeout on attempt 2 is no verdict: not a c→i flip, not in N, counted beside."""
    recs = [
        {"score_t1": 1, "score_t2": 0, "failed_t1": 0, "failed_t2": 1},  # timeout on attempt 2
        {"score_t1": 1, "score_t2": 1, "failed_t1": 0, "failed_t2": 0},
        {"score_t1": 0, "score_t2": 1, "failed_t1": 0, "failed_t2": 0},
    ]
    m = heldout.heldout_metrics(recs)
    assert m["n"] == 2 and m["n_reward_failed"] == 1
    assert m["delta_c2i"][0] == 0.0 and m["acc@t1"][0] == 0.5 and m["acc@t2"][0] == 1.0
    with open(tmp_path / "0.jsonl", "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in recs)
    heldout.main([str(tmp_path)])
    assert "left out, reward check failed: 1 before, 1 after" in capsys.readouterr().out
    with pytest.raises(ValueError, match="failed reward check"):
        heldout.heldout_metrics([recs[0]])


def _single_turn_dump(path, scores, failed=None):
    """What verl writes for a single_turn_agent run: the reward's summary keys, no per-attempt ones."""
    with open(path, "w") as f:
        for i, s in enumerate(scores):
            rec = {"input": "q", "output": "a", "score": s, "acc": float(s >= 1), "answer_found": 1.0, "step": 0,
                   "reward_failed": float(failed[i]) if failed else 0.0}
            f.write(json.dumps(rec) + "\n")


def test_a_single_turn_run_reports_acc_at_t1_only_when_told(tmp_path, capsys):
    """The study's single-turn arm: Acc@t1 before/after with its standard error, no attempt-2 rows invented."""
    _single_turn_dump(tmp_path / "0.jsonl", [0, 0, 1, 0], failed=[0, 0, 0, 1])
    _single_turn_dump(tmp_path / "8.jsonl", [1, 0, 1, 1])
    assert heldout.main([str(tmp_path), "--attempts", "1", "--json", str(tmp_path / "h.json")]) == 0
    out = capsys.readouterr().out
    # before: 3 kept (one failed check left out), 1 right -> 33.3 ± sqrt(1/3*2/3 * 3/2)/sqrt(3) = 33.3
    assert "| Acc@t1 | 33.3 ± 33.3 | 75.0 ± 25.0 | +41.7 |" in out
    assert "reward check failed: 1 before, 0 after" in out and "N = 3 problems before, 4 after" in out
    assert "| no answer (last attempt) | 0.0 ± 0.0 | 0.0 ± 0.0 | +0.0 |" in out
    assert "Acc@t2" not in out and "Δ" not in out
    saved = json.loads((tmp_path / "h.json").read_text())
    assert saved["after"]["num_attempts"] == 1 and "acc@t2" not in saved["after"]


def test_the_attempt_count_is_said_never_inferred(tmp_path):
    """Without --attempts 1 a single-turn dump is refused (its 'score' could be a two-attempt run's attempt 2), and
    --attempts 1 refuses a dump that carries per-attempt scores."""
    _single_turn_dump(tmp_path / "0.jsonl", [1, 0])
    with pytest.raises(ValueError, match="--attempts 1"):
        heldout.main([str(tmp_path)])
    with pytest.raises(ValueError, match="multi-attempt"):
        heldout.heldout_metrics([{"score": 1.0, "score_t1": 0.0, "score_t2": 1.0}], attempts=1)
    with pytest.raises(ValueError, match="no 'score'"):
        heldout.heldout_metrics([{"acc": 1.0}], attempts=1)
    with pytest.raises(ValueError, match="must be 1"):
        heldout.heldout_metrics([{"score_t1": 1.0, "score_t2": 1.0}], attempts=3)
