"""Why SCoRe's Stage I cannot be *shown* on the tiny random CPU model: its two attempts are coupled.

Offline (no Ray, no ``main_ppo``), the Stage I objective on the tiny random Qwen2 with the first-token stand-in reward
of ``tests/training/test_score_behaviour.py`` (``testkit/first_token_reward.py``, same shapes: 8
prompts x 4 samples of the bundled GSM8K sample, 4-token attempts, ``top_k`` 20, AdamW lr 1e-3, grad clip 1.0).
The PG and KL terms are verl-score's own :func:`verl_score.training.loss.score_loss_terms` (PG on attempt-2 tokens,
RLOO advantage of r2; β1 KL on all policy tokens, β2 KL on attempt-1 tokens, ``low_var_kl+``, token-mean over all
policy tokens of the batch as the worker does). Step 2 of this loop reproduces ``main_ppo``'s step 2 at β2 = 0
(attempt-1 KL 0.031 vs 0.032, all-token KL 0.066 vs 0.066).

What it prints per step: attempt-1 / attempt-2 reward rates of the step's rollouts (32 episodes, SE <= 0.09), the
attempt-1 KL term and the all-token KL term (both / all policy tokens). What it showed (2026-11-26, seed 0, 8
steps): at β2 = 0 attempt 1's rate rises with attempt 2's (r1 0.72 -> 0.97, r2 0.59 -> 0.97) and the attempt-1 KL is
half of the total (0.116 of 0.232), i.e. attempt 1 moves as much as attempt 2 although it gets no reward. β2 = 1
(10x the paper's) holds the attempt-1 KL at 0.04-0.05 (0.040 vs 0.116 at step 8) and attempt 1's rate near its start
(mean of steps 2-8 0.75 vs 0.72), but attempt 2 then rises only to about the same level (mean 0.79, Δ over those 224
episodes +0.04, SE ~0.04; both attempts' base rate is ~0.66); Seed 1 alike: β2 = 0 r1 0.69 -> 0.91-1.0 with r2; β2 =
1 attempt-1 KL 0.025 vs 0.089 at step 8, yet r1 0.84 (steps 2-8) vs 0.69 at step 1 and r2 0.81: Δ -0.03. β2 = 5
(same loop) holds attempt 2 back too. The reason is the model, not the loss: at an attempt's first token the random
2-layer model's next-token logits are set by the current token (``assistant\\n``) — 6-7 of the top-8 candidates
shared by both contexts, context moving their logits by 0.01-0.17 against a spread (std) of 0.23 — so any parameter
change that raises attempt 2's rewarded tokens raises attempt 1's, and the KL term can only trade the two off.
(Top-20 sampling from a near-flat 152k-token softmax also lets a rate move with a tiny KL.)

    PYTHONPATH=$PWD python benchmarks/stage1_coupling.py --beta2 0 1 --steps 8

The contrast, with ``--model`` pointing at the tiny CHAT model of the Stage I behaviour test
(``python -m testkit.tiny_chat_model /tmp/tiny_chat``: the same tiny Qwen2 after a minute of
next-token training to open a first and a second attempt with different words) and one-token attempts
(``--tokens 1 --lr 3e-3``), 2026-11-27, seed 0: at β2 = 0.1 attempt 2 goes 0.50 -> 0.91-0.94 by step 3 while attempt
1 stays at 0.28-0.53 (its exact untrained rate is 0.43; SE of one step's rate 0.09) and the attempt-1 KL term stays
at 0.000-0.012 — Stage I separates the attempts once the model can tell them apart. With two opening words shared
by both attempts (the fixture built with SECOND_OPENINGS = Re Actually Wait We Upon Looking Checking Let), seeds 0
and 1, ``--beta2 0 0.1 1``: the attempt-1 KL term at step 6 is 0.016 / 0.010 / 0.008 (seed 0) and 0.154 / 0.064 /
0.003 (seed 1), so β2 holds it; attempt 1's rate (mean of steps 3-6) is 0.49 / 0.45 / 0.44 and 0.51 / 0.53 / 0.46
against 0.43, too close to tell β2's effect on the rate apart from noise (SE ~0.04). One earlier build of that
fixture (32-sequence batches) drifted attempt 1 to 0.69-0.78 within 6 steps at β2 = 0 and 0.1 alike.

    PYTHONPATH=$PWD python benchmarks/stage1_coupling.py --beta2 0.1 --steps 6 --lr 3e-3 --tokens 1 --model /tmp/tiny_chat
"""

from __future__ import annotations

import argparse
import random
import tempfile

import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--beta2", type=float, nargs="+", default=[0.0, 1.0])
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--tokens", type=int, default=4, help="attempt length cap (the stand-in scores the first token)")
    ap.add_argument("--model", default=None, help="model directory (default: the tiny random Qwen2 asset)")
    args = ap.parse_args()
    for beta2 in args.beta2:
        print(f"beta2={beta2} seed={args.seed} lr={args.lr}")
        run(beta2, args.steps, args.seed, args.lr, tokens=args.tokens, model_path=args.model)


