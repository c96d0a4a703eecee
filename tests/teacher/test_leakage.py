"""The SMART leakage filter: answers in any form are rejected, genuine hints pass."""

from __future__ import annotations

from fractions import Fraction

import pytest

from verl_score.teacher.leakage import LeakageFilter, numeric_value
from verl_score.teacher.numwords import find_number_words, parse_number_words


@pytest.fixture(scope="module")
def leak_filter():
    f = LeakageFilter()
    yield f
    f.close()


@pytest.mark.parametrize(
    "text,reference",
    [
        ("You should get 18 when you recount.", "18"),  # digits
        ("Recount: it comes to 18.0 vacuum cleaners.", "18"),  # decimal form
        ("Try 1,800 instead of what you had.", "1800"),  # thousands separator
        ("Check again: eighteen, not twenty.", "18"),  # word form
        ("Maybe it is one hundred and twenty-three?", "123"),  # compound words
        ("Look for nine hundred ninety-nine thousand nine hundred ninety-nine.", "999999"),  # 0..999999
        ("Only \\frac{1}{2} of the pie is left.", "0.5"),  # LaTeX vs decimal
        ("Only 0.5 of the pie is left.", "\\frac{1}{2}"),  # decimal vs LaTeX gold
        ("About one half of the pie is left.", "\\frac{1}{2}"),  # word fraction vs LaTeX
        ("Think of it as 3/4 of the total.", "\\dfrac{3}{4}"),
        ("It is 25% of the total.", "0.25"),  # percent
        ("Recheck your factoring, it should look like $x^2+2x+1$.", "(x+1)^2"),  # math-verify equivalence
        ("Reconsider $\\sqrt{2}$.", "\\sqrt{2}"),
        ("The gold is #### 72? no: it is 72 clips.", "Natalia ... #### 72"),  # GSM8K rationale as reference
    ],
)
def test_reference_answer_forms_are_rejected(leak_filter, text, reference):
    verdict = leak_filter.check(text, reference=reference)
    assert not verdict.ok
    assert verdict.reason in ("reference_answer", "final_answer", "verdict")


@pytest.mark.parametrize(
    "text,reason",
    [
        ("So \\boxed{7} is right.", "final_answer"),
        ("I think the answer is 12.", "final_answer"),
        ("Final Answer: 3", "final_answer"),
        # a judgement of the attempt's result with no value stated: the verdict screen's attempt_assertion rule
        # reports it (it fired as final_answer before the verdict rules covered it)
        ("The result should be larger.", "verdict"),
        ("#### 5", "final_answer"),
        ("```python\nprint(1)\n```", "full_solution_code"),
        ("a = 1, b = a + 2 = 3, c = b * 2 = 6", "full_solution_equations"),
        ("Step 1: read.\nStep 2: add.\nStep 3: multiply.\nStep 4: divide.", "full_solution_steps"),
        ("word " * 200, "full_solution_length"),
        ("   ", "empty"),
    ],
)
def test_answer_statements_and_full_solutions_are_rejected(leak_filter, text, reason):
    verdict = leak_filter.check(text)
    assert (verdict.ok, verdict.reason) == (False, reason)


@pytest.mark.parametrize(
    "text,reference",
    [
        ("Check the units in step 2.", "18"),
        ("Re-read what the question asks for: the total, not the difference.", "18"),
        ("Check the sign in step 3.", "-3"),  # 3 is not -3
        ("Did you apply the discount before or after tax?", "\\frac{1}{2}"),
    ],
)
def test_genuine_hints_pass(leak_filter, text, reference):
    assert leak_filter.check(text, reference=reference).ok


def test_number_words_parser_covers_0_to_999999():
    samples = {
        "zero": 0, "seven": 7, "eleven": 11, "forty-two": 42, "one hundred": 100, "one hundred and five": 105,
        "two thousand and nineteen": 2019, "twenty thousand five hundred": 20500,
        "nine hundred ninety-nine thousand nine hundred ninety-nine": 999999, "one million two hundred thousand": 1200000,
    }  # fmt: skip
    for words, value in samples.items():
        assert parse_number_words(words) == value, words
    found = {v for v, _ in find_number_words("minus seven apples and one and a half pies, three quarters left")}
    assert {Fraction(-7), Fraction(3, 2), Fraction(3, 4)} <= found
    assert find_number_words("check the third step") == []  # an ordinal alone is a position


def test_numeric_value_forms():
    assert numeric_value("\\frac{1}{2}") == numeric_value("0.5") == numeric_value("1/2") == Fraction(1, 2)
    assert numeric_value("\\frac12") == Fraction(1, 2)
    assert numeric_value("1,800") == 1800
    assert numeric_value("eighteen") == 18
    assert numeric_value("x+1") is None
