"""Which Python / torch / verl verl-score supports, checked when the plug-ins load.

Why a start-up check on top of the package metadata: ``requires-python`` only guards ``pip install``, and a GPU
cluster often provides torch through a module system or container that pip never sees. Without this check an old
torch or another verl release fails deep inside verl's imports or our plug-in registration (an ``ImportError`` of some
private name); with it, the first line says what is supported. ``verl_score.register`` (imported by verl in every
process) runs it before anything else. Reading versions costs no import of torch or verl (``importlib.metadata``).

``VERL_SCORE_SKIP_VERSION_CHECK=1`` turns the error into a warning, for someone deliberately trying another version.
"""

from __future__ import annotations

import os
import sys
import warnings
from importlib import metadata
from typing import Callable

from packaging.version import InvalidVersion, Version

#: inclusive range of CPython minor versions: verl 0.9.1's own ``Requires-Python`` (pyproject.toml says the same)
PYTHON_RANGE: tuple[tuple[int, int], tuple[int, int]] = ((3, 10), (3, 12))
#: verl-score plugs into verl 0.9.1's extension points (registries, agent loop and trainer APIs) and no other release
VERL_VERSION = "0.9.1"
#: oldest torch: the GPU rollout engines verl 0.9.1 supports (sglang 0.5.14, vllm 0.24.0) both pin torch 2.11.0
TORCH_MIN = "2.11"
#: the sets that were resolved and run (pyproject.toml extras; README "On a GPU cluster")
TESTED = "torch 2.11.0 + transformers 5.8.1 (sglang), 2.11.0 + 5.9.0 (vllm), 2.13.0 CPU + 5.10.4 (CI)"
SKIP_ENV = "VERL_SCORE_SKIP_VERSION_CHECK"


class UnsupportedEnvironment(RuntimeError):
    """Python, torch or verl outside what verl-score supports."""


def _release(v: str) -> Version:
    return Version(Version(v).base_version)  # "2.11.0+cu130" -> 2.11.0; local labels are build variants


def problems(python: tuple[int, int] | None = None, version_of: Callable[[str], str] = metadata.version) -> list[str]:
    """Everything outside the supported range, one line each (empty when all is well)."""
    out: list[str] = []
    py = python or (sys.version_info.major, sys.version_info.minor)
    lo, hi = PYTHON_RANGE
    if not lo <= py <= hi:
        out.append(f"Python {py[0]}.{py[1]}: supported {lo[0]}.{lo[1]} to {hi[0]}.{hi[1]}")
    for name, ok, want in (
        ("torch", lambda v: _release(v) >= Version(TORCH_MIN), f">={TORCH_MIN}"),
        ("verl", lambda v: _release(v) == Version(VERL_VERSION), f"=={VERL_VERSION}"),
    ):
        try:
            got = version_of(name)
        except metadata.PackageNotFoundError:
            out.append(f"{name}: not installed; supported {name}{want}")
            continue
        try:
            good = ok(got)
        except InvalidVersion:
            good = False
        if not good:
            out.append(f"{name} {got}: supported {name}{want}")
    return out


def check(**kwargs) -> None:
    """Raise :class:`UnsupportedEnvironment` naming the supported versions (a warning with ``SKIP_ENV=1``)."""
    found = problems(**kwargs)
    if not found:
        return
    msg = (
        "verl-score does not support this environment:\n  - " + "\n  - ".join(found)
        + f"\nTested: {TESTED}. Install a tested set (README, 'On a GPU cluster': pip install -e '.[sglang]' or"
        f" '.[vllm]'), or set {SKIP_ENV}=1 to try anyway."
    )
    if os.environ.get(SKIP_ENV) == "1":
        warnings.warn(msg, stacklevel=2)
        return
    raise UnsupportedEnvironment(msg)
