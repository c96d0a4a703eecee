"""A number's gold is matched by a value, not by arithmetic still to do (``verl_score/rewards/unevaluated.py``).

The first cases are real SmolLM2 text: a policy trained 8 steps on reasoning-gym sums at lr 1e-4 (issue #25's
tuning unit ``results/study/tuning/lr1e-4/units/naive-s0``) learned to end with the question's expression, and
math-verify evaluated it to the gold answer."""

from __future__ import annotations

import pytest

from verl_score.rewards.registry import build_reward
from verl_score.rewards.unevaluated import gold_is_number, is_unevaluated

# (response, gold, expected score) under both extraction policies' shared path
REAL_HACKS = [
    ("59 + 93 is 142.\n\nThe final answer is 59 + 93.\n\nI hope you have a good day.", "152"),
    ("8 * 9 is the final answer.\n\nI hope you have a good day.\n\nI hope you have a good day.", "72"),
    # the base model's only "i -> c" flip on the validation carving: a truncated tail, graded free-form
    ("So, 46 + 4 = 72.\n\nHowever, if you want to calculate 46 + 4 with a negative number, you can do it by adding 46 "
     "to itself, which is 46 + 4 = 72. But you can also do it by adding 46 to itself, which is 46 + 4", "50"),
    ("The final answer is $8 \\times 9$.", "72"),
    ("The answer is \\frac{1}{2} + \\frac{1}{3}", "\\frac{5}{6}"),
    ("The final answer is 12 - 7.", "5"),
    # base SmolLM2 in the main job's held-out (results/benchmarks/main_job/auto_math_verify/val/0.jsonl): truncated
    # mid-sum, no value ever stated; math-verify evaluated "8 + 8" to the gold
    ("In this case, we multiply 8 by itself 8 times.\n\nSo, the answer is 8 + 8 = ", "16"),
    ("So the answer is 2 \\div 4.", "0.5"),
    # a second review's false positives: powers, wrapped operands, \quad spacing, dollars
    ("The final answer is $3^2+4^2$.", "25"),
    ("The final answer is (59)+(93).", "152"),
    ("The final answer is 59 \\quad + \\quad 93.", "152"),
    ("The answer is \\$3 + \\$2.", "5"),
]
VALUES = [
    ("8 + 1 is 9.\n\nThe final answer is 9.\n\nI hope you have a good day.\n\nI hope you", "9"),
    ("33 + 96 = 129. The final answer is correct.", "129"),
    ("The final answer is $59 + 93 = 152$.", "152"),
    ("The answer is $\\frac{1}{2}$", "0.5"),
    ("The answer is 1/2", "0.5"),
    ("The final answer is $\\frac{1}{4}\\pi$.", "\\frac{\\pi}{4}"),
    ("The answer is $3 \\times 10^5$", "300000"),
    ("The answer is $2^{10}$", "1024"),
    ("The answer is $-\\frac{3}{4}$", "-0.75"),
    ("The answer is $2\\sqrt{3}$", "2\\sqrt{3}"),
    ("\\boxed{1,000}", "1000"),
    ("#### 18", "18"),
    # an anchored expression followed at once by its value (the same main-job dump, attempt 2)
    ("I'm sorry for the confusion.\n\nThe final answer is 7 + 7, which is 14.", "14"),
    ("The final answer is $7 + 7 = 14$.", "14"),
    # ... with markup or another connective between them, or the value first and its working after it
    ("The final answer is **7 + 7**, which is 14.", "14"),
    ("The final answer is \\(100-20\\), which is \\(80\\).", "80"),
    ("The final answer is 7 + 7, i.e. 14.", "14"),
    ("The final answer is 7 + 7, which is \\frac{28}{2}.", "14"),
    ("The answer is 15 = 12 + 3.", "15"),
    ("\\boxed{15 = 12 + 3}", "15"),
    ("The final answer is $3^2$.", "9"),
    ("\\boxed{(-7)}", "-7"),
]
# ... but only the value right after the LAST occurrence: an earlier wrong one is not the committed answer
WRONG_VALUE = [("The final answer is 7 + 7, which is 15.", "14"), ("7 + 7 is 14. The final answer is 7 + 7.", "14"),
               ("The final answer is 142 = 59 + 93.", "152")]


@pytest.fixture(scope="module", params=["math_verify", "anchored"])
def reward(request):
    return build_reward("math", policy=request.param, workers=1)


@pytest.mark.parametrize("response,gold", REAL_HACKS)
def test_arithmetic_still_to_do_earns_nothing(reward, response, gold):
    r = reward.score(response, gold)
    assert r.score == 0.0 and not r.failed
    assert r.extra["reason"] in ("unevaluated_expression", "no_answer")  # anchored: these two have no anchor
    if reward.policy == "math_verify":
        assert r.extra["reason"] == "unevaluated_expression"


@pytest.mark.parametrize("response,gold", VALUES)
def test_values_still_score(reward, response, gold):
    r = reward.score(response, gold)
    if reward.policy == "anchored" and "correct." in response:
        assert r.extra["reason"] == "no_answer"
        return
    assert r.score == 1.0, r.extra


@pytest.mark.parametrize("response,gold", WRONG_VALUE)
def test_only_the_value_after_the_committed_expression_counts(reward, response, gold):
    assert reward.score(response, gold).score == 0.0


def test_the_knob_restores_math_verifys_evaluation():
    r = build_reward("math", workers=1, values_only=False).score("The final answer is 59 + 93.", "152")
    assert r.score == 1.0


def test_only_a_numbers_gold_is_guarded():
    assert gold_is_number("152") and gold_is_number("\\frac{5}{6}") and gold_is_number("2\\sqrt{3}")
    assert not gold_is_number("x^2+2x+1") and not gold_is_number("(1,2)")
    r = build_reward("math", workers=1).score("\\boxed{(x+1)^2}", "x^2+2x+1")
    assert r.score == 1.0


@pytest.mark.parametrize("text,text_mode,expected", [
    ("59 + 93", False, True), ("8 x 9", False, True), ("5 - -3", False, True), ("1/2 + 1/3", False, True),
    ("152", False, False), ("-12", False, False), ("3.5", False, False), ("50%", False, False), ("10/2", False, False),
    ("1.5 \\times 10^{-3}", False, False), ("x = 59 + 93 = 152", False, False), ("3:00", False, False),
    ("So 12 + 3 = 15", True, False), ("The answer is 7.", True, False), ("I think 4 - 5", True, True),
    ("no numbers here", True, False),
])
def test_is_unevaluated(text, text_mode, expected):
    assert is_unevaluated(text, text_mode) is expected


@pytest.mark.parametrize("filler", [" " * 4000, "\n" * 20000 + "Done.", "1 + 1, " * 600])
def test_long_whitespace_after_an_expression_is_read_once(filler):
    """The continuation reader once backtracked cubically on a whitespace run (4,000 spaces: 78 s, inline on verl's
    event loop, where the reward's timeout cannot stop it). Now it reads at most 200 characters, possessively: this
    returns at once; a regression hangs the test until pytest's timeout (a behaviour check, not a timing one)."""
    r = build_reward("math", workers=1).score("The final answer is 59 + 93" + filler, "152")
    assert r.score == 0.0
