"""Canonical problem groups of procedural arithmetic, for held-out splits that cannot leak a twin into training.

Why: a split by problem text lets ``6 + 1`` sit in train while ``1 + 6`` is held out (issue #25: 23 of the old
miniature's 32 test problems had their commuted twin in train), and lets the same sum phrased by two reasoning-gym
generators (``Calculate 4 - 1.`` / ``... arithmetic problem: 4 - 1 =``) straddle the split. A held-out problem must
be new up to those symmetries.

The rule (deliberately coarse, so it errs towards merging): a problem's group is the **multiset of its operands**
and the **multiset of its operators**, whatever their order, its phrasing, the generator that made it, or its
parentheses. ``6 + 1`` and ``1 + 6`` are one group; so are ``4 - 1`` and ``1 - 4`` (different problems with
different answers, merged anyway: a model that learned one has seen the other's numbers and operator) and
``3 + 5 - 2`` / ``5 - 3 + 2``. A leading unary minus belongs to its operand (``-3 + 4``: operands -3, 4; operator
``+``). Merging too much only moves problems between splits; merging too little is a leak, so when in doubt merge.
"""

from __future__ import annotations

import json
import re
from typing import Any, Mapping

_TOKEN = re.compile(r"\d+(?:\.\d+)?|[-+*/×÷]")
_OPS = {"×": "*", "÷": "/"}


def expression_of(question: str, rg_entry: Mapping[str, Any] | str | None = None) -> str:
    """The arithmetic expression of a reasoning-gym item: its ``metadata.expression`` when the generator records one
    (basic_arithmetic, chain_sum, products do), else the question text itself (numbers and operators are read out of
    it; words carry none)."""
    entry = json.loads(rg_entry) if isinstance(rg_entry, str) else (rg_entry or {})
    expr = (entry.get("metadata") or {}).get("expression") if isinstance(entry, Mapping) else None
    return str(expr) if expr else question


def canonical_key(expression: str) -> str:
    """``ops=<sorted operators>|nums=<sorted operands>``: the group of every problem with the same operands up to
    order and the same operators (module docstring). Raises ``ValueError`` for text with no number in it."""
    nums: list[str] = []
    ops: list[str] = []
    expect_operand = True  # at the start and after an operator, a '-' is a sign, not a subtraction
    sign = ""
    for tok in _TOKEN.findall(expression):
        tok = _OPS.get(tok, tok)
        if tok[0].isdigit():
            value = sign + tok
            nums.append(repr(float(value)) if "." in value else str(int(value)))
            sign, expect_operand = "", False
        elif expect_operand and tok == "-":
            sign = "" if sign else "-"
        else:
            ops.append(tok)
            expect_operand = True
    if not nums:
        raise ValueError(f"no operand in {expression!r}: not a procedural arithmetic problem")
    return "ops=" + "".join(sorted(ops)) + "|nums=" + ",".join(sorted(nums, key=lambda n: (float(n), n)))
