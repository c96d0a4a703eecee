#!/usr/bin/env python
"""Latency of the math reward from call to return, on THIS repo's corpus, for any checkout of the reward.

    python benchmarks/math_latency.py --busy 2                 # this tree
    python benchmarks/math_latency.py --busy 2 --tree /tmp/old # an older checkout (e.g. ``git archive`` of a commit)

Why a separate script: ``benchmarks/rewards.py`` measures this tree only; comparing before/after a change needs the
same cases, the same busy loops and the same script on both trees, run back to back. Prints: every corpus case one
at a time (``MathReward.score``); the corpus plus the pathological inputs awaited at once through
``MathReward.__call__`` (as verl's reward loop does) at the configured 10 s bound; and 18 pathological + 100 corpus
calls at a 3 s bound with risky checks not cut short (where available), where the pathological checks run into the
deadline: the max overshoot past the bound. ``--busy N`` runs N busy-loop processes meanwhile ("another job on the
cores"). CPU timings on a shared 2-core machine are noisy: compare runs made back to back.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import inspect
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--busy", type=int, default=0, help="busy-loop processes to run meanwhile")
    ap.add_argument("--tree", default=str(HERE), help="the checkout whose verl_score is measured")
    args = ap.parse_args()
    sys.path.insert(0, args.tree)
    from verl_score.rewards.math_equiv import MathReward  # first: benchmarks/rewards.py puts this repo on sys.path
    from verl_score.rewards.registry import build_reward

    # the corpus and the pathological inputs always come from THIS repo (the same cases for every tree)
    corpus = _load("_math_corpus", HERE / "testkit/math_corpus.py")
    bench = _load("_bench_rewards", HERE / "benchmarks/rewards.py")  # the timing pieces and pathological inputs
    pathological = bench.PATHOLOGICAL

    print(f"verl_score from {Path(inspect.getfile(MathReward)).parents[2]}, {args.busy} busy loops")
    ordinary = [c for c in corpus.cases() if not c.pathological and isinstance(c.response, str)]
    busy = bench.hogs(args.busy)
    try:
        rewards = {p: build_reward("math", workers=2, timeout_s=10.0, policy=p) for p in ("math_verify", "anchored")}
        for r in rewards.values():
            r.pool.warmup()
        times, timeouts = bench.time_one_at_a_time(rewards, ordinary)
        print(f"one at a time, n={len(times)}: {bench.quantiles(times)}  timeouts {timeouts}  "
              f"[load {os.getloadavg()[0]:.1f}]")
        for r in rewards.values():
            r.pool.close()

        cut = {"risky_check_s": 60.0} if "risky_check_s" in inspect.signature(MathReward).parameters else {}
        for timeout, rows, copies, label in ((10.0, len(ordinary), 1, "corpus + pathological awaited at once"),
                                             (3.0, 100, 2, "at a 3 s bound, risky checks not cut short")):
            rewards = {p: build_reward("math", workers=2, timeout_s=timeout, policy=p, **(cut if timeout < 10 else {}))
                       for p in ("math_verify", "anchored")}
            for r in rewards.values():
                r.pool.warmup()

            async def batch():
                jobs = [bench.timed_call(rewards[c.policy], c.response, c.gold) for c in ordinary[:rows]]
                jobs += [bench.timed_call(rewards["math_verify"], resp, gold) for resp, gold in pathological * copies]
                return await asyncio.gather(*jobs)

            out = asyncio.run(batch())
            for r in rewards.values():
                r.pool.close()
            mine = out[:rows]
            print(f"{label} (bound {timeout:g} s, {len(out)} calls): ordinary {bench.quantiles([t for t, _ in mine])}  "
                  f"timeouts {sum(w == 'verify_timeout' for _, w in mine)}/{rows}; max past the bound "
                  f"{(max(t for t, _ in out) - timeout) * 1e3:+.0f} ms  [load {os.getloadavg()[0]:.1f}]")
    finally:
        for h in busy:
            h.kill()


if __name__ == "__main__":
    main()
