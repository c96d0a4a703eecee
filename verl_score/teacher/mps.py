"""Mentored Problem Solving (SCoRe-B, arXiv 2509.14257 §3): a student solves in CodeAct steps, a teacher corrects
only the FIRST critical error, the student resumes from the corrected prefix; up to ``max_interventions`` times.

Why it is built this way:
* The student (an OpenAI-compatible endpoint) never sees the ground truth; the teacher may (it judges correctness).
* Each step is ``Thought`` + optional ```python``` code; the code's output (``verl_score.sandbox.PythonSession``,
  which replays the earlier cells in a fresh bubblewrap sandbox) is the step's ``Observation``. The teacher's
  corrected step runs through the same sandbox, so its observation is real, not the teacher's claim.
* The teacher answers in strict JSON (``mps_schema.parse_verdict``); malformed replies are re-asked
  ``teacher_attempts`` times, then the problem is counted as a teacher failure -- never guessed.
* A trajectory is ``kept`` when the teacher's last review found no error AND the final answer is correct under the
  project's math verifier (``verl_score.rewards.math_equiv``). Not-kept problems are still written (with
  ``drop_reason``), so a restart does not redo them and the failure rates are visible in the output itself.
* Output is one jsonl line per problem via ``ResumableJsonlWriter`` (flush + fsync, partial-tail repair, skip ids
  already written): kill it, restart it, nothing is lost or duplicated.

Run: ``python -m verl_score.teacher.mps --input data.parquet --output mps.jsonl --config configs/teacher.yaml``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from collections import Counter
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Iterable, Mapping

from verl_score.llm import LLMCallError, LLMClient
from verl_score.teacher.datagen_cli import (add_client_args, add_datagen_args, client_from_args, load_cli_config,
                                            run_and_report, section_with_overrides)
from verl_score.teacher.jsonl_writer import ResumableJsonlWriter
from verl_score.contracts.steps import MPS_SYSTEM, Step, render_step, steps_to_messages
from verl_score.teacher.mps_schema import (
    SCHEMA_NAME,
    TeacherVerdict,
    VerdictError,
    parse_student_step,
    parse_verdict,
    validate_record,
)

logger = logging.getLogger(__name__)

__all__ = ["MPSConfig", "MentoredSolver", "Problem", "load_problems", "main", "run_datagen"]

TEACHER_SYSTEM = (
    "You are an expert teacher checking a student's step-by-step solution. Steps are numbered from 0. Find the "
    "FIRST step that contains a critical error (wrong reasoning, wrong computation, wrong code, or a misreading of "
    "the problem) and write a corrected replacement for THAT STEP ONLY (a thought and, if useful, Python code); the "
    "student will continue from your corrected step. If no step is wrong, use null. Reply with ONLY a JSON object:\n"
    '{"first_error_step": <integer or null>, "corrected_step": {"thought": "<text>", "code": "<python or null>"} '
    'or null, "reason": "<one sentence>"}'
)


@dataclass
class Problem:
    """One input problem. ``ground_truth`` goes to the teacher and the verifier, never to the student."""

    id: str
    problem: str
    ground_truth: str
    data_source: str = "unknown"
    task: str = "math"


@dataclass
class MPSConfig:
    """Knobs of the datagen loop (the ``mps`` section of ``configs/teacher.yaml``)."""

    max_steps: int = 8  # student steps per trajectory (after a correction, counting the kept prefix)
    max_interventions: int = 3  # K: teacher corrections per problem
    teacher_attempts: int = 3  # re-asks after a malformed verdict, then a counted failure
    concurrency: int = 4  # problems in flight
    student_max_tokens: int = 384
    teacher_max_tokens: int = 768
    student_temperature: float = 0.0
    teacher_temperature: float = 0.0
    max_observation_chars: int = 2000
    sandbox: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, cfg: Mapping[str, Any] | None) -> "MPSConfig":
        data = dict(cfg or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown mps config keys {unknown}; known: {sorted(known)}")
        return cls(**data)


@dataclass
class _Counts:
    student_calls: int = 0
    teacher_calls: int = 0
    teacher_malformed: int = 0
    teacher_failure_kinds: list[str] = field(default_factory=list)


class MentoredSolver:
    """Produces one trajectory record per ``Problem`` (``await solver.solve(p)``); never raises for model errors."""

    #: drop reasons that mean "the infrastructure failed, not the problem": such records are not written, so a
    #: restart retries them (``run_datagen``); ``error:*`` (sandbox / verifier crashes) always counts as one.
    UNWRITTEN_REASONS: tuple[str, ...] = ("student_failed",)
    #: per-record counters that ``run_datagen`` sums into its summary
    COUNT_KEYS: tuple[str, ...] = ("teacher_failures", "teacher_malformed", "teacher_calls", "student_calls")
    #: progress-bar label
    PROGRESS_DESC = "mps"

    def __init__(self, student: LLMClient, teacher: LLMClient, config: MPSConfig | None = None,
                 sandbox: Any = None, verifier: Any = None):
        self.student = student
        self.teacher = teacher
        self.config = config or MPSConfig()
        if sandbox is None:
            from verl_score.sandbox import Sandbox

            sandbox = Sandbox(self.config.sandbox or None)
        self.sandbox = sandbox
        if verifier is None:
            from verl_score.rewards.math_equiv import MathReward

            verifier = MathReward(workers=1)
        self.verifier = verifier

    def close(self) -> None:
        """Stop the verifier's math-verify worker (if one was started)."""
        pool = getattr(self.verifier, "pool", None)
        if pool is not None:
            pool.close()

    # ------------------------------------------------------------------------------------------ one problem
    async def solve(self, problem: Problem) -> dict[str, Any]:
        counts = _Counts()
        interventions: list[dict[str, Any]] = []
        steps: list[Step] = []
        final: str | None = None
        status = "clean"
        try:
            steps, final = await self._student_run(problem, [], counts)
            for _ in range(self.config.max_interventions + 1):
                floor = interventions[-1]["step_index"] + 1 if interventions else 0
                verdict = await self._review(problem, steps, final, floor, counts)
                if verdict is None:
                    status = "teacher_failed"
                    break
                if verdict.first_error_step is None:
                    status = "clean"
                    break
                if len(interventions) >= self.config.max_interventions:
                    status = "max_interventions"
                    break
                steps, final = await self._intervene(problem, steps, verdict, interventions, counts)
        except LLMCallError as exc:
            status = "student_failed"
            counts.teacher_failure_kinds.append(f"student:{exc.kind}")
        except Exception as exc:  # sandbox/verifier/infrastructure: recorded, the run goes on
            logger.exception("MPS problem %s failed", problem.id)
            status = f"error:{type(exc).__name__}"
        return await self._record(problem, steps, final, status, interventions, counts)

    async def _intervene(self, problem: Problem, steps: list[Step], verdict: TeacherVerdict,
                         interventions: list[dict[str, Any]], counts: _Counts) -> tuple[list[Step], str | None]:
        """Replace ``steps[e]`` by the teacher's step (run for real) and let the student continue from there."""
        e = verdict.first_error_step
        assert e is not None and verdict.corrected_step is not None
        corrected = Step(thought=verdict.corrected_step.thought, code=verdict.corrected_step.code)
        if corrected.code:
            corrected.observation = await self._run_code(steps[:e], corrected.code)
        interventions.append({
            "step_index": e,
            "teacher_step": corrected.to_dict(),
            "student_mistake_step": steps[e].to_dict(),
            "reason": verdict.reason,
        })
        prefix = [*steps[:e], corrected]
        if not corrected.code:
            _, final = parse_student_step(render_step(corrected.to_dict()))
            if final is not None:  # the correction itself concludes
                return prefix, final
        return await self._student_run(problem, prefix, counts)

    # ------------------------------------------------------------------------------------------ student
    def student_messages(self, problem: Problem, steps: list[Step]) -> list[dict[str, str]]:
        """System + problem + the steps so far (converter rendering). No ground truth, by construction."""
        msgs = [{"role": "system", "content": MPS_SYSTEM}, {"role": "user", "content": problem.problem.strip()}]
        msgs += steps_to_messages([s.to_dict() for s in steps])
        if msgs[-1]["role"] == "assistant":  # a step without code: ask for the next one
            msgs.append({"role": "user", "content": "Continue."})
        return msgs

    async def _student_run(self, problem: Problem, steps: list[Step], counts: _Counts) -> tuple[list[Step], str | None]:
        steps = list(steps)
        cfg = self.config
        while len(steps) < cfg.max_steps:
            step, final, text = await self._next_step(problem, steps, counts)
            if step.code:
                step.observation = await self._run_code(steps, step.code)
                steps.append(step)
                continue
            if final is not None:
                if step.thought or not steps:  # keep the reasoning; a bare answer line is not a step
                    steps.append(step if step.thought else Step(thought=text.strip()))
                return steps, final
            if not step.thought:
                steps.append(Step(thought=""))  # empty generation: recorded (not keepable) and we stop
                return steps, None
            steps.append(step)
        return steps, None

    async def _next_step(self, problem: Problem, steps: list[Step], counts: _Counts) -> tuple[Step, str | None, str]:
        """One generated CodeAct step: ``(step, final answer or None, raw text)``. The BC teacher overrides this to
        check the tool protocol and re-ask (``verl_score.teacher.bc_init``)."""
        cfg = self.config
        result = await self.student.chat(
            self.student_messages(problem, steps),
            max_tokens=cfg.student_max_tokens,
            temperature=cfg.student_temperature,
            stop=["Observation:"],
        )
        counts.student_calls += 1
        step, final = parse_student_step(result.text)
        return step, final, result.text

    async def _run_code(self, prior: list[Step], code: str) -> str:
        from verl_score.sandbox import PythonSession

        session = PythonSession(self.sandbox, prefix_cells=[s.code for s in prior if s.code])
        cell = await session.execute(code)
        obs = cell.observation()
        limit = self.config.max_observation_chars
        return obs if len(obs) <= limit else obs[:limit] + "\n...[truncated]"

    # ------------------------------------------------------------------------------------------ teacher
    def teacher_messages(self, problem: Problem, steps: list[Step], final: str | None, floor: int) -> list[dict]:
        lines = [f"Problem:\n{problem.problem.strip()}", f"Reference answer: {problem.ground_truth}", "Student's steps:"]
        for i, s in enumerate(steps):
            block = f"Step {i}:\nThought: {s.thought}"
            if s.code:
                block += f"\nCode:\n```python\n{s.code}\n```"
            if s.observation:
                block += f"\nObservation:\n{s.observation.rstrip()}"
            lines.append(block)
        lines.append(f"Student's final answer: {final if final is not None else '(none)'}")
        if floor:
            lines.append(f"Steps 0 to {floor - 1} are already verified; the first error, if any, is at step {floor} "
                         f"or later.")
        return [{"role": "system", "content": TEACHER_SYSTEM}, {"role": "user", "content": "\n\n".join(lines)}]

    async def _review(self, problem: Problem, steps: list[Step], final: str | None, floor: int,
                      counts: _Counts) -> TeacherVerdict | None:
        """A valid verdict, or None after a counted failure (call error after retries, or malformed replies)."""
        msgs = self.teacher_messages(problem, steps, final, floor)
        for _ in range(self.config.teacher_attempts):
            try:
                result = await self.teacher.chat(
                    msgs, max_tokens=self.config.teacher_max_tokens, temperature=self.config.teacher_temperature
                )
            except LLMCallError as exc:
                counts.teacher_calls += 1
                counts.teacher_failure_kinds.append(f"call:{exc.kind}")
                return None
            counts.teacher_calls += 1
            try:
                return parse_verdict(result.text, len(steps), floor)
            except VerdictError as exc:
                counts.teacher_malformed += 1
                msgs = [*msgs, {"role": "assistant", "content": result.text},
                        {"role": "user", "content": f"That reply is invalid ({exc}). Reply with ONLY the JSON object."}]
        counts.teacher_failure_kinds.append("malformed")
        return None

    # ------------------------------------------------------------------------------------------ record
    async def _record(self, problem: Problem, steps: list[Step], final: str | None, status: str,
                      interventions: list[dict[str, Any]], counts: _Counts) -> dict[str, Any]:
        correct = False
        if final:
            correct = await asyncio.to_thread(self._is_correct, problem.ground_truth, final)
        kept = status == "clean" and correct and bool(steps) and all(s.thought.strip() for s in steps)
        if kept:
            drop_reason = None
        elif status != "clean":
            drop_reason = status
        elif not final:
            drop_reason = "no_final_answer"
        elif not correct:
            drop_reason = "wrong_answer"
        else:
            drop_reason = "empty_step"
        last = interventions[-1] if interventions else None
        if last is not None:
            prefix_len = last["step_index"]
        else:
            prefix_len = len(steps) if status == "clean" else 0
        rec = {
            "id": problem.id,
            "problem": problem.problem,
            "ground_truth": problem.ground_truth,
            "data_source": problem.data_source,
            "task": problem.task,
            "steps": [s.to_dict() for s in steps],
            "verified_prefix_len": prefix_len,
            "teacher_step": last["teacher_step"] if last else None,
            "student_mistake_step": last["student_mistake_step"] if last else None,
            "final_answer": final or "",
            "kept": kept,
            "correct": correct,
            "drop_reason": drop_reason,
            "interventions": interventions,
            "teacher_failures": len([k for k in counts.teacher_failure_kinds if not k.startswith("student:")]),
            "teacher_failure_kinds": counts.teacher_failure_kinds,
            "teacher_malformed": counts.teacher_malformed,
            "student_calls": counts.student_calls,
            "teacher_calls": counts.teacher_calls,
            "schema": SCHEMA_NAME,
        }
        validate_record(rec)
        return rec

    def _is_correct(self, ground_truth: str, answer: str) -> bool:
        from verl_score.rewards.extract import extract_gold_answer

        verdict = self.verifier.compare(extract_gold_answer(ground_truth), answer)
        return bool(verdict.get("equal")) and verdict.get("reason") == "ok"


