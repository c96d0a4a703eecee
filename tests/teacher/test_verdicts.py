"""SMART guidance carries no correctness verdict (issue 10): the screen rejects verdicts in many phrasings, positive
and negative; hints that point at what to re-check pass; the guide is told never to give one."""

from __future__ import annotations

import pytest

from testkit.fault_server import Ok
from tests.teacher.test_guidance import _instruction, _provider
from verl_score.prompts import MATH_SELF_CORRECTION
from verl_score.teacher.guidance import GUIDE_SYSTEM
from verl_score.teacher.leakage import LeakageFilter

VERDICTS = [
    "Your solution is correct; no changes are needed.",
    "Your answer is correct.",
    "The solution looks good.",
    "Everything looks fine to me.",
    "This is right.",
    "That's right, nicely done.",
    "It's correct.",
    "Your reasoning is not correct.",
    "Your answer isn't right.",
    "The answer is wrong.",
    "Your final result is incorrect.",
    "Your work is entirely accurate.",
    "You are right.",
    "You're wrong about the second part.",
    "You got it right.",
    "Correct!",
    "Wrong.",
    "Well done!",
    "Good job on this one.",
    "Nice work.",
    "Not quite.",
    "No changes are needed.",
    "Nothing needs to be changed.",
    "Keep your answer as it is.",
    "Don't change anything.",
    "There is no error in your solution.",
    "There are no mistakes.",
    "I found no errors.",
    "Your solution is mistake-free.",
    "The work is error-free.",
    "There is a mistake in step 2.",
    "You made an arithmetic error in step 3.",
    "Your solution contains a mistake.",
    "Your calculation seems off track.",
    "Step 2 ✓",
    "The solution checks out.",
    "Everything seems to be in order.",
    "Your approach is sound and the arithmetic is fine.",
    "Your solution is flawless.",
    "Your answer was incorrect, try again.",
    "The reasoning is valid.",
    "you have made no mistakes",
    "Stick with your answer.",
    "Your solution has no issues.",
]

HINTS = [
    "Check the units in step 2.",
    "Re-read what the question asks for: the total, not the difference.",
    "Did you apply the discount before or after tax?",
    "Re-check step 2, where you multiply the price by the quantity.",
    "Check whether the sign in step 3 is correct.",
    "Make sure the total in the last step is right.",
    "Verify that your conversion from hours to minutes is accurate.",
    "Look again at how you counted the days in the second paragraph.",
    "Reconsider how many times the discount applies.",
    "Is your handling of the remainder consistent with the question?",
    "Double-check that each term of the sum is correct.",
    "Pay attention to the order of operations in your second step.",
    "Recount the number of apples Sam gives away in step 4.",
    "Consider whether the question asks for the area or the perimeter.",
]

FILTER = LeakageFilter({"use_math_verify": False})


@pytest.mark.parametrize("text", VERDICTS)
def test_verdicts_are_rejected(text):
    verdict = FILTER.check_format(text)
    assert (verdict.ok, verdict.reason) == (False, "verdict"), verdict


@pytest.mark.parametrize("text", HINTS)
def test_recheck_hints_pass(text):
    assert FILTER.check(text, reference="18").ok, FILTER.check(text, reference="18")


def test_guide_prompt_asks_for_a_recheck_hint_never_a_verdict():
    low = GUIDE_SYSTEM.lower()
    assert "never give a verdict" in low and "re-check" in low
    assert "no changes" in low or "changes are or are not needed" in low
    # the example the prompt gives must itself pass the screen
    example = GUIDE_SYSTEM.split("for example:")[1].strip().strip('"')
    assert FILTER.check_format(example).ok


def test_a_verdict_from_the_guide_falls_back_to_the_static_instruction(fault_server):
    """Through a real loopback guide endpoint: the review's example verdict is rejected and counted."""
    fault_server.script_requests(Ok("Your solution is correct; no changes are needed."), Ok("Re-check step 2."))
    p = _provider(fault_server)
    rejected, accepted = _instruction(p), _instruction(p)
    assert rejected.source == "smart_rejected" and rejected.text == MATH_SELF_CORRECTION
    assert accepted.source == "smart" and accepted.text.endswith("Re-check step 2.")
    m = p.metrics()
    assert m["guidance/rejected/verdict"] == 1.0 and m["guidance/rejected_rate"] == 0.5
