"""``score_prefix_rollout`` driven in-process: real verl agent-loop base, real Qwen2.5 tokenizer/template, real
bubblewrap sandbox, rows from the real MPS converter. Only the engine's token choice is scripted where code must
be written (``ScriptedTestEngine``); one test runs the real tiny model through ``HFGenerator``."""

from __future__ import annotations

import pytest

from verl_score.episodes.codeact import parse_turn, split_steps
from verl_score.episodes.prefix_rollout import StopReason

from tests.prefix.conftest import (
    GREEDY,
    LocalServerManager,
    ScriptedTestEngine,
    forced_logprobs,
    loop_kwargs,
    make_loop,
    mask_runs,
    real_generator,
    spans,
)

CODE_TURN = "Thought: Use the stored count.\nCode:\n```python\nprint(marbles // 6)\n```"
FINAL_TURN = "Thought: So each child gets 617.\n\nFinal Answer: 617"


def marbles_row(rl_rows):
    row = rl_rows[0]
    assert row["extra_info"]["mps_id"] == "pfx-001"
    return row


@pytest.mark.asyncio
async def test_prefix_replay_makes_prefix_variable_visible_to_first_tool_call(rl_rows, tokenizer, model):
    row = marbles_row(rl_rows)
    # the converter put the verified prefix (2 steps, code cells defining `marbles`) in the prompt already
    assert row["extra_info"]["verified_prefix_len"] == 2
    assert "marbles = 1234 * 3" in row["prompt"][-2]["content"] and row["prompt"][-1]["content"] == "Observation:\n3702"
    engine = ScriptedTestEngine(tokenizer, model, [CODE_TURN, FINAL_TURN])
    loop = make_loop(LocalServerManager(engine), tokenizer)
    out = await loop.run(dict(GREEDY), **loop_kwargs(row))

    # The observation of the first tool call holds 3702 // 6 = 617: `marbles` came from the replayed prefix cell.
    observations = [tokenizer.decode(s) for s in spans(out.response_ids, out.response_mask, 0)]
    assert "Observation:\n617" in observations[0], observations
    assert "NameError" not in "".join(observations)
    # the second generation saw that observation in its prompt
    assert "Observation:\n617" in tokenizer.decode(engine.prompts[1])
    # prompt_ids are exactly what the engine got first (system + problem + prefix + generation prompt)
    assert out.prompt_ids == engine.prompts[0]
    assert out.extra_fields["stop_reason"] == StopReason.FINAL_ANSWER
    assert out.extra_fields["final_answer_text"] == "617"


@pytest.mark.asyncio
async def test_without_replay_the_same_call_fails(rl_rows, tokenizer, model):
    """Negative control: the prefix variable is visible only because of the replay."""
    engine = ScriptedTestEngine(tokenizer, model, [CODE_TURN, FINAL_TURN])
    loop = make_loop(LocalServerManager(engine), tokenizer, replay_prefix=False)
    out = await loop.run(dict(GREEDY), **loop_kwargs(marbles_row(rl_rows)))
    first_obs = tokenizer.decode(spans(out.response_ids, out.response_mask, 0)[0])
    assert "NameError" in first_obs and "617" not in first_obs


