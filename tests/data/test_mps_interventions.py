"""MPS → SCoRe-RL: one row per teacher intervention, the first-error row always present (issue 10).

The datagen corrects a trajectory up to K times and writes the LAST correction at the top level; its "verified
prefix" contains the earlier teacher-written step, and the student's first error was lost. A two-intervention
record as ``verl_score.teacher.mps`` writes it (``interventions`` list) must give two rows.
"""

from __future__ import annotations

import json

import pytest

from data_preprocess.convert_parquet import ConversionError
from tests.data.test_data_sources import _check_common_mps


def _step(thought, code="", obs=""):
    return {"thought": thought, "code": code, "observation": obs}


S0 = _step("There are 3 boxes of 4 apples and 2 loose apples.")
T1 = _step("Multiply boxes by apples per box.", "print(3 * 4)", "12")  # teacher, replaces the student's step 1
M1 = _step("3 boxes of 4 is 7 apples.")
T2 = _step("Add the 2 loose apples to 12.", "print(12 + 2)", "14")  # teacher, replaces the student's step 2
M2 = _step("12 + 2 = 15.")
S3 = _step("So there are 14 apples.")


def _record(**over):
    rec = {
        "id": "two-interventions", "problem": "3 boxes of 4 apples and 2 loose apples: how many apples?",
        "ground_truth": "14", "data_source": "numina_math", "steps": [S0, T1, T2, S3],
        "verified_prefix_len": 2, "teacher_step": T2, "student_mistake_step": M2, "final_answer": "14",
        "kept": True,
        "interventions": [
            {"step_index": 1, "teacher_step": T1, "student_mistake_step": M1, "reason": "3*4 is 12"},
            {"step_index": 2, "teacher_step": T2, "student_mistake_step": M2, "reason": "12+2 is 14"},
        ],
    }
    rec.update(over)
    return rec


def _write(tmp_path, *records):
    path = tmp_path / "mps_two.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_one_rl_row_per_intervention_first_error_included(convert, rows, tmp_path):
    report, out = convert("mps", "--input", str(_write(tmp_path, _record())), "--sft-fraction", "0")
    rl = rows(out / "train.parquet")
    _check_common_mps(rl)
    assert [r["extra_info"]["verified_prefix_len"] for r in rl] == [1, 2]
    first, second = (r["extra_info"] for r in rl)
    # the first-error row: the student's own prefix, the student's first mistake, the first correction
    assert first["prefix_steps"] == [S0] and first["student_mistake_fields"] == M1 and first["teacher_step_fields"] == T1
    # the second row resumes after the first (teacher-corrected) step at the second error
    assert second["prefix_steps"] == [S0, T1] and second["student_mistake_fields"] == M2
    assert report.moved["mps_rl_rows_from_later_interventions"] == 1 and report.rows_per_split["train"] == 2


def test_rows_of_one_problem_share_a_split(convert, rows, tmp_path):
    others = [_record(id=f"p{i}", problem=f"Problem number {i}: 3 boxes of 4 apples and 2 loose?") for i in range(5)]
    _, out = convert("mps", "--input", str(_write(tmp_path, *others)), "--sft-fraction", "0", "--test-size", "2")
    test, train = rows(out / "test.parquet"), rows(out / "train.parquet")
    assert len(test) == 4 and len(train) == 6  # 2 problems x 2 interventions, 3 problems x 2
    assert {r["extra_info"]["question"] for r in test}.isdisjoint({r["extra_info"]["question"] for r in train})


def test_without_an_interventions_list_the_top_level_correction_is_the_row(convert, rows, tmp_path):
    rec = _record(steps=[S0, T1, S3], verified_prefix_len=1, teacher_step=T1, student_mistake_step=M1)
    del rec["interventions"]
    _, out = convert("mps", "--input", str(_write(tmp_path, rec)), "--sft-fraction", "0")
    assert [r["extra_info"]["verified_prefix_len"] for r in rows(out / "train.parquet")] == [1]


@pytest.mark.parametrize(
    "over,needle",
    [
        ({"interventions": []}, "non-empty"),
        ({"interventions": [{"step_index": 2, "teacher_step": T2, "student_mistake_step": M2},
                            {"step_index": 1, "teacher_step": T1, "student_mistake_step": M1}]}, "must increase"),
        ({"interventions": [{"step_index": 1, "teacher_step": M1, "student_mistake_step": M1},
                            {"step_index": 2, "teacher_step": T2, "student_mistake_step": M2}]}, "is not"),
        ({"interventions": [{"step_index": 1, "teacher_step": T1, "student_mistake_step": M1}]}, "last intervention"),
    ],
)
def test_inconsistent_interventions_are_bad_rows(convert, tmp_path, over, needle):
    with pytest.raises(ConversionError) as err:
        convert("mps", "--input", str(_write(tmp_path, _record(**over))), "--sft-fraction", "0")
    assert err.value.reason == "bad_interventions" and needle in str(err.value)
