"""The data shapes of Mentored Problem Solving: the student step parser, the teacher's verdict, the trajectory record.

Record format = what ``data_preprocess/sources/mps.py`` (schema ``mps_trajectory_v1``) reads: required keys
``id, problem, ground_truth, data_source, steps, verified_prefix_len, teacher_step, student_mistake_step,
final_answer, kept`` (+ optional ``task``); each step is ``{thought, code, observation}`` with string values (``""``
for no code / no observation); when a correction exists, ``steps[verified_prefix_len]`` IS the teacher's step. We
add bookkeeping keys the converter ignores: ``correct``, ``drop_reason``, ``interventions``, ``teacher_failures``,
``teacher_failure_kinds``, ``student_calls``, ``teacher_calls``, ``schema``.

The step itself (``Step``, ``render_step``, ``steps_to_messages``, ``MPS_SYSTEM``) is a contract shared with the
agent loop and the converter: ``verl_score.contracts.steps``.

The teacher's verdict is strict JSON, ``{"first_error_step": int|null, "corrected_step": {"thought": str, "code":
str|null}|null, "reason": str}``: wrong types, unknown keys, an index outside the steps still open to review, or a
missing correction are errors (the runner retries, then counts a failure). A lenient parser would turn teacher
noise into wrong key steps, which the key-step reward then trains towards.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from verl_score.contracts.steps import Step
from verl_score.llm import JSONExtractError, extract_json_object

__all__ = [
    "SCHEMA_NAME",
    "TeacherVerdict",
    "VerdictError",
    "parse_student_step",
    "parse_verdict",
    "validate_record",
]

SCHEMA_NAME = "mps_trajectory_v1"

# ---------------------------------------------------------------------------------------------- student steps
_CODE_BLOCK = re.compile(r"```[ \t]*(?:python|py|python3)?[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL | re.IGNORECASE)
_FINAL_LINE = re.compile(r"final\s+answer\s*:", re.IGNORECASE)
_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")


def parse_student_step(text: str) -> tuple[Step, str | None]:
    """One generated step -> ``(Step, final answer or None)``.

    The text is cut at "Observation:" (the model must not invent tool output). A step with code is an action: its
    output is the next observation, so an answer written in the same breath is ignored (it cannot depend on the
    output yet). A step without code that states ``Final Answer:``/``\\boxed{}`` ends the trajectory; the answer
    line is removed from the thought because the converter renders ``Final Answer: X`` itself.
    """
    text = text.split("Observation:", 1)[0]
    code_match = _CODE_BLOCK.search(text)
    code = code_match.group(1).strip() if code_match else ""
    prose = text[: code_match.start()] if code_match else text
    prose = re.sub(r"^\s*Thought:\s*", "", prose.strip(), flags=re.IGNORECASE)
    prose = re.sub(r"\s*Code:\s*$", "", prose, flags=re.IGNORECASE).strip()
    final: str | None = None
    if not code:
        final = _final_answer(text)
        if final is not None:
            m = _FINAL_LINE.search(prose) or _BOXED.search(prose)
            if m:
                prose = prose[: m.start()].rstrip()
    return Step(thought=prose, code=code), final


def _final_answer(text: str) -> str | None:
    """The answer after the LAST "Final Answer:" (to the line end; a ``\\boxed{}`` inside wins), else the last
    ``\\boxed{}`` / "the final answer is X" via the reward's extractor (one extraction rule project-wide)."""
    from verl_score.rewards.extract import clean_answer, extract_math_answer

    matches = list(_FINAL_LINE.finditer(text))
    if matches:
        rest = text[matches[-1].end() :].strip()
        inner = extract_math_answer(rest)
        if inner.answer is not None:
            return inner.answer
        line = clean_answer(clean_answer(rest.split("\n", 1)[0]))  # "$x$." -> "$x$" -> "x"
        return line or None
    found = extract_math_answer(text)
    return found.answer


# ---------------------------------------------------------------------------------------------- teacher verdict
class VerdictError(ValueError):
    """The teacher's reply is not a valid verdict (the message says which rule failed)."""


@dataclass(frozen=True)
class TeacherVerdict:
    first_error_step: int | None
    corrected_step: Step | None
    reason: str


