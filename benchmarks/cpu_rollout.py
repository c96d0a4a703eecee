"""CPU path figures, on the tiny random Qwen2 and on SmolLM2-135M, in one run (issue 14). Nothing is asserted.

    /work/heavy python benchmarks/cpu_rollout.py                      # everything, both models (~15-25 min loaded)
    python benchmarks/cpu_rollout.py --skip-run --skip-threads        # generation throughput only
    python benchmarks/cpu_rollout.py --models smollm2 --steps 3       # one model

Per model it prints:
1. hfcpu tokens/s with 1 and with 16 concurrent requests vs plain HF ``generate`` called once per request on the same
   prompts (sampled at T=1, fixed length). Targets: >= 1.0x at 1, >= 3x at 16.
2. 1 vs 2 torch threads for generation (16 concurrent) and for one actor update (forward + backward + AdamW on a
   16-sequence batch), each in a fresh process.
3. Real ``main_ppo`` SCoRe runs (``scripts/run_tiny_score_cpu.sh``, 4 prompts x 4 samples), one per
   ``--precisions`` (default fp32, the machine's choice (``verl_score/cpu/precision.py``) and that choice with LoRA:
   ``auto+lora`` = ``LORA_RANK=--lora-rank`` on all linear layers, docs/cpu.md "LoRA"): per-phase step breakdown,
   the rollout/actor log-prob gap, ratios against fp32 measured in the same run
   and peak memory, sampled every 0.5 s as the sum of PSS over the run's process tree (PSS splits shared pages, so
   the sum is the job's footprint at that instant, not a sum of per-process peaks) and as system used memory minus
   the baseline (includes other users of a shared machine). Targets: SmolLM2 step <= 30 s, peak <= 8 GB.

CPU timings on a shared 2-core machine vary 2-3x between runs: compare within one run; load averages are printed.
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
PHASES = ("gen", "old_log_prob", "ref", "adv", "update_actor", "update_weights", "step")
#: how far the rollout's log-probs are from the actor's (verl's rollout-correction metrics; 0 when old log-probs are
#: the rollout's own, fp32 bypass mode)
GAP_KEYS = ("training/rollout_probs_diff_mean", "training/rollout_probs_diff_max", "rollout_corr/kl",
            "rollout_corr/log_ppl_abs_diff")


def load_avg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _load(model_name: str):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from verl_score.assets import asset_path

    path = asset_path(model_name)
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, attn_implementation="sdpa").eval()
    prompts = [
        tok.encode(tok.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True, tokenize=False), add_special_tokens=False)
        for p in PROMPTS
    ]
    return model, prompts


def generation_throughput(model_name: str, max_tokens: int) -> dict[str, float]:
    """Tokens/s: plain HF generate per request, hfcpu one request at a time, hfcpu 16 requests at once."""
    import torch

    from verl_score.cpu.generator import HFGenerator

    torch.set_num_threads(1)
    model, prompts = _load(model_name)
    gen = HFGenerator(model=model, prompt_length=256, response_length=max_tokens, num_threads=1)
    params = {"temperature": 1.0, "max_tokens": max_tokens, "ignore_eos": True}

    def plain(ps) -> float:
        t = time.perf_counter()
        for ids in ps:
            with torch.inference_mode():
                model.generate(torch.tensor([ids]), max_new_tokens=max_tokens, min_new_tokens=max_tokens, do_sample=True,
                               temperature=1.0, top_p=1.0, top_k=0, pad_token_id=0)
        return len(ps) * max_tokens / (time.perf_counter() - t)

    def hfcpu(ps, concurrent: bool) -> float:
        async def run():
            if concurrent:
                await asyncio.gather(*[gen.generate(f"r{i}", prompt_ids=p, sampling_params=params) for i, p in enumerate(ps)])
            else:
                for i, p in enumerate(ps):
                    await gen.generate(f"r{i}", prompt_ids=p, sampling_params=params)

        t = time.perf_counter()
        asyncio.run(run())
        return len(ps) * max_tokens / (time.perf_counter() - t)

    plain(prompts[:1]), hfcpu(prompts[:1], False)  # warm-up
    # Interleaved, so load changes on the shared machine hit all three alike.
    res = {"plain_hf_generate": plain(prompts), "hfcpu_1": hfcpu(prompts, False), "hfcpu_16": hfcpu(prompts * 4, True)}
    res["plain_hf_generate"] = (res["plain_hf_generate"] + plain(prompts)) / 2
    res["ratio_1"] = res["hfcpu_1"] / res["plain_hf_generate"]
    res["ratio_16"] = res["hfcpu_16"] / res["plain_hf_generate"]
    res["max_batch_seen"] = gen.max_batch_seen
    return res


def thread_probe(model_name: str, threads: int, max_tokens: int, seq_len: int) -> dict[str, float]:
    """In a fresh process: hfcpu tokens/s with 16 concurrent requests, and seconds per actor update step."""
    import torch

    from verl_score.cpu.generator import HFGenerator

    torch.set_num_threads(threads)
    model, prompts = _load(model_name)
    gen = HFGenerator(model=model, prompt_length=256, response_length=max_tokens, num_threads=threads)
    params = {"temperature": 1.0, "max_tokens": max_tokens, "ignore_eos": True}

    async def run():
        await asyncio.gather(*[gen.generate(f"r{i}", prompt_ids=p, sampling_params=params) for i, p in enumerate(prompts * 4)])

    asyncio.run(run())  # warm-up
    t = time.perf_counter()
    asyncio.run(run())
    gen_tok_s = 16 * max_tokens / (time.perf_counter() - t)

    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-6)
    batch = torch.randint(0, model.config.vocab_size - 1, (16, seq_len))
    times = []
    for _ in range(2):  # the first step allocates optimizer state
        t = time.perf_counter()
        for micro in batch.split(4):  # the launchers' ppo_micro_batch_size_per_gpu=4
            model(input_ids=micro, labels=micro).loss.backward()
        opt.step()
        opt.zero_grad()
        times.append(time.perf_counter() - t)
    return {"threads": threads, "gen_tok_s": gen_tok_s, "update_s": times[-1]}


def threads_compare(model_name: str, max_tokens: int, seq_len: int) -> list[dict[str, float]]:
    out = []
    for n in (1, 2):
        env = {**os.environ, "OMP_NUM_THREADS": str(n), "PYTHONPATH": str(REPO)}
        proc = subprocess.run(
            [sys.executable, __file__, "--probe-threads", str(n), "--models", model_name, "--max-tokens", str(max_tokens),
             "--seq-len", str(seq_len)],
            env=env, capture_output=True, text=True, cwd=REPO,
        )
        if proc.returncode != 0:
            raise SystemExit(f"thread probe failed:\n{proc.stderr[-3000:]}")
        out.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return out


# ---------------------------------------------------------------------- main_ppo run
def _used_memory_bytes() -> int:
    info = {}
    with open("/proc/meminfo") as f:
        for line in f:
            key, value = line.split(":", 1)
            info[key] = int(value.split()[0]) * 1024
    return info["MemTotal"] - info["MemAvailable"]


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def _process_label(pid: int) -> str:
    """A readable name: Ray's actor/task title (``ray::WorkerDict``), else the module (``-m verl.trainer.main_ppo``
    → ``main_ppo``), the script (``python -u x.py`` → ``x.py``) or the program (``raylet``)."""
    try:
        argv = [a.decode(errors="replace") for a in pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if a]
    except OSError:
        return "?"
    if not argv:
        return "?"
    if argv[0].startswith("ray::"):
        return argv[0].split()[0].split(".")[0]
    if "-m" in argv[:-1]:
        return argv[argv.index("-m") + 1].split(".")[-1]
    script = next((a for a in argv[1:] if a.endswith(".py")), argv[0])
    return pathlib.Path(script).name or "?"


def _pss_by_process(pids: list[int]) -> list[tuple[str, int]]:
    """(label, PSS bytes) of each process that is still there."""
    out = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        out.append((_process_label(pid), int(line.split()[1]) * 1024))
                        break
        except OSError:
            continue
    return out


def track_peak(peak: dict, pids: list[int]) -> None:
    """Keep in ``peak`` the largest PSS sum seen and, for that sample, where it was (``peak["parts"]``): the memory
    target is met or missed by the process mix at one instant, so the breakdown must come from the same sample."""
    parts = _pss_by_process(pids)
    total = sum(b for _, b in parts)
    if total > peak.get("pss", 0):
        peak["pss"], peak["parts"] = total, sorted(parts, key=lambda x: -x[1])


def format_parts(parts: list[tuple[str, int]], top: int = 9) -> str:
    """``ray::WorkerDict 4.61, ray::HFCpuServer 1.20, ... (+12 more 0.61)`` in GB."""
    head = ", ".join(f"{name} {b / 2**30:.2f}" for name, b in parts[:top])
    rest = parts[top:]
    return head + (f" (+{len(rest)} more {sum(b for _, b in rest) / 2**30:.2f})" if rest else "")


def main_ppo_run(model_name: str, steps: int, prompts: int, samples: int, extra: list[str],
                 precision: str = "auto", lora_rank: int = 0) -> dict[str, object]:
    """One SCoRe run (``scripts/run_tiny_score_cpu.sh``: two-attempt episodes, Stage I then Stage II, the real math
    reward) with ``VERL_SCORE_CPU_PRECISION=precision`` and, when ``lora_rank`` > 0, ``LORA_RANK=lora_rank``."""
    from verl_score.assets import asset_path

    run_dir = pathlib.Path(tempfile.mkdtemp(prefix=f"bench_score_{model_name}_{precision}_lora{lora_rank}_"))
    baseline = _used_memory_bytes()
    peak = {"pss": 0, "system": baseline, "procs": 0}
    done = threading.Event()
    proc_holder: list[subprocess.Popen] = []

    def sample() -> None:
        while not done.is_set():
            if proc_holder:
                pids = _tree(proc_holder[0].pid)
                track_peak(peak, pids)
                peak["procs"] = max(peak["procs"], sum(1 for p in pids if _is_python(p)))
            peak["system"] = max(peak["system"], _used_memory_bytes())
            time.sleep(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    cmd = [
        "bash", "scripts/run_tiny_score_cpu.sh",
        f"data.train_batch_size={prompts}", f"actor_rollout_ref.rollout.n={samples}",
        f"actor_rollout_ref.actor.ppo_mini_batch_size={prompts}", "trainer.test_freq=-1", *extra,
    ]
    env = {**os.environ, "RUN_DIR": str(run_dir), "MODEL": str(asset_path(model_name)), "VERL_SCORE_CPU_PRECISION": precision,
           "STAGE1_STEPS": "1", "STAGE2_STEPS": str(max(steps - 1, 0)), "DATA_DIR": str(run_dir / "data"),
           "LORA_RANK": str(lora_rank)}
    start = time.perf_counter()
    log_path = run_dir / "launcher.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        proc_holder.append(proc)
        rc = proc.wait()
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    if rc != 0:
        raise SystemExit(f"main_ppo run failed (log {log_path}):\n{log_path.read_text()[-3000:]}")
    lines = [json.loads(x) for x in (run_dir / "logs/verl_score/tiny_score_cpu.jsonl").read_text().splitlines()]
    lines = [m for m in lines if "training/global_step" in m["data"]]
    breakdown = {m["step"]: {p: round(m["data"].get(f"timing_s/{p}", float("nan")), 2) for p in PHASES} for m in lines}
    chosen = next((x for x in log_path.read_text().splitlines() if x.startswith("[cpu] precision")), "?")
    lora = next((x for x in log_path.read_text().splitlines() if x.startswith("[verl-score] LoRA")), "full fine-tuning")
    gap = {k: round(m["data"][k], 4) for m in lines[-1:] for k in GAP_KEYS if k in m["data"]}
    return {
        "precision": chosen,
        "lora": lora,
        "rollout_actor_gap": gap,
        "wall_s": round(wall, 1),
        "steps": breakdown,
        "response_length": [round(m["data"].get("response_length/mean", 0), 1) for m in lines],
        "peak_pss_gb": round(peak["pss"] / 2**30, 2),
        "peak_parts": format_parts(peak.get("parts", [])),
        "peak_system_delta_gb": round((peak["system"] - baseline) / 2**30, 2),
        "python_processes": peak["procs"],
        "log": str(log_path),
        "log_lines": sum(1 for _ in open(log_path)),
    }


def _is_python(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/comm") as f:
            comm = f.read().strip()
        return comm.startswith(("python", "ray::", "raylet", "gcs_server")) or "ray::" in comm
    except OSError:
        return False


def print_throughput(name: str, max_tokens: int) -> None:
    tp = generation_throughput(name, max_tokens)
    print(f"\n## {name}: generation throughput (sampled, T=1, {max_tokens} tokens/request, 1 thread; load {load_avg()})")
    print("| engine | tokens/s | vs plain |\n|---|---|---|")
    print(f"| plain HF generate, once per request | {tp['plain_hf_generate']:.1f} | 1.00 |")
    print(f"| hfcpu, 1 request at a time | {tp['hfcpu_1']:.1f} | {tp['ratio_1']:.2f} (target >= 1.0) |")
    print(f"| hfcpu, 16 concurrent requests | {tp['hfcpu_16']:.1f} | {tp['ratio_16']:.2f} (target >= 3) |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="tiny_qwen,smollm2")
    ap.add_argument("--max-tokens", type=int, default=48)
    ap.add_argument("--seq-len", type=int, default=192, help="tokens per sequence in the thread probe's actor update")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--prompts", type=int, default=4)
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--skip-run", action="store_true")
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--skip-threads", action="store_true")
    ap.add_argument("--thread-models", default=None, help="models for the 1-vs-2-thread probe (default: --models)")
    ap.add_argument("--probe-threads", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--precisions", default="fp32,auto,auto+lora",
                    help="one main_ppo run each: VERL_SCORE_CPU_PRECISION (fp32 | auto | bf16), with '+lora' for LoRA "
                         "(fp32 first: the others get a ratio to it)")
    ap.add_argument("--lora-rank", type=int, default=16, help="LORA_RANK of the '+lora' runs (alpha 2 x rank)")
    ap.add_argument("extra", nargs="*", help="hydra overrides passed to the main_ppo run")
    args = ap.parse_args()
    models = args.models.split(",")
    if args.probe_threads:
        print(json.dumps(thread_probe(models[0], args.probe_threads, args.max_tokens, args.seq_len)))
        return

    print(f"load average at start: {load_avg()} ({os.cpu_count()} cores)")
    for name in models:
        if not args.skip_throughput:
            print_throughput(name, args.max_tokens)
        if not args.skip_threads and name in (args.thread_models or args.models).split(","):
            rows = threads_compare(name, args.max_tokens, args.seq_len)
            print(f"\n## {name}: torch threads (fresh process each; load {load_avg()})")
            print(f"| threads | hfcpu 16 concurrent tok/s | actor update 16 x {args.seq_len} tokens (s) |\n|---|---|---|")
            for r in rows:
                print(f"| {r['threads']} | {r['gen_tok_s']:.1f} | {r['update_s']:.2f} |")
        if not args.skip_run:
            runs = {}
            for variant in args.precisions.split(","):
                precision, _, suffix = variant.partition("+")
                if suffix not in ("", "lora"):
                    raise SystemExit(f"--precisions: {variant!r}: expected PRECISION or PRECISION+lora")
                rank = args.lora_rank if suffix == "lora" else 0
                run = runs[variant] = main_ppo_run(name, args.steps, args.prompts, args.samples, args.extra, precision, rank)
                print(f"\n## {name}: main_ppo SCoRe (Stage I then II), {args.prompts} prompts x {args.samples} samples, "
                      f"{args.steps} steps, VERL_SCORE_CPU_PRECISION={precision}"
                      f"{f', LORA_RANK={rank}' if rank else ''} (wall {run['wall_s']} s incl. Ray start; "
                      f"load {load_avg()})")
                print(run["precision"])
                print(run["lora"])
                print("| step | " + " | ".join(PHASES) + " |\n|" + "---|" * (len(PHASES) + 1))
                for step, t in run["steps"].items():
                    print(f"| {step} | " + " | ".join(str(t[p]) for p in PHASES) + " |")
                print(f"response_length/mean per step: {run['response_length']}")
                print(f"rollout vs actor log-probs, last step: {run['rollout_actor_gap']}")
                print(f"peak memory: {run['peak_pss_gb']} GB (sum of PSS over the run's processes, sampled; target <= 8 GB "
                      f"with SmolLM2); system used - baseline {run['peak_system_delta_gb']} GB (shared machine)")
                print(f"python/ray processes at peak: {run['python_processes']}; log: {run['log']} ({run['log_lines']} lines)")
                print(f"PSS at the peak, GB: {run['peak_parts']}")
            if "fp32" in runs and len(runs) > 1:
                print(f"\n## {name}: ratio to fp32, mean over steps 2..{args.steps} (step 1 includes warm-up)")
                print("| run | " + " | ".join(PHASES) + " | peak PSS |\n|" + "---|" * (len(PHASES) + 2))

                def late_mean(run, p):
                    vals = [t[p] for step, t in run["steps"].items() if step > 1] or [t[p] for t in run["steps"].values()]
                    return sum(vals) / len(vals)

                for precision, run in runs.items():
                    cells = [f"{late_mean(run, p) / late_mean(runs['fp32'], p):.2f}" if late_mean(runs["fp32"], p) else "-"
                             for p in PHASES]
                    print(f"| {precision} | " + " | ".join(cells) + f" | {run['peak_pss_gb'] / runs['fp32']['peak_pss_gb']:.2f} |")
    print(f"\nload average at end: {load_avg()}")


if __name__ == "__main__":
    main()
