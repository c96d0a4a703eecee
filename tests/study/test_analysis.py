"""The study's analysis on synthetic dumps: a known paired difference is recovered and covered by its interval,
format-only flips and the diagnostic rates are counted, the tables render. Light (no model); one test regrades real
texts with both graders (math-verify worker processes, a few seconds)."""

from __future__ import annotations

import gzip
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from verl_score.study.analysis import (Unit, arm_summary, by_arm, changed_answer_table, common_uids, difference_table,
                                       is_bare_equation, pair_seeds, paired_difference, problem_indicators,
                                       summary_table, trend)

ROOT = Path(__file__).resolve().parents[2]


def _att(correct: bool, strict: bool | None = None, text: str = "x", finish: str = "stop", reason: str | None = None):
    strict = correct if strict is None else strict
    return {"text": text, "num_tokens": 10, "finish_reason": finish,
            "graders": {"math_verify": {"correct": correct, "reason": reason or ("ok" if correct else "wrong")},
                        "anchored": {"correct": strict, "reason": "ok" if strict else "no_answer"}}}


def _ans(correct: bool, answer: str | None, text: str) -> dict:
    att = _att(correct, text=text, reason=None if answer is not None else "no_answer")
    att["graders"]["math_verify"]["answer"] = answer
    return att


def _rec(uid: str, a1: dict, a2: dict, family: str = "f") -> dict:
    return {"uid": uid, "family": family, "status": "ok", "ground_truth": "1", "attempts": [a1, a2]}


def test_indicators_count_format_only_flips_and_diagnostics():
    # right by value but unanchored at t1, anchored at t2: a strict i->c flip that is format only
    ind = problem_indicators(_rec("a", _att(True, strict=False, text="7"), _att(True, strict=True, text="Final 7")))
    assert ind["format_flip"] == 1 and ind["unformatted@t1"] == 1 and ind["unformatted@t2"] == 0
    assert ind["strict_delta"] == 1 and ind["delta"] == 0 and ind["i2c"] == 0
    # a real fix (wrong by value at t1) is not a format flip
    ind = problem_indicators(_rec("b", _att(False, text="6"), _att(True, text="7")))
    assert ind["format_flip"] == 0 and ind["i2c"] == 1 and ind["delta"] == 1
    # verbatim copy, truncation, no answer
    ind = problem_indicators(_rec("c", _att(False, text=" same ", finish="length", reason="no_answer"),
                                  _att(False, text="same")))
    assert ind["copy"] == 1 and ind["trunc@t1"] == 1 and ind["trunc@t2"] == 0 and ind["no_answer@t1"] == 1
    # the same answer, reworded (not verbatim), and a changed answer; an attempt without an answer never "keeps" it
    same = problem_indicators(_rec("s", _ans(False, "$12$", "So it is 12."), _ans(False, "3 + 9 = 12.", "3 + 9 = 12.")))
    assert same["copy"] == 0 and same["same_answer"] == 1
    assert problem_indicators(_rec("t", _ans(False, "12", "12"), _ans(True, "13", "13")))["same_answer"] == 0
    assert problem_indicators(_rec("u", _ans(False, None, "hmm"), _ans(False, None, "hmm")))["same_answer"] == 0
    # same value in other notation (both wrong); not the same value; both right is the same (one gold)
    for a1, a2, same in (("-2", "\u22122", 1), ("5.0", "5", 1), ("1/2", "0.5", 1), ("$x \\leq 5$", "$x \\geq 5$", 0),
                         ("So it is 6.", "The answer is 6.", 1), ("6", "8", 0)):
        ind = problem_indicators(_rec("v", _ans(False, a1, a1), _ans(False, a2, a2)))
        assert ind["same_answer"] == same, (a1, a2)
    assert problem_indicators(_rec("w", _ans(True, "7", "7"), _ans(True, "7.0", "it is 7.0")))["same_answer"] == 1
    # unscorable episodes are left out (counted by Unit), never scored 0
    assert problem_indicators({"uid": "d", "status": "generation_failed", "attempts": []}) is None
    bad = _att(True)
    bad["graders"]["math_verify"]["failed"] = True
    assert problem_indicators(_rec("e", bad, _att(True))) is None


