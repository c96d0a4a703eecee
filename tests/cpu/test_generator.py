"""The hfcpu generator against plain transformers on the same real (tiny) model: same greedy tokens, same log-probs."""

from __future__ import annotations

import asyncio

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from verl_score.cpu.generator import LENGTH, HFGenerator, LocalServerManager


@pytest.fixture(scope="module")
def tiny(assets):
    torch.set_num_threads(1)
    path = assets["tiny_qwen"]
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, attn_implementation="sdpa").eval()
    gen = HFGenerator(model=model, prompt_length=128, response_length=24, num_threads=1)
    text = tok.apply_chat_template([{"role": "user", "content": "What is 2 + 3?"}], add_generation_prompt=True, tokenize=False)
    prompt = tok.encode(text, add_special_tokens=False)
    return model, tok, gen, prompt


def _forward_logprobs(model, prompt: list[int], tokens: list[int], temperature: float = 1.0) -> torch.Tensor:
    with torch.no_grad():
        logits = model(torch.tensor([prompt + tokens])).logits[0, len(prompt) - 1 : -1].float() / temperature
    return torch.log_softmax(logits, -1).gather(-1, torch.tensor(tokens)[:, None])[:, 0]


def test_greedy_tokens_equal_plain_generate(tiny):
    model, _tok, gen, prompt = tiny
    out = asyncio.run(gen.generate("r", prompt_ids=prompt, sampling_params={"temperature": 0.0, "top_k": -1, "top_p": 1.0}))
    with torch.no_grad():
        ref = model.generate(
            torch.tensor([prompt]), max_new_tokens=24, do_sample=False, eos_token_id=gen.eos_token_ids, pad_token_id=gen.eos_token_ids[0]
        )
    assert out.token_ids == ref[0, len(prompt) :].tolist()
    assert len(out.token_ids) > 0


def test_logprobs_match_forward_pass(tiny):
    model, _tok, gen, prompt = tiny
    for temperature in (0.0, 1.0, 0.7):
        out = asyncio.run(gen.generate("r", prompt_ids=prompt, sampling_params={"temperature": temperature, "seed": 1}))
        expected = _forward_logprobs(model, prompt, out.token_ids, temperature if temperature > 0 else 1.0)
        assert torch.allclose(torch.tensor(out.log_probs), expected, atol=1e-4), temperature


def test_max_tokens_default_and_length_stop(tiny):
    _model, _tok, gen, prompt = tiny
    # vLLM's default: the response budget, clipped to what the total budget leaves after the prompt.
    assert gen.default_max_tokens(10) == 24
    assert gen.default_max_tokens(140) == 128 + 24 - 140
    assert gen.default_max_tokens(200) == 0
    out = asyncio.run(gen.generate("r", prompt_ids=prompt, sampling_params={"temperature": 1.0, "max_tokens": 5, "ignore_eos": True}))
    assert len(out.token_ids) == 5 and out.stop_reason == LENGTH


def test_weight_update_changes_generation_and_rejects_foreign_tensors(tiny, assets):
    model, _tok, _gen, prompt = tiny
    fresh = AutoModelForCausalLM.from_pretrained(assets["tiny_qwen"], dtype=torch.float32).eval()
    gen = HFGenerator(model=fresh, prompt_length=128, response_length=8, num_threads=1)
    manager = LocalServerManager(gen)
    new_state = {k: v + 0.05 * torch.randn_like(v) for k, v in model.state_dict().items()}
    gen.load_weights(new_state)
    gen.set_global_steps(3)
    out = asyncio.run(manager.generate("r", prompt_ids=prompt, sampling_params={"temperature": 0.0}))
    assert out.extra_fields["min_global_steps"] == 3 == out.extra_fields["max_global_steps"]
    shifted = AutoModelForCausalLM.from_pretrained(assets["tiny_qwen"], dtype=torch.float32).eval()
    shifted.load_state_dict(new_state)
    expected = _forward_logprobs(shifted, prompt, out.token_ids)
    assert torch.allclose(torch.tensor(out.log_probs), expected, atol=1e-4)
    with pytest.raises(ValueError, match="unexpected"):
        gen.load_weights({"lora_A.weight": torch.zeros(2, 2)})


def test_chunked_weight_update_holds_decoding_and_checks_coverage(tiny, assets):
    """The streamed update (begin / chunk… / end) loads exactly what a one-shot update loads, refuses a
    mis-shaped tensor, and refuses to finish when a parameter never arrived (releasing the engine either way)."""
    model, _tok, _gen, prompt = tiny
    fresh = AutoModelForCausalLM.from_pretrained(assets["tiny_qwen"], dtype=torch.float32).eval()
    gen = HFGenerator(model=fresh, prompt_length=128, response_length=8, num_threads=1)
    shifted = AutoModelForCausalLM.from_pretrained(assets["tiny_qwen"], dtype=torch.float32).eval()
    with torch.no_grad():
        for p in shifted.parameters():  # unique parameters: tied embedding / lm_head stay one tensor
            p.add_(0.05 * torch.randn_like(p))
    new_state = {k: v.clone() for k, v in shifted.state_dict().items()}
    names = list(new_state)
    gen.begin_weight_update()
    assert not gen._step_lock.acquire(blocking=False)  # decoding is held between chunks
    for i in range(0, len(names), 3):
        gen.load_weight_chunk({k: new_state[k] for k in names[i : i + 3]})
    gen.end_weight_update()
    assert gen._step_lock.acquire(blocking=False)
    gen._step_lock.release()
    for k, v in gen.model.state_dict().items():
        assert torch.equal(v, new_state[k]), k

    gen.begin_weight_update()
    with pytest.raises(ValueError, match="shape of"):
        gen.load_weight_chunk({names[0]: new_state[names[0]][:1]})
    gen.end_weight_update(check=False)
    gen.begin_weight_update()
    gen.load_weight_chunk({names[0]: new_state[names[0]]})
    with pytest.raises(ValueError, match="missing="):
        gen.end_weight_update()
    assert gen._step_lock.acquire(blocking=False)  # released despite the error
    gen._step_lock.release()
    with pytest.raises(RuntimeError, match="outside begin_weight_update"):
        gen.load_weight_chunk({names[0]: new_state[names[0]]})
    LocalServerManager(gen)  # still usable
