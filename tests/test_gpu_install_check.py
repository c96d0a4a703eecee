"""scripts/check_gpu_install.py, the CI step that resolves the README's GPU install commands (scripts/test.sh runs it
next to the suite): it must fail when a set stops resolving and say SKIP -- never pass -- when the index is away.

The real GPU sets take one to three minutes to resolve, so the suite does not resolve them again here; these tests
give the checker a small project whose extra cannot resolve for the same reason verl's own ``verl[sglang]`` extra does
not (a transformers pin verl 0.9.1 excludes), and an index address nothing listens on.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CHECKER = REPO / "scripts" / "check_gpu_install.py"


def _check(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([sys.executable, str(CHECKER), *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})


def test_unreachable_index_is_a_skip_not_a_pass():
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = _check("sglang", env={"PIP_INDEX_URL": f"http://127.0.0.1:{port}/simple"})
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert proc.stdout.startswith("SKIP: package index unreachable") and "NOT checked" in proc.stdout


def test_a_set_that_stops_resolving_fails_with_pips_reason(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=77"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "probe"\nversion = "0"\nrequires-python = ">=3.10"\n'
        '[project.optional-dependencies]\nbroken = ["verl==0.9.1", "transformers==5.6.0"]\n'
        '[tool.setuptools]\npy-modules = []\n'
    )
    proc = _check("broken=broken", "--project", str(tmp_path))
    if proc.returncode == 3:
        pytest.skip(f"package index unreachable: {proc.stdout.strip()}")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert 'FAIL pip install --dry-run --ignore-installed -e ".[broken]"' in proc.stdout
    assert "ResolutionImpossible" in proc.stdout and "transformers" in proc.stdout
