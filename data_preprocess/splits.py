"""Which split an input file belongs to, read from its file name and folders, and the checks that keep splits apart.

Why: a dataset downloaded by hand arrives as ``train.jsonl`` + ``test.jsonl``, as HF parquet shards
(``data/train-00000-of-00001.parquet``) or as a tree (``MATH/test/algebra/1.json``). If the converter ignored those
names, test problems would be written to ``train.parquet`` and the evaluation would measure memorisation. So every
file from ``--input`` gets the split its path names, a path that names two splits is refused, and a run that mixes
files with and without a split is refused unless ``--default-split`` says where the unnamed ones go: a wrong guess
here is silent and expensive, a clear error is cheap.

Rules (``data_preprocess/README.md`` repeats them for users):

* the file name counts by **token**: it is split on every non-alphanumeric character, case-folded, and a token
  ``train`` / ``test`` / ``validation`` (also ``valid``, ``val``, ``dev``) names the split: ``train.jsonl``,
  ``gsm8k_test.jsonl``, ``train-00000-of-00002.parquet``; ``latest.jsonl`` or ``contest.jsonl`` name none;
* a folder counts only when it lies **below the ``--input`` folder** the file was found in (the folders between
  that folder and the file: ``test/algebra/`` for ``MATH/test/algebra/1.json`` found in ``--input MATH``) and its
  **whole name** is one of those words (``train/``, ``test/``, ``dev/``), so project folders such as ``tests/`` or
  pytest's ``test_foo0/`` never assign a split, nor does any folder above the data (``/home/dev/``, ``~/test/``:
  where a user keeps files says nothing about which split they are); a file given itself as ``--input`` counts by
  its name only;
* an ``--input`` folder whose own name is a split word (``--input MATH/test``) therefore names nothing; a file in it
  that names no split itself is refused (``check_input_folder_name``) rather than silently put in the default
  split: point ``--input`` one level up or pass ``--default-split``;
* all the names found must agree (``test/train-00000-of-00001.parquet`` is refused), and must agree with a split
  the record carries itself (MBPP task-id ranges, MATH-500 ``unique_id``): a disagreeing row is invalid.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from data_preprocess.core import Example, InvalidRow

#: Words that name a split in a file name token or a folder name → the split written (``<split>.parquet``).
SPLIT_WORDS: dict[str, str] = {
    "train": "train",
    "test": "test",
    "validation": "validation",
    "valid": "validation",
    "val": "validation",
    "dev": "validation",
}

_TOKEN_SEP = re.compile(r"[^0-9a-z]+")


class SplitError(ValueError):
    """The inputs' splits are ambiguous or contradictory; the message names the file and the fix."""


def split_of_input_file(file: str, root: str | None) -> str | None:
    """The split of ``file``, found in the ``--input`` folder ``root`` (``None``: ``file`` was given itself).

    Only the path below ``root`` counts (its folders and the file name). ``file`` comes from ``root.rglob`` so it
    is ``root`` joined with the rest; a file that is not lexically below ``root`` counts by its name only.
    """
    below = Path(Path(file).name)
    if root is not None:
        try:
            below = Path(file).relative_to(root)
        except ValueError:
            pass
    return split_from_path(below.as_posix(), file)


@lru_cache(maxsize=4096)
def split_from_path(path: str, shown: str | None = None) -> str | None:
    """The split that ``path``'s file name and folders name, ``None`` when they name none. Every folder of
    ``path`` counts: callers pass the part below the input (:func:`split_of_input_file`); ``shown`` is the file as
    the user knows it, for the error message.

    Raises :class:`SplitError` when they name two different splits (which one the user meant is a guess).
    """
    p = Path(path)
    found: list[tuple[str, str]] = []  # (split, where it was read)
    for token in _TOKEN_SEP.split(p.name.lower()):
        if token in SPLIT_WORDS:
            found.append((SPLIT_WORDS[token], f"file name {p.name!r}"))
    for folder in p.parent.parts:
        if folder.lower() in SPLIT_WORDS:
            found.append((SPLIT_WORDS[folder.lower()], f"folder {folder!r}"))
    splits = sorted({s for s, _ in found})
    if len(splits) > 1:
        said = ", ".join(f"{where} says {split!r}" for split, where in found)
        raise SplitError(
            f"{shown or path}: its path names more than one split ({said}); rename the file or folder so that it "
            f"names one split (folders count only below the --input folder, and only when their whole name is a "
            f"split word; a file given itself as --input counts by its name only)"
        )
    return splits[0] if splits else None


def check_input_folder_name(file: str, root: str | None, default_split: str | None) -> None:
    """Refuse a file that names no split found in an ``--input`` folder whose own name is a split word.

    Why: ``--input MATH/test`` used to mean test data. Folders above the data no longer count (``~/test/`` is the
    user's, not the data's), but putting the tree in the default split (train) without a word would train on test
    problems. ``--default-split`` says what the user means; ``--input MATH`` lets ``test/`` count from below.
    """
    if root is None or default_split:
        return
    name = Path(root).name
    if name.lower() not in SPLIT_WORDS:
        return
    split = SPLIT_WORDS[name.lower()]
    parent = Path(root).parent
    raise SplitError(
        f"{file}: no split: only folders below --input count, and the --input folder {root} itself names the split "
        f"{split!r}; pass --input {parent if str(parent) != '.' else '<its parent folder>'} so that {name}/ counts, "
        f"or --default-split {split} (or another split) to say where its files go"
    )


def apply_path_split(ex: Example, path_split: str | None) -> None:
    """Give ``ex`` the split its file's path names; a row whose own split disagrees is invalid (never moved)."""
    if path_split is None:
        return
    if ex.split is None:
        ex.split = path_split
    elif ex.split != path_split:
        raise InvalidRow(
            "split_conflict",
            f"the file's name/folders say {path_split!r} but the row itself belongs to {ex.split!r} "
            f"(its id {ex.source_id!r}); put it in a file of its own split",
        )


def check_splits_not_mixed(examples: list[Example], default_split: str | None) -> None:
    """Refuse a run where some rows have a split (from their path or record) and others none, unless
    ``--default-split`` says where the unnamed ones go. All rows without a split is fine: one split, the source's
    default (a lone ``gsm8k.jsonl`` is training data; a lone HumanEval copy is test data)."""
    if default_split:
        return
    named = next((ex for ex in examples if ex.split is not None), None)
    if named is None:
        return
    unnamed: list[str] = []
    for ex in examples:
        if ex.split is None and ex.origin[0] not in unnamed:
            unnamed.append(ex.origin[0])
    if not unnamed:
        return
    more = f" (and {len(unnamed) - 1} more file(s))" if len(unnamed) > 1 else ""
    raise SplitError(
        f"{unnamed[0]}{more}: no split: neither the file name nor a folder names one (a token such as 'train' / "
        f"'test' / 'validation' in the name, e.g. train.jsonl or test-00000-of-00001.parquet, or a folder named "
        f"train/ or test/), while other input has one ({named.origin[0]}: {named.split!r}). Splits must never mix: "
        f"rename the file or move it into a split folder, or pass --default-split SPLIT to put such files in SPLIT"
    )
