"""Append-only, crash-safe jsonl output that a restarted job resumes without losing or duplicating a record.

Data generation against a 72B teacher runs for hours and gets killed (preemption, OOM, Ctrl-C). Each finished
problem is written as ONE line in one ``write`` followed by ``flush`` + ``fsync``, so after a kill the file holds
complete lines plus at most one partial last line (the write in flight). On open, that partial tail is cut off
(it is an unfinished record, and its problem is simply redone) and the ids of the complete lines are read, so the
runner skips them. A complete line that is not valid JSON is NOT silently dropped: it means the file was edited or
corrupted, and the writer refuses to continue rather than guess.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any, Mapping

__all__ = ["CorruptOutputError", "ResumableJsonlWriter"]


class CorruptOutputError(RuntimeError):
    """A complete (newline-terminated) line of the output is not a JSON object with an id."""


class ResumableJsonlWriter:
    """``with ResumableJsonlWriter(path) as w: if key not in w.done: w.write(record)``.

    ``repaired_bytes`` tells how much of a partial last line was discarded at open (0 normally).
    """

    def __init__(self, path: str | os.PathLike[str], id_key: str = "id", fsync: bool = True):
        self.path = Path(path)
        self.id_key = id_key
        self.fsync = fsync
        self.done: set[str] = set()
        self.duplicates_in_file = 0
        self.repaired_bytes = 0
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._repair_and_scan()
        self._fh = open(self.path, "ab")

    def _repair_and_scan(self) -> None:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1  # bytes up to and including the last newline are complete lines
        if end < len(data):
            self.repaired_bytes = len(data) - end
            with open(self.path, "r+b") as fh:
                fh.truncate(end)
                fh.flush()
                os.fsync(fh.fileno())
        for lineno, line in enumerate(data[:end].split(b"\n")[:-1], 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CorruptOutputError(f"{self.path}:{lineno}: complete line is not JSON ({exc.msg})") from None
            if not isinstance(rec, dict) or self.id_key not in rec:
                raise CorruptOutputError(f"{self.path}:{lineno}: not an object with {self.id_key!r}")
            key = str(rec[self.id_key])
            if key in self.done:
                self.duplicates_in_file += 1
            self.done.add(key)

    def write(self, record: Mapping[str, Any]) -> None:
        """Append one record durably. Raises ``ValueError`` for a record whose id was already written."""
        key = str(record[self.id_key])
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
        if b"\n" in line[:-1]:  # json.dumps escapes newlines; this guards the one-record-one-line invariant
            raise ValueError("record serialised across several lines")
        with self._lock:
            if key in self.done:
                raise ValueError(f"record {key!r} is already in {self.path}")
            self._fh.write(line)
            self._fh.flush()
            if self.fsync:
                os.fsync(self._fh.fileno())
            self.done.add(key)

    def close(self) -> None:
        with self._lock:
            if not self._fh.closed:
                self._fh.close()

    def __enter__(self) -> "ResumableJsonlWriter":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
