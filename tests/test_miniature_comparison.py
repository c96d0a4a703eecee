"""The miniature comparison's arms and results table (the runs themselves are the experiment, not a test)."""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("miniature", ROOT / "scripts/experiments/miniature_comparison.py")
mini = importlib.util.module_from_spec(_spec)
sys.modules["miniature"] = mini  # dataclasses look their module up there
_spec.loader.exec_module(mini)


def test_arms_differ_only_in_what_the_paper_compares():
    arms = mini.methods(steps=12, stage1=4, alpha=10.0, beta2=0.1)
    assert list(arms) == ["base", "grpo", "naive", "score", "stage1", "stage1_nokl"]
    assert not arms["base"].trains
    # SCoRe: Stage I then Stage II, progress shaping with α
    assert arms["score"].env == {"STAGE1_STEPS": "4", "STAGE2_STEPS": "8"}
    assert "score.shaping.kwargs.alpha=10.0" in arms["score"].overrides
    # naive multi-turn RL: both attempts rewarded from step 1 (Stage II only), no shaping, same step budget
    assert arms["naive"].env == {"STAGE1_STEPS": "0", "STAGE2_STEPS": "12"}
    assert arms["naive"].overrides[:2] == ["~score.shaping.kwargs", "score.shaping.name=none"]
    # single-turn GRPO: one-attempt training rows, verl's stock trainer, same step budget
    assert arms["grpo"].train_target == "plain" and "trainer.v1.trainer_mode=sync" in arms["grpo"].overrides
    assert arms["grpo"].env["STAGE2_STEPS"] == "12"
    # the Stage I study (issue 10): Stage I for the whole budget, with the command line's β2 and with β2 = 0
    for name in ("stage1", "stage1_nokl"):
        assert arms[name].env == {"STAGE1_STEPS": "12", "STAGE2_STEPS": "0"}
    assert arms["stage1"].beta2 is None and "0.1" in arms["stage1"].title
    assert arms["stage1_nokl"].beta2 == 0.0


def test_each_arm_trains_with_its_own_beta2(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(mini, "_run", lambda cmd, env=None, log=None: calls.append(cmd))
    args = argparse.Namespace(lr=1e-5, prompts=2, samples_per_prompt=4, seed=1, beta2=0.1, dry_run=True)
    data = {"score": tmp_path / "score", "grpo": tmp_path / "grpo"}
    arms = mini.methods(steps=4, stage1=2, alpha=10.0, beta2=0.1)
    for name in ("stage1", "stage1_nokl"):
        mini.train(arms[name], tmp_path, data, args, donor="stage1")
    assert "score.beta2=0.1" in calls[0] and "score.beta2=0.0" in calls[1]
    assert "trainer.val_before_train=False" not in calls[0] and "trainer.val_before_train=False" in calls[1]


def test_training_summary_reads_first_and_last_steps(tmp_path):
    log = tmp_path / "logs" / "verl_score" / "mini_stage1.jsonl"
    log.parent.mkdir(parents=True)
    rows = [{"step": i + 1, "data": {"score/acc@t1": a, "score/acc@t2": b, "actor/score/kl_attempt1": k}}
            for i, (a, b, k) in enumerate([(0.2, 0.1, 0.0), (0.4, 0.3, 0.01), (0.3, 0.5, 0.02), (0.3, 0.7, 0.04)])]
    log.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    t = mini.training_summary(tmp_path, "stage1")
    assert t["score/acc@t1"] == pytest.approx((0.3, 0.3))
    assert t["score/acc@t2"] == pytest.approx((0.2, 0.6))
    assert t["actor/score/kl_attempt1"] == pytest.approx((0.005, 0.03))
    args = argparse.Namespace(data_seed=42, seed=1, steps=4, prompts=2, samples_per_prompt=4, lr=1e-5, beta2=0.1,
                              alpha=10.0, samples=4)
    md = mini.render([{"title": "Stage I only", "greedy": {}, "train": t}], "cmd", "abc", args)
    assert "| Stage I only | 30.0 → 30.0 | 20.0 → 60.0 | 0.0050 → 0.0300 |" in md


def test_table_reports_mean_and_standard_error():
    args = argparse.Namespace(data_seed=42, seed=1, steps=12, prompts=2, samples_per_prompt=4, lr=1e-5, beta2=0.1,
                              alpha=10.0, samples=4)
    rows = [{"title": "SCoRe", "greedy": {"n": 32, "acc@t1": (0.25, 0.077), "acc@t2": (0.3125, 0.083),
                                           "delta_t1_t2": (0.0625, 0.043), "delta_i2c": (0.0625, 0.043),
                                           "delta_c2i": (0.0, 0.0)},
             "sampled": {"overall": {"n": 128, "acc@t1": 0.2, "acc@t2": 0.25, "delta_t1_t2": 0.05,
                                     "delta_i2c_uncond": 0.07, "delta_c2i_uncond": 0.02}}}]
    md = mini.render(rows, "python x.py --out r", "abc123", args)
    assert "Commit: `abc123`" in md and "held-out N = 32" in md
    assert "| SCoRe | 25.0 ± 7.7 | 31.2 ± 8.3 | +6.2 ± 4.3 | +6.2 ± 4.3 | +0.0 ± 0.0 |" in md
    assert "| SCoRe | 128 | 20.0 | 25.0 | 5.0 | 7.0 | 2.0 |" in md


def test_unknown_method_and_bad_stage_split_are_refused(tmp_path):
    with pytest.raises(SystemExit, match=r"unknown method\(s\) \['ppo'\]"):
        mini.main(["--out", str(tmp_path), "--methods", "score,ppo", "--dry-run"])
    with pytest.raises(SystemExit, match="--stage1"):
        mini.main(["--out", str(tmp_path), "--steps", "2", "--stage1", "3", "--dry-run"])


def test_only_the_base_donor_validates_before_training():
    # the base row is the step-0 greedy validation of one trained arm; the others skip that identical pass
    assert mini.base_donor(["grpo", "naive", "score"]) == "score"
    assert mini.base_donor(["grpo", "naive"]) == "grpo"
    assert mini.base_donor(["stage1_nokl", "stage1", "naive"]) == "stage1"
    assert mini.base_donor([]) is None


def test_training_plot_has_a_line_per_arm(tmp_path, monkeypatch):
    # regression: the first committed run's training_acc.png was empty (series keyed "arm:metric" were filtered out)
    from verl_score.eval import plots as P

    rows = []
    for name in ("stage1", "stage1_nokl"):
        log = tmp_path / name / "logs" / "verl_score" / f"mini_{name}.jsonl"
        log.parent.mkdir(parents=True)
        log.write_text("\n".join(json.dumps({"step": i, "data": {"score/acc@t1": 0.1 * i, "score/acc@t2": 0.2,
                                                               "actor/score/kl_attempt1": 0.001 * i}})
                                 for i in (1, 2, 3)) + "\n")
        rows.append({"name": name, "run_dir": str(tmp_path / name)})
    figs = []
    real = P.plot_compare
    monkeypatch.setattr(P, "plot_compare", lambda *a, **k: figs.append(real(*a, **k)) or figs[-1])
    written = mini.plots(rows, tmp_path)
    assert written == [tmp_path / "plots" / "training_acc.png"] and written[0].exists()
    assert [[ln.get_label() for ln in ax.lines] for ax in figs[0].axes] == [["stage1", "stage1_nokl"]] * 3
