"""MATH gold answers of every subject, written in the dataset's own style, scored through the real reward.

Why: issue 23 found MATH golds the reward could not read (``\\$18.90``: ``gold_unparseable``, the episode left out of
training) and matrices cut at their first ``&`` in the prompted "Final Answer: The final answer is $...$" form
(scored 0 against the right matrix). Each gold below is checked with a right and a wrong response in both forms the
policy writes (``\\boxed{}`` and the paper's "Final Answer" sentence), under both extraction policies, and once
through ``score_fn.compute_score`` with ``configs/score_math.yaml``'s own reward kwargs (``lighteval/MATH`` is routed
``anchored`` there). A right answer must score 1, a wrong one 0, and no check may fail.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from testkit.math_corpus import policy_rewards
from verl_score.rewards.registry import build_reward

ROOT = Path(__file__).resolve().parents[2]

# (subject, gold as MATH writes it, right answers a model writes, wrong answers)
MATH_GOLDS: list[tuple[str, str, list[str], list[str]]] = [
    ("Algebra", r"\$18.90", [r"18.90", r"\$18.90", r"18.9"], [r"18.09", r"\$19.80"]),
    ("Algebra", r"\$5.00", [r"5", r"\$5", r"5.00"], [r"5.50", r"\$50"]),
    ("Algebra", r"[-2,7]", [r"[-2, 7]"], [r"(-2, 7)", r"[-7, 2]"]),
    ("Algebra", r"(-\infty,-3)\cup(2,\infty)", [r"(-\infty, -3) \cup (2, \infty)"], [r"(-3, 2)"]),
    ("Algebra", r"\frac{7}{3}", [r"\dfrac{14}{6}", r"\frac{7}{3}"], [r"\frac{3}{7}"]),
    ("Algebra", r"2\sqrt{5}", [r"\sqrt{20}", r"2\sqrt5"], [r"5\sqrt{2}"]),
    ("Algebra", r"(3,-1)", [r"(3, -1)"], [r"(-1, 3)"]),
    ("Counting & Probability", r"\frac{5}{12}", [r"\dfrac{5}{12}"], [r"\frac{7}{12}"]),
    ("Counting & Probability", r"210", [r"210"], [r"120"]),
    ("Counting & Probability", r"\dfrac{1}{16}", [r"0.0625", r"\frac{1}{16}"], [r"\frac{1}{8}"]),
    ("Counting & Probability", r"12\%", [r"12\%", r"12"], [r"21\%"]),
    ("Geometry", r"5\text{ cm}", [r"5", r"5\text{ cm}", r"5 \text{ cm}"], [r"6\text{ cm}", r"25"]),
    ("Geometry", r"30^\circ", [r"30", r"30^\circ", r"30^{\circ}"], [r"60^\circ", r"150"]),
    ("Geometry", r"18\pi", [r"18\pi", r"18 \pi"], [r"9\pi", r"36\pi"]),
    ("Geometry", r"\frac{9\sqrt{3}}{4}", [r"\frac{9}{4}\sqrt{3}", r"\dfrac{9\sqrt3}{4}"], [r"\frac{9\sqrt{2}}{4}"]),
    ("Geometry", r"48\text{ square units}", [r"48"], [r"24"]),
    ("Geometry", r"\text{(C)}", [r"\text{(C)}", r"C", r"(C)"], [r"\text{(B)}"]),
    ("Intermediate Algebra", r"x^3-3x^2+4", [r"x^3 - 3x^2 + 4"], [r"x^3 - 3x^2 - 4"]),
    ("Intermediate Algebra", r"-2, 1, 3", [r"1, -2, 3", r"-2,1,3"], [r"-2, 1"]),
    ("Intermediate Algebra", r"(-\infty,1]\cup[3,\infty)", [r"(-\infty, 1] \cup [3, \infty)"],
     [r"(-\infty, 1) \cup (3, \infty)"]),
    ("Intermediate Algebra", r"\frac{1}{2}", [r"0.5", r"\tfrac{1}{2}"], [r"2"]),
    ("Number Theory", r"2121_3", [r"2121_3", r"2121_{3}"], [r"2112_3"]),
    ("Number Theory", r"52_8", [r"52_8", r"52_{8}"], [r"62_8"]),
    ("Number Theory", r"14", [r"14"], [r"41"]),
    ("Prealgebra", r"12.5\%", [r"12.5\%", r"12.5"], [r"15\%"]),
    ("Prealgebra", r"\$1.25", [r"1.25", r"\$1.25"], [r"\$12.50"]),
    ("Prealgebra", r"\frac{3}{4}", [r"0.75", r"\frac34"], [r"\frac{4}{3}"]),
    ("Prealgebra", r"40^\circ", [r"40^{\circ}", r"40"], [r"50^\circ"]),
    ("Precalculus", r"\begin{pmatrix} -1 & 0 \\ 0 & -1 \end{pmatrix}",
     [r"\begin{pmatrix}-1&0\\0&-1\end{pmatrix}"], [r"\begin{pmatrix} 1 & 0 \\ 0 & -1 \end{pmatrix}"]),
    ("Precalculus", r"\begin{pmatrix} 2 \\ -1 \\ 5 \end{pmatrix}", [r"\begin{pmatrix} 2 \\ -1 \\ 5 \end{pmatrix}"],
     [r"\begin{pmatrix} 2 \\ 1 \\ 5 \end{pmatrix}"]),
    ("Precalculus", r"\begin{pmatrix} \frac{1}{2} & -\frac{\sqrt{3}}{2} \\ \frac{\sqrt{3}}{2} & \frac{1}{2} "
     r"\end{pmatrix}", [r"\begin{pmatrix} 1/2 & -\sqrt{3}/2 \\ \sqrt{3}/2 & 1/2 \end{pmatrix}"],
     [r"\begin{pmatrix} \frac{1}{2} & \frac{\sqrt{3}}{2} \\ -\frac{\sqrt{3}}{2} & \frac{1}{2} \end{pmatrix}"]),
    ("Precalculus", r"\left( 3, \frac{\pi}{2} \right)", [r"(3, \frac{\pi}{2})", r"\left(3,\frac{\pi}{2}\right)"],
     [r"(3, \pi)"]),
    ("Precalculus", r"\frac{\pi}{3}", [r"\frac{\pi}{3}", r"\dfrac{\pi}{3}"], [r"\frac{\pi}{6}"]),
]


def boxed(answer: str) -> str:
    return f"Working through the problem step by step, we arrive at\n$$\\boxed{{{answer}}}.$$"


def final_answer(answer: str) -> str:
    return f"Working through the problem step by step.\nFinal Answer: The final answer is ${answer}$. I hope it is correct."


def cases() -> list[tuple[str, str, str, float]]:
    """(id, response, gold, expected score) for every gold, answer and form."""
    out = []
    for subject, gold, right, wrong in MATH_GOLDS:
        for form in (boxed, final_answer):
            for answers, expected in ((right, 1.0), (wrong, 0.0)):
                for answer in answers:
                    out.append((f"{subject}: {gold} <- {form.__name__}({answer})", form(answer), gold, expected))
    return out


@pytest.fixture(scope="module")
def rewards():
    with policy_rewards(workers=2, timeout_s=30.0) as built:
        yield built


def test_every_subject_is_covered():
    subjects = {s for s, *_ in MATH_GOLDS}
    assert subjects == {"Algebra", "Counting & Probability", "Geometry", "Intermediate Algebra", "Number Theory",
                        "Prealgebra", "Precalculus"}


@pytest.mark.parametrize("policy", ["anchored", "math_verify"])
def test_math_golds_score_in_both_forms(rewards, policy):
    wrong = []
    for case_id, response, gold, expected in cases():
        result = rewards[policy].score(response, gold)
        if result.failed or result.score != expected:
            wrong.append(f"{case_id}: expected {expected}, got {result.score} ({result.extra['reason']}, "
                         f"answer {result.extra['answer']!r})")
    assert not wrong, "\n".join(wrong)


def test_through_score_fn_with_the_config():
    """The path verl takes: ``compute_score`` with ``configs/score_math.yaml``'s reward kwargs (MATH rows are
    routed ``anchored``), two attempts per episode (a wrong first attempt, a right second one)."""
    from omegaconf import OmegaConf

    from verl_score.rewards.score_fn import clear_module_cache, compute_score

    kwargs = OmegaConf.load(ROOT / "configs/score_math.yaml").reward.custom_reward_function.reward_kwargs

    async def run_all():
        outs = []
        for _, gold, right, wrong in MATH_GOLDS:
            extra = {"attempt_texts": [boxed(wrong[0]), final_answer(right[0])]}
            outs.append((gold, await compute_score("lighteval/MATH", extra["attempt_texts"][-1], gold, extra,
                                                   **kwargs)))
        return outs

    try:
        outs = asyncio.run(run_all())
    finally:
        clear_module_cache()
    bad = [(gold, out) for gold, out in outs
           if (out["score_t1"], out["score_t2"], out["reward_failed"]) != (0.0, 1.0, 0.0)]
    assert not bad, bad


def test_dollar_gold_of_the_issue():
    """Issue 23's own example: it used to be ``gold_unparseable`` (failed, the episode excluded)."""
    reward = build_reward("math", workers=1, timeout_s=30.0, policy="anchored")
    try:
        result = reward.score("Final Answer: The final answer is $18.90$. I hope it is correct.", "\\$18.90")
        assert (result.score, result.failed, result.extra["reason"]) == (1.0, False, "ok")
        assert reward.score("Final Answer: The final answer is $5$. I hope it is correct.", "\\$5.00").score == 1.0
    finally:
        reward.pool.close()


