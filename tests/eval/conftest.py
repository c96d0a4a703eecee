"""Fixtures for the eval tests: a small GSM8K parquet made by the real converter from the bundled sample."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def gsm8k_parquet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``convert_parquet.py gsm8k --target score`` on the bundled 100-problem GSM8K sample (first 8 rows); run
    in-process (``run(argv)`` is the script's own entry) to spare an interpreter start."""
    from data_preprocess.convert_parquet import run

    out = tmp_path_factory.mktemp("gsm8k")
    run(["gsm8k", "--target", "score", "--out-dir", str(out), "--default-split", "test", "--limit", "8", "--quiet"])
    path = out / "test.parquet"
    assert path.is_file()
    return path
