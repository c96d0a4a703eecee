"""The SMART launch check reads the run's composed config, so what it checks is what the run uses (issue #26).

``scripts/lib/verl_entry.sh`` writes config_check's JSON to ``$VERL_SCORE_COMPOSED_CONFIG`` and
``scripts/lib/smart_guide.sh`` passes that file to ``python -m verl_score.teacher.guidance --check``. Before, the
check read ``configs/guidance/smart.yaml`` itself, so a command-line ``guidance.kwargs.on_unreachable=fallback``
still stopped the launch. The endpoint here is a closed port on 127.0.0.1 (a refused connection, no network).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEAD = "http://127.0.0.1:9/v1"  # the discard port: nothing listens, the connection is refused at once


def _composed(tmp_path: Path, *overrides: str, **env: str) -> Path:
    """The launcher's dry run output (config_check's JSON, verl's own start-up line before it), as a file."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("GUIDE", "VERL_SCORE"))}
    full_env.update({"VERL_SCORE_COMPOSE_ONLY": "1", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO), **env})
    out = subprocess.run(["bash", "scripts/run_qwen2.5-7b_score.sh", *overrides], cwd=REPO, env=full_env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    path = tmp_path / "composed.json"
    path.write_text(out.stdout)
    return path


def _check(path: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUIDE")}
    return subprocess.run([sys.executable, "-m", "verl_score.teacher.guidance", "--check", str(path)], cwd=REPO,
                          env={**env, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("override, rc", [(None, 2), ("guidance.kwargs.on_unreachable=fallback", 0)])
def test_the_launch_check_applies_command_line_overrides(tmp_path, override, rc):
    composed = _composed(tmp_path, *([override] if override else []), GUIDANCE="smart", GUIDE_API_BASE=DEAD)
    got = _check(composed)
    assert got.returncode == rc, got.stdout + got.stderr
    assert DEAD in got.stderr and "unreachable" in got.stderr


def test_a_composed_config_without_guidance_checks_nothing(tmp_path):
    got = _check(_composed(tmp_path))
    assert got.returncode == 0 and "'static' (no guide to check)" in got.stdout, got.stdout + got.stderr
