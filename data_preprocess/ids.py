"""Row ids (``extra_info.id``) unique across every input of a run.

Why: ids are how a row is found again (eval reports, MPS datagen, the SFT/RL disjointness checks), but sources
without an id field number rows per file, so GSM8K ``train.jsonl`` and ``test.jsonl`` both start at ``'0'``; two
HF shards of one split do too. Silently keeping both ``'0'`` rows makes every per-id join wrong.

Rule: ids must be unique within each input file (two rows of one file with one id cannot be told apart: an error
naming the file and both rows). When an id occurs in several files, EVERY id of the run is qualified, so the ids of
one output share one shape: by its split (``train/0``, ``test/0``) when every row's split came from its input
(path or record, before any ``--test-size`` carving) and that makes them unique, else by the file's path relative to
the inputs' common folder (``algebra/train-00000-of-00001.parquet/…``), which always does.
"""

from __future__ import annotations

import os
from pathlib import Path

from data_preprocess.core import Example


class IdClashError(ValueError):
    """Two rows of one input file share an id: nothing tells them apart."""


def make_ids_unique(examples: list[Example]) -> str | None:
    """Qualify ``source_id`` in place when ids clash across files; return the qualifier used (``"split"`` /
    ``"file"``) or ``None`` when the ids were already unique. Raises :class:`IdClashError` for a clash in one file."""
    first_row: dict[tuple[str, str], int] = {}
    files_of: dict[str, set[str]] = {}
    for ex in examples:
        file, row = ex.origin
        key = (file, ex.source_id)
        if key in first_row:
            raise IdClashError(
                f"{file}: rows {first_row[key]} and {row} have the same id {ex.source_id!r}; ids must be unique "
                f"within a file (fix or drop one of the rows; exact copies of a problem are removed unless --no-dedup)"
            )
        first_row[key] = row
        files_of.setdefault(ex.source_id, set()).add(file)
    if all(len(files) == 1 for files in files_of.values()):
        return None
    if all(ex.split is not None for ex in examples):
        by_split = [f"{ex.split}/{ex.source_id}" for ex in examples]
        if len(set(by_split)) == len(by_split):
            for ex, new in zip(examples, by_split):
                ex.source_id = new
            return "split"
    files = sorted({ex.origin[0] for ex in examples})
    resolved = {f: Path(f).resolve() for f in files}
    root = Path(os.path.commonpath([str(p.parent) for p in resolved.values()]))
    for ex in examples:
        ex.source_id = f"{resolved[ex.origin[0]].relative_to(root).as_posix()}/{ex.source_id}"
    return "file"
