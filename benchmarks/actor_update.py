"""One actor update on SmolLM2-135M as the CPU main job does it: gradient checkpointing on/off x micro-batch size.

    python benchmarks/actor_update.py                          # bf16 autocast if the processor has it, else fp32
    python benchmarks/actor_update.py --precision fp32 --seqs 16 --tokens 500

Each configuration runs in a fresh process (so peak RSS is its own): ``--seqs`` sequences of ``--tokens`` tokens,
forward + backward in micro-batches with the loss summed (gradient accumulation, as verl does), then AdamW, timed
best of ``--repeats`` after one warm-up. It reports wall time and the process's CPU time (user + system, both threads):
CPU time moves less than wall time when the machine is shared, so compare configurations by it when the load average
printed is above the core count. Peak RSS includes the model, fp32 master weights, gradients and Adam state.

Why: verl's default keeps activation (gradient) checkpointing on; it costs one extra forward per update (about 8·N·T
instead of 6·N·T FLOPs) to save activation memory a 135M model may not need. This prints what each choice costs here,
so the CPU launchers' setting (scripts/lib/cpu_env.sh) is chosen by measurement. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _one(args: argparse.Namespace) -> dict:
    import torch
    from transformers import AutoModelForCausalLM

    from verl_score.assets import asset_path

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(asset_path("smollm2"), dtype=torch.float32,
                                                 attn_implementation="sdpa")
    model.config.use_cache = False
    if args.gc:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-6)
    ids = torch.randint(100, 40000, (args.seqs, args.tokens))
    dtype = torch.bfloat16 if args.precision == "bf16" else torch.float32

    def update() -> None:
        opt.zero_grad(set_to_none=True)
        for i in range(0, args.seqs, args.micro):
            mb = ids[i: i + args.micro]
            with torch.autocast("cpu", dtype=dtype, enabled=dtype is torch.bfloat16):
                logits = model(input_ids=mb).logits
            logp = torch.log_softmax(logits.float(), dim=-1)
            loss = -logp[:, :-1].gather(-1, mb[:, 1:, None]).mean() * mb.shape[0] / args.seqs
            loss.backward()
        opt.step()

    update()  # warm-up (allocates Adam state)
    best_wall = best_cpu = float("inf")
    for _ in range(args.repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        update()
        best_wall = min(best_wall, time.perf_counter() - w0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    return {"wall_s": round(best_wall, 2), "cpu_s": round(best_cpu, 2),
            "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--precision", choices=("auto", "bf16", "fp32"), default="auto")
    ap.add_argument("--seqs", type=int, default=16, help="sequences per update (4 prompts x 4 samples)")
    ap.add_argument("--tokens", type=int, default=500, help="tokens per sequence (a SCoRe episode: ~82 prompt + "
                    "2 attempts of ~200 + the instruction)")
    ap.add_argument("--micro", default="2,4,8", help="micro-batch sizes")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        args.gc, args.micro = json.loads(args.child)
        print(json.dumps(_one(args)))
        return
    if args.precision == "auto":
        from verl_score.cpu.precision import choose_precision

        args.precision, why = choose_precision("auto")
        print(f"precision {args.precision} ({why})")
    print(f"{args.seqs} sequences x {args.tokens} tokens, best of {args.repeats}; load at start "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    print("| gradient checkpointing | micro-batch | wall | CPU time | peak RSS |\n|---|---|---|---|---|")
    for gc in (True, False):
        for micro in (int(m) for m in args.micro.split(",")):
            cmd = [sys.executable, __file__, "--precision", args.precision, "--seqs", str(args.seqs), "--tokens",
                   str(args.tokens), "--repeats", str(args.repeats), "--child", json.dumps([gc, micro])]
            out = subprocess.run(cmd, capture_output=True, text=True)
            if out.returncode:
                print(f"| {gc} | {micro} | failed: {out.stderr.strip().splitlines()[-1:]} | | |", flush=True)
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"| {'on' if gc else 'off'} | {micro} | {r['wall_s']} s | {r['cpu_s']} s | {r['peak_rss_gb']} GB |",
                  flush=True)
    print(f"load at end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
