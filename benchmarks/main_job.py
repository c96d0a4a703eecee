"""The README's main job as a new user runs it, timed and sampled: wall time, output lines, peak memory.

    python benchmarks/main_job.py                                   # bash scripts/quickstart.sh in this checkout
    python benchmarks/main_job.py --precisions fp32,auto            # once per VERL_SCORE_CPU_PRECISION, same seed
    python benchmarks/main_job.py --repo /tmp/fresh-clone           # a fresh clone (run its scripts/setup.sh first)

Memory is sampled every second two ways, as in ``benchmarks/cpu_rollout.py``: the sum of PSS over the job's process
tree (PSS splits shared pages, so the sum is the job's footprint at that instant) and system used memory minus the
idle baseline taken just before the start (includes anything else running: use a quiet machine). Set-up is not
timed: run ``bash scripts/setup.sh`` in the checkout first (the quickstart then finds everything installed).
Nothing is asserted; the figures go to the README and ``results/benchmarks/``.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import subprocess
import sys
import threading
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.cpu_rollout import _pss_bytes, _tree, _used_memory_bytes, load_avg  # noqa: E402


def run_main_job(repo: pathlib.Path, precision: str, log_path: pathlib.Path) -> dict[str, float]:
    """``bash scripts/quickstart.sh`` in ``repo`` with ``VERL_SCORE_CPU_PRECISION=precision``."""
    baseline = _used_memory_bytes()
    peak = {"pss": 0, "system": baseline}
    done = threading.Event()
    holder: list[subprocess.Popen] = []

    def sample() -> None:
        while not done.is_set():
            if holder:
                peak["pss"] = max(peak["pss"], _pss_bytes(_tree(holder[0].pid)))
            peak["system"] = max(peak["system"], _used_memory_bytes())
            time.sleep(1.0)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    env = {**os.environ, "VERL_SCORE_CPU_PRECISION": precision, "CI": "true"}
    start = time.perf_counter()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(["bash", "scripts/quickstart.sh"], cwd=repo, env=env, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        holder.append(proc)
        rc = proc.wait()
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    lines = log_path.read_text().splitlines()
    return {"rc": rc, "wall_s": round(wall, 1), "lines": len(lines), "peak_pss_gb": round(peak["pss"] / 2**30, 2),
            "peak_system_delta_gb": round((peak["system"] - baseline) / 2**30, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repo", type=pathlib.Path, default=REPO, help="checkout to run in (set up already)")
    ap.add_argument("--precisions", default="auto", help="VERL_SCORE_CPU_PRECISION per run, comma-separated")
    ap.add_argument("--out", type=pathlib.Path, default=pathlib.Path("/tmp/main_job"), help="logs go here")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=args.repo, capture_output=True,
                            text=True).stdout.strip()
    print(f"main job: bash scripts/quickstart.sh in {args.repo} (commit {commit}); load at start {load_avg()}")
    print("| precision | exit | wall | output lines | peak PSS sum | peak system used - idle |\n|---|---|---|---|---|---|")
    for precision in args.precisions.split(","):
        log = args.out / f"quickstart_{precision}.log"
        r = run_main_job(args.repo, precision, log)
        chosen = next((x for x in log.read_text().splitlines() if x.startswith("[cpu] precision")), "?")
        print(f"| {precision}: {chosen} | {r['rc']} | {r['wall_s'] // 60:.0f} min {r['wall_s'] % 60:.0f} s | {r['lines']} | "
              f"{r['peak_pss_gb']} GB | {r['peak_system_delta_gb']} GB |", flush=True)
    print(f"load at end {load_avg()}; logs in {args.out}")


if __name__ == "__main__":
    main()
