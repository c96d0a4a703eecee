"""key_step: 1.0 correct, else 0.5 teacher's step / 0.0 repeated mistake / 0.1 other, matcher switchable."""

from __future__ import annotations

import asyncio

import pytest

from verl_score.rewards.key_step import (
    DEFAULT_STEP_DELIMITERS,
    first_step,
    step_similarity,
)
from verl_score.rewards.step_match import StepMatch, get_step_matcher_cls, register_step_matcher
from verl_score.rewards.registry import build_reward

EXTRA = {
    "teacher_step": "Thought: the area of a circle uses the radius squared.\n<code>area = math.pi * r ** 2</code>",
    "student_mistake_step": "Thought: the area of a circle is pi times diameter.\n<code>area = math.pi * d</code>",
}


@pytest.fixture(scope="module")
def reward():
    return build_reward("key_step", answer_module="exact_match")


def score(module, response, gold="28.27", extra=EXTRA):
    return asyncio.run(module(response, gold, dict(extra)))


def test_correct_final_answer_scores_one(reward):
    result = score(reward, "Thought: whatever.\n<code>print(1)</code>\nThe final answer is 28.27. I hope")
    assert result.score == 1.0 and result.extra["reason"] == "correct"


def test_teacher_step_scores_half(reward):
    # Same code up to formatting (AST-equal), different prose: the code decides.
    step = "Thought: use r squared for a circle's area.\n<code>area = math.pi*r**2  # formula</code>\nObservation: ..."
    result = score(reward, step + "\nThe final answer is 3.")
    assert result.score == 0.5 and result.extra["reason"] == "teacher_step"


def test_repeated_mistake_scores_zero(reward):
    step = "Thought: the area of a circle is pi times diameter.\n<code>area = math.pi * d</code>"
    result = score(reward, step + "\nThe final answer is 3.")
    assert result.score == 0.0 and result.extra["reason"] == "repeated_mistake"


def test_other_step_scores_point_one(reward):
    result = score(reward, "Thought: search the web for circle facts.\n<code>web_search('circle')</code>")
    assert result.score == pytest.approx(0.1) and result.extra["reason"] == "other_step"


def test_only_the_first_step_counts(reward):
    # The mistake comes first; the teacher's step later must not rescue it.
    text = EXTRA["student_mistake_step"] + "\nObservation: 3.14\n" + EXTRA["teacher_step"]
    assert score(reward, text).extra["reason"] == "repeated_mistake"
    # step_texts from the agent loop take precedence over splitting the text
    extra = dict(EXTRA, step_texts=[EXTRA["teacher_step"], EXTRA["student_mistake_step"]])
    assert score(reward, "irrelevant text", extra=extra).extra["reason"] == "teacher_step"


def test_first_step_rules():
    assert first_step("Thought: a\n<code>x=1</code>\nObservation: 1\nmore", {}, DEFAULT_STEP_DELIMITERS) \
        == "Thought: a\n<code>x=1</code>"
    rendered = "Thought: divide.\nCode:\n```python\nprint(84 / 7)\n```\n\nThought: next.\nCode:\n```python\nx\n```"
    assert first_step(rendered, {}, DEFAULT_STEP_DELIMITERS) == "Thought: divide.\nCode:\n```python\nprint(84 / 7)\n```"
    no_code = "Thought: 84 / 7 is 14.\n\nThought: so 14.\nCode:\n```python\nprint(14)\n```"
    assert first_step(no_code, {}, DEFAULT_STEP_DELIMITERS) == "Thought: 84 / 7 is 14."
    assert first_step("Step one.\n\nStep two.", {}, [r"</code>", r"\n[ \t]*\n"]) == "Step one."


def test_similarity_is_code_aware():
    assert step_similarity("<code>x = f(a, b)</code>", "<code>x=f(a,b)   # same</code>") == 1.0
    assert step_similarity("<code>x = f(a, b)</code>", "<code>y = g(c)</code>") < 0.85
    assert step_similarity("The Answer, is: X", "the answer is x") == 1.0


def test_missing_schema_fields_are_clear_errors(reward):
    with pytest.raises(ValueError, match="teacher_step"):
        score(reward, "x", extra={"student_mistake_step": "y"})


def test_mps_rendered_steps():
    """The MPS data's rendering (render_step): fenced code, steps joined by blank lines, observations as turns."""
    from verl_score.contracts.steps import render_step

    teacher = render_step({"thought": "Divide 84 by 7 with Python to be exact.", "code": "print(84 / 7)"})
    mistake = render_step({"thought": "84 / 7 is 14.", "code": ""})
    extra = {"teacher_step": teacher, "student_mistake_step": mistake}
    module = build_reward("key_step")  # answer_module: math
    fixed = "Thought: Let me divide exactly.\nCode:\n```python\nprint(84/7)\n```\nObservation:\n12.0\n"
    assert asyncio.run(module(fixed + "Thought: wrong.\nFinal Answer: 13", "12", extra)).score == 0.5
    assert asyncio.run(module(mistake + "\n\nFinal Answer: The final answer is $14$.", "12", extra)).score == 0.0
    # the observation is its own turn: the answer after it (a blank line later) is the policy's and scores
    assert asyncio.run(module(fixed + "\nThe final answer is $12$.", "12", extra)).score == 1.0


def test_matcher_switch_uses_the_registry():
    calls = []

    @register_step_matcher("always_teacher_for_test")
    class AlwaysTeacher:
        def __init__(self, tag: str):
            self.tag = tag

        async def __call__(self, step, teacher_step, mistake_step, extra_info):
            calls.append((self.tag, step))
            return StepMatch("teacher", extra={"judge_calls": 1.0})

    module = build_reward("key_step", matcher="always_teacher_for_test", matcher_kwargs={"tag": "t"},
                          answer_module="exact_match")
    result = score(module, "Thought: nonsense.\n<code>pass</code>")
    assert result.score == 0.5 and calls and calls[0][0] == "t"
    with pytest.raises(KeyError, match="unknown step matcher"):
        get_step_matcher_cls("no_such_matcher")
