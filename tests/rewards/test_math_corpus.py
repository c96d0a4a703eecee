"""The math reward on its corpus (``math_corpus.py``, >= 200 cases, mostly real model / human text) and a
differential test against plain math-verify: ``verify(parse(gold), parse(response))`` on the same text (the gold
in ``$...$``, see ``plain_gold_text``).

Every disagreement with plain math-verify is listed in ``DISAGREEMENTS`` with the reason ours is right; the test
fails if a new one appears (or a listed one disappears), and each case's own verdict is checked against its label,
so "never below math-verify" means: wherever plain math-verify is right, so are we.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest

from testkit.math_corpus import cases, plain_math_verify, policy_rewards, verdict
from verl_score.rewards.registry import build_reward

# Scheduling slack over the configured deadline for timed asserts on the shared, overloaded CI machine (load 14 seen);
# the strict figure (p99 <= timeout + 0.5 s) is measured by benchmarks/rewards.py. Still catches the old behaviour
# (a queued check waited for the first one's full deadline plus a worker restart: >= 2x the timeout).
SLACK_S = 1.5

CASES = cases()

# Why OUR verdict is right where plain math-verify's differs (what plain math-verify extracted is in brackets).
_REGRESSED = ("two-attempt text: the correct boxed answer is revised into a wrong '#### N' line; plain math-verify "
              "does not read '####' and rewards the abandoned first attempt's box, we take the LAST committed answer")
DISAGREEMENTS_BY_PREFIX: dict[str, str] = {"gsm8k-regressed-": _REGRESSED}
DISAGREEMENTS: dict[str, str] = {
    "multi-revision-right": "[{-2, 2}] plain merges the boxes of two attempts into a set; 'Wait, no' separates two "
                            "answers and the later one, 2, is committed",
    "multi-new-attempt": "[{4, 5}] plain merges a box and the new attempt's box; only the new attempt's 5 counts",
    "pct-boxed": "[the string '28\\%', no value] math-verify cannot evaluate \\boxed{28\\%}; a GSM8K "
                 "percent gold 28 is answered by 28%",
    "pct-ratio": "[25] math-verify reads 25\\% as 25 in latex; 25% is the gold 0.25 (we accept both readings "
                 "of a percent against a plain-number gold)",
    "sentence-text-gold": "[nothing] plain extracts nothing from 'Final Answer: No'; the answer text equals the gold",
    "anchored-no-anchor": "[72] policy anchored, by design: a format-instructed RL row without an anchor earns 0",
    "last-box-then-answer-is": "[12] plain prefers the earlier box over the later 'the answer is 15'",
    "champ-P_Combinatorics_18-GPT-4_Turbo": "[99] 'There are 5050 different ordered triples ... a + b + c = 99.': "
                                            "plain takes the last number, the sentence states 5050",
    "champ-P_Combinatorics_4-GPT-4_Turbo": "[6] 'There are 76 involutions on the set {1, 2, 3, 4, 5, 6}.': plain "
                                           "takes the last number, the sentence states 76",
    "champ-P_Combinatorics_31-GPT-4": "[3] 'There are 120 possible ways the 8 dogs can divide the 3 cookies': plain "
                                      "takes the last number, the sentence states 120",
    "rv-trail-paren": "[4] plain takes the last number of 'The answer is 20 (5 boxes of 4).'; the stated value is 20",
    "rv-not-it-is": "[5] plain takes the rejected 5 of 'the answer is not 5, it is 6.'; the correction states 6",
    "rv-two-parts": "[3] plain takes the first value of '3 apples and 2 oranges'; a two-part answer is not 3",
    "rv-thousand-3": "[3] plain drops \\text{ thousand}; 3 thousand is 3000, not the gold 3",
    "rv-thousand-3000": "[3] plain drops \\text{ thousand}; 3 thousand equals the gold 3000",
    "rv-text-dollars": "[the symbol 28dollars] plain cannot read a number inside \\text; it is 28",
    "rv-cm2": "[5*c*m**2] plain reads the unit as variables; 5 cm^2 is the GSM8K answer 5",
    "rv-thin-space": "[235] plain mis-reads the thin-space thousands separator; 1\\,234 is 1234",
    "champ-P_Number-Theory_5-GPT-4": "[9376] the model lists eight numbers as the answer (a hedge, most of them "
                                     "wrong); plain takes the last one, a grader does not accept a list for one answer",
    # issue 22 item 7 / issue 23 classes (dev part)
    "mbs-final-answer-parts": "[(3, 3)] plain takes the first part only; the span's two labelled parts are the answer",
    "neq-bare": "[5] plain reads 'x != 5' outside latex as the number 5; we read the relation x != 5",
    "neq-unicode": "[nothing] plain extracts nothing from 'x≠5'; it is x \\neq 5",
    # by design: the anchored policy (RL rows with the paper's format instruction) rewards only an anchored answer
    "neq-anchored-unanchored": "[x != 5] by design: policy anchored, no anchor, no reward",
    "hu-about-dollars-anchored": "[5] by design: policy anchored, no anchor, no reward",
    # held-out part (written after the fixes; see HELDOUT_GAPS for where ours is wrong)
    "ho-mbs-semicolon": "[-2] plain takes the last box only; the labelled parts together are the answer",
    "ho-mbs-roman": "[1/3] plain takes the last box only; parts (i) and (ii) together are the answer",
    "ho-mbs-revised": "[{3, 5}] plain merges a revised box into the answer; the box after the revision is the answer",
    "ho-neq-ascii-bare": "[5] plain reads 'x != 5' outside latex as 5",
    "ho-hu-about-dollar-sign": "[nothing] plain reads nothing in 'about \\$15'",
    "ho-hu-anchored": "[5] by design: policy anchored, no anchor, no reward",
    # review 2 (REVIEW2 and its REVIEW2_FIX counterparts)
    **dict.fromkeys(
        ["r2-eighths", "r2-hundredths", "r2-tenths", "r2-thousandths", "r2-fewer", "r2-negative", "r2-less-than",
         "r2-choose", "r2x-eighths-sentence", "r2x-tau-sentence", "r2x-and-a-half", "r2x-and-a-half-sentence",
         "r2x-eighths-value", "r2x-tenths-value", "r2x-and-a-half-value", "r2x-decimal-thousand"],
        "[the number alone] plain takes the number and drops the word after it that makes it another value "
        "(a fraction word, 'and a half', a comparative, 'choose', a symbol's name, 'thousand' after a decimal)"),
    **dict.fromkeys(
        ["r2-thousand-3", "r2-thousand-3000", "r2-million-dollars", "r2-million-dollars-2", "r2-answer-colon-million",
         "r2-answer-colon-million-2", "r2-math-million", "r2-math-million-2", "r2-box-million", "r2-box-million-2",
         "r2-hashes-thousand", "r2-box-text-million", "r2x-decimal-million", "r2x-math-box-million",
         "r2x-hundred-thousand", "r2x-statement-thousand", "r2x-statement-thousand-3"],
        "[the number without its scale word] plain drops 'thousand' / 'million' (also in \\text{}); 3 thousand is "
        "3000"),
    "r2-pct-2500": "[25] plain reads 2500% as 2500/100; against an integer gold (a GSM8K percentage) the answer is "
                   "25%, and 2500% is not it",
    "r2x-pct-word-2500": "[25] as r2-pct-2500, the percent written as a word",
    "r2x-pct-half": "[the string '50\\%', no value] math-verify cannot evaluate \\boxed{50\\%}; 50% is the gold 0.5",
}

# HELD-OUT cases ours gets wrong (measured once, after the fixes; not tuned on). Not by design: open gaps. The first
# three are where plain math-verify is right and we are not.
HELDOUT_GAPS: dict[str, str] = {
    "ho-mbs-max-min": "plain 1: 'The maximum is \\boxed{9} and the minimum is \\boxed{1}.' -- a clause ('the minimum "
                      "is') between the boxes stops our grouping; plain merges every box",
    "ho-mbs-it-is": "plain 1: 'for part (b) it is \\boxed{15}' -- 'it is' between the boxes stops our grouping",
    "ho-neq-ie": "plain 1: 'all real numbers except 5, i.e. $x \\neq 5$' -- our span value is the first number, 5",
    "ho-mbs-part-sentences": "plain 0 too: 'Part 1: \\boxed{6}. Part 2: \\boxed{10}.' -- a sentence end between the "
                             "boxes stops our grouping",
    "ho-hu-cents": "plain 0 too: '5 dollars and 50 cents' is read as the set {5, 50}, not 5.50",
}


@pytest.fixture(scope="module")
def rewards():
    # generous deadline: symbolic checks take seconds when the shared CI machine is loaded
    with policy_rewards(workers=1, timeout_s=20.0) as built:
        yield built


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
        if case.id in HELDOUT_GAPS:
            assert got != case.expected, f"{case.id} is right now: drop it from HELDOUT_GAPS"
            continue
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
            assert elapsed < 2.0 + SLACK_S, (case.id, elapsed)
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
        if case.id in HELDOUT_GAPS:
            continue  # measured and listed above; never counted as agreement
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
    # never below math-verify: wherever plain math-verify is right we are right (ours == expected for every case),
    # and plain is wrong on every disagreement
    assert all(plain != next(c.expected for c in CASES if c.id == cid) for cid, (_, plain) in found.items())


def test_heldout_figures(rewards):
    """The held-out part: ours is right wherever plain math-verify is, except the listed open gaps (and the
    anchored policy's by-design refusals, which are in DISAGREEMENTS); ours is never less accurate overall."""
    held = [c for c in CASES if c.split == "heldout"]
    assert len(held) >= 35 and {c.cls for c in held} >= {"multi_box_set", "neq", "hedge_unit", "math_style"}
    ours_right = plain_right = 0
    trailing = []
    for case in held:
        ours, plain = verdict(rewards[case.policy], case), plain_math_verify(case)
        ours_right += ours == case.expected
        plain_right += plain == case.expected
        if plain == case.expected and ours != case.expected:
            trailing.append(case.id)
    assert set(trailing) <= set(HELDOUT_GAPS), sorted(set(trailing) - set(HELDOUT_GAPS))
    assert ours_right >= plain_right, (ours_right, plain_right)
