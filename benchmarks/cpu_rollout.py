"""CPU rollout backend figures: hfcpu tokens/s vs plain HF generate, and the tiny main_ppo run's step breakdown + memory.

    python benchmarks/cpu_rollout.py                 # both parts
    python benchmarks/cpu_rollout.py --skip-run      # generation throughput only (~1 min)
    python benchmarks/cpu_rollout.py --model smollm2 # throughput on the real 135M model

Targets (issue #2): backend ≥ 0.9x plain HF generate tokens/s; tiny run peak memory ≤ 6 GB. Figures only; nothing
here is asserted. CPU timings on a shared 2-core machine vary 2-3x between runs: compare within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import threading
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PROMPTS = [
    "What is 17 + 25?",
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many clips did she sell altogether?",
    "Write one sentence about the sea.",
    "List three prime numbers.",
]


def _used_memory_bytes() -> int:
    info = {}
    with open("/proc/meminfo") as f:
        for line in f:
            key, value = line.split(":", 1)
            info[key] = int(value.split()[0]) * 1024
    return info["MemTotal"] - info["MemAvailable"]


def generation_throughput(model_name: str, max_tokens: int, repeats: int) -> dict[str, float]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from verl_score.assets import asset_path
    from verl_score.cpu.generator import HFGenerator, LocalServerManager

    torch.set_num_threads(1)
    path = asset_path(model_name)
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, attn_implementation="sdpa").eval()
    prompts = [
        tok.encode(tok.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True, tokenize=False), add_special_tokens=False)
        for p in PROMPTS
    ]
    manager = LocalServerManager(HFGenerator(model=model, response_length=max_tokens, num_threads=1))
    params = {"temperature": 0.0, "max_tokens": max_tokens, "ignore_eos": True}

    def plain() -> int:
        n = 0
        for ids in prompts:
            with torch.inference_mode():
                out = model.generate(torch.tensor([ids]), max_new_tokens=max_tokens, min_new_tokens=max_tokens, do_sample=False, pad_token_id=0)
            n += out.shape[1] - len(ids)
        return n

    async def backend() -> int:
        n = 0
        for i, ids in enumerate(prompts):
            out = await manager.generate(f"r{i}", prompt_ids=ids, sampling_params=params)
            n += len(out.token_ids)
        return n

    plain()  # warm-up
    asyncio.run(backend())
    results: dict[str, list[float]] = {"plain_hf_generate": [], "hfcpu_backend": []}
    for _ in range(repeats):  # interleave so load changes hit both alike
        t = time.perf_counter(); n = plain(); results["plain_hf_generate"].append(n / (time.perf_counter() - t))
        t = time.perf_counter(); n = asyncio.run(backend()); results["hfcpu_backend"].append(n / (time.perf_counter() - t))
    best = {k: max(v) for k, v in results.items()}
    best["ratio"] = best["hfcpu_backend"] / best["plain_hf_generate"]
    return best


def tiny_run(steps: int) -> dict[str, object]:
    run_dir = pathlib.Path(tempfile.mkdtemp(prefix="bench_tiny_grpo_"))
    baseline = _used_memory_bytes()
    peak = [baseline]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _used_memory_bytes())
            time.sleep(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    proc = subprocess.run(
        ["bash", "scripts/run_tiny_grpo_cpu.sh", f"reward.custom_reward_function.path={REPO / 'tests/cpu/varying_reward.py'}",
         f"trainer.total_training_steps={steps}"],
        cwd=REPO, env={**os.environ, "RUN_DIR": str(run_dir)}, capture_output=True, text=True,
    )
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"tiny run failed:\n{(proc.stdout + proc.stderr)[-3000:]}")
    lines = [json.loads(x) for x in (run_dir / "logs/verl_score/tiny_grpo_cpu.jsonl").read_text().splitlines()]
    phases = ("gen", "old_log_prob", "ref", "adv", "update_actor", "update_weights", "step")
    breakdown = {m["step"]: {p: round(m["data"].get(f"timing_s/{p}", float("nan")), 3) for p in phases} for m in lines}
    return {
        "wall_s": round(wall, 1),
        "steps": breakdown,
        "peak_job_memory_gb": round((peak[0] - baseline) / 2**30, 2),
        "actor_cpu_memory_used_gb": round(max(m["data"].get("actor/perf/cpu_memory_used_gb", 0) for m in lines), 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="tiny_qwen", choices=["tiny_qwen", "smollm2"])
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--skip-run", action="store_true")
    args = ap.parse_args()

    tp = generation_throughput(args.model, args.max_tokens, args.repeats)
    print(f"\n## Generation throughput ({args.model}, greedy, {len(PROMPTS)} prompts x {args.max_tokens} tokens, 1 thread, best of {args.repeats})")
    print("| engine | tokens/s |\n|---|---|")
    print(f"| plain HF generate | {tp['plain_hf_generate']:.1f} |\n| hfcpu backend (with log-probs) | {tp['hfcpu_backend']:.1f} |")
    print(f"ratio backend/plain = {tp['ratio']:.2f} (target >= 0.9)")
    if args.skip_run:
        return
    run = tiny_run(args.steps)
    print(f"\n## Tiny main_ppo GRPO run ({args.steps} steps, wall {run['wall_s']} s incl. Ray start)")
    phases = list(next(iter(run["steps"].values())))
    print("| step | " + " | ".join(phases) + " |\n|" + "---|" * (len(phases) + 1))
    for step, t in run["steps"].items():
        print(f"| {step} | " + " | ".join(str(t[p]) for p in phases) + " |")
    print(f"peak memory of the job (system used - baseline): {run['peak_job_memory_gb']} GB (target <= 6 GB); "
          f"actor/perf/cpu_memory_used_gb max {run['actor_cpu_memory_used_gb']}")


if __name__ == "__main__":
    main()
