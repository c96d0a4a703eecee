"""Procedural math from ``reasoning-gym`` (offline, seeded): ``create_dataset(name, size=, seed=)``.

This is the project's stand-in for MATH when none is available locally (offline-assets §1), and the generator of
large sets for the benchmark. ``extra_info.rg_entry`` keeps the full entry (JSON) so reasoning-gym's own
``score_answer`` can be used by a reward; the ground truth is the entry's ``answer``, checked by math-verify like
every math row (task names whose answers are not math, e.g. word puzzles, fail that check by design).

``--rg-config KEY=VALUE`` (repeatable) sets the generator's options, e.g. easy sums for a 135M model::

    --rg-tasks basic_arithmetic --rg-config min_digits=1 --rg-config max_digits=1 --rg-config operators=+ \\
        --rg-config allow_negation=false --rg-config allow_parentheses=false

Options are checked against the dataset's config dataclass at start-up (``rg_config.py``), and a few items of each
task are probed so a task whose items carry no reference answer (reasoning-gym scores them with its own
``score_answer``) or no math-verifiable one stops the run before anything is written.
"""

from __future__ import annotations

import argparse
import json
from typing import Iterator

from data_preprocess.core import Example, InvalidRow, RawRow
from data_preprocess.prompt_format import math_prompt
from data_preprocess.sources import Source, register_source
from data_preprocess.sources._common import add_math_prompt_flag
from data_preprocess.sources.rg_config import RGConfigError, parse_rg_config

#: Items generated per task at start-up to check that the task has math-verifiable reference answers.
PROBE_ITEMS = 8


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
        parser.add_argument(
            "--rg-config",
            action="append",
            default=[],
            metavar="[TASK.]KEY=VALUE",
            help="a generator option of the reasoning-gym dataset config (repeatable), e.g. max_digits=1, "
            "operators=+,- ; TASK.KEY scopes it to one of --rg-tasks. Unknown keys list the allowed ones",
        )

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(args)
        # Start-up checks: every option valid for its task, every task answerable by the math verifier.
        self.rg_config = parse_rg_config(getattr(args, "rg_config", []) or [], self._tasks())
        for task in self._tasks():
            self._probe(task)

    def _probe(self, task: str) -> None:
        import reasoning_gym

        from data_preprocess.core import math_parseable

        n = max(1, min(PROBE_ITEMS, self.args.size))
        ds = reasoning_gym.create_dataset(task, size=n, seed=self.args.seed, **self.rg_config[task])
        for i in range(n):
            answer = ds[i].get("answer")
            if answer is None or not str(answer).strip():
                raise RGConfigError(
                    f"reasoning-gym task {task!r} has no verifiable answer: its items carry no reference answer "
                    "(reasoning-gym scores them with its own score_answer), so the math reward cannot check them; "
                    "pick a task with a numeric or symbolic answer, e.g. basic_arithmetic, chain_sum, gsm_symbolic"
                )
            if not math_parseable(str(answer).strip()):
                raise RGConfigError(
                    f"reasoning-gym task {task!r} has no verifiable answer: math-verify cannot parse its reference "
                    f"answer {str(answer)[:60]!r} (item {i}); pick a task with numeric or symbolic answers"
                )

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
            ds = reasoning_gym.create_dataset(
                task, size=self.args.size, seed=self.args.seed + 1009 * t, **self.rg_config[task]
            )
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
            extra={
                "rg_task": task,
                "rg_entry": json.dumps(entry, default=str, sort_keys=True),
                "rg_config": json.dumps(self.rg_config.get(task, {}), sort_keys=True),
            },
            source_id=f"{task}/{raw.row - 1}",
        )
