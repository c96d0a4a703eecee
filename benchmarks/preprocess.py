#!/usr/bin/env python
"""Throughput of ``data_preprocess/convert_parquet.py``: rows/s for HumanEval (bundled, 164 rows, code: compile
checks) and a 10k-row generated math set (reasoning-gym ``gsm_symbolic``: generation + math-verify parse of every
answer + dedup + split + parquet write).

    python benchmarks/preprocess.py [--size 10000] [--repeat 3]

Each case first runs once untimed so one-off imports (math-verify/sympy, pyarrow, reasoning-gym) are not counted;
the answer-parse cache is cleared before each timed run (a CLI process starts with it empty); the figure is the best
of ``--repeat`` timed runs of the same in-process entry point the CLI uses. The generation
time of the reasoning-gym items alone is printed too, so the converter's own cost can be read off.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from data_preprocess.convert_parquet import run  # noqa: E402
from data_preprocess.core import math_parseable  # noqa: E402


def bench(name: str, argv: list[str], repeat: int) -> tuple[int, float]:
    with tempfile.TemporaryDirectory() as tmp:
        run([*argv, "--out-dir", f"{tmp}/warm", "--quiet"])
        best = float("inf")
        rows = 0
        for i in range(repeat):
            math_parseable.cache_clear()  # a CLI run starts with an empty answer cache; don't time a warm one
            t0 = time.perf_counter()
            report = run([*argv, "--out-dir", f"{tmp}/r{i}", "--quiet"])
            best = min(best, time.perf_counter() - t0)
            rows = report.rows_in
    print(f"{name:<34}{rows:>8} rows {best:>8.2f} s {rows / best:>10,.0f} rows/s")
    return rows, best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    import reasoning_gym

    print(f"{'case':<34}{'rows':>13}{'time':>11}{'throughput':>17}")
    bench("humaneval (bundled)", ["humaneval"], args.repeat)
    t0 = time.perf_counter()
    ds = reasoning_gym.create_dataset("gsm_symbolic", size=args.size, seed=42)
    _ = [ds[i] for i in range(args.size)]
    gen = time.perf_counter() - t0
    label = "  (reasoning-gym generation only)"
    print(f"{label:<34}{args.size:>8} rows {gen:>8.2f} s {args.size / gen:>10,.0f} rows/s")
    bench(
        f"reasoning_gym gsm_symbolic {args.size // 1000}k",
        ["reasoning_gym", "--rg-tasks", "gsm_symbolic", "--size", str(args.size), "--test-size", "0.05"],
        args.repeat,
    )


if __name__ == "__main__":
    main()
