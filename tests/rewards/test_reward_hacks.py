"""The hack corpus (``hack_corpus.py``): every hack scores 0 under the strict harness, honest programs score 1.

All runs (corpus in both modes + controls) go out concurrently once per module, so this costs a few seconds.
Partial credit is ON for the strict runs, so "0" means not one test passed, not just "not all".
"""

from __future__ import annotations

import asyncio

import pytest

from tests.rewards.hack_corpus import (
    HACKS, HUMANEVAL_HONEST, HUMANEVAL_MAP_SPEC, HUMANEVAL_SPEC, HUMANEVAL_WRONG, HUMANEVAL_ZIP_SPEC, MBPP_HONEST,
    MBPP_MAP_SPEC, MBPP_SPEC, MBPP_WRONG,
)
from verl_score.rewards.registry import build_reward

SANDBOX = {"timeout_s": 4, "cpu_s": 3, "max_concurrency": 8, "test_timeout_s": 2}


def _spec(hack) -> dict:
    if hack.spec is not None:
        return hack.spec
    return MBPP_SPEC if hack.style == "mbpp" else HUMANEVAL_SPEC


_SQUARE = "def square(x):\n    return x * x\n"
#: Honest programs on the corpus's own extra specs (map / zip tests): they must still score 1.
EXTRA_HONEST = [(HUMANEVAL_MAP_SPEC, _SQUARE), (HUMANEVAL_ZIP_SPEC, "    return x * x\n"), (MBPP_MAP_SPEC, _SQUARE)]


def _fenced(program: str) -> str:
    return f"Here is my solution.\n```python\n{program}```\n"


@pytest.fixture(scope="module")
def outcomes():
    strict = build_reward("code_tests", partial_credit=True, sandbox=SANDBOX)
    shared = build_reward("code_tests", partial_credit=True, harness="shared_process", sandbox=SANDBOX)
    controls = [(_fenced(MBPP_HONEST), MBPP_SPEC), (HUMANEVAL_HONEST, HUMANEVAL_SPEC),
                (_fenced(MBPP_WRONG), MBPP_SPEC), (_fenced(HUMANEVAL_WRONG), HUMANEVAL_SPEC)]
    controls += [(_fenced(program), spec) for spec, program in EXTRA_HONEST]

    async def run():
        return await asyncio.gather(
            *(strict(_fenced(h.program), _spec(h), {}) for h in HACKS),
            *(shared(_fenced(h.program), _spec(h), {}) for h in HACKS),
            *(strict(resp, spec, {}) for resp, spec in controls),
        )

    results = asyncio.run(run())
    n = len(HACKS)
    return {"strict": results[:n], "shared": results[n:2 * n], "controls": results[2 * n:]}


def test_corpus_is_named_and_covers_both_styles():
    assert len(HACKS) >= 20
    assert len({h.name for h in HACKS}) == len(HACKS)
    assert {h.style for h in HACKS} == {"mbpp", "humaneval"}
    assert all(h.hack_class and h.why_zero for h in HACKS)
    for h in HACKS:  # a hack that scores 0 because it does not even compile would prove nothing
        compile(h.program, h.name, "exec")


def test_every_hack_scores_zero_in_the_strict_harness(outcomes):
    paid = {h.name: (r.score, r.extra["reason"], r.extra["tests_passed"])
            for h, r in zip(HACKS, outcomes["strict"]) if r.score != 0.0 or r.extra["tests_passed"] != 0.0}
    assert paid == {}
    assert not any(r.failed for r in outcomes["strict"])  # a hack is a wrong answer, not an infrastructure failure
    assert all(r.extra["harness_shared_process"] == 0.0 for r in outcomes["strict"])


def test_honest_programs_score_one_and_wrong_ones_zero(outcomes):
    honest_mbpp, honest_he, wrong_mbpp, wrong_he, *extra = outcomes["controls"]
    assert [(r.score, r.extra["reason"]) for r in extra] == [(1.0, "ok")] * len(EXTRA_HONEST)
    assert (honest_mbpp.score, honest_mbpp.extra["tests_passed"]) == (1.0, 4.0)
    assert honest_he.score == 1.0 and honest_he.extra["reason"] == "ok"
    assert (wrong_mbpp.score, wrong_mbpp.extra["reason"]) == (0.0, "wrong")
    assert (wrong_he.score, wrong_he.extra["reason"]) == (0.0, "wrong")


def test_the_corpus_bites_when_program_and_tests_share_an_interpreter(outcomes):
    """The same programs DO earn reward in the ``shared_process`` fallback: the corpus is not a straw man."""
    expected = {h.name for h in HACKS if h.pays_in_shared_process}
    paying = {h.name for h, r in zip(HACKS, outcomes["shared"]) if r.score > 0.0}
    assert expected <= paying, expected - paying
    assert len(expected) >= 10
    assert all(r.extra["harness_shared_process"] == 1.0 for r in outcomes["shared"])


def test_unsupported_values_are_counted_with_a_reason(outcomes):
    by_name = dict(zip((h.name for h in HACKS), outcomes["strict"]))
    always_equal = by_name["always_equal_object"]
    assert always_equal.extra["reason"] == "strict_unsupported"
    assert always_equal.extra["strict_unsupported_tests"] == 4.0
    assert "unsupported_type" in always_equal.extra["error"]
