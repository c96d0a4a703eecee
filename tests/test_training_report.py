"""The training-run report (``python -m verl_score.training.report``): one row per training step, validation apart."""

from __future__ import annotations

import json

from verl_score.training import report

LINES = [
    # verl's file logger: the step-0 validation before training has validation metrics only
    {"step": 0, "data": {"val-core/rg/score/acc@t1": 0.25, "val-core/rg/score/acc@t2": 0.0}},
    {"step": 1, "data": {"score/stage": 1, "score/acc@t1": 0.5, "score/acc@t2": 0.25, "timing_s/step": 37.2}},
    # a run resumed from step 1 validates its checkpoint first: validation metrics plus the step's stage only
    {"step": 1, "data": {"score/stage": 1, "val-core/rg/score/acc@t1": 0.5, "val-core/rg/score/acc@t2": 0.5}},
    {"step": 2, "data": {"score/stage": 2, "score/acc@t1": 0.0, "score/acc@t2": 0.5, "score/kl_ref_t1/mean": 0.0012,
                         "score/kl_ref_t2/mean": 0.25,
                         "val-core/rg/score/acc@t1": 0.5, "val-core/rg/score/acc@t2": 0.75}},
]


def test_rows_are_training_steps_and_validation_is_separate(tmp_path, capsys):
    path = tmp_path / "run.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in LINES) + "\n")
    assert report.main([str(path)]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ") and line.split("|")[1].strip().isdigit()]
    # no row for the step-0 validation nor for the resumed run's validation of step 1
    assert [r.split("|")[1].strip() for r in rows] == ["1", "2"]
    assert rows[0].startswith("| 1 | 1 | 0.500 | 0.250 |")
    assert "| 0.001 | 0.250 |" in rows[1]  # per-token KL to the reference of attempt 1, attempt 2
    assert "| val-core/rg/score/acc@t2 | 0.750 |" in out  # the last validation's value

    assert report.main([str(path), "--no-validation"]) == 0
    out = capsys.readouterr().out
    assert "val-core" not in out and "| 2 | 2 |" in out
