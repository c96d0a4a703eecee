"""Mentored Problem Solving (SCoRe-B) trajectories → SFT data (verl multi-turn ``messages`` + LLaMA-Factory sharegpt)
and SCoRe-RL rows for the ``score_prefix_rollout`` agent loop. Schema: ``data_preprocess/mps_schema.md``.

SCoRe-B splits the mentored trajectories between SFT and RL; training on the same problem in both would let RL
reward what SFT already memorised, so the split is by *problem*, seeded, and checked: a problem never lands in both
outputs (``--disjoint-with`` also excludes problems found in earlier outputs). Only trajectories with a corrected
mistake can be RL rows (the key-step reward compares the rollout's first step with the teacher's correction and the
student's mistake); RL-assigned trajectories without one go to SFT instead and are counted.

One RL row per teacher intervention. The datagen (``verl_score.teacher.mps``) may correct a trajectory up to K
times and records every correction in ``interventions``; the top-level ``teacher_step`` / ``verified_prefix_len``
describe only the LAST one, whose "verified prefix" contains the earlier teacher-written steps. So each
intervention i becomes its own row (prefix = ``steps[:step_index_i]``, its own teacher step and mistake), and the
FIRST-error row — the student's own verified prefix — is always present. Rows of one problem share a split.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any, Iterator

from data_preprocess.core import (
    DropRow,
    Example,
    InvalidRow,
    RawRow,
    Report,
    SchemaError,
    assign_splits,
    count_records,
    normalize_problem,
    read_schema_records,
    require,
    stable_order,
    write_parquet,
)
from data_preprocess.sources import Source, _iter_files, register_source

REQUIRED = frozenset(
    {
        "id",
        "problem",
        "ground_truth",
        "data_source",
        "steps",
        "verified_prefix_len",
        "teacher_step",
        "student_mistake_step",
        "final_answer",
        "kept",
    }
)
SCHEMAS = {"mps_trajectory_v1": REQUIRED}
STEP_KEYS = ("thought", "code", "observation")
TASKS = ("math", "qa")

# The step rendering is defined once, next to the datagen that prompts the student with it: the SFT/RL rows made
# here, the student's prompt during Mentored Problem Solving and the key-step reward must all see the same text.
from verl_score.contracts.steps import MPS_SYSTEM, render_step, steps_to_messages  # noqa: E402,F401


def trajectory_messages(problem: str, steps: list[dict[str, str]], final_answer: str) -> list[dict[str, str]]:
    msgs = [{"role": "system", "content": MPS_SYSTEM}, {"role": "user", "content": problem.strip()}]
    msgs += steps_to_messages(steps)
    final = f"Final Answer: {final_answer.strip()}"
    if msgs[-1]["role"] == "assistant":
        msgs[-1] = {"role": "assistant", "content": f"{msgs[-1]['content']}\n\n{final}"}
    else:
        msgs.append({"role": "assistant", "content": final})
    return msgs


def to_sharegpt(messages: list[dict[str, str]]) -> dict[str, Any]:
    """LLaMA-Factory sharegpt record: ``system`` + alternating human/gpt ``conversations``."""
    role_map = {"user": "human", "assistant": "gpt"}
    system = messages[0]["content"] if messages and messages[0]["role"] == "system" else ""
    convs = [{"from": role_map[m["role"]], "value": m["content"]} for m in messages if m["role"] != "system"]
    return {"conversations": convs, "system": system}


def _check_step(step: Any, where: str) -> dict[str, str]:
    if not isinstance(step, dict):
        kind = type(step).__name__
        raise InvalidRow("bad_step", f"{where} is {kind}, expected an object {{thought, code, observation}}")
    missing = [k for k in STEP_KEYS if k not in step]
    if missing:
        raise InvalidRow("bad_step", f"{where} lacks {missing}")
    for k in STEP_KEYS:
        if not isinstance(step[k], str):
            raise InvalidRow("bad_step", f"{where}.{k} must be a string")
    if not step["thought"].strip():
        raise InvalidRow("bad_step", f"{where}.thought is empty")
    return {k: step[k] for k in STEP_KEYS}


def _rl_fields(rec: dict[str, Any], problem: str, steps: list[dict[str, str]], final: str, k: int,
               teacher: dict[str, str] | None, mistake: dict[str, str] | None) -> dict[str, Any]:
    """``prompt`` and ``extra`` of the RL row that resumes at step ``k`` (the intervention's teacher step)."""
    prefix = steps[:k]
    base = [{"role": "system", "content": MPS_SYSTEM}, {"role": "user", "content": problem.strip()}]
    extra: dict[str, Any] = {
        "mps_id": str(rec["id"]),
        "prefix_steps": prefix,
        "verified_prefix_len": k,
        # key_step (verl_score.rewards.key_step) reads these two as rendered step texts
        "teacher_step": render_step(teacher) if teacher else "",
        "student_mistake_step": render_step(mistake) if mistake else "",
        "teacher_step_fields": teacher,
        "student_mistake_fields": mistake,
        "final_answer": final,
        "prompt_includes_prefix": True,
    }
    # The verified prefix is already in the prompt (so verl's max_prompt_length filter sees its true length);
    # extra_info keeps the structured copy for the agent loop and the key-step reward.
    return {"prompt": base + steps_to_messages(prefix), "extra": extra}


def _interventions(rec: dict[str, Any], steps: list[dict[str, str]], k: int, teacher: dict[str, str] | None,
                   mistake: dict[str, str] | None) -> list[tuple[int, dict[str, str], dict[str, str]]]:
    """Every teacher correction as ``(step_index, teacher_step, student_mistake_step)``, first error first.

    Without an ``interventions`` list the top-level fields are the only one. With it, each entry must still be in the
    kept trajectory (``steps[step_index]`` is its teacher step: later corrections only change later steps), indices
    strictly increase, and the last entry is the top-level correction.
    """
    if teacher is None:
        return []
    listed = rec.get("interventions")
    if listed is None:
        return [(k, teacher, mistake)]
    if not isinstance(listed, list) or not listed:
        raise InvalidRow("bad_interventions", "interventions must be a non-empty list when teacher_step is set")
    out, prev = [], -1
    for i, item in enumerate(listed):
        where = f"interventions[{i}]"
        if not isinstance(item, dict) or not {"step_index", "teacher_step", "student_mistake_step"} <= set(item):
            raise InvalidRow("bad_interventions", f"{where} needs step_index, teacher_step, student_mistake_step")
        e = item["step_index"]
        if not isinstance(e, int) or isinstance(e, bool) or not prev < e < len(steps):
            raise InvalidRow("bad_interventions", f"{where}.step_index={e!r} must increase and index steps")
        t = _check_step(item["teacher_step"], f"{where}.teacher_step")
        m = _check_step(item["student_mistake_step"], f"{where}.student_mistake_step")
        if (steps[e]["thought"], steps[e]["code"]) != (t["thought"], t["code"]):
            raise InvalidRow("bad_interventions", f"steps[{e}] is not {where}.teacher_step")
        out.append((e, t, m))
        prev = e
    last = out[-1]
    if last[0] != k or (last[1]["thought"], last[1]["code"]) != (teacher["thought"], teacher["code"]):
        raise InvalidRow("bad_interventions", "the last intervention must be the top-level teacher_step at "
                         "verified_prefix_len")
    return out


@register_source("mps")
class MPS(Source):
    help = "Mentored Problem Solving trajectory jsonl (schema: data_preprocess/mps_schema.md) -> SFT + SCoRe-RL rows"
    default_target = "prefix"
    targets = ("prefix", "plain")
    #: the dataset's name in LLaMA-Factory's dataset_info.json (the paper's ``SCoRe_SFT.yaml`` stage)
    llamafactory_name = "mps_sft"
    #: trajectories are split by problem (SFT vs RL, then --test-size), never by their file's name
    path_splits = False

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--sft-fraction",
            type=float,
            default=0.5,
            help="fraction in [0, 1] of problems for SFT; the rest are RL rows (SCoRe-B: half/half). Default 0.5",
        )
        parser.add_argument(
            "--disjoint-with",
            nargs="*",
            default=[],
            metavar="PATH",
            help="earlier outputs (RL/SFT parquet, sharegpt json) whose problems must not appear in this run's output",
        )

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(args)
        self.sft: list[Example] = []

    def total(self) -> int | None:
        counts = [count_records(p) for p in self.input_paths()]
        return None if None in counts else sum(counts)  # type: ignore[arg-type]

    def rows(self) -> Iterator[RawRow]:
        paths = self.input_paths()
        if not paths:
            raise SchemaError("mps needs --input: trajectory jsonl (see data_preprocess/mps_schema.md)")
        for path in _iter_files(paths, (".jsonl", ".jsonl.gz", ".parquet")):
            yield from read_schema_records(path, SCHEMAS, tag=False)

    def convert(self, raw: RawRow) -> Example:
        rec = raw.record
        assert rec is not None
        require(rec, REQUIRED - {"teacher_step", "student_mistake_step"}, nonempty=("id", "problem"))
        for k in ("teacher_step", "student_mistake_step"):
            if k not in rec:
                raise InvalidRow("missing_field", f"field {k!r} is missing (use null when there was no mistake)")
        if not isinstance(rec["kept"], bool):
            raise InvalidRow("bad_field", f"kept must be true/false, got {rec['kept']!r}")
        if not rec["kept"]:
            # a dropped trajectory may have no steps at all (e.g. a BC teacher that broke the protocol at once)
            raise DropRow("mps_not_kept")
        require(rec, (), nonempty=("steps",))
        task = rec.get("task", "math")
        if task not in TASKS:
            raise InvalidRow("bad_field", f"task {task!r} not in {TASKS}")
        if not isinstance(rec["steps"], list):
            raise InvalidRow("bad_field", "steps must be a list")
        steps = [_check_step(s, f"steps[{i}]") for i, s in enumerate(rec["steps"])]
        k = rec["verified_prefix_len"]
        if not isinstance(k, int) or isinstance(k, bool) or not 0 <= k <= len(steps):
            raise InvalidRow("bad_prefix_len", f"verified_prefix_len={k!r} not in 0..{len(steps)}")
        teacher, mistake = rec["teacher_step"], rec["student_mistake_step"]
        if (teacher is None) != (mistake is None):
            raise InvalidRow("bad_mistake", "teacher_step and student_mistake_step must both be set or both null")
        if teacher is not None:
            teacher = _check_step(teacher, "teacher_step")
            mistake = _check_step(mistake, "student_mistake_step")
            if k >= len(steps):
                raise InvalidRow("bad_prefix_len", "with a teacher correction, steps[verified_prefix_len] must exist")
            if (steps[k]["thought"], steps[k]["code"]) != (teacher["thought"], teacher["code"]):
                raise InvalidRow(
                    "bad_mistake", f"steps[{k}] is not the teacher_step (the kept trajectory resumes from it)"
                )
        elif k != len(steps):
            raise InvalidRow("bad_prefix_len", "no mistake recorded, so verified_prefix_len must equal len(steps)")
        final = str(rec["final_answer"]).strip()
        if not final:
            raise InvalidRow("empty_field", "final_answer is empty for a kept trajectory")
        corrections = _interventions(rec, steps, k, teacher, mistake)
        problem = str(rec["problem"])
        first = corrections[0] if corrections else (k, None, None)
        return Example(
            problem=problem,
            ground_truth=str(rec["ground_truth"]).strip(),
            data_source=str(rec["data_source"]),
            ability=task,
            source_id=str(rec["id"]),
            side={
                "messages": trajectory_messages(problem, steps, final),
                "has_mistake": teacher is not None,
                "later_interventions": corrections[1:],
                "steps": steps,
            },
            **_rl_fields(rec, problem, steps, final, *first),
        )

    # ---------------------------------------------------------------------------------------------------------
    def postprocess(self, examples: list[Example], report: Report) -> list[Example]:
        examples = self._drop_disjoint(examples, report)
        order = stable_order(examples, self.args.seed)
        if not 0.0 <= self.args.sft_fraction <= 1.0:
            raise ValueError(f"--sft-fraction must be in [0, 1], got {self.args.sft_fraction}")
        n_sft = round(self.args.sft_fraction * len(order))
        sft, rl = order[:n_sft], []
        for ex in order[n_sft:]:
            if ex.side["has_mistake"]:
                rl.append(ex)
            else:
                sft.append(ex)
                report.moved["mps_rl_without_mistake_to_sft"] += 1
        overlap = {normalize_problem(e.problem) for e in sft} & {normalize_problem(e.problem) for e in rl}
        if overlap:  # cannot happen after dedup; a guard so a future change cannot silently leak
            raise AssertionError(f"{len(overlap)} problems in both SFT and RL output")
        keep = {id(e) for e in rl}
        self.sft = [e for e in examples if id(e) not in keep]  # input order
        report.rows_per_split["sft"] = len(self.sft)
        rl = [e for e in examples if id(e) in keep]
        # splits per problem BEFORE the per-intervention expansion, so one problem's rows never straddle splits
        assign_splits(rl, self.args.default_split or self.default_split_name(), self.args.test_size,
                      self.args.val_size, self.args.seed)
        out: list[Example] = []
        for ex in rl:
            out.append(ex)
            for e, teacher, mistake in ex.side.get("later_interventions", []):
                more = dataclasses.replace(ex, **_rl_fields(
                    {"id": ex.source_id}, ex.problem, ex.side["steps"], ex.extra["final_answer"], e,
                    teacher, mistake))
                out.append(more)
                report.moved["mps_rl_rows_from_later_interventions"] += 1
        return out

    def _drop_disjoint(self, examples: list[Example], report: Report) -> list[Example]:
        """``examples`` without the problems of the ``--disjoint-with`` outputs, counted as
        ``<source>_in_disjoint_with`` (the BC subclass keeps its cold-start problems out of MPS output the same way)."""
        excluded = self._problems_in(self.args.disjoint_with)
        if excluded:
            before = len(examples)
            examples = [ex for ex in examples if normalize_problem(ex.problem) not in excluded]
            if before - len(examples):
                report.dropped[f"{self.name}_in_disjoint_with"] += before - len(examples)
        return examples

    @staticmethod
    def _problems_in(paths: list[str]) -> set[str]:
        """Normalised problems of earlier outputs (our RL parquet, SFT parquet or sharegpt json)."""
        import pyarrow.parquet as pq

        found: set[str] = set()
        for p in map(Path, paths):
            if p.suffix == ".parquet":
                t = pq.read_table(p)
                if "problem" in t.column_names:
                    found |= {normalize_problem(x) for x in t.column("problem").to_pylist()}
                elif "extra_info" in t.column_names:
                    found |= {normalize_problem(x["question"]) for x in t.column("extra_info").to_pylist()}
                else:
                    raise SchemaError(f"{p}: no 'problem' or 'extra_info.question' column to check disjointness")
            elif p.suffix == ".json":
                for rec in json.loads(p.read_text(encoding="utf-8")):
                    human = [c["value"] for c in rec.get("conversations", []) if c.get("from") == "human"]
                    if human:
                        found.add(normalize_problem(human[0]))
            else:
                raise SchemaError(f"--disjoint-with {p}: expected .parquet or .json")
        return found

    def write_extra(self, out_dir: Path, report: Report) -> None:
        if not self.sft:
            return
        sft_dir = out_dir / "sft"
        rows = [
            {"messages": e.side["messages"], "problem": e.problem, "id": e.source_id, "data_source": e.data_source}
            for e in self.sft
        ]
        write_parquet(rows, sft_dir / "train.parquet")
        sharegpt = [to_sharegpt(e.side["messages"]) for e in self.sft]
        (sft_dir / "sharegpt.json").write_text(json.dumps(sharegpt, ensure_ascii=False, indent=1), encoding="utf-8")
        info = {
            self.llamafactory_name: {
                "file_name": "sharegpt.json",
                "formatting": "sharegpt",
                "columns": {"messages": "conversations", "system": "system"},
            }
        }
        (sft_dir / "dataset_info.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
        report.outputs += [str(sft_dir / f) for f in ("train.parquet", "sharegpt.json", "dataset_info.json")]
