"""The miniature comparison's arms and results table (the runs themselves are the experiment, not a test)."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("miniature", ROOT / "scripts/experiments/miniature_comparison.py")
mini = importlib.util.module_from_spec(_spec)
sys.modules["miniature"] = mini  # dataclasses look their module up there
_spec.loader.exec_module(mini)


def test_arms_differ_only_in_what_the_paper_compares():
    arms = mini.methods(steps=12, stage1=4, alpha=10.0)
    assert list(arms) == ["base", "grpo", "naive", "score"]
    assert not arms["base"].trains
    # SCoRe: Stage I then Stage II, progress shaping with α
    assert arms["score"].env == {"STAGE1_STEPS": "4", "STAGE2_STEPS": "8"}
    assert "score.shaping.alpha=10.0" in arms["score"].overrides
    # naive multi-turn RL: both attempts rewarded from step 1 (Stage II only), no shaping, same step budget
    assert arms["naive"].env == {"STAGE1_STEPS": "0", "STAGE2_STEPS": "12"}
    assert "score.shaping.name=none" in arms["naive"].overrides
    # single-turn GRPO: one-attempt training rows, verl's stock trainer, same step budget
    assert arms["grpo"].train_target == "plain" and "trainer.v1.trainer_mode=sync" in arms["grpo"].overrides
    assert arms["grpo"].env["STAGE2_STEPS"] == "12"


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
    assert mini.base_donor([]) is None
