"""Procedural math from ``reasoning-gym`` (offline, seeded): ``create_dataset(name, size=, seed=)``.

This is the project's stand-in for MATH when none is available locally (offline-assets §1), and the generator of
large sets for the benchmark. ``extra_info.rg_entry`` keeps the full entry (JSON) so reasoning-gym's own
``score_answer`` can be used by a reward; the ground truth is the entry's ``answer``, checked by math-verify like
every math row (task names whose answers are not math, e.g. word puzzles, fail that check by design).
"""

from __future__ import annotations

import argparse
import json
from typing import Iterator

from data_preprocess.core import Example, InvalidRow, RawRow
from data_preprocess.prompt_format import math_prompt
from data_preprocess.sources import Source, register_source
from data_preprocess.sources._common import add_math_prompt_flag


@register_source("reasoning_gym")
class ReasoningGym(Source):
    help = "procedural math from reasoning-gym generators (no input file): --rg-tasks, --size, --seed"
    needs_input = False

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        add_math_prompt_flag(parser)
        parser.add_argument(
            "--rg-tasks",
            default="gsm_symbolic",
            help="comma-separated reasoning-gym dataset names (default gsm_symbolic; e.g. basic_arithmetic,chain_sum)",
        )
        parser.add_argument("--size", type=int, default=1000, help="items generated per task (default 1000)")

    def _tasks(self) -> list[str]:
        tasks = [t.strip() for t in self.args.rg_tasks.split(",") if t.strip()]
        if not tasks:
            raise ValueError("--rg-tasks is empty")
        return tasks

    def total(self) -> int | None:
        return self.args.size * len(self._tasks())

    def rows(self) -> Iterator[RawRow]:
        import reasoning_gym

        if self.args.size < 1:
            raise ValueError("--size must be >= 1")
        for t, task in enumerate(self._tasks()):
            # A distinct seed per task, derived from --seed, so adding a task does not change the others' items.
            ds = reasoning_gym.create_dataset(task, size=self.args.size, seed=self.args.seed + 1009 * t)
            where = f"reasoning_gym:{task}(seed={self.args.seed + 1009 * t})"
            for i in range(self.args.size):
                entry = ds[i]
                yield RawRow(where, i + 1, {"task": task, "entry": entry})

    def convert(self, raw: RawRow) -> Example:
        rec = raw.record
        assert rec is not None
        entry, task = rec["entry"], rec["task"]
        question, answer = entry.get("question"), entry.get("answer")
        if not isinstance(question, str) or not question.strip():
            raise InvalidRow("empty_problem")
        if answer is None or not str(answer).strip():
            raise InvalidRow("missing_ground_truth")
        return Example(
            problem=question,
            prompt=math_prompt(question, self.args.math_prompt),
            ground_truth=str(answer).strip(),
            data_source=f"reasoning_gym/{task}",
            ability="math",
            extra={"rg_task": task, "rg_entry": json.dumps(entry, default=str, sort_keys=True)},
            source_id=f"{task}/{raw.row - 1}",
        )
