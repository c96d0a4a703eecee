"""The math reward on its corpus (``math_corpus.py``, >= 200 cases, mostly real model / human text) and a
differential test against plain math-verify: ``verify(parse(gold), parse(response))`` on the same text.

Every disagreement with plain math-verify is listed in ``DISAGREEMENTS`` with the reason ours is right; the test
fails if a new one appears (or a listed one disappears), and each case's own verdict is checked against its label,
so "never below math-verify" means: wherever plain math-verify is right, so are we.
"""

from __future__ import annotations

import logging
import time
from collections import Counter

import pytest

from tests.rewards.math_corpus import cases
from verl_score.rewards.registry import build_reward

CASES = cases()

# case-id prefix (or id) -> why OUR verdict is right where plain math-verify's differs
DISAGREEMENTS_BY_PREFIX: dict[str, str] = {}
DISAGREEMENTS: dict[str, str] = {}


@pytest.fixture(scope="module")
def rewards():
    # generous deadline: symbolic checks take seconds when the shared CI machine is loaded
    built = {p: build_reward("math", workers=1, timeout_s=20.0, policy=p) for p in ("math_verify", "anchored")}
    yield built
    for r in built.values():
        r.pool.close()


def verdict(reward, case) -> float | str:
    result = reward.score(case.response, case.gold)
    return f"failed:{result.extra['reason']}" if result.failed else result.score


def plain_math_verify(case) -> float:
    from math_verify import parse, verify

    logging.getLogger("math_verify").setLevel(logging.ERROR)
    gold, pred = parse(case.gold, parsing_timeout=5), parse(case.response, parsing_timeout=5)
    return float(verify(gold, pred, timeout_seconds=5))


def test_corpus_size_and_coverage():
    assert len(CASES) >= 200
    assert len({c.id for c in CASES}) == len(CASES), "case ids must be unique"
    classes = Counter(c.cls for c in CASES)
    for cls in ("multi_box", "percent_units", "sentence", "unmarked", "equivalent", "last_wins", "bad_input",
                "pathological", "gsm8k", "champ", "smollm2"):
        assert classes[cls] > 0, f"no case of class {cls}"
    assert all(c.why for c in CASES)
    real = sum(classes[k] for k in ("gsm8k", "champ", "smollm2")) + sum(c.id.startswith("gsm8k-") for c in CASES
                                                                         if c.cls == "last_wins")
    assert real >= 150, classes


def test_every_case_gets_its_verdict(rewards):
    wrong = []
    for case in CASES:
        if case.pathological and case.cls == "pathological":
            continue  # timed separately below (each takes up to the deadline)
        got = verdict(rewards[case.policy], case)
        if got != case.expected:
            wrong.append(f"{case.id}: expected {case.expected}, got {got} ({case.why})")
    assert not wrong, "\n".join(wrong)


def test_pathological_cases_are_bounded():
    reward = build_reward("math", workers=1, timeout_s=2.0)
    reward.pool.warmup()
    try:
        for case in (c for c in CASES if c.cls == "pathological"):
            start = time.perf_counter()
            got = verdict(reward, case)
            elapsed = time.perf_counter() - start
            assert got == case.expected, (case.id, got)
            assert elapsed < 2.0 + 0.5, (case.id, elapsed)
    finally:
        reward.pool.close()


def listed_reason(case_id: str) -> str | None:
    if case_id in DISAGREEMENTS:
        return DISAGREEMENTS[case_id]
    return next((why for prefix, why in DISAGREEMENTS_BY_PREFIX.items() if case_id.startswith(prefix)), None)


def test_differential_vs_plain_math_verify(rewards):
    found, unlisted, ours_wrong = {}, [], []
    for case in CASES:
        if case.pathological:
            continue
        ours = verdict(rewards[case.policy], case)
        plain = plain_math_verify(case)
        if ours != case.expected:
            ours_wrong.append(case.id)
        if ours != plain:
            found[case.id] = (ours, plain)
            if listed_reason(case.id) is None:
                unlisted.append(f"{case.id}: ours {ours}, plain {plain}, expected {case.expected} ({case.why})")
    assert not ours_wrong, ours_wrong
    assert not unlisted, "disagreements not listed in DISAGREEMENTS:\n" + "\n".join(unlisted)
    stale = [k for k in DISAGREEMENTS if k not in found]
    assert not stale, f"listed disagreements that no longer occur: {stale}"
    # never below math-verify: every case plain math-verify gets right, we get right too (ours == expected above)
    plain_right = sum(1 for c in CASES if not c.pathological and c.id not in found) + sum(
        1 for c, (o, p) in ((c, found[c.id]) for c in CASES if c.id in found) if p == c.expected)
    assert plain_right < len([c for c in CASES if not c.pathological])
