"""MATH (Hendrycks et al.) in the three shapes users have locally.

- the original tree: ``MATH/{train,test}/<subject>/<n>.json``, one ``{problem, level, type, solution}`` per file
  (``--input`` names the tree root, a split folder, or single files). The split comes from the ``train/`` /
  ``test/`` folder (``data_preprocess/splits.py``, as for every input file).
- MATH-500 jsonl ``{problem, solution, answer, subject, level, unique_id}``
  (``unique_id`` = ``test/<subject>/<n>.json``).
- any jsonl/parquet of either record shape, e.g. the hub's parquet layout (``data/train-00000-of-00001.parquet``,
  ``data/test-00000-of-00001.parquet``, or one such folder per subject): the split comes from the file name.

Ground truth: the ``answer`` field when present, else the last ``\\boxed{}`` of the solution (nested braces handled).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Iterator

from data_preprocess.core import (
    Example,
    InvalidRow,
    RawRow,
    SchemaError,
    detect_schema,
    last_boxed,
    read_schema_records,
    require,
)
from data_preprocess.prompt_format import math_prompt
from data_preprocess.sources import RECORD_EXTS, Source, register_source
from data_preprocess.sources._common import add_math_prompt_flag

SCHEMAS = {
    "hendrycks": frozenset({"problem", "level", "type", "solution"}),
    "math500": frozenset({"problem", "solution", "answer", "subject", "level", "unique_id"}),
}
_SPLITS = ("train", "test")


def _split_from_parts(parts: tuple[str, ...] | list[str]) -> str | None:
    """'train' / 'test' when a component of MATH-500's ``unique_id`` names it (a record's own split)."""
    hits = [p for p in parts if p in _SPLITS]
    return hits[-1] if hits else None


@register_source("math")
class MATH(Source):
    help = "MATH: Hendrycks JSON tree, MATH-500 jsonl, or jsonl/parquet of either record shape (--input required)"

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        add_math_prompt_flag(parser)

    def rows(self) -> Iterator[RawRow]:
        paths = self.input_paths()
        if not paths:
            raise SchemaError("math needs --input: a MATH tree (train/<subject>/*.json), MATH-500 jsonl, or parquet")
        for path in self.input_files(RECORD_EXTS):
            if path.suffix == ".json":
                yield self._tree_file(path)
                continue
            yield from read_schema_records(path, SCHEMAS)

    def _tree_file(self, path: Path) -> RawRow:
        """One problem per file; the row number of a tree file is 1 (the file itself is the locator)."""
        try:
            rec = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            return RawRow(str(path), 1, None, f"bad_json: {e}")
        if not isinstance(rec, dict):
            return RawRow(str(path), 1, None, "bad_json: expected an object")
        try:
            rec["__schema"] = detect_schema(rec, SCHEMAS, str(path))
        except SchemaError:  # one bad file in a tree is a bad row, not a bad format
            need = " or ".join("{" + ", ".join(sorted(k)) + "}" for k in SCHEMAS.values())
            return RawRow(str(path), 1, None, f"unrecognised_record: keys {sorted(rec)}; expected {need}")
        rec["__id"] = "/".join(path.parts[-3:])
        return RawRow(str(path), 1, rec)

    def convert(self, raw: RawRow) -> Example:
        rec = raw.record
        assert rec is not None
        schema = rec["__schema"]
        require(rec, SCHEMAS[schema], nonempty=("problem",))
        if schema == "math500":
            answer = str(rec["answer"]).strip()
            uid = str(rec["unique_id"])
            split = _split_from_parts(uid.split("/")) or "test"  # MATH-500 is a test subset
            subject = str(rec["subject"])
        else:
            answer = last_boxed(str(rec["solution"])) or ""
            uid = str(rec.get("__id") or rec.get("unique_id") or f"{Path(raw.file).name}:{raw.row}")
            split = None  # the file's path names it (convert_parquet applies data_preprocess/splits.py)
            subject = str(rec["type"])
        if not answer:
            raise InvalidRow("missing_ground_truth", "no 'answer' field and no \\boxed{} in the solution")
        return Example(
            problem=str(rec["problem"]),
            prompt=math_prompt(str(rec["problem"]), self.args.math_prompt),
            ground_truth=answer,
            # verl's own names for these datasets, so stock verl's default scorer also recognises the rows
            data_source="HuggingFaceH4/MATH-500" if schema == "math500" else "lighteval/MATH",
            ability="math",
            extra={"level": str(rec["level"]), "subject": subject, "solution": str(rec["solution"])},
            split=split,
            source_id=uid,
        )
