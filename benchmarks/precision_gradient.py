"""Does bf16 change what a SCoRe update learns? The same batch's policy gradient in fp32 and in bf16, on SmolLM2.

    python benchmarks/precision_gradient.py                  # 16 sampled sums, 64 tokens each
    python benchmarks/precision_gradient.py --sequences 32 --tokens 96

Why this and not only the main job's curves side by side: the main job draws 4 episodes a step and its rewards are
mostly 0, so two runs' curves differ by sampling alone, and the two precisions sample different tokens from step 1.
Here every precision sees the same token sequences and the same advantages, so the only difference is arithmetic.

The loss is the one SCoRe's update reduces to on fresh samples (ppo_epochs = 1, ratio 1): ``-mean_t(A · log p)``
over response tokens, with a fixed ±1 advantage per sequence (a REINFORCE step; the KL terms have zero gradient at
the reference, where every run starts). Three gradients of it:

- ``fp32``: fp32 weights, no autocast (``VERL_SCORE_CPU_PRECISION=fp32``);
- ``bf16``: what the CPU engines run under ``precision bf16``: FSDP2's ``param_dtype`` bf16 (weights cast to bf16 for
  compute) under bf16 autocast, log-probs from fp32 logits (the engine's hook, ``verl_score/cpu/platform.py``);
- ``fp32 half-batch``: the fp32 gradients of the two halves of the batch, against each other. This is the sampling
  noise of the estimator at half this batch: a precision error far below it cannot change what is learned.

Printed: the cosine between gradients, the relative error ``‖g − g_fp32‖ / ‖g_fp32‖`` and the share of Adam's first
step (``sign(g)``, weighted by ``|g_fp32|``) whose sign agrees with fp32's. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import torch

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _sample_batch(model, tok, n: int, tokens: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``n`` sampled answers (T = 0.7) to random two-operand sums: ``(ids, response mask, advantages)``."""
    g = torch.Generator().manual_seed(seed)
    rows, masks = [], []
    for i in range(n):
        a, b = (int(x) for x in torch.randint(0, 50, (2,), generator=g))
        chat = [{"role": "user", "content": f"What is {a} + {b}? Think step by step, then give the final answer."}]
        prompt = tok.apply_chat_template(chat, add_generation_prompt=True, return_tensors="pt", return_dict=True)
        attention = prompt["attention_mask"]
        prompt = prompt["input_ids"]
        torch.manual_seed(seed * 1000 + i)
        with torch.no_grad():
            out = model.generate(prompt, attention_mask=attention, do_sample=True, temperature=0.7, max_new_tokens=tokens, min_new_tokens=tokens,
                                 pad_token_id=tok.eos_token_id)
        rows.append(out[0])
        masks.append(torch.cat([torch.zeros(prompt.shape[1]), torch.ones(out.shape[1] - prompt.shape[1])]))
    width = max(len(r) for r in rows)
    ids = torch.full((n, width), tok.eos_token_id, dtype=torch.long)
    mask = torch.zeros(n, width)
    for i, (r, m) in enumerate(zip(rows, masks, strict=True)):  # left-aligned; padding is masked out
        ids[i, : len(r)] = r
        mask[i, : len(m)] = m
    adv = torch.tensor([1.0 if i % 2 == 0 else -1.0 for i in range(n)])
    return ids, mask, adv


def _grad(model, ids, mask, adv, bf16: bool) -> torch.Tensor:
    """The flattened gradient of ``-mean_t(A · log p)``, in fp32."""
    model.zero_grad(set_to_none=True)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        logits = model(ids).logits[:, :-1]
    logp = torch.log_softmax(logits.float(), -1).gather(-1, ids[:, 1:, None])[..., 0]  # fp32 logits: the engine hook
    m = mask[:, 1:]
    loss = -((adv[:, None] * logp * m).sum() / m.sum())
    loss.backward()
    return torch.cat([p.grad.float().reshape(-1) for p in model.parameters() if p.grad is not None])


def _compare(g: torch.Tensor, ref: torch.Tensor) -> tuple[float, float, float]:
    g, ref = g.double(), ref.double()  # 135M terms: an fp32 dot product drifts past cosine 1
    cos = float(torch.nn.functional.cosine_similarity(g, ref, dim=0))
    rel = float((g - ref).norm() / ref.norm())
    w = ref.abs()
    sign = float((w * (torch.sign(g) == torch.sign(ref))).sum() / w.sum())
    return cos, rel, sign


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sequences", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from verl_score.assets import asset_path
    from verl_score.cpu.precision import cpu_bf16_flags

    torch.set_num_threads(args.threads)
    path = asset_path("smollm2")
    tok = AutoTokenizer.from_pretrained(path)
    load = lambda: AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32,  # noqa: E731
                                                        attn_implementation="sdpa")
    fp32 = load().eval()  # eval: no dropout, so the only difference between runs is arithmetic
    t0 = time.perf_counter()
    ids, mask, adv = _sample_batch(fp32, tok, args.sequences, args.tokens, args.seed)
    g32 = _grad(fp32, ids, mask, adv, bf16=False)
    half = args.sequences // 2
    ga = _grad(fp32, ids[:half], mask[:half], adv[:half], bf16=False)
    gb = _grad(fp32, ids[half:], mask[half:], adv[half:], bf16=False)
    bf16 = load().eval().to(torch.bfloat16)  # FSDP2 param_dtype=bf16: weights cast for compute
    g16 = _grad(bf16, ids, mask, adv, bf16=True)
    flags = cpu_bf16_flags()
    print(f"SmolLM2-135M, {args.sequences} sampled sequences x {args.tokens} response tokens, seed {args.seed}, "
          f"{args.threads} threads, {time.perf_counter() - t0:.0f} s; processor bf16 flags: {flags or 'none'}")
    print("| gradient | vs | cosine | relative error | Adam first-step sign agreement (|g|-weighted) |")
    print("|---|---|---|---|---|")
    for name, g, ref, vs in (("bf16 (param_dtype bf16 + autocast)", g16, g32, "fp32, same batch"),
                             ("fp32, first half of the batch", ga, gb, "fp32, second half")):
        cos, rel, sign = _compare(g, ref)
        print(f"| {name} | {vs} | {cos:.4f} | {rel:.3f} | {100 * sign:.1f} % |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