@pytest.mark.asyncio
async def test_masks_logprobs_and_step_texts(rl_rows, tokenizer, model):
    engine = ScriptedTestEngine(tokenizer, model, [CODE_TURN, FINAL_TURN])
    loop = make_loop(LocalServerManager(engine), tokenizer)
    out = await loop.run(dict(GREEDY), **loop_kwargs(marbles_row(rl_rows)))
    ids, mask, lps = out.response_ids, out.response_mask, out.response_logprobs
    assert len(ids) == len(mask) == len(lps)
    # model turn (1) -> observation turn incl. template tokens (0) -> model turn (1)
    assert [v for v, _ in mask_runs(mask)] == [1, 0, 1]
    model_spans = spans(ids, mask, 1)
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert [tokenizer.decode(s) for s in model_spans] == [CODE_TURN + "<|im_end|>", FINAL_TURN + "<|im_end|>"]
    obs = tokenizer.decode(spans(ids, mask, 0)[0])
    assert obs == "\n<|im_start|>user\nObservation:\n617<|im_end|>\n<|im_start|>assistant\n", repr(obs)
    # log-probs: the engine's on mask 1 (real tiny-model numbers), 0 on mask 0
    assert all(lp == 0.0 for lp, m in zip(lps, mask) if m == 0)
    first = [lp for lp, m in zip(lps, mask) if m == 1][: len(model_spans[0])]
    assert first == pytest.approx(forced_logprobs(model, engine.prompts[0], model_spans[0]), abs=1e-6)
    assert model_spans[0][-1] == end
    # the whole response is the engine's prompt continuation: prompt + response == last engine prompt + last turn
    assert out.prompt_ids + ids == engine.prompts[1] + model_spans[1]
    # step texts: first generated step first, in the converter's render_step format; no "Final Answer" tail
    assert out.extra_fields["step_texts"] == [CODE_TURN, "Thought: So each child gets 617."]
    assert out.extra_fields["num_tool_calls"] == 1 and out.extra_fields["num_assistant_turns"] == 2
    assert out.extra_fields["min_global_steps"] == out.extra_fields["max_global_steps"] == 5
    # the first step is exactly the teacher's correction as the converter rendered it (what key_step compares)
    teacher = row_teacher = marbles_row(rl_rows)["extra_info"]["teacher_step"]
    assert row_teacher.startswith("Thought: Share them among 6 children.\nCode:\n```python\nprint(marbles // 6)")
    assert out.extra_fields["step_texts"][0] != teacher  # different thought text: scored by similarity, not ==


@pytest.mark.asyncio
async def test_horizon_is_respected_and_last_code_not_run(rl_rows, tokenizer, model):
    looping = "Thought: Look again.\nCode:\n```python\nprint(marbles + 1)\n```"
    engine = ScriptedTestEngine(tokenizer, model, [looping])
    loop = make_loop(LocalServerManager(engine), tokenizer, max_assistant_turns=3, response_length=1024)
    out = await loop.run(dict(GREEDY), **loop_kwargs(marbles_row(rl_rows)))
    assert len(engine.prompts) == 3
    assert out.extra_fields["stop_reason"] == StopReason.MAX_TURNS
    assert out.extra_fields["num_assistant_turns"] == 3 and out.extra_fields["num_tool_calls"] == 2
    assert out.extra_fields["step_texts"] == [looping] * 3
    assert [v for v, _ in mask_runs(out.response_mask)] == [1, 0, 1, 0, 1]  # ends on the policy's turn
    assert all("3703" in tokenizer.decode(s) for s in spans(out.response_ids, out.response_mask, 0))
    assert out.extra_fields["final_answer_text"] is None


@pytest.mark.asyncio
async def test_token_budget_ends_before_an_observation_that_cannot_fit(rl_rows, tokenizer, model):
    n_turn = len(tokenizer.encode(CODE_TURN, add_special_tokens=False)) + 1
    engine = ScriptedTestEngine(tokenizer, model, [CODE_TURN])
    loop = make_loop(LocalServerManager(engine), tokenizer, response_length=n_turn + 5)
    out = await loop.run(dict(GREEDY), **loop_kwargs(marbles_row(rl_rows)))
    assert out.extra_fields["stop_reason"] == StopReason.TOKEN_BUDGET
    assert out.response_mask == [1] * n_turn and len(out.response_ids) <= n_turn + 5
    # and a per-turn cap cuts a turn on length
    engine = ScriptedTestEngine(tokenizer, model, [CODE_TURN])
    loop = make_loop(LocalServerManager(engine), tokenizer, max_turn_tokens=6)
    out = await loop.run(dict(GREEDY), **loop_kwargs(marbles_row(rl_rows)))
    assert out.extra_fields["stop_reason"] == StopReason.LENGTH and out.response_mask == [1] * 6


