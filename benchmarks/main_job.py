"""The README's main job as a new user runs it, timed and sampled: wall time, output lines, peak memory.

    python benchmarks/main_job.py                                   # bash scripts/quickstart.sh in this checkout
    python benchmarks/main_job.py --precisions fp32,auto,fp32       # once per VERL_SCORE_CPU_PRECISION, same data;
                                                                    # fp32 twice: the run-to-run noise
    python benchmarks/main_job.py --repo /tmp/fresh-clone           # a fresh clone (run its scripts/setup.sh first)

Memory is sampled every second two ways, as in ``benchmarks/cpu_rollout.py``: the sum of PSS over the job's process
tree (PSS splits shared pages, so the sum is the job's footprint at that instant) and system used memory minus the
idle baseline taken just before the start (includes anything else running: use a quiet machine). Set-up is not
timed: run ``bash scripts/setup.sh`` in the checkout first (the quickstart then finds everything installed).
Nothing is asserted; the figures go to the README and ``results/benchmarks/``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import pathlib
import subprocess
import sys
import threading
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.cpu_rollout import _tree, _used_memory_bytes, format_parts, load_avg, track_peak  # noqa: E402


def run_main_job(repo: pathlib.Path, precision: str, log_path: pathlib.Path,
                 overrides: list[str] | None = None) -> dict[str, float]:
    """``bash scripts/quickstart.sh [overrides]`` in ``repo`` with ``VERL_SCORE_CPU_PRECISION=precision``."""
    baseline = _used_memory_bytes()
    peak = {"pss": 0, "system": baseline}
    done = threading.Event()
    holder: list[subprocess.Popen] = []

    def sample() -> None:
        while not done.is_set():
            if holder:
                track_peak(peak, _tree(holder[0].pid))
            peak["system"] = max(peak["system"], _used_memory_bytes())
            time.sleep(1.0)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    env = {**os.environ, "VERL_SCORE_CPU_PRECISION": precision, "CI": "true"}
    start = time.perf_counter()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(["bash", "scripts/quickstart.sh", *(overrides or [])], cwd=repo, env=env, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        holder.append(proc)
        rc = proc.wait()
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    lines = log_path.read_text().splitlines()
    return {"rc": rc, "wall_s": round(wall, 1), "lines": len(lines), "peak_pss_gb": round(peak["pss"] / 2**30, 2),
            "peak_parts": format_parts(peak.get("parts", [])), "peak_system_delta_gb": round((peak["system"] - baseline) / 2**30, 2)}


#: per-step curves compared side by side (reward per attempt, KL to the reference per attempt, step time)
CURVE_KEYS = ("score/stage", "score/reward_t1/mean", "score/reward_t2/mean", "score/kl_ref_t1/mean",
              "score/kl_ref_t2/mean", "actor/pg_loss", "timing_s/step")
#: held-out figures (validation before training and at the last step)
VAL_KEY = re.compile(r"^val-core/.*/score/(acc@t1|acc@t2|delta_t1_t2)(/mean)?$")
METRICS = "runs/smollm2_score_cpu/logs/verl_score/smollm2_score_cpu.jsonl"


def read_metrics(path: pathlib.Path) -> list[dict]:
    """verl's file logger: one JSON object per step, ``{"step": n, "data": {...}}``."""
    rows = []
    for line in path.read_text().splitlines():
        rec = json.loads(line)
        rows.append({"step": rec.get("step"), **rec.get("data", rec)})
    return rows


def keep_run(repo: pathlib.Path, precision: str, out: pathlib.Path) -> list[dict]:
    """Copy the run's per-step metrics and held-out per-episode dumps under ``out/precision`` (rescorable)."""
    dest = out / precision
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    metrics = repo / METRICS
    if not metrics.exists():
        return []
    shutil.copy(metrics, dest / "metrics.jsonl")
    val = repo / "runs/smollm2_score_cpu/val"
    if val.is_dir():
        shutil.copytree(val, dest / "val")
    return read_metrics(metrics)


def _fmt(x) -> str:
    return "—" if x is None else (f"{x:.4g}" if isinstance(x, float) else str(x))


def side_by_side(runs: dict[str, list[dict]]) -> str:
    """Markdown: per training step, each curve key for every precision; then the held-out figures."""
    names = list(runs)
    lines = ["| step | " + " | ".join(f"{k} ({n})" for k in CURVE_KEYS for n in names) + " |",
             "|---|" + "---|" * (len(CURVE_KEYS) * len(names))]
    by_step = {n: {r["step"]: r for r in rows if "timing_s/step" in r} for n, rows in runs.items()}
    steps = sorted(set().union(*[set(v) for v in by_step.values()]))
    for st in steps:
        cells = [_fmt(by_step[n].get(st, {}).get(k)) for k in CURVE_KEYS for n in names]
        lines.append(f"| {st} | " + " | ".join(cells) + " |")
    lines += ["", "| held-out (greedy) | step | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    val = {n: {(r["step"], k): v for r in rows for k, v in r.items() if VAL_KEY.match(k)} for n, rows in runs.items()}
    for step_key in sorted(set().union(*[set(v) for v in val.values()]), key=lambda t: (t[1], t[0])):
        lines.append(f"| {step_key[1]} | {step_key[0]} | " + " | ".join(_fmt(val[n].get(step_key)) for n in names)
                     + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repo", type=pathlib.Path, default=REPO, help="checkout to run in (set up already)")
    ap.add_argument("--precisions", default="auto", help="VERL_SCORE_CPU_PRECISION per run, comma-separated")
    ap.add_argument("--out", type=pathlib.Path, default=pathlib.Path("/tmp/main_job"), help="logs go here")
    ap.add_argument("overrides", nargs="*", help="hydra overrides passed to every run (e.g. "
                    "actor_rollout_ref.model.enable_gradient_checkpointing=False)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=args.repo, capture_output=True,
                            text=True).stdout.strip()
    print(f"main job: bash scripts/quickstart.sh {' '.join(args.overrides)} in {args.repo} (commit {commit}); "
          f"load at start {load_avg()}")
    runs: dict[str, list[dict]] = {}
    parts: list[str] = []
    print("| precision | exit | wall | output lines | peak PSS sum | peak system used - idle |\n|---|---|---|---|---|---|")
    for i, precision in enumerate(args.precisions.split(",")):
        # a precision named twice is a second run of it: sampling is not seeded, so two runs of one precision show
        # the run-to-run noise the precisions' difference is judged against
        name = precision if precision not in runs else f"{precision}#{i + 1}"
        log = args.out / f"quickstart_{name}.log"
        r = run_main_job(args.repo, precision, log, args.overrides)
        chosen = next((x for x in log.read_text().splitlines() if x.startswith("[cpu] precision")), "?")
        print(f"| {name}: {chosen} | {r['rc']} | {r['wall_s'] // 60:.0f} min {r['wall_s'] % 60:.0f} s | {r['lines']} | "
              f"{r['peak_pss_gb']} GB | {r['peak_system_delta_gb']} GB |", flush=True)
        parts.append(f"{name}: {r['peak_parts']}")
        runs[name] = keep_run(args.repo, name, args.out)
    print("\nPSS at each run's peak, GB:\n" + "\n".join(parts))
    print()
    print(side_by_side(runs))
    print(f"load at end {load_avg()}; logs in {args.out}")


if __name__ == "__main__":
    main()
