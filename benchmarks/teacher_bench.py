"""Teacher-in-the-loop throughput against loopback servers: teacher verdicts/s and MPS trajectories/min.

The student and teacher are the scripted fault server of ``testkit/scripted_teacher.py`` in its own process (so the
server does not share the client's GIL), answering after a fixed latency. Figures therefore measure our side:
the async client, strict verdict parsing, the sandboxed code replay (bubblewrap, one fresh interpreter per code
step) and the fsync'ed jsonl writer -- not model speed.

    python -m benchmarks.teacher_bench [--latency 0.05] [--teacher-calls 400] [--problems 24] [--concurrency 8]

Workloads:
* teacher calls/s: ``MentoredSolver._review`` (one HTTP call + strict JSON validation) at ``--call-concurrency``.
* trajectories/min, "arith": 5 student calls, 2 teacher calls, 3 sandboxed code runs (one replaying a prefix cell)
  and one teacher correction per problem -- the full MPS path.
* trajectories/min, "easy": 1 student + 1 teacher call per problem, no code (the HTTP + writer floor).

Recorded 2026-11-22 on the shared 2-core CPU dev box (load average 9-25 from other jobs), MPS concurrency 8:
  latency 50 ms, 64 calls in flight:  teacher 421-559 verdicts/s; MPS arith 296-384 trajectories/min,
                                      easy 3,134-3,724 trajectories/min.
  latency 500 ms, 128 calls in flight: teacher 170 verdicts/s (latency bound 256/s); arith 106/min (bound ~130/min:
                                      7 sequential calls + 3 sandbox runs per trajectory), easy 454/min (bound 480).
An arith trajectory costs 7 round trips + 3 bubblewrap interpreter starts (~20-60 ms each here); with a real 72B
teacher (seconds per verdict) throughput is set by concurrency x latency, so raise ``mps.concurrency``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from verl_score.llm import LLMClient  # noqa: E402
from verl_score.teacher.mps import MentoredSolver, MPSConfig, Problem, run_datagen  # noqa: E402
from verl_score.contracts.steps import Step  # noqa: E402


def _serve(latency: float) -> None:
    """Child: the scripted server, prints ``PORT n`` and serves until killed."""
    from testkit.fault_server import FaultServer, Ok
    from testkit import scripted_teacher

    srv = FaultServer(default=Ok(content_fn=scripted_teacher.reply, latency_s=latency)).start()
    print(f"PORT {srv.port}", flush=True)
    while True:
        time.sleep(3600)


def _start(latency: float) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks.teacher_bench", "--serve", "--latency", str(latency)],
                            cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("PORT "):
        proc.kill()
        raise RuntimeError(f"scripted server did not start: {line!r}")
    return proc, f"http://127.0.0.1:{int(line.split()[1])}/v1"


def _solver(url: str, concurrency: int, client_concurrency: int) -> MentoredSolver:
    kw = dict(base_url=url, max_retries=0, timeout_s=30, concurrency=client_concurrency)
    return MentoredSolver(LLMClient(**kw), LLMClient(**kw), MPSConfig(concurrency=concurrency))


async def _teacher_calls(solver: MentoredSolver, n: int, concurrency: int) -> float:
    from testkit import scripted_teacher

    problem = Problem("bench", scripted_teacher.ARITH, "11")
    steps = [Step("a"), Step("b", "a = 4 * 2", "8\n"), Step("c", "b = 3 * a", "24\n"), Step("d")]
    sem = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with sem:
            from verl_score.teacher.mps import _Counts

            verdict = await solver._review(problem, steps, "24", 0, _Counts())
            assert verdict is not None and verdict.first_error_step == 2

    await one()  # warm the connection pool
    start = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(n)))
    return n / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--latency", type=float, default=0.05, help="server latency per request, seconds")
    ap.add_argument("--teacher-calls", type=int, default=400)
    ap.add_argument("--call-concurrency", type=int, default=64)
    ap.add_argument("--problems", type=int, default=24)
    ap.add_argument("--concurrency", type=int, default=8, help="MPS problems in flight")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve:
        _serve(args.latency)
        return
    from testkit import scripted_teacher

    proc, url = _start(args.latency)
    try:
        solver = _solver(url, args.concurrency, max(args.call_concurrency, args.concurrency))
        calls_per_s = asyncio.run(_teacher_calls(solver, args.teacher_calls, args.call_concurrency))
        results = {"latency_s": args.latency, "teacher_calls_per_s": round(calls_per_s, 1),
                   "teacher_call_concurrency": args.call_concurrency}
        with tempfile.TemporaryDirectory() as tmp:
            arith = [Problem(f"arith-{i}", scripted_teacher.ARITH, "11", "bench") for i in range(args.problems)]
            s = asyncio.run(run_datagen(arith, Path(tmp) / "arith.jsonl", _solver(url, args.concurrency, 64),
                                        progress=False))
            assert s["kept"] == args.problems, s
            results["arith_trajectories_per_min"] = s["trajectories_per_min"]
            results["arith_seconds_per_trajectory_at_concurrency"] = round(s["elapsed_s"] / args.problems, 3)
            easy = [Problem(p["id"], p["problem"], p["ground_truth"], "bench")
                    for p in scripted_teacher.easy_problems(args.problems * 4)]
            s = asyncio.run(run_datagen(easy, Path(tmp) / "easy.jsonl", _solver(url, args.concurrency, 64),
                                        progress=False))
            assert s["kept"] == len(easy), s
            results["easy_trajectories_per_min"] = s["trajectories_per_min"]
        results["mps_concurrency"] = args.concurrency
        results["load_average_1m"] = round(os.getloadavg()[0], 2)
        print(json.dumps(results, indent=1))
    finally:
        proc.kill()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