# ---------------------------------------------------------------------------------------------- input
def load_problems(path: str | Path, limit: int | None = None) -> list[Problem]:
    """Problems from a verl parquet (``convert_parquet.py``) or a jsonl of ``{id?, problem|question,
    ground_truth|answer, data_source?}``; ids must be stable across runs (resume matches on them)."""
    from verl_score.rewards.extract import extract_gold_answer

    path = Path(path)
    rows: Iterable[dict[str, Any]]
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        rows = pq.read_table(path).to_pylist()
    else:
        with open(path, encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh if line.strip()]
    out: list[Problem] = []
    seen: set[str] = set()
    for i, row in enumerate(rows):
        extra = row.get("extra_info") or {}
        reward = row.get("reward_model") or {}
        text = row.get("problem") or row.get("question") or extra.get("question")
        if not text and row.get("prompt"):
            users = [m["content"] for m in row["prompt"] if m.get("role") == "user"]
            text = users[-1] if users else None
        gt = row.get("ground_truth", reward.get("ground_truth", row.get("answer")))
        if not text or gt is None:
            raise ValueError(f"{path} row {i}: need a problem/question and a ground_truth/answer")
        pid = str(row.get("id") or extra.get("id") or f"{path.stem}-{extra.get('index', i)}")
        if pid in seen:
            raise ValueError(f"{path}: duplicate problem id {pid!r} (resume needs unique ids)")
        seen.add(pid)
        task = str(extra.get("task") or row.get("ability") or "math")
        out.append(Problem(pid, str(text), extract_gold_answer(str(gt)), str(row.get("data_source") or path.stem),
                           task if task in ("math", "qa") else "math"))
        if limit is not None and len(out) >= limit:
            break
    return out


