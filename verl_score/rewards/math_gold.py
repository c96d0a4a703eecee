"""The gold answer as the math reward reads it, in one place for the reward and the data converter.

Why: a row whose gold the reward cannot read scores ``gold_unparseable`` on every response and is left out of
training (a silent loss of data). The converter refuses such a row up front, naming its file and row, by calling
:func:`gold_parse_error`, which runs exactly the reward's path: :func:`reward_gold` (the same reduction of a
``#### N`` rationale or a boxed solution) and ``math_parse.parse_gold`` (the same math-verify reading the verifier's
worker uses).
"""

from __future__ import annotations

import numbers
import threading
from typing import Any

from verl_score.rewards.extract import extract_gold_answer


def gold_text(ground_truth: Any) -> str | None:
    """The gold as text; ``None`` for a missing / empty / non-finite one (a data bug, reported as failed)."""
    if isinstance(ground_truth, numbers.Real) and not isinstance(ground_truth, bool):  # incl. numpy scalars
        value = float(ground_truth)
        if value != value or value in (float("inf"), float("-inf")):
            return None
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(ground_truth, str) and ground_truth.strip():
        return ground_truth
    return None


def reward_gold(ground_truth: Any) -> str | None:
    """The answer the reward compares with: bare, the ``#### N`` of a GSM8K rationale, or the last box of a
    solution; ``None`` when there is no gold at all."""
    text = gold_text(ground_truth)
    return None if text is None else extract_gold_answer(text)


def gold_parse_error(ground_truth: Any) -> str | None:
    """``None`` when the math reward can read this gold; else why not (for the converter's error message).

    In-process math-verify: its parse timeout (``signal.alarm``) is used in the main thread only, where it works."""
    from verl_score.rewards.math_parse import parse_gold

    gold = reward_gold(ground_truth)
    if gold is None:
        return "the gold answer is missing or empty"
    timeout = 5 if threading.current_thread() is threading.main_thread() else None
    try:
        parsed = parse_gold(gold, timeout)
    except Exception as e:  # noqa: BLE001 - math-verify raises on some malformed latex: unreadable gold
        return f"math-verify raised {type(e).__name__} on {gold[:80]!r}"
    return None if parsed else f"the math reward cannot parse the gold {gold[:80]!r}"
