"""Registry of dataset sources: ``--dataset NAME`` / the sub-command picks one by name, no if-chain.

A source reads one input format and turns each record into an :class:`~data_preprocess.core.Example`; validation,
dedup, splits and writing are shared (``data_preprocess/core.py``). Adding a dataset = one module here with a
``@register_source("name")`` class, plus its import in ``_BUILTIN``.
"""

from __future__ import annotations

import argparse
import importlib
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Callable, ClassVar, Iterator, TypeVar

from data_preprocess.core import Example, RawRow, Report

_SOURCES: dict[str, type["Source"]] = {}
_BUILTIN = ("gsm8k", "math", "mbpp", "humaneval", "reasoning_gym", "mps", "bc")

S = TypeVar("S", bound=type)


def register_source(name: str) -> Callable[[S], S]:
    """Class decorator: make a :class:`Source` subclass available as ``--dataset name``."""

    def decorator(cls: S) -> S:
        if name in _SOURCES and _SOURCES[name] is not cls:
            raise ValueError(f"source {name!r} already registered to {_SOURCES[name].__qualname__}")
        cls.name = name
        _SOURCES[name] = cls
        return cls

    return decorator


def _load_builtin() -> None:
    for mod in _BUILTIN:
        importlib.import_module(f"data_preprocess.sources.{mod}")


def registered_sources() -> dict[str, type["Source"]]:
    _load_builtin()
    return dict(_SOURCES)


def get_source(name: str) -> type["Source"]:
    _load_builtin()
    try:
        return _SOURCES[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; known: {sorted(_SOURCES)}") from None


class Source(ABC):
    """One input format. Subclasses set the class attributes and implement :meth:`rows` and :meth:`convert`."""

    name: ClassVar[str]
    help: ClassVar[str] = ""
    #: Split for rows whose input carries none (before ``--test-size`` / ``--val-size`` carving).
    default_split: ClassVar[str] = "train"
    #: ``--target`` when the user gives none, and the ones that make sense for the source: a prefix rollout needs
    #: a verified prefix and a teacher step (MPS only); two-attempt SCoRe needs a plain problem (not MPS).
    default_target: ClassVar[str] = "score"
    targets: ClassVar[tuple[str, ...]] = ("score", "plain")
    #: Whether ``--input`` is required (False: a bundled copy is used when it is absent).
    needs_input: ClassVar[bool] = True
    #: Whether the split of an ``--input`` file is read from its name and folders (``data_preprocess/splits.py``).
    #: False for trajectory sources (MPS, BC), whose rows are split by problem between SFT and RL instead.
    path_splits: ClassVar[bool] = True

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        #: input file (as yielded by :meth:`input_files`) -> the ``--input`` folder it was found in, ``None`` for a
        #: file given itself: only the path below that folder names a split (``data_preprocess/splits.py``)
        self.input_roots: dict[str, str | None] = {}

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Source-specific flags (beside the common ones)."""

    @abstractmethod
    def rows(self) -> Iterator[RawRow]:
        """Yield the input records in order, with file and row number."""

    def default_split_name(self) -> str:
        """Split for rows without one (``--default-split`` overrides); may depend on the input (bundled vs user)."""
        return self.default_split

    def total(self) -> int | None:
        """Number of input records if cheap to know (progress bar)."""
        return None

    @abstractmethod
    def convert(self, raw: RawRow) -> Example:
        """Turn one record into an Example; raise ``InvalidRow`` (bad data) or ``DropRow`` (deliberately left out)."""

    def postprocess(self, examples: list[Example], report: Report) -> list[Example]:
        """Hook after dedup, before split assignment; returns the examples that become RL rows."""
        return examples

    def write_extra(self, out_dir: Path, report: Report) -> None:
        """Hook for outputs beside the RL parquet (MPS: SFT parquet and sharegpt)."""

    # helpers -----------------------------------------------------------------------------------------------
    def input_paths(self) -> list[Path]:
        paths = [Path(p) for p in (self.args.input or [])]
        for p in paths:
            if not p.exists():
                raise FileNotFoundError(f"--input {p} does not exist")
        return paths

    def input_files(self, exts: tuple[str, ...]) -> Iterator[Path]:
        """The files of ``--input`` (folders expanded, see :func:`_iter_files`), remembering each one's root."""
        return _iter_files(self.input_paths(), exts, self.input_roots)


__all__ = ["Source", "register_source", "get_source", "registered_sources"]


#: File types ``read_records`` reads; what a folder given as ``--input`` is searched for.
RECORD_EXTS: tuple[str, ...] = (".jsonl", ".jsonl.gz", ".json", ".parquet")


def _iter_files(
    paths: list[Path], exts: tuple[str, ...], roots: dict[str, str | None] | None = None
) -> Iterator[Path]:
    """Expand folders (recursively, sorted for determinism) into files with one of ``exts``; files are yielded as
    given. Hidden files and folders (``.cache/`` of a hub download, ``.git/``) are skipped; a file reached twice
    (a folder and a file inside it) is read once, and belongs to the input that reached it first; a folder with no
    such file is an error, not an empty dataset. ``roots`` (when given) gets ``str(file)`` -> the input folder it
    was found in, or ``None`` for a file given itself."""
    seen: set[Path] = set()
    for p in paths:
        if p.is_dir():
            found = sorted(
                q
                for q in p.rglob("*")
                if q.is_file()
                and q.name.endswith(exts)
                and not any(part.startswith(".") for part in q.relative_to(p).parts)
            )
            if not found:
                raise FileNotFoundError(f"--input {p} is a folder with no {'/'.join(exts)} files in it")
        else:
            found = [p]
        for q in found:
            key = q.resolve()
            if key not in seen:
                seen.add(key)
                if roots is not None:
                    roots[str(q)] = str(p) if p.is_dir() else None
                yield q