def test_bare_equations_are_attempts_without_working():
    # the shapes the trained units' first attempts take (results/study/b64): one equation, maybe an answer line
    for text in ("7 + 5 = 12.", "7+5=12", "-3 + 5 = 2", "3 * 4 - 2 = 10", "10 + 0 = 10\n\nThe final answer is 10.",
                 "4 + 4 = 12\nThe final answer is 12.", " 9 - 4 = 5 \n"):
        assert is_bare_equation(text), text
    # working, prose, a bare number, two equations, an equation inside a sentence: not bare
    for text in ("12", "The answer is 12.", "To add 7 and 5, count on: 7 + 5 = 12.", "7 + 5 = 12\n12 + 1 = 13",
                 "So, 9 - 4 = 5.", "7 + 5 = 12. So 12.", "12 + 38 = 50\n50 is correct.", ""):
        assert not is_bare_equation(text), text
    ind = problem_indicators(_rec("b", _att(True, text="7 + 5 = 12\n\nThe final answer is 12."),
                                  _att(True, text="First, 7 + 5 = 12.\nThe answer is 12.")))
    assert ind["bare_eq@t1"] == 1 and ind["bare_eq@t2"] == 0


def test_changed_answers_count_fixes_and_breaks():
    recs = [
        _rec("fix", _ans(False, "11", "11"), _ans(True, "12", "12")),        # wrong -> another answer, right
        _rec("miss", _ans(False, "11", "11"), _ans(False, "13", "13")),      # wrong -> another wrong answer
        _rec("break", _ans(True, "12", "12"), _ans(False, "13", "13")),      # right -> another answer, wrong
        _rec("keep", _ans(False, "11", "11"), _ans(False, "11.0", "it is 11.0")),  # the same value: not changed
        _rec("mute", _ans(False, "11", "11"), _ans(False, None, "sorry")),   # no answer at t2: nothing changed to
        _rec("found", _ans(False, None, "hmm"), _ans(True, "12", "12")),     # no answer at t1: i->c, not "changed"
    ]
    ind = {r["uid"]: problem_indicators(r) for r in recs}
    assert [ind[k]["changed"] for k in ("fix", "miss", "break", "keep", "mute", "found")] == [1, 1, 1, 0, 0, 0]
    assert ind["fix"]["changed_fix"] == 1 and ind["break"]["changed_break"] == 1 and ind["found"]["changed_fix"] == 0
    assert ind["found"]["i2c"] == 1
    unit = Unit.from_records("score-s0", "score", 0, recs)
    table = changed_answer_table([unit], common_uids([unit]))
    assert "| score-s0 | 6 | 3 | 1 of 2 | 1 |" in table, table


def _synthetic(rng: np.random.Generator, n: int, p1: float, p2: float, seeds: list[int], arm: str) -> list[Unit]:
    units = []
    for s in seeds:
        c1 = rng.random(n) < p1
        c2 = rng.random(n) < p2
        recs = [_rec(f"p{i}", _att(bool(c1[i])), _att(bool(c2[i])), family="f" if i % 2 else "g") for i in range(n)]
        units.append(Unit.from_records(f"{arm}-s{s}", arm, s, recs))
    return units


def test_known_paired_difference_is_recovered_and_covered():
    rng = np.random.default_rng(1)
    n = 600
    base = _synthetic(rng, n, 0.4, 0.2, [0], "base")
    # the trained arm: same attempt 1 rate, attempt 2 up by 0.25 (true Δ difference vs base = +0.25 - (-0.2 ...))
    trained = _synthetic(rng, n, 0.4, 0.45, [0, 1, 2], "naive")
    uids = common_uids(base + trained)
    assert len(uids) == n
    d = paired_difference(pair_seeds(trained, base), uids, "acc@t2", n_boot=1000)
    true = 0.45 - 0.2
    assert abs(d["mean"] - true) < 0.05
    assert d["ci"][0] < true < d["ci"][1] and d["ci"][1] - d["ci"][0] < 0.12
    assert len(d["per_seed"]) == 3 and d["seed_sd"] is not None
    # the pooled estimate is the mean of the per-seed differences
    assert d["mean"] == pytest.approx(np.mean(d["per_seed"]))
    # each seed's own interval holds its own difference and is wider than the pooled one (a third of the data)
    for x, (lo, hi) in zip(d["per_seed"], d["per_seed_ci"], strict=True):
        assert lo < x < hi and hi - lo > d["ci"][1] - d["ci"][0]
    # one seed alone: its own interval is the pooled interval (the same resamples)
    one = paired_difference(pair_seeds(trained[:1], base), uids, "acc@t2", n_boot=1000)
    assert one["per_seed_ci"][0] == pytest.approx(one["ci"])
    # no difference where there is none: acc@t1 interval covers 0
    d1 = paired_difference(pair_seeds(trained, base), uids, "acc@t1", n_boot=1000)
    assert d1["ci"][0] < 0 < d1["ci"][1]


