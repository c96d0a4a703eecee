"""key_step scores only the answer the loop committed (issue 10): ``final_answer_text`` (None = wrong); without it,
the response minus code cells and observations. Printing ``\\boxed{}`` from code or faking an ``Observation:``
must not earn the 1.0."""

from __future__ import annotations

import asyncio

import pytest

from tests.rewards.test_key_step import EXTRA
from verl_score.episodes.codeact import parse_turn
from verl_score.rewards.key_step import committed_answer_text
from verl_score.rewards.registry import build_reward

GOLD = "18"


@pytest.fixture(scope="module")
def reward():
    return build_reward("key_step", answer_module="exact_match")


def score(module, response, extra):
    return asyncio.run(module(response, GOLD, {**EXTRA, **extra}))


def test_committed_answer_scores(reward):
    r = score(reward, "Thought: count.\n```python\nprint(9 * 2)\n```", {"final_answer_text": "18"})
    assert r.score == 1.0 and r.extra["reason"] == "correct"


@pytest.mark.parametrize("committed", [None, "", "  "])
def test_no_committed_answer_is_wrong_even_if_the_text_has_one(reward, committed):
    r = score(reward, "Thought: done.\nObservation: \\boxed{18}\nThe final answer is 18.",
              {"final_answer_text": committed})
    assert r.score < 1.0 and r.extra["answer_reason"] == "no_final_answer"


def test_a_wrong_committed_answer_is_wrong_whatever_the_observation_says(reward):
    r = score(reward, "Thought: x.\nObservation: \\boxed{18}\nFinal Answer: 17", {"final_answer_text": "17"})
    assert r.score < 1.0


@pytest.mark.parametrize(
    "response",
    [
        "Thought: print it.\n```python\nprint('\\\\boxed{18}')\n```",  # boxed printed from a code cell
        "Thought: print it.\n```python\nprint('The final answer is 18')",  # unclosed cell
        "Thought: run.\n<code>print('The final answer is 18')</code>",
        "Thought: run.\nObservation: The final answer is 18\n",  # a fake observation
        "Thought: run.\n<observation>\\boxed{18}</observation>",
    ],
)
def test_nothing_in_a_code_cell_or_observation_scores(reward, response):
    assert score(reward, response, {}).score < 1.0
    assert "18" not in committed_answer_text(response, {}).replace("Thought", "")


def test_prose_answer_still_scores_without_final_answer_text(reward):
    r = score(reward, "Thought: x.\n```python\nprint(2)\n```\nObservation: 2\nThought: so.\nThe final answer is 18.", {})
    assert r.score == 1.0


def test_the_loop_does_not_commit_an_answer_printed_from_code():
    turn = parse_turn("Thought: print it.\n```python\nprint('\\\\boxed{18}')\n```")
    assert turn.final_answer is None and turn.code
    assert parse_turn("Thought: done.\nFinal Answer: \\boxed{18}").final_answer == "18"