_VERDICT_KEYS = {"first_error_step", "corrected_step", "reason"}
_STEP_KEYS = {"thought", "code"}


def parse_verdict(text: str, n_steps: int, floor: int = 0) -> TeacherVerdict:
    """Strictly validate a teacher reply for a trajectory of ``n_steps`` whose first ``floor`` steps are fixed."""
    try:
        obj = extract_json_object(text)
    except JSONExtractError as exc:
        raise VerdictError(f"no JSON object: {exc}") from None
    keys = set(obj)
    if keys != _VERDICT_KEYS:
        raise VerdictError(f"keys must be exactly {sorted(_VERDICT_KEYS)}, got {sorted(keys)}")
    idx = obj["first_error_step"]
    reason = obj["reason"]
    if not isinstance(reason, str):
        raise VerdictError("reason must be a string")
    if idx is None:
        if obj["corrected_step"] is not None:
            raise VerdictError("corrected_step must be null when first_error_step is null")
        return TeacherVerdict(None, None, reason)
    if not isinstance(idx, int) or isinstance(idx, bool):
        raise VerdictError(f"first_error_step must be an integer or null, got {idx!r}")
    if not floor <= idx < n_steps:
        raise VerdictError(f"first_error_step={idx} outside the reviewable steps {floor}..{n_steps - 1}")
    cs = obj["corrected_step"]
    if not isinstance(cs, dict) or set(cs) != _STEP_KEYS:
        raise VerdictError(f"corrected_step must be an object with exactly {sorted(_STEP_KEYS)}")
    if not isinstance(cs["thought"], str) or not cs["thought"].strip():
        raise VerdictError("corrected_step.thought must be a non-empty string")
    if cs["code"] is not None and not isinstance(cs["code"], str):
        raise VerdictError("corrected_step.code must be a string or null")
    return TeacherVerdict(idx, Step(thought=cs["thought"].strip(), code=(cs["code"] or "").strip()), reason)


# ---------------------------------------------------------------------------------------------- records
_REQUIRED = ("id", "problem", "ground_truth", "data_source", "steps", "verified_prefix_len", "teacher_step",
             "student_mistake_step", "final_answer", "kept")


def validate_record(rec: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` unless ``rec`` satisfies the converter's rules (kept or not: structure always holds)."""
    missing = [k for k in _REQUIRED if k not in rec]
    if missing:
        raise ValueError(f"record lacks {missing}")
    for k in ("id", "problem", "ground_truth", "data_source", "final_answer"):
        if not isinstance(rec[k], str):
            raise ValueError(f"{k} must be a string")
    if not isinstance(rec["kept"], bool):
        raise ValueError("kept must be a bool")
    steps = rec["steps"]
    if not isinstance(steps, list):
        raise ValueError("steps must be a list")
    for i, s in enumerate(steps):
        if not isinstance(s, dict) or set(s) != {"thought", "code", "observation"} or not all(
            isinstance(v, str) for v in s.values()
        ):
            raise ValueError(f"steps[{i}] must be {{thought, code, observation}} strings")
    k = rec["verified_prefix_len"]
    if not isinstance(k, int) or isinstance(k, bool) or not 0 <= k <= len(steps):
        raise ValueError(f"verified_prefix_len={k!r} not in 0..{len(steps)}")
    teacher, mistake = rec["teacher_step"], rec["student_mistake_step"]
    if (teacher is None) != (mistake is None):
        raise ValueError("teacher_step and student_mistake_step must both be set or both null")
    if teacher is not None:
        if k >= len(steps) or (steps[k]["thought"], steps[k]["code"]) != (teacher["thought"], teacher["code"]):
            raise ValueError("steps[verified_prefix_len] must be the teacher_step")
    if rec["kept"]:
        if not steps or not all(s["thought"].strip() for s in steps):
            raise ValueError("a kept trajectory needs non-empty steps with non-empty thoughts")
        if not rec["final_answer"].strip():
            raise ValueError("a kept trajectory needs a final answer")
        if teacher is None and k != len(steps):
            raise ValueError("without a correction, verified_prefix_len must equal len(steps)")