def test_exact_paired_difference_on_a_constructed_dump():
    """The arm's attempt 2 is right on 20 of 40 problems, the base's on none: Δacc@t2 = +0.5 exactly, every seed;
    10 i→c and 10 c→i flips of 40."""
    base = Unit.from_records("base-s0", "base", 0, [_rec(f"p{i}", _att(i < 20), _att(False)) for i in range(40)])
    arm = [Unit.from_records(f"score-s{s}", "score", s,
                             [_rec(f"p{i}", _att(i < 20), _att(i < 10 or i >= 30)) for i in range(40)])
           for s in range(3)]
    d = paired_difference(pair_seeds(arm, [base]), common_uids([base, *arm]), "acc@t2", n_boot=500)
    assert d["mean"] == pytest.approx(0.5) and d["per_seed"] == [pytest.approx(0.5)] * 3 and d["seed_sd"] == 0
    assert d["ci"][0] <= 0.5 <= d["ci"][1]
    s = arm_summary(arm, common_uids(arm))
    assert s["i2c"]["mean"] == pytest.approx(0.25) and s["c2i"]["mean"] == pytest.approx(0.25)


def test_seeds_pair_by_number_against_a_multi_seed_reference():
    rng = np.random.default_rng(0)
    a = _synthetic(rng, 10, 0.5, 0.5, [0, 1, 2], "score")
    r = _synthetic(rng, 10, 0.5, 0.5, [1, 2, 3], "naive")
    assert [(x.seed, y.seed) for x, y in pair_seeds(a, r)] == [(1, 1), (2, 2)]


def test_tables_render_per_arm_and_per_family():
    rng = np.random.default_rng(2)
    units = _synthetic(rng, 50, 0.4, 0.2, [0], "base") + _synthetic(rng, 50, 0.4, 0.5, [0, 1], "naive")
    arms = by_arm(units)
    uids = common_uids(units)
    t = summary_table(arms, uids, ["acc@t1", "acc@t2", "delta", "format_flip"], ["base", "naive", "score"])
    assert "| base | 1 | 50 |" in t and "| naive | 2 | 50 |" in t and "score" not in t
    fam = common_uids(units, family="f")
    assert len(fam) == 25
    dt = difference_table(arms, uids, "base", ["base", "naive"], n_boot=200)
    assert "| naive | Acc@t2 |" in dt and "s0:" in dt and "s1:" in dt


