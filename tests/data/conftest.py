"""Shared fixtures for the data-preprocessing tests: the repo root on sys.path and a one-call converter."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FIXTURES = ROOT / "data_preprocess" / "fixtures"


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def convert(tmp_path: Path):
    """``convert("mbpp", "--input", f)`` → (Report, out_dir): runs the real CLI entry (in-process, quiet)."""
    from data_preprocess.convert_parquet import run

    counter = iter(range(1000))

    def _convert(dataset: str, *args: str):
        out = tmp_path / f"out{next(counter)}"
        report = run([dataset, "--out-dir", str(out), "--quiet", *args])
        return report, out

    return _convert



@pytest.fixture
def rows():
    """``rows(path)`` → the parquet's rows as dicts."""
    import pyarrow.parquet as pq

    return lambda path: pq.read_table(path).to_pylist()