def run(beta2: float, steps: int, seed: int, lr: float, prompts: int = 8, samples: int = 4, tokens: int = 4,
        model_path: str | None = None) -> None:
    import pandas as pd
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from testkit.first_token_reward import first_token_reward
    from testkit.tiny_chat_model import gsm8k_chats, instruction_turn, prompt_ids
    from testkit.actor import actor_config
    from verl_score.assets import asset_path
    from verl_score.training.loss import score_loss_terms

    torch.manual_seed(seed)
    random.seed(seed)
    torch.set_num_threads(1)
    path = model_path or str(asset_path("tiny_qwen"))
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    ref = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    cfg = actor_config()
    end = tok.convert_tokens_to_ids("<|im_end|>")
    instr = instruction_turn(tok)
    with tempfile.TemporaryDirectory() as out:
        chats = list(pd.Series(gsm8k_chats(out)).sample(frac=1, random_state=7))  # the order data.seed=7 gives

    def sample(ctxs: list[list[int]]) -> list[list[int]]:
        outs = []
        with torch.no_grad():
            for c in ctxs:
                g = model.generate(torch.tensor([c]), max_new_tokens=tokens, do_sample=True, top_k=20, top_p=1.0,
                                   temperature=1.0, eos_token_id=end, pad_token_id=end)[0, len(c):].tolist()
                outs.append((g[: g.index(end)] if end in g else g) or [end])
        return outs

    for step in range(1, steps + 1):
        batch = chats[(step - 1) * prompts: step * prompts]
        ctx1 = [prompt_ids(tok, m) for m in batch for _ in range(samples)]
        a1 = sample(ctx1)
        ctx2 = [c + x + [end] + instr for c, x in zip(ctx1, a1)]
        a2 = sample(ctx2)
        r1 = torch.tensor([first_token_reward(tok.decode(x)) for x in a1])
        r2 = torch.tensor([first_token_reward(tok.decode(x)) for x in a2])
        grouped = r2.view(prompts, samples)
        adv2 = (grouped - (grouped.sum(1, keepdim=True) - grouped) / (samples - 1)).flatten()  # RLOO, Stage I: raw r2
        seqs = [c + x for c, x in zip(ctx2, a2)]
        width = max(map(len, seqs))
        ids = torch.full((len(seqs), width), end)
        att_mask = torch.zeros_like(ids)
        attempt = torch.zeros(len(seqs), width, dtype=torch.long)  # position t: the token predicted at t (= ids[t+1])
        for i, (c1, x1, c2, x2) in enumerate(zip(ctx1, a1, ctx2, a2)):
            ids[i, : len(seqs[i])] = torch.tensor(seqs[i])
            att_mask[i, : len(seqs[i])] = 1
            attempt[i, len(c1) - 1: len(c1) - 1 + len(x1)] = 1
            attempt[i, len(c2) - 1: len(c2) - 1 + len(x2)] = 2
        policy = attempt > 0
        adv = torch.where(attempt == 2, adv2[:, None], torch.zeros(()))
        cfg.global_batch_info.update(dp_size=1, batch_num_tokens=int(policy.sum()), global_batch_size=None,
                                     loss_scale_factor=None)

        def log_probs(m, sl):
            hidden = m.model(input_ids=ids[sl], attention_mask=att_mask[sl]).last_hidden_state
            sel = policy[sl]
            nxt = torch.roll(ids[sl], -1, dims=1)[sel]
            lp = torch.log_softmax(m.lm_head(hidden[sel]), -1).gather(-1, nxt[:, None])[:, 0]
            return torch.zeros(sel.shape).masked_scatter(sel, lp)

        opt.zero_grad()
        kl1 = kl_all = 0.0
        for start in range(0, len(seqs), 8):  # micro-batches; every term is already / all policy tokens
            sl = slice(start, start + 8)
            lp = log_probs(model, sl)
            with torch.no_grad():
                ref_lp = log_probs(ref, sl)
            t = score_loss_terms(lp, lp.detach(), ref_lp, adv[sl], policy[sl].long(), attempt[sl], stage=1,
                                 config=cfg)
            (t["pg"] + cfg.kl_loss_coef * t["kl_all"] + beta2 * t["kl_attempt1"]).backward()
            kl1 += t["kl_attempt1"].item()
            kl_all += t["kl_all"].item()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        print(f"  step {step}  r1 {r1.mean():.3f}  r2 {r2.mean():.3f}  kl_attempt1 {kl1:.4f}  kl_all {kl_all:.4f}  "
              f"grad_norm {grad_norm:.3f}", flush=True)


if __name__ == "__main__":
    main()
