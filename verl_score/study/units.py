"""Units of the study: one (arm, seed) each, written once, atomically, under a configuration fingerprint.

Why: the study grows over several sessions days apart, on a shared 2-core machine where a run can be killed. So

* a unit is a folder ``<study>/units/<arm>-s<seed>/`` that appears **whole or not at all**: it is assembled in
  ``<study>/units/.staging/`` and renamed into place as the last step (a rename within one file system is atomic);
  its ``unit.json`` lists every file with its sha256, and a reader (:func:`completed_units`) takes only folders whose
  ``unit.json`` parses and whose files match it. A killed unit leaves a staging folder that nothing reads;
* a rerun **skips** a unit whose folder exists with the same fingerprint (the sha256 of its configuration: arm,
  seed, training and evaluation settings, the task files' hashes, the model);
* a rerun whose configuration differs from an existing unit of the same name is **refused** (:class:`ConfigConflict`,
  naming the keys that differ): finished units are never mixed with units of another configuration. Keep such a
  run apart under another study folder.

The code commit is provenance (recorded in ``unit.json``), not configuration: a later commit that changes nothing a
unit computes must not invalidate the units already run.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

UNIT_FILE = "unit.json"
STAGING = ".staging"


class ConfigConflict(RuntimeError):
    """A unit of this name exists with another configuration."""


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def fingerprint(config: Mapping[str, Any]) -> str:
    """sha256 of the configuration's canonical JSON (key order does not matter)."""
    return hashlib.sha256(canonical_json(config).encode()).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write ``path`` via a temporary file in the same folder and ``os.replace``: readers see old or new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with tmp.open("wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def diff_keys(a: Mapping[str, Any], b: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two nested configurations."""
    out = []
    for k in sorted(set(a) | set(b)):
        va, vb = a.get(k), b.get(k)
        if isinstance(va, Mapping) and isinstance(vb, Mapping):
            out += diff_keys(va, vb, f"{prefix}{k}.")
        elif canonical_json(va) != canonical_json(vb):
            out.append(prefix + k)
    return out


@dataclass(frozen=True)
class UnitSpec:
    """What a unit is: its arm, seed and full configuration (everything that changes what it computes)."""

    arm: str
    seed: int
    config: Mapping[str, Any]

    @property
    def name(self) -> str:
        return f"{self.arm}-s{self.seed}"

    @property
    def fingerprint(self) -> str:
        return fingerprint({"arm": self.arm, "seed": self.seed, "config": self.config})


def read_unit(folder: Path, verify: bool = True) -> dict[str, Any] | None:
    """``unit.json`` of a finished unit, or ``None`` when the folder is not one (no or unreadable ``unit.json``, or,
    with ``verify``, a listed file missing or not matching its sha256)."""
    try:
        meta = json.loads((folder / UNIT_FILE).read_text())
    except (OSError, ValueError):
        return None
    if verify:
        for name, digest in (meta.get("files") or {}).items():
            path = folder / name
            if not path.is_file() or sha256_file(path) != digest:
                return None
    return meta


class UnitStore:
    """The ``units/`` folder of one study."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, spec: UnitSpec) -> Path:
        return self.root / spec.name

    def status(self, spec: UnitSpec) -> str:
        """``done`` (same fingerprint: skip), ``missing`` (run it), or raises :class:`ConfigConflict`."""
        folder = self.path(spec)
        if not folder.exists():
            return "missing"
        meta = read_unit(folder)
        if meta is None:
            raise ConfigConflict(f"{folder} exists but is not a complete unit (no valid {UNIT_FILE} or a file does "
                                 "not match its sha256): inspect it and remove it by hand to rerun that unit")
        if meta.get("fingerprint") != spec.fingerprint:
            keys = diff_keys(meta.get("config") or {}, dict(spec.config))
            raise ConfigConflict(
                f"unit {spec.name} exists in {self.root} with another configuration (differs in: "
                f"{', '.join(keys) or 'arm/seed'}); refusing to mix configurations. Run this configuration into "
                "another study folder (--study), or delete the old unit on purpose")
        return "done"

    @contextmanager
    def staging(self, spec: UnitSpec) -> Iterator[Path]:
        """A fresh staging folder for ``spec``; removed when the block raises (a killed process leaves it behind,
        where nothing reads it; the next :meth:`staging` of the unit clears it)."""
        base = self.root / STAGING
        base.mkdir(parents=True, exist_ok=True)
        ignore = self.root / ".gitignore"  # a study folder is committed; its unfinished units never are
        if not ignore.exists():
            write_atomic(ignore, f"{STAGING}/\n")
        for old in base.glob(f"{spec.name}.*"):
            shutil.rmtree(old, ignore_errors=True)
        folder = base / f"{spec.name}.{os.getpid()}.{int(time.time())}"
        folder.mkdir()
        try:
            yield folder
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise

    def commit(self, spec: UnitSpec, staged: Path, provenance: Mapping[str, Any]) -> Path:
        """Write ``unit.json`` (every staged file's sha256) and rename the staging folder into place."""
        files = {p.relative_to(staged).as_posix(): sha256_file(p)
                 for p in sorted(staged.rglob("*")) if p.is_file() and p.name != UNIT_FILE}
        meta = {"name": spec.name, "arm": spec.arm, "seed": spec.seed, "fingerprint": spec.fingerprint,
                "config": spec.config, "provenance": dict(provenance), "files": files}
        write_atomic(staged / UNIT_FILE, json.dumps(meta, indent=1, sort_keys=True, default=str) + "\n")
        target = self.path(spec)
        if target.exists():
            raise ConfigConflict(f"{target} appeared while the unit ran (two runs of one study?); kept {staged}")
        os.rename(staged, target)
        return target


def completed_units(root: Path) -> list[tuple[Path, dict[str, Any]]]:
    """``(folder, unit.json)`` of every finished unit under ``root``, by name; staging and broken folders skipped."""
    out = []
    if not Path(root).is_dir():
        return out
    for folder in sorted(Path(root).iterdir()):
        if folder.is_dir() and not folder.name.startswith("."):
            meta = read_unit(folder)
            if meta is not None:
                out.append((folder, meta))
    return out