@pytest.mark.asyncio
async def test_real_tiny_model_through_hf_generator(rl_rows, tokenizer, model):
    """The unscripted path: the random tiny model via HFGenerator/LocalServerManager (it writes no code, so the
    episode ends after one turn); every token is the model's, with the generator's log-probs."""
    gen = real_generator(model)
    manager = LocalServerManager(gen)
    loop = make_loop(manager, tokenizer, max_turn_tokens=12)
    out = await loop.run(dict(GREEDY), **loop_kwargs(rl_rows[1]))
    assert manager.calls == 1 and out.response_mask == [1] * len(out.response_ids)
    assert out.response_logprobs == pytest.approx(forced_logprobs(model, out.prompt_ids, out.response_ids), abs=1e-4)
    text = tokenizer.decode(out.response_ids)
    assert out.extra_fields["step_texts"] == parse_turn(text).steps
    assert out.extra_fields["stop_reason"] in (StopReason.LENGTH, StopReason.NO_CODE, StopReason.FINAL_ANSWER)
    assert out.extra_fields["min_global_steps"] == out.extra_fields["max_global_steps"] == 7


def test_parse_turn_pieces():
    text = ("Thought: a\nCode:\n```python\nx = 1\n```\n\nThought: b\nCode:\n```py\nprint(x)\n```\n"
            "Observation:\n1 (invented)\nThought: c")
    turn = parse_turn(text)
    assert turn.steps == ["Thought: a\nCode:\n```python\nx = 1\n```", "Thought: b\nCode:\n```py\nprint(x)\n```"]
    assert turn.code == ["x = 1", "print(x)"] and turn.final_answer is None
    assert parse_turn("Thought: done \\boxed{42}").final_answer == "42"
    assert parse_turn("I think.\nThought: x\n\nFinal Answer: 7").steps == ["I think.", "Thought: x"]
    assert split_steps("") == [] and parse_turn("Code:\n```python\nprint(1)").code == []  # unclosed: not run


@pytest.mark.asyncio
async def test_prefix_ending_in_assistant_message_is_continued_like_the_sft_data(rl_rows, tokenizer, model):
    """pfx-002's prefix is one step whose code printed nothing, so the prompt ends with an assistant message. The
    SFT data joins such steps with a blank line in ONE assistant message; the rollout continues that message."""
    row = rl_rows[1]
    assert row["extra_info"]["mps_id"] == "pfx-002" and row["prompt"][-1]["role"] == "assistant"
    turn = "Thought: Add them with Python.\nCode:\n```python\nprint(sum(xs))\n```"
    engine = ScriptedTestEngine(tokenizer, model, [turn, "Thought: It is 108.\n\nFinal Answer: 108"])
    loop = make_loop(LocalServerManager(engine), tokenizer)
    out = await loop.run(dict(GREEDY), **loop_kwargs(row))
    prompt = tokenizer.decode(out.prompt_ids)
    assert prompt.endswith("xs = [4, 8, 15, 16, 23, 42]\n```\n\n"), repr(prompt[-80:])
    assert prompt.count("<|im_start|>assistant") == 1
    # the text of the SFT rendering of prefix + this step (steps_to_messages joins them with "\n\n"). Only the
    # token split at the seam can differ: BPE merges "`\n\n" / ".\n\n" when the whole message is tokenized at once.
    from verl_score.contracts.steps import steps_to_messages

    steps = [dict(s) for s in row["extra_info"]["prefix_steps"]]
    steps.append({"thought": "Add them with Python.", "code": "print(sum(xs))", "observation": "108"})
    sft = [dict(m) for m in row["prompt"][:2]] + steps_to_messages(steps)
    sft_text = tokenizer.apply_chat_template(sft, tokenize=False, add_generation_prompt=False)
    first_turn = spans(out.response_ids, out.response_mask, 1)[0]
    rollout_text = tokenizer.decode(out.prompt_ids + first_turn)
    assert sft_text.startswith(rollout_text), (rollout_text[-120:], sft_text[-200:])
    assert rollout_text.endswith("```\n\nThought: Add them with Python.\nCode:\n```python\nprint(sum(xs))\n```<|im_end|>")
    # the replayed prefix cell defined xs
    assert "Observation:\n108" in tokenizer.decode(spans(out.response_ids, out.response_mask, 0)[0])
    assert out.extra_fields["step_texts"][0] == turn and out.extra_fields["final_answer_text"] == "108"
    assert out.num_turns == 2 + 1 + 1  # two policy turns, one observation, the prompt