# ---------------------------------------------------------------------------------------------- runner
async def run_datagen(problems: list[Problem], output: str | Path, solver: MentoredSolver,
                      progress: bool = True) -> dict[str, Any]:
    """Solve every problem not yet in ``output``; returns a summary (also what the CLI prints).

    Shared by Mentored Problem Solving and the BC cold start (``bc_init``): any solver with ``solve``, ``config
    .concurrency`` and the class attributes ``UNWRITTEN_REASONS`` / ``COUNT_KEYS`` / ``PROGRESS_DESC``."""
    from tqdm.auto import tqdm

    start = time.monotonic()
    writer = ResumableJsonlWriter(output)
    todo = [p for p in problems if p.id not in writer.done]
    summary: dict[str, Any] = {"problems": len(problems), "skipped_existing": len(problems) - len(todo),
                               "repaired_bytes": writer.repaired_bytes, "written": 0, "kept": 0}
    reasons: Counter = Counter()
    totals: Counter = Counter()
    unwritten: Counter = Counter()
    sem = asyncio.Semaphore(solver.config.concurrency)

    async def one(p: Problem) -> dict[str, Any]:
        async with sem:
            return await solver.solve(p)

    try:
        bar = tqdm(total=len(todo), desc=solver.PROGRESS_DESC, unit="problem", disable=not progress, file=sys.stderr)
        for fut in asyncio.as_completed([one(p) for p in todo]):
            rec = await fut
            bar.update(1)
            if _infrastructure_failure(rec, solver.UNWRITTEN_REASONS):
                # the student endpoint / sandbox / verifier failed: not the problem's fault, so nothing is written
                # and a restart retries it (teacher failures ARE written: a teacher that cannot follow the schema
                # would fail the same way again)
                unwritten[rec["drop_reason"]] += 1
                continue
            await asyncio.to_thread(writer.write, rec)
            summary["written"] += 1
            summary["kept"] += int(rec["kept"])
            reasons[rec["drop_reason"] or "kept"] += 1
            for k in solver.COUNT_KEYS:
                totals[k] += rec[k]
            totals["interventions"] += len(rec["interventions"])
            bar.set_postfix(kept=summary["kept"], teacher_fail=totals["teacher_failures"])
        bar.close()
    finally:
        writer.close()
    elapsed = time.monotonic() - start
    summary.update(totals)
    summary["outcomes"] = dict(reasons)
    summary["unwritten"] = dict(unwritten)
    summary["elapsed_s"] = round(elapsed, 3)
    summary["trajectories_per_min"] = round(60 * summary["written"] / elapsed, 2) if elapsed > 0 else 0.0
    return summary


def _infrastructure_failure(rec: Mapping[str, Any], reasons: tuple[str, ...] = ("student_failed",)) -> bool:
    reason = rec.get("drop_reason") or ""
    return reason in reasons or reason.startswith("error:")


def _build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m verl_score.teacher.mps", description=__doc__.split("\n\n")[0])
    add_datagen_args(p, config_help="YAML with student/teacher/mps sections (configs/teacher.yaml)")
    p.add_argument("--max-interventions", type=int)
    p.add_argument("--max-steps", type=int)
    for role in ("student", "teacher"):
        add_client_args(p, role)
    p.add_argument("--no-progress", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    cfg = load_cli_config(args)
    config = MPSConfig.from_dict(section_with_overrides(cfg, "mps", args,
                                                        ("concurrency", "max_interventions", "max_steps")))
    clients = {role: client_from_args(role, cfg, args) for role in ("student", "teacher")}
    problems = load_problems(args.input, args.limit)
    solver = MentoredSolver(clients["student"], clients["teacher"], config)
    return run_and_report(run_datagen(problems, args.output, solver, progress=not args.no_progress), solver, clients)


if __name__ == "__main__":
    sys.exit(main())
