"""Behaviour-cloning cold start (Student-Centered SCoRe / SCoRe-B, arXiv 2509.14257 §3, phase 1): the TEACHER
solves whole problems in the CodeAct ``Thought / Code / Observation`` protocol; only verified-correct trajectories
are kept, and the student is then fine-tuned on them (LLaMA-Factory ``BC_init.yaml`` in the paper; here
``scripts/run_bc_init_sft.sh``) before Mentored Problem Solving.

Why it is built on ``verl_score.teacher.mps`` instead of beside it:
* The teacher is prompted exactly like the MPS student (``MPS_SYSTEM`` + the problem, the same step rendering and
  observation turns), so the cold-start data has the format the student later sees in MPS, SCoRe-SFT and SCoRe-RL.
  ``BCSolver`` is a ``MentoredSolver`` whose solving model is the teacher and which never reviews: one loop, one
  sandbox path (``PythonSession`` in bubblewrap), one verifier, one record schema (``mps_trajectory_v1`` with no
  correction, ``verified_prefix_len == len(steps)``), one converter.
* Output, resume, progress bar and failure accounting are ``run_datagen`` + ``ResumableJsonlWriter``: append-only,
  fsync per line, partial tail repaired on restart, finished ids skipped.
* The teacher does NOT see the ground truth: a trajectory written knowing the answer would teach the student to
  rationalise towards it. The reference answer is used only by the verifier (``verl_score.rewards.math_equiv``) after the
  trajectory ends; a wrong or missing final answer is written with ``kept: false`` (``drop_reason``) and never
  reaches the SFT data.
* A reply that breaks the tool protocol (empty, cut on length, an unclosed or second code block, an invented
  ``Observation:``) is re-asked ``protocol_attempts`` times with the rule it broke; the broken reply is not a step.
  After that the problem is written as ``drop_reason: protocol_violation`` and counted -- never kept, never guessed.
* A teacher endpoint that fails after the client's retries is an infrastructure failure: nothing is written and a
  restart retries the problem (``UNWRITTEN_REASONS``).

Run: ``python -m verl_score.teacher.bc_init --input data.parquet --output bc.jsonl --config configs/teacher.yaml``,
then ``python data_preprocess/convert_parquet.py bc --input bc.jsonl --out-dir data/bc`` (verl SFT parquet +
LLaMA-Factory sharegpt).
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from dataclasses import dataclass, fields
from typing import Any, Mapping

from verl_score.llm import LLMCallError, LLMClient
from verl_score.teacher.datagen_cli import (add_client_args, add_datagen_args, client_from_args, load_cli_config,
                                            run_and_report, section_with_overrides)
from verl_score.teacher.mps import MentoredSolver, MPSConfig, Problem, _Counts, load_problems, run_datagen
from verl_score.contracts.steps import Step
from verl_score.teacher.mps_schema import parse_student_step

logger = logging.getLogger(__name__)

__all__ = ["BCConfig", "BCSolver", "ProtocolViolation", "main", "protocol_error"]

BC_SCHEMA_NAME = "bc_trajectory_v1"  # provenance tag; the record itself satisfies mps_trajectory_v1

_FENCE = re.compile(r"```")
_INVENTED_OBS = re.compile(r"^[ \t]*Observation[ \t]*:", re.MULTILINE)

REASK = (
    "Your last reply broke the step format ({rule}). Reply with ONE step: 'Thought: ...' and then either ONE "
    "```python block after 'Code:' (its output comes back as 'Observation:'; do not write the observation yourself) "
    "or 'Final Answer: <answer>'."
)


class ProtocolViolation(Exception):
    """The teacher broke the tool protocol on every re-ask; ``rule`` is the last rule broken."""

    def __init__(self, rule: str):
        super().__init__(rule)
        self.rule = rule


def protocol_error(text: str, finish_reason: str | None = None) -> str | None:
    """The CodeAct rule a teacher reply breaks, or None. One step per reply, so the recorded step is what ran."""
    if not text.strip():
        return "empty"
    if finish_reason == "length":
        return "cut_on_length"
    if _INVENTED_OBS.search(text):
        return "invented_observation"
    fences = len(_FENCE.findall(text))
    if fences % 2:
        return "unclosed_code_block"
    if fences > 2:
        return "several_code_blocks"
    step, final = parse_student_step(text)
    if not step.thought and not step.code and final is None:
        return "no_thought_code_or_answer"
    return None


@dataclass
class BCConfig:
    """The ``bc_init`` section of ``configs/teacher.yaml``."""

    max_steps: int = 8  # teacher steps per trajectory
    protocol_attempts: int = 3  # tries per step (the first + re-asks) before the problem is a counted violation
    concurrency: int = 4
    teacher_max_tokens: int = 768
    teacher_temperature: float = 0.0
    max_observation_chars: int = 2000
    sandbox: dict[str, Any] | None = None

    @classmethod
    def from_dict(cls, cfg: Mapping[str, Any] | None) -> "BCConfig":
        data = dict(cfg or {})
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"unknown bc_init config keys {unknown}; known: {sorted(f.name for f in fields(cls))}")
        cfg_ = cls(**data)
        if cfg_.protocol_attempts < 1 or cfg_.max_steps < 1:
            raise ValueError("bc_init: protocol_attempts and max_steps must be >= 1")
        return cfg_

    def mps_config(self) -> MPSConfig:
        """The shared loop's knobs (the teacher takes the solving role, so its budget is the 'student' one)."""
        return MPSConfig(max_steps=self.max_steps, max_interventions=0, concurrency=self.concurrency,
                         student_max_tokens=self.teacher_max_tokens, student_temperature=self.teacher_temperature,
                         max_observation_chars=self.max_observation_chars, sandbox=dict(self.sandbox or {}))


