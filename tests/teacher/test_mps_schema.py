"""MPS building blocks: strict teacher verdicts, student step parsing, converter parity, resumable jsonl."""

from __future__ import annotations

import json

import pytest

from verl_score.teacher.jsonl_writer import CorruptOutputError, ResumableJsonlWriter
from verl_score.contracts.steps import Step, render_step, steps_to_messages
from verl_score.teacher.mps_schema import VerdictError, parse_student_step, parse_verdict, validate_record

GOOD = {"first_error_step": 1, "corrected_step": {"thought": "Divide.", "code": "print(84 / 7)"}, "reason": "r"}


def test_verdict_valid_forms():
    v = parse_verdict(json.dumps(GOOD), n_steps=3)
    assert (v.first_error_step, v.corrected_step.code) == (1, "print(84 / 7)")
    fenced = "Here you go:\n```json\n" + json.dumps({**GOOD, "corrected_step": {"thought": "t", "code": None}}) + "\n```"
    assert parse_verdict(fenced, n_steps=3).corrected_step.code == ""
    clean = parse_verdict('{"first_error_step": null, "corrected_step": null, "reason": "fine"}', n_steps=3)
    assert clean.first_error_step is None and clean.corrected_step is None


@pytest.mark.parametrize(
    "obj,floor",
    [
        ("not json", 0),
        ({**GOOD, "extra": 1}, 0),  # unknown key
        ({k: v for k, v in GOOD.items() if k != "reason"}, 0),  # missing key
        ({**GOOD, "first_error_step": "1"}, 0),  # wrong type
        ({**GOOD, "first_error_step": True}, 0),  # bool is not an index
        ({**GOOD, "first_error_step": 3}, 0),  # past the last step
        ({**GOOD, "first_error_step": 0}, 1),  # inside the already verified prefix
        ({**GOOD, "corrected_step": None}, 0),  # error without a correction
        ({**GOOD, "corrected_step": {"thought": "", "code": None}}, 0),  # empty thought
        ({**GOOD, "corrected_step": {"thought": "t", "code": 3}}, 0),
        ({"first_error_step": None, "corrected_step": {"thought": "t", "code": None}, "reason": ""}, 0),
    ],
)
def test_verdict_strict_rejections(obj, floor):
    with pytest.raises(VerdictError):
        parse_verdict(obj if isinstance(obj, str) else json.dumps(obj), n_steps=3, floor=floor)


def test_student_step_parsing():
    step, final = parse_student_step("Thought: add\nCode:\n```python\nprint(1+2)\n```\nObservation: 3 (invented)")
    assert step == Step("add", "print(1+2)") and final is None  # invented observation cut off
    step, final = parse_student_step("Thought: So it is 3.\nFinal Answer: \\boxed{3}")
    assert step == Step("So it is 3.") and final == "3"
    step, final = parse_student_step("Thought: print it\n```python\nprint(5)\n```\nFinal Answer: \\boxed{5}")
    assert step.code == "print(5)" and final is None  # an action's answer waits for its observation
    assert parse_student_step("Thought: still thinking") == (Step("still thinking"), None)
    assert parse_student_step("Thought: done.\nFinal Answer: 1,800 dollars") == (Step("done."), "1,800 dollars")
    assert parse_student_step("Thought: done.\nFinal Answer: $\\frac{1}{2}$.")[1] == "\\frac{1}{2}"
    assert parse_student_step("So the final answer is $7$. I hope it is correct.")[1] == "7"


def test_rendering_matches_the_converter():
    from data_preprocess.sources import mps as conv

    steps = [{"thought": "a", "code": "", "observation": ""}, {"thought": "b", "code": "print(1)", "observation": "1\n"},
             {"thought": "c", "code": "", "observation": ""}]
    assert steps_to_messages(steps) == conv.steps_to_messages(steps)
    assert all(render_step(s) == conv.render_step(s) for s in steps)
    assert conv.REQUIRED <= set(_record())
    from verl_score.contracts.steps import MPS_SYSTEM

    assert MPS_SYSTEM == conv.MPS_SYSTEM


def _record(**kw):
    teacher = {"thought": "fix", "code": "print(2)", "observation": "2\n"}
    rec = {
        "id": "p1", "problem": "q", "ground_truth": "2", "data_source": "d", "task": "math",
        "steps": [{"thought": "ok", "code": "", "observation": ""}, teacher], "verified_prefix_len": 1,
        "teacher_step": teacher, "student_mistake_step": {"thought": "bad", "code": "", "observation": ""},
        "final_answer": "2", "kept": True,
    }  # fmt: skip
    rec.update(kw)
    return rec


def test_validate_record():
    validate_record(_record())
    for bad in (_record(verified_prefix_len=0), _record(teacher_step=None), _record(kept="yes"),
                _record(verified_prefix_len=5), _record(final_answer="")):
        with pytest.raises(ValueError):
            validate_record(bad)


def test_writer_repairs_partial_tail_and_skips_done(tmp_path):
    path = tmp_path / "out.jsonl"
    with ResumableJsonlWriter(path) as w:
        w.write({"id": "a", "x": "line\nbreak"})
        w.write({"id": "b"})
        with pytest.raises(ValueError):
            w.write({"id": "a"})
    with open(path, "ab") as fh:
        fh.write(b'{"id": "c", "x": "half a rec')  # what a SIGKILL mid-write leaves
    w = ResumableJsonlWriter(path)
    assert w.done == {"a", "b"} and w.repaired_bytes > 0
    w.write({"id": "c"})
    w.close()
    lines = path.read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["a", "b", "c"]
    path.write_text('{"id": "a"}\nGARBAGE\n')
    with pytest.raises(CorruptOutputError):
        ResumableJsonlWriter(path)
