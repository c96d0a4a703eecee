"""How the math reward reads a gold answer and an extracted answer with math-verify: ONE routine, used by the
verifier's worker process (``_math_worker.py``) and, in-process, by the data converter's gold check
(``math_gold.gold_parse_error`` ← ``data_preprocess.core.math_parseable``).

Why one routine: the converter used to test golds with its own call (``parse("$gold$") or parse(gold)``) while the
worker read them differently, so a MATH gold ``\\$18.90`` converted (``$\\$18.90$`` parses) and then never scored
(the worker saw the ``$`` of ``\\$``, took the gold for delimited text, found nothing: ``gold_unparseable`` and the
episode left out of training). Now a gold that converts is a gold that scores.

This file imports nothing from ``verl_score``: the worker runs with ``python -I`` (its directory and PYTHONPATH off
``sys.path``, so it imports only the standard library and math-verify) and loads it by path.
"""

from __future__ import annotations

import re
from typing import Any

# Only an UNESCAPED ``$`` opens math: ``\\$18.90`` is a dollar amount (MATH writes money so), not a delimiter.
_DELIMITED = re.compile(r"(?<!\\)\$|\\boxed|\\fbox|\\\[|\\\(")

_config: list | None = None


def _extraction_config() -> list:
    global _config
    if _config is None:
        from math_verify import ExprExtractionConfig, LatexExtractionConfig

        _config = [LatexExtractionConfig(), ExprExtractionConfig()]
    return _config


def parse(text: str, timeout: int | None = None) -> list:
    """math-verify's ``parse`` with the reward's extraction config. ``timeout=None`` (the worker: its parent kills
    it on overrun) disables math-verify's ``signal.alarm``, which only works in a main thread."""
    from math_verify import parse as mv_parse

    return mv_parse(text, extraction_config=_extraction_config(), parsing_timeout=timeout, raise_on_error=False)


def has_value(parsed: list) -> bool:
    """math-verify returns ``[]`` or ``[value, text]``; a list of strings only means it found no expression."""
    return any(not isinstance(p, str) for p in parsed)


def parse_expression(answer: str, timeout: int | None = None) -> list:
    """One expression: boxing makes math-verify read exactly it; ``$..$`` catches what boxing cannot."""
    boxed = parse("\\boxed{" + answer + "}", timeout)
    return boxed if has_value(boxed) else (parse("$" + answer + "$", timeout) or boxed)


def parse_gold(gold: str, timeout: int | None = None) -> list:
    """The gold as the reward compares it: ``[]`` when math-verify finds no value (a data bug, never "wrong").

    A gold in latex delimiters (an unescaped ``$``, ``\\boxed``, ``\\[``, ``\\(``) is read as written; a bare one as
    one expression (``\\$18.90``, ``5\\text{ cm}``, ``30^\\circ``, ``\\begin{pmatrix}...``); else as plain text."""
    parsed = parse(gold, timeout) if _DELIMITED.search(gold) else parse_expression(gold, timeout)
    if not has_value(parsed):
        parsed = parse(gold, timeout)
    return parsed if has_value(parsed) else []


def parse_answer(answer: str, text: bool, timeout: int | None = None) -> list:
    """An extracted answer: one expression, or (``text``) prose for math-verify's own extraction to search."""
    return parse(answer, timeout) if text else parse_expression(answer, timeout)


def equal(gold: list, pred: list, timeout: int | None = None) -> bool:
    from math_verify import verify

    return bool(verify(gold, pred, timeout_seconds=timeout, raise_on_error=False))


def warm() -> Any:
    """Parse and compare once, so a fresh worker's first real check does not pay for sympy's and the latex
    grammar's lazy loading (tens of ms quiet, seconds on a loaded machine)."""
    return equal(parse_gold("\\frac{1}{2}"), parse_answer("\\sqrt{x^2} + 0.5", text=False))