def test_matrix_in_every_anchor_form():
    """A matrix (and other ``&``-bearing environments) is one value after every anchor, also over several lines."""
    from verl_score.rewards.extract import extract_math_answer

    m = r"\begin{pmatrix} \frac{1}{2} & 0 \\ 0 & 1 \end{pmatrix}"
    texts = [
        f"Final Answer: The final answer is ${m}$. I hope it is correct.",
        f"The final answer is {m}.",
        f"So the answer is ${m}$.",
        f"Answer: {m}",
        f"#### {m}",
        f"\\boxed{{{m}}}",
        "Final Answer: The final answer is $\\begin{pmatrix} \\frac{1}{2} & 0 \\\\\n 0 & 1 \\end{pmatrix}$. "
        "I hope it is correct.",
    ]
    for text in texts:
        assert extract_math_answer(text).answer.replace("\n", "") == m, text
    for env in ("bmatrix", "cases", "aligned"):
        body = rf"\begin{{{env}}} a & b \\ c & d \end{{{env}}}"
        assert extract_math_answer(f"The final answer is ${body}$.").answer == body
    array = r"\left(\begin{array}{cc} 1 & 2 \\ 3 & 4 \end{array}\right)"
    assert extract_math_answer(f"Final Answer: The final answer is ${array}$. I hope it is correct.").answer == array
