"""Units of the study: skip a finished unit, refuse a changed configuration, commit atomically (light, no model)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from verl_score.study.units import ConfigConflict, UnitSpec, UnitStore, completed_units, fingerprint, write_atomic

CFG = {"train": {"steps": 12, "lr": 1e-5}, "eval": {"max_tokens": 128}}


def _finish(store: UnitStore, spec: UnitSpec) -> Path:
    with store.staging(spec) as staged:
        (staged / "heldout.jsonl.gz").write_bytes(b"dump")
        (staged / "metrics.json").write_text("{}")
        return store.commit(spec, staged, {"commit": "abc"})


def test_fingerprint_ignores_key_order_and_sees_values():
    assert fingerprint({"a": 1, "b": {"c": 2}}) == fingerprint({"b": {"c": 2}, "a": 1})
    assert fingerprint({"a": 1}) != fingerprint({"a": 2})


def test_finished_unit_is_skipped(tmp_path):
    store = UnitStore(tmp_path / "units")
    spec = UnitSpec("naive", 0, CFG)
    assert store.status(spec) == "missing"
    folder = _finish(store, spec)
    assert folder == tmp_path / "units" / "naive-s0"
    assert store.status(UnitSpec("naive", 0, json.loads(json.dumps(CFG)))) == "done"
    meta = json.loads((folder / "unit.json").read_text())
    assert set(meta["files"]) == {"heldout.jsonl.gz", "metrics.json"} and meta["provenance"]["commit"] == "abc"
    assert [f.name for f, _ in completed_units(tmp_path / "units")] == ["naive-s0"]
    assert (tmp_path / "units" / ".gitignore").read_text() == ".staging/\n"


def test_changed_configuration_is_refused_naming_the_keys(tmp_path):
    store = UnitStore(tmp_path / "units")
    _finish(store, UnitSpec("naive", 0, CFG))
    changed = {**CFG, "train": {"steps": 24, "lr": 1e-5}}
    with pytest.raises(ConfigConflict, match="train.steps"):
        store.status(UnitSpec("naive", 0, changed))
    # another seed of the changed configuration is no conflict at the unit level (the study-level check is)
    assert store.status(UnitSpec("naive", 1, changed)) == "missing"


def test_study_level_configuration_is_refused(tmp_path):
    """scripts/experiments/study.py check_study: a changed setting that a finished unit used is refused (a new seed
    of another configuration would otherwise join the study); a setting no unit used yet may change."""
    import importlib.util

    path = Path(__file__).parents[2] / "scripts/experiments/study.py"
    spec = importlib.util.spec_from_file_location("study_cli", path)
    cli = importlib.util.module_from_spec(spec)
    sys.modules["study_cli"] = cli  # dataclasses look their module up there
    spec.loader.exec_module(cli)
    shared = {"task": {"files": "abc"}, "eval": {"max_tokens": 128}, "model": "m", "train": {"steps": 12}}
    cli.check_study(tmp_path, shared)  # nothing run yet
    store = UnitStore(tmp_path / "units")
    base = UnitSpec("base", 0, {k: shared[k] for k in ("task", "eval", "model")})
    _finish(store, base)
    cli.check_study(tmp_path, {**shared, "train": {"steps": 24}})  # only the base exists: training may change
    with pytest.raises(ConfigConflict, match="eval.max_tokens"):
        cli.check_study(tmp_path, {**shared, "eval": {"max_tokens": 256}})
    _finish(store, UnitSpec("naive", 0, {**shared, "train": {"steps": 24}}))
    with pytest.raises(ConfigConflict, match="train.steps"):
        cli.check_study(tmp_path, shared)
    assert json.loads((tmp_path / "study.json").read_text())["train"] == {"steps": 24}


def test_failed_unit_leaves_nothing_readable(tmp_path):
    store = UnitStore(tmp_path / "units")
    spec = UnitSpec("score", 0, CFG)
    with pytest.raises(RuntimeError):
        with store.staging(spec) as staged:
            (staged / "heldout.jsonl.gz").write_bytes(b"half")
            raise RuntimeError("killed")
    assert store.status(spec) == "missing"
    assert completed_units(tmp_path / "units") == []


def test_killed_unit_leaves_only_staging(tmp_path):
    """A process killed mid-unit (SIGKILL: no cleanup runs) leaves a staging folder that no reader takes; the
    rerun clears it and commits."""
    root = tmp_path / "units"
    script = textwrap.dedent(f"""
        import os, signal
        from verl_score.study.units import UnitSpec, UnitStore
        store = UnitStore({str(root)!r})
        with store.staging(UnitSpec("score", 0, {CFG!r})) as staged:
            (staged / "heldout.jsonl.gz").write_bytes(b"half a dump")
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": str(Path.cwd())})
    assert proc.returncode != 0
    assert list((root / ".staging").iterdir())  # the half unit is there ...
    assert completed_units(root) == []  # ... and nobody reads it
    store = UnitStore(root)
    assert store.status(UnitSpec("score", 0, CFG)) == "missing"
    _finish(store, UnitSpec("score", 0, CFG))
    assert not list((root / ".staging").iterdir())
    assert [f.name for f, _ in completed_units(root)] == ["score-s0"]


def test_tampered_or_truncated_unit_is_not_read_and_blocks_a_rerun(tmp_path):
    store = UnitStore(tmp_path / "units")
    spec = UnitSpec("base", 0, CFG)
    folder = _finish(store, spec)
    (folder / "heldout.jsonl.gz").write_bytes(b"du")  # a file no longer matching unit.json
    assert completed_units(tmp_path / "units") == []
    with pytest.raises(ConfigConflict, match="not a complete unit"):
        store.status(spec)


def test_write_atomic_replaces_whole(tmp_path):
    p = tmp_path / "a" / "m.json"
    write_atomic(p, "one")
    write_atomic(p, b"two")
    assert p.read_text() == "two" and [q.name for q in p.parent.iterdir()] == ["m.json"]
