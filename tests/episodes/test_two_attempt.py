"""``score_two_attempt`` with the real tiny Qwen2 + real Qwen2.5 tokenizer behind verl's generate contract."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from verl_score.cpu.generator import HFGenerator, LocalServerManager
from verl_score.prompts import CODE_SELF_CORRECTION, MATH_SELF_CORRECTION

from tests.episodes.conftest import CODE_PROBLEM, GREEDY, PROBLEM, eos_biased_model, mask_runs

# Words that would reveal the correctness of the previous attempt (old verl Gsm8kInteraction said "Your response is
# incorrect!"). The paper's math instruction legitimately contains "I hope it is correct", so "correct" alone is fine.
LEAKY = ("incorrect", "wrong", "is not correct", "your answer is", "mistake was", "failed", "right answer")


class RecordingManager(LocalServerManager):
    """LocalServerManager that keeps every (prompt_ids, sampling_params, TokenOutput) it served."""

    def __init__(self, generator: HFGenerator) -> None:
        super().__init__(generator)
        self.log: list[tuple[list[int], dict[str, Any], Any]] = []

    async def generate(self, request_id, *, prompt_ids, sampling_params, **kwargs):
        out = await super().generate(request_id, prompt_ids=prompt_ids, sampling_params=dict(sampling_params), **kwargs)
        self.log.append((list(prompt_ids), dict(sampling_params), out))
        return out


def chat_prompt(tokenizer, messages) -> list[int]:
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    return list(ids["input_ids"] if hasattr(ids, "keys") else ids)


def instruction_turn(text: str) -> str:
    return f"<|im_start|>user\n{text}<|im_end|>\n<|im_start|>assistant\n"


def forward_logprobs(model, prompt_ids: list[int], response_ids: list[int]) -> torch.Tensor:
    ids = torch.tensor([prompt_ids + response_ids])
    with torch.inference_mode():
        logits = model(input_ids=ids).logits[0].float()
    p = len(prompt_ids)
    lp = torch.log_softmax(logits[p - 1 : p - 1 + len(response_ids)], dim=-1)
    return lp.gather(-1, torch.tensor(response_ids)[:, None])[:, 0]


def check_alignment(out, tokenizer) -> None:
    """Contract invariants shared by every episode."""
    mask, idx = out.response_mask, out.attempt_index
    assert len(out.response_ids) == len(mask) == len(idx) == len(out.response_logprobs)
    assert [int(a > 0) for a in idx] == mask, "attempt_index must be nonzero exactly on policy tokens"
    assert all(lp == 0.0 for lp, m in zip(out.response_logprobs, mask) if m == 0), "mask-0 positions carry log-prob 0"
    k = out.extra_fields["num_attempts"]
    assert sorted(set(idx) - {0}) == list(range(1, k + 1))
    # each attempt is one contiguous span, in order
    spans = [a for a, _ in mask_runs(idx) if a]
    assert spans == list(range(1, k + 1))
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
    for a, text in enumerate(out.extra_fields["attempt_texts"], start=1):
        ids = [t for t, i in zip(out.response_ids, idx) if i == a]
        while ids and ids[-1] == eos:
            ids = ids[:-1]
        assert text == tokenizer.decode(ids, skip_special_tokens=False)


@pytest.mark.asyncio
async def test_normal_stop_mask_instruction_logprobs(model, tokenizer, loop_factory):
    """Attempt 1 ends on <|im_end|> by itself: mask 1…1 0…0 1…1, the zeros are exactly the instruction turn."""
    prompt = chat_prompt(tokenizer, PROBLEM)
    biased, n1 = eos_biased_model(model, tokenizer, prompt)
    gen = HFGenerator(model=biased, prompt_length=256, response_length=256, num_threads=1)
    gen.set_global_steps(11)
    manager = RecordingManager(gen)
    loop = loop_factory(manager, attempt_max_tokens=[n1 + 4, 12], min_attempt_tokens=8)
    out = await loop.run(dict(GREEDY), raw_prompt=PROBLEM, extra_info={"task": "math"})

    assert out.prompt_ids == prompt
    r = mask_runs(out.response_mask)
    assert [v for v, _ in r] == [1, 0, 1], r
    assert r[0][1] == n1 and out.response_ids[n1 - 1] == tokenizer.convert_tokens_to_ids("<|im_end|>")
    zeros = [t for t, m in zip(out.response_ids, out.response_mask) if m == 0]
    # "\n" is the boundary Qwen's template puts after <|im_end|>; the generated <|im_end|> itself is policy (mask 1)
    assert tokenizer.decode(zeros) == "\n" + instruction_turn(MATH_SELF_CORRECTION)
    check_alignment(out, tokenizer)

    # generated ids are appended verbatim (never re-encoded), and attempt 2 was prompted with the whole history
    (p1, s1, o1), (p2, s2, o2) = manager.log
    a1 = [t for t, i in zip(out.response_ids, out.attempt_index) if i == 1]
    a2 = [t for t, i in zip(out.response_ids, out.attempt_index) if i == 2]
    assert a1 == o1.token_ids and a2 == o2.token_ids
    assert p2 == out.prompt_ids + out.response_ids[: len(out.response_ids) - len(a2)]
    assert (s1["max_tokens"], s2["max_tokens"]) == (n1 + 4, 12)

    # rollout log-probs = a forward pass of the same model over prompt + response, at every policy token
    ref = forward_logprobs(biased, out.prompt_ids, out.response_ids)
    got = torch.tensor(out.response_logprobs)
    pol = torch.tensor(out.response_mask, dtype=torch.bool)
    assert torch.allclose(got[pol], ref[pol], atol=1e-4), (got[pol] - ref[pol]).abs().max()

    ef = out.extra_fields
    assert ef["num_attempts"] == 2 and ef["guidance"] == ["static"] and ef["attempt_truncated"][0] is False
    assert ef["min_global_steps"] == 11 and ef["max_global_steps"] == 11
    assert out.num_turns == 4


@pytest.mark.asyncio
async def test_truncated_attempt_is_closed_and_greedy_matches_generate(model, tokenizer, generator, loop_factory):
    """Attempt 1 cut on length: <|im_end|> appended with mask 0 before the instruction; greedy attempt 1 equals
    plain ``model.generate`` on the same prompt."""
    manager = RecordingManager(generator)
    loop = loop_factory(manager, attempt_max_tokens=12, min_attempt_tokens=8)
    out = await loop.run({**GREEDY, "ignore_eos": True}, raw_prompt=PROBLEM, extra_info={"task": "math"})

    prompt = chat_prompt(tokenizer, PROBLEM)
    with torch.inference_mode():
        ref = model.generate(
            input_ids=torch.tensor([prompt]), attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
            max_new_tokens=12, do_sample=False, eos_token_id=None, pad_token_id=0,
        )[0, len(prompt):].tolist()
    assert out.response_ids[:12] == ref

    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert out.response_ids[12] == im_end and out.response_mask[12] == 0 and out.attempt_index[12] == 0
    r = mask_runs(out.response_mask)
    assert [v for v, _ in r] == [1, 0, 1] and r[0][1] == 12 and r[2][1] == 12
    zeros = [t for t, m in zip(out.response_ids, out.response_mask) if m == 0]
    assert tokenizer.decode(zeros) == "<|im_end|>\n" + instruction_turn(MATH_SELF_CORRECTION)
    assert out.extra_fields["attempt_truncated"] == [True, True]
    assert out.extra_fields["attempt_texts"][0] == tokenizer.decode(ref)
    check_alignment(out, tokenizer)
    ref_lp = forward_logprobs(model, out.prompt_ids, out.response_ids)
    pol = torch.tensor(out.response_mask, dtype=torch.bool)
    assert torch.allclose(torch.tensor(out.response_logprobs)[pol], ref_lp[pol], atol=1e-4)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "row, problem, instruction",
    [
        ({"extra_info": {"task": "math"}}, PROBLEM, MATH_SELF_CORRECTION),
        ({"ability": "code", "extra_info": {}}, CODE_PROBLEM, CODE_SELF_CORRECTION),
        ({"ability": "math", "extra_info": {"task": "code"}}, CODE_PROBLEM, CODE_SELF_CORRECTION),  # task wins
    ],
    ids=["extra_info-math", "ability-code", "task-overrides-ability"],
)
async def test_three_attempts_and_instruction_by_task(tokenizer, loop_factory, row, problem, instruction):
    """K=3 (inference-time scaling): two instruction turns, chosen by task, never revealing correctness."""
    loop = loop_factory(num_attempts=3, attempt_max_tokens=6, min_attempt_tokens=4)
    out = await loop.run({**GREEDY, "ignore_eos": True}, raw_prompt=problem, **row)

    assert [v for v, _ in mask_runs(out.response_mask)] == [1, 0, 1, 0, 1]
    check_alignment(out, tokenizer)
    assert out.extra_fields["num_attempts"] == 3 and len(out.extra_fields["attempt_texts"]) == 3
    assert out.extra_fields["guidance"] == ["static", "static"]
    assert out.num_turns == 6
    # the injected spans, decoded from the actual tokens
    injected, cur = [], []
    for t, m in zip(out.response_ids, out.response_mask):
        if m == 0:
            cur.append(t)
        elif cur:
            injected.append(tokenizer.decode(cur))
            cur = []
    assert injected == ["<|im_end|>\n" + instruction_turn(instruction)] * 2
    for text in injected:
        assert not any(word in text.lower() for word in LEAKY), text