def _load_cli():
    spec = importlib.util.spec_from_file_location("study_analysis", ROOT / "scripts/experiments/study_analysis.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_analysis_command_regrades_from_the_text(tmp_path):
    """The whole command on a tiny committed-style study: verdicts are recomputed from the text (a wrong stored
    verdict is overruled and counted), and the tables are written."""
    from verl_score.study.units import UnitSpec, UnitStore

    store = UnitStore(tmp_path / "units")
    texts = [("6 + 1 = 7", "Final Answer: The final answer is $7$. I hope it is correct."),  # format-only flip
             ("6 + 1 = 8", "The answer is 7."),  # a real fix
             ("The answer is 7.", "The answer is 7.")]  # a verbatim copy, right
    for arm in ("base", "naive"):
        spec = UnitSpec(arm, 0, {"x": 1})
        recs = []
        for i, (t1, t2) in enumerate(texts):
            stale = {"math_verify": {"correct": False}, "anchored": {"correct": False}}  # wrong on purpose
            recs.append({"uid": f"add/{i}", "family": "add", "status": "ok", "ground_truth": "7",
                         "attempts": [{"text": t1, "finish_reason": "stop", "num_tokens": 5, "graders": stale},
                                      {"text": t2, "finish_reason": "stop", "num_tokens": 9, "graders": stale}]})
        with store.staging(spec) as staged:
            with gzip.open(staged / "heldout.jsonl.gz", "wt") as f:
                f.write("".join(json.dumps(r) + "\n" for r in recs))
            if arm == "naive":  # verl's file-logger lines, as a trained unit keeps them
                with gzip.open(staged / "train_metrics.jsonl.gz", "wt") as f:
                    f.write("".join(json.dumps({"step": k, "data": {"score/acc@t1": 0.1 * k, "score/acc@t2": 0.5}})
                                    + "\n" for k in (1, 2, 3, 4)))
            store.commit(spec, staged, {})
    cli = _load_cli()
    assert cli.main([str(tmp_path), "--n-boot", "200"]) == 0
    report = json.loads((tmp_path / "tables.json").read_text())
    base = report["arms"]["base"]
    assert base["acc@t1"]["mean"] == pytest.approx(2 / 3) and base["acc@t2"]["mean"] == pytest.approx(1.0)
    assert base["format_flip"]["mean"] == pytest.approx(1 / 3) and base["copy"]["mean"] == pytest.approx(1 / 3)
    # the answers extracted from the texts: 7 / 7 (reworded), 8 / 7, 7 / 7 (verbatim)
    assert base["same_answer"]["mean"] == pytest.approx(2 / 3)
    assert report["regrade_changed"] > 0
    # the training trend: steps 1-2 against 3-4 of the one seed; a rate missing from the log is left out
    trained = report["training"]["naive"]
    assert trained["score/acc@t1"]["per_step"] == pytest.approx([0.1, 0.2, 0.3, 0.4])
    assert trained["score/acc@t1"]["trend"]["mean"] == pytest.approx(0.2)
    assert trained["score/acc@t2"]["trend"]["mean"] == 0 and "score/identical_attempts_rate" not in trained
    assert "base" not in report["training"]
    md = (tmp_path / "tables.md").read_text()
    assert "format-only flips" in md and "### add" in md and "against base" in md
    assert (tmp_path / "plots" / "accuracy.png").exists() and (tmp_path / "plots" / "differences.png").exists()


def test_the_bootstrap_resamples_groups_not_problems():
    """Ten groups of ten identical problems: the interval is that of 10 observations, not of 100 (resampling the
    problems one by one would count each group's ten identical outcomes as ten independent ones)."""
    def recs(right):
        return [{**_rec(f"p{g}-{i}", _att(right(g)), _att(right(g))), "group": f"g{g}"}
                for g in range(10) for i in range(10)]
    base = Unit.from_records("base-s0", "base", 0, recs(lambda g: False))
    arm = [Unit.from_records("x-s0", "x", 0, recs(lambda g: g < 5))]
    uids = common_uids([base, *arm])
    d = paired_difference(pair_seeds(arm, [base]), uids, "acc@t1", n_boot=2000)
    assert d["mean"] == pytest.approx(0.5)
    lo, hi = d["ci"]
    # 10 Bernoulli(0.5) clusters: the 95 % interval spans about ±0.3; 100 independent problems would give about ±0.1
    assert hi - lo > 0.45, d["ci"]
    flat = [Unit.from_records(u.name, u.arm, u.seed, [{k: v for k, v in r.items() if k != "group"} for r in rs])
            for u, rs in ((base, recs(lambda g: False)), (arm[0], recs(lambda g: g < 5)))]
    d_flat = paired_difference(pair_seeds([flat[1]], [flat[0]]), uids, "acc@t1", n_boot=2000)
    assert d_flat["ci"][1] - d_flat["ci"][0] < 0.25


def test_training_trend_is_paired_over_seeds():
    """One observation per seed (its last steps minus its first): a clear move is found, no move gives an interval
    around 0, one seed gives no interval at all (values by hand: 3 seeds, t(2) = 4.303)."""
    up = trend([0.1, 0.2, 0.15], [0.5, 0.7, 0.55])
    d = np.array([0.4, 0.5, 0.4])
    assert up["mean"] == pytest.approx(d.mean()) and up["per_seed"] == pytest.approx(d)
    half = 4.303 * d.std(ddof=1) / np.sqrt(3)
    assert up["ci"] == pytest.approx([d.mean() - half, d.mean() + half])
    flat = trend([0.1, 0.3, 0.2], [0.3, 0.1, 0.2])
    assert flat["ci"][0] < 0 < flat["ci"][1]
    assert "ci" not in trend([0.1], [0.2])  # one seed: no interval, never a fake one
