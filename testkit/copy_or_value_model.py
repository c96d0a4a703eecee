"""A tiny CHAT model for the behaviour test of the math reward's copy guard: it answers one real arithmetic problem
either with the value or with the question's own expression, half and half.

Why it exists: in session 9 naive RL on SmolLM2 learned within 8 steps to end its answers with the question's
arithmetic ("The final answer is 59 + 93."), because math-verify evaluates what it parses and so scored the copy as
the gold 152. The fix (``verl_score/rewards/unevaluated.py``, ``MathReward(values_only=True)``) is unit-tested; this
fixture lets a test show what the real ``main_ppo`` run does with it: the copies are scored 0 during training and
the policy moves toward the value, where the unguarded reward would have paid both alike and given no signal.

What it is: ``tiny_qwen`` (same architecture, tokenizer and chat template) after a short, seeded, supervised
next-token training on two-attempt ChatML transcripts built as the ``score_two_attempt`` agent loop builds them: the
problem (a real row of the study task, ``results/study/task/train.parquet``) -> attempt 1 -> the static SCoRe
instruction turn -> attempt 2, each attempt :data:`value_answer` or :data:`copy_answer` uniformly, independently.
Every attempt token is trained, so a sampled attempt is one of the two strings; :func:`check` refuses a build where
it is not (>= 90 % of the top-k sampling mass) or where the value's share does not leave room to move (0.3-0.7).

    python -m testkit.copy_or_value_model OUT_DIR     # ~1 min on one CPU thread
"""

from __future__ import annotations

import dataclasses
import functools
import json
import pathlib
import random
import sys

from testkit.tiny_chat_model import instruction_turn, next_token_step, prompt_ids, save, seeded_tiny_qwen

REPO = pathlib.Path(__file__).resolve().parents[1]
TASK = REPO / "results/study/task/train.parquet"
PROBLEM_ID = "add_2d/1"  # "Calculate 66 + 22.", gold 88
SEED = 0
STEPS = 120
BATCH = 8
LR = 3e-3


@functools.lru_cache(maxsize=1)
def problem() -> dict:
    """The study task's row :data:`PROBLEM_ID`, as a plain dict (the verl parquet schema)."""
    import pandas as pd

    df = pd.read_parquet(TASK)
    rows = df[df["extra_info"].map(lambda e: e["id"] == PROBLEM_ID)]
    if len(rows) != 1:
        raise RuntimeError(f"{TASK}: expected one row with id {PROBLEM_ID}, found {len(rows)}")
    row = rows.iloc[0].to_dict()
    row["prompt"] = [dict(m) for m in row["prompt"]]
    return row


def expression() -> str:
    return json.loads(problem()["extra_info"]["rg_entry"])["metadata"]["expression"]


def value_answer() -> str:
    return f"The final answer is {problem()['reward_model']['ground_truth']}."


def copy_answer() -> str:
    """The hack: the question's arithmetic handed back as the answer."""
    return f"The final answer is {expression()}."


def build(out: pathlib.Path) -> pathlib.Path:
    """Train, save to ``out`` and check the result (:func:`check`); ~1 min on one thread."""
    rng = random.Random(SEED)
    with seeded_tiny_qwen(SEED, LR) as (src, tok, model, opt):
        end = tok.convert_tokens_to_ids("<|im_end|>")
        prompt = prompt_ids(tok, problem()["prompt"])
        instr = instruction_turn(tok)
        answers = [tok(a, add_special_tokens=False)["input_ids"] + [end] for a in (value_answer(), copy_answer())]
        for _ in range(STEPS):
            seqs, trained = [], []
            for _ in range(BATCH):
                a1, a2 = rng.choice(answers), rng.choice(answers)
                ctx2 = prompt + a1 + instr
                seqs.append(ctx2 + a2)
                # position t predicts token t+1: every token of both attempts (their <|im_end|> included)
                trained.append([*range(len(prompt) - 1, len(prompt) + len(a1) - 1),
                                *range(len(ctx2) - 1, len(ctx2) + len(a2) - 1)])
            loss = next_token_step(model, opt, seqs, trained, pad=end)
        save(model, tok, src, out)
        start = check(out)
    print(f"[copy_or_value_model] {STEPS} steps, final loss {loss:.3f}; {start} -> {out}", flush=True)
    return out


@dataclasses.dataclass(frozen=True)
class StartRates:
    """The built model's EXACT probabilities, before any RL, of sampling each whole attempt (temperature 1, top-k, as
    the rollout samples): ``value_tK`` the value, ``copy_tK`` the copy; attempt 2 averaged over attempt 1's two
    strings, weighted by their probabilities."""

    value_t1: float
    copy_t1: float
    value_t2: float
    copy_t2: float

    def __str__(self) -> str:
        return (f"start P(value)/P(copy) t1 {self.value_t1:.3f}/{self.copy_t1:.3f} "
                f"t2 {self.value_t2:.3f}/{self.copy_t2:.3f}")


@functools.lru_cache(maxsize=4)
def start_rates(model_dir: pathlib.Path, top_k: int = 20) -> StartRates:
    """Teacher-forced probability of each attempt string under top-k sampling (0 when a token falls outside the
    top k), so an assertion about a rate's move is not also about the sampling noise of step 1."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32).eval()
    end = tok.convert_tokens_to_ids("<|im_end|>")
    prompt = prompt_ids(tok, problem()["prompt"])
    instr = instruction_turn(tok)
    value, copy = (tok(a, add_special_tokens=False)["input_ids"] + [end] for a in (value_answer(), copy_answer()))

    def p_attempt(ctx: list[int], attempt: list[int]) -> float:
        ids = torch.tensor([ctx + attempt])
        with torch.no_grad():
            logits = model(ids).logits[0, len(ctx) - 1: len(ctx) + len(attempt) - 1]
        p = 1.0
        for row, target in zip(logits, attempt):
            top = row.topk(top_k)
            hit = (top.indices == target).nonzero()
            p *= float(top.values.softmax(-1)[hit[0, 0]]) if len(hit) else 0.0
        return p

    v1, c1 = p_attempt(prompt, value), p_attempt(prompt, copy)
    v2 = c2 = 0.0
    for a1, w in ((value, v1), (copy, c1)):
        ctx2 = prompt + a1 + instr
        v2 += w * p_attempt(ctx2, value)
        c2 += w * p_attempt(ctx2, copy)
    total = v1 + c1
    return StartRates(v1, c1, v2 / total, c2 / total)


def check(model_dir: pathlib.Path) -> StartRates:
    """Refuse a fixture that did not learn what the test presumes: each attempt is one of the two strings (>= 90 % of
    the sampled mass) and the value's share leaves room to move (0.3-0.7)."""
    s = start_rates(model_dir)
    for v, c in ((s.value_t1, s.copy_t1), (s.value_t2, s.copy_t2)):
        if v + c < 0.9 or not 0.3 <= v / (v + c) <= 0.7:
            raise RuntimeError(f"copy-or-value model at {model_dir} is not the fixture the test presumes: {s}")
    return s


if __name__ == "__main__":
    build(pathlib.Path(sys.argv[1]))
