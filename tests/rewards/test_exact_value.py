"""``exact_value``: the in-process exact path of the math reward (review 2, B1: a surd quotient blocked the loop)."""

from __future__ import annotations

import time
from fractions import Fraction

import pytest

from verl_score.rewards import exact_value as ev
from verl_score.rewards.exact_value import Value, exact_value


@pytest.mark.parametrize(
    "text, expected",
    [
        ("\\frac{\\sqrt{6}}{\\sqrt{3}}", Value(Fraction(1), 2)),
        ("\\frac{\\sqrt{2}}{\\sqrt{8}}", Value(Fraction(1, 2))),
        ("\\frac{1}{\\sqrt{2}}", Value(Fraction(1, 2), 2)),
        ("\\sqrt{12}/\\sqrt{18}", Value(Fraction(1, 3), 6)),
        ("\\frac{3\\sqrt{10}}{2\\sqrt{15}}", Value(Fraction(1, 2), 6)),
        # two large square-free radicands: sqrt(a/b) = sqrt(a*b)/b, a*b ~ 4e14 (no square factor to pull out)
        ("\\frac{\\sqrt{19999999}}{\\sqrt{19999993}}", Value(Fraction(1, 19999993), 19999999 * 19999993)),
        ("\\frac{\\sqrt{99999989}}{\\sqrt{99999971}}", Value(Fraction(1, 99999971), 99999989 * 99999971)),
        # a shared factor: sqrt(6*10^6 ... ) cases where gcd > 1
        ("\\frac{\\sqrt{99999990}}{\\sqrt{30}}", Value(Fraction(1, 1), 3333333)),
    ],
)
def test_surd_quotients_are_canonical(text, expected):
    assert exact_value(text).key() == expected.key()


def test_surd_quotient_never_factors_the_product(monkeypatch):
    """B1: ``_divide`` trial-divided ``a.radicand * b.radicand`` (up to 1e16, i.e. a loop to 1e8) on the event loop:
    2.4 s here, 11.6 s for the review's response. Both radicands are square-free already, so nothing above the
    radicand bound (1e8, a loop to 1e4) is ever factored now."""
    factored = []
    original = ev._square_free
    monkeypatch.setattr(ev, "_square_free", lambda n: factored.append(n) or original(n))
    start = time.perf_counter()
    value = exact_value("\\frac{\\sqrt{19999999}}{\\sqrt{19999993}}")
    elapsed = time.perf_counter() - start
    assert value is not None and value.radicand == 19999999 * 19999993
    assert factored and max(factored) <= ev._MAX_RADICAND, factored
    assert elapsed < 0.5, elapsed  # the old code took seconds; this takes well under a millisecond


def test_review_response_is_settled_in_process_at_once():
    """The review's call: ``MathReward(timeout_s=2)`` returned after 11.6 s (blocking every other reward call)."""
    from verl_score.rewards.math_equiv import MathReward

    reward = MathReward(workers=1, timeout_s=2.0)
    try:
        start = time.perf_counter()
        result = reward.score("The final answer is $\\frac{\\sqrt{99999989}}{\\sqrt{99999971}}$.", "2")
        elapsed = time.perf_counter() - start
    finally:
        reward.pool.close()
    assert (result.score, result.extra["reason"], result.extra["fast_path"]) == (0.0, "wrong", 1.0)
    assert elapsed < 0.5, elapsed