class BCSolver(MentoredSolver):
    """The teacher solves alone (``await solver.solve(problem)`` -> one record); no review, no correction."""

    UNWRITTEN_REASONS = ("teacher_call_failed",)
    COUNT_KEYS = ("teacher_calls", "teacher_malformed", "protocol_violations")
    PROGRESS_DESC = "bc_init"

    def __init__(self, teacher: LLMClient, config: BCConfig | None = None, sandbox: Any = None,
                 verifier: Any = None):
        self.bc_config = config or BCConfig()
        super().__init__(student=teacher, teacher=teacher, config=self.bc_config.mps_config(), sandbox=sandbox,
                         verifier=verifier)

    async def _next_step(self, problem: Problem, steps: list[Step], counts: _Counts) -> tuple[Step, str | None, str]:
        msgs = self.student_messages(problem, steps)
        rule = ""
        for _ in range(self.bc_config.protocol_attempts):
            result = await self.student.chat(msgs, max_tokens=self.config.student_max_tokens,
                                             temperature=self.config.student_temperature, stop=["Observation:"])
            counts.teacher_calls += 1
            rule = protocol_error(result.text, result.finish_reason) or ""
            if not rule:
                step, final = parse_student_step(result.text)
                return step, final, result.text
            counts.teacher_malformed += 1
            counts.teacher_failure_kinds.append(f"protocol:{rule}")
            msgs = [*msgs, {"role": "assistant", "content": result.text},
                    {"role": "user", "content": REASK.format(rule=rule)}]
        raise ProtocolViolation(rule)

    async def solve(self, problem: Problem) -> dict[str, Any]:
        counts = _Counts()
        steps: list[Step] = []
        final: str | None = None
        status = "clean"
        violation = 0
        try:
            steps, final = await self._student_run(problem, [], counts)
        except ProtocolViolation:
            status, violation = "protocol_violation", 1
            steps, final = [], None  # not keepable: written with no steps, the violation counted
        except LLMCallError as exc:
            status = "teacher_call_failed"
            counts.teacher_failure_kinds.append(f"call:{exc.kind}")
        except Exception as exc:  # sandbox/verifier/infrastructure: not written, retried on restart
            logger.exception("BC problem %s failed", problem.id)
            status = f"error:{type(exc).__name__}"
        rec = await self._record(problem, steps, final, status, [], counts)
        rec["protocol_violations"] = violation
        rec["teacher_failures"] = violation + int(status == "teacher_call_failed")
        rec["schema"] = BC_SCHEMA_NAME
        return rec


# ---------------------------------------------------------------------------------------------- CLI
def _build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m verl_score.teacher.bc_init", description=__doc__.split("\n\n")[0])
    add_datagen_args(p, config_help="YAML with teacher/bc_init sections (configs/teacher.yaml)")
    p.add_argument("--max-steps", type=int)
    p.add_argument("--teacher-max-tokens", type=int, help="per step (default: the config's teacher_max_tokens)")
    add_client_args(p, "teacher")
    p.add_argument("--no-progress", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    cfg = load_cli_config(args)
    config = BCConfig.from_dict(section_with_overrides(cfg, "bc_init", args,
                                                       ("concurrency", "max_steps", "teacher_max_tokens")))
    # The teacher writes CodeAct text here, not a JSON verdict: JSON mode would forbid the protocol itself.
    teacher = client_from_args("teacher", cfg, args, response_format_json=False)
    problems = load_problems(args.input, args.limit)
    solver = BCSolver(teacher, config)
    return run_and_report(run_datagen(problems, args.output, solver, progress=not args.no_progress), solver,
                          {"teacher": teacher})


if __name__ == "__main__":
    sys.exit(main())
