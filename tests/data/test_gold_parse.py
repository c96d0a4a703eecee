"""The converter checks a math gold with the reward's own routine: a gold that converts is a gold that scores.

Issue 23: the converter accepted golds the reward could not read (its own ``parse("$gold$") or parse(gold)`` took
math-verify's fallback string for a parse), so rows converted and then scored ``gold_unparseable`` on every
response; and it refused nothing the reward needed. Here both directions are checked on the same golds.
"""

from __future__ import annotations

import json

import pytest

from data_preprocess.core import ConversionError, math_parseable

READABLE = [r"\$18.90", r"\$5.00", r"5\text{ cm}", r"30^\circ", r"12.5\%", r"\text{(C)}", r"2121_3",
            r"\begin{pmatrix} -1 & 0 \\ 0 & -1 \end{pmatrix}", r"\left( 3, \frac{\pi}{2} \right)",
            r"(-\infty,-3)\cup(2,\infty)", "The answer is #### 72", r"\boxed{7}", "x \\neq 5"]
# math-verify finds a "$...$" match in these but parses nothing: the old converter took the fallback string for a
# parse and accepted them; the reward answers gold_unparseable for every response
UNREADABLE = [r"\frac{1}{", r"\text{", "(", r"\sqrt{}", "x^{", "{", r"\begin{pmatrix}1", r"\%"]


def _math500_row(answer: str, n: int) -> dict:
    return {"problem": f"Problem {n}: compute it.", "solution": f"... so $\\boxed{{{answer}}}$.", "answer": answer,
            "subject": "Algebra", "level": 2, "unique_id": f"test/algebra/{n}.json"}


@pytest.fixture(scope="module")
def reward():
    from verl_score.rewards.registry import build_reward

    built = build_reward("math", workers=1, timeout_s=30.0, policy="anchored")
    yield built
    built.pool.close()


@pytest.mark.parametrize("gold", READABLE + UNREADABLE)
def test_converter_and_reward_agree_on_every_gold(reward, gold):
    # a response that no fast path settles: the reward has to read the gold itself
    result = reward.score("Final Answer: The final answer is $\\frac{-987}{65}$. I hope it is correct.", gold)
    assert math_parseable(gold) == (result.extra["reason"] != "gold_unparseable"), (gold, result.extra)
    assert math_parseable(gold) == (gold in READABLE)


def test_unreadable_gold_is_refused_naming_file_and_row(convert, tmp_path):
    path = tmp_path / "math500.jsonl"
    path.write_text("\n".join(json.dumps(_math500_row(a, i)) for i, a in enumerate([r"\$18.90", r"\frac{1}{"], 1)))
    with pytest.raises(ConversionError) as e:
        convert("math", "--input", str(path))
    assert (e.value.file, e.value.row, e.value.reason) == (str(path), 2, "unparseable_answer")
    assert f"{path}: row 2: unparseable_answer" in str(e.value) and "cannot parse" in str(e.value)
    report, _ = convert("math", "--input", str(path), "--skip-invalid")
    assert report.skipped == {"unparseable_answer": 1}


def test_converted_dollar_gold_scores(convert, rows, reward, tmp_path):
    """The issue's example end to end: the MATH gold ``\\$18.90`` converts, and the converted row's gold scores."""
    path = tmp_path / "math500.jsonl"
    path.write_text(json.dumps(_math500_row(r"\$18.90", 1)) + "\n")
    _, out = convert("math", "--input", str(path))
    gold = rows(out / "test.parquet")[0]["reward_model"]["ground_truth"]
    assert gold == r"\$18.90"
    right = reward.score("Final Answer: The final answer is $18.90$. I hope it is correct.", gold)
    assert (right.score, right.failed) == (1.0, False)
    wrong = reward.score("Final Answer: The final answer is $19.80$. I hope it is correct.", gold)
    assert (wrong.score, wrong.failed) == (0.0, False)
