"""``math``: the last committed answer, checked for mathematical equivalence with math-verify.

Why this shape: RL amplifies reward bugs. The public SCoRe code accepts a response if *any* number in it equals
the gold answer and keeps only the last 300 characters; both reward wrong or hedged answers. Here exactly one
answer is extracted (the LAST ``\\boxed{}``, "The final answer is $X$" or ``#### N``: see ``extract.py``), then
compared by a cheap exact numeric path or by math-verify in a killable worker process (bounded time, any thread).
"""

from __future__ import annotations

import asyncio
import numbers
import re
import threading
import time
from collections import OrderedDict
from fractions import Fraction
from typing import Any

from verl_score.rewards.base import RewardResult
from verl_score.rewards.extract import extract_gold_answer, extract_math_answer
from verl_score.rewards.math_pool import MathVerifyPool
from verl_score.rewards.registry import register_reward

_PLAIN_NUMBER = re.compile(r"^-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$|^-?\.\d+$")


def plain_number(text: str) -> Fraction | None:
    """Exact value of a plain decimal ("1,234", "-0.5"); anything with latex, units or symbols is ``None``."""
    if len(text) > 64 or not _PLAIN_NUMBER.match(text):
        return None
    return Fraction(text.replace(",", ""))


@register_reward("math")
class MathReward:
    """Score 1.0 when the response's final answer equals the gold answer mathematically, else 0.0.

    Reasons in ``extra["reason"]``: ``ok`` / ``wrong`` / ``no_answer`` / ``response_too_long`` /
    ``answer_too_long`` / ``answer_too_deep`` / ``answer_unparseable`` / ``verify_timeout`` (failed) /
    ``gold_unparseable`` (failed: a data bug) / ``verify_error`` (failed).
    """

    def __init__(
        self,
        workers: int = 2,
        timeout_s: float = 10.0,
        max_response_chars: int = 400_000,
        max_answer_chars: int = 1_000,
        max_depth: int = 64,
        fallback: str = "none",
        cache_size: int = 8192,
    ):
        self.pool = MathVerifyPool(workers=workers, timeout_s=timeout_s)
        self.extract_kwargs = dict(
            max_response_chars=max_response_chars, max_answer_chars=max_answer_chars, max_depth=max_depth,
            fallback=fallback,
        )
        extract_math_answer("", **self.extract_kwargs)  # validate the options now, not at the first sample
        self._cache: OrderedDict[tuple[str, str], dict] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    async def __call__(self, solution: str, ground_truth: Any, extra_info: dict[str, Any]) -> RewardResult:
        return await asyncio.to_thread(self.score, solution, ground_truth)

    def score(self, solution: str, ground_truth: Any) -> RewardResult:
        """Synchronous scoring (safe in any thread); ``__call__`` runs it off the event loop."""
        start = time.perf_counter()
        gold = extract_gold_answer(_gold_text(ground_truth))
        found = extract_math_answer(solution, **self.extract_kwargs)
        extra: dict[str, Any] = {"answer": found.answer, "answer_kind": found.kind, "gold": gold,
                                 "answer_found": float(found.answer is not None), "fast_path": 0.0}
        if found.answer is None:
            return _result(0.0, found.reason, extra, start)
        verdict = self.compare(gold, found.answer)
        extra["fast_path"] = float(verdict.get("fast_path", False))
        reason = verdict["reason"]
        if reason == "ok":
            return _result(1.0 if verdict["equal"] else 0.0, "ok" if verdict["equal"] else "wrong", extra, start)
        failed = reason in ("timeout", "error", "gold_unparseable")
        reason = {"timeout": "verify_timeout", "error": "verify_error"}.get(reason, reason)
        if "error" in verdict:
            extra["error"] = verdict["error"]
        return _result(0.0, reason, extra, start, failed=failed)

    def compare(self, gold: str, answer: str) -> dict:
        """``{"equal", "reason"}``: exact rational comparison for plain numbers, else math-verify (cached)."""
        if _squash(gold) == _squash(answer):  # identical text (the usual correct answer): equal without sympy
            return {"equal": True, "reason": "ok", "fast_path": True}
        g, a = plain_number(gold), plain_number(answer)
        if g is not None and a is not None and (g == a or (g.denominator == 1 and a.denominator == 1)):
            return {"equal": g == a, "reason": "ok", "fast_path": True}
        key = (gold, answer)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        verdict = self.pool.check(gold, answer)
        if verdict["reason"] in ("ok", "answer_unparseable", "gold_unparseable"):  # deterministic: cache
            with self._lock:
                self._cache[key] = verdict
                if len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return verdict


def _squash(text: str) -> str:
    return "".join(text.split())


def _gold_text(ground_truth: Any) -> str:
    if isinstance(ground_truth, numbers.Real) and not isinstance(ground_truth, bool):  # incl. numpy scalars
        return str(int(ground_truth)) if float(ground_truth).is_integer() else repr(float(ground_truth))
    if isinstance(ground_truth, str) and ground_truth.strip():
        return ground_truth
    raise ValueError(f"math reward needs a non-empty string (or number) ground truth, got {ground_truth!r}")


def _result(score: float, reason: str, extra: dict, start: float, failed: bool = False) -> RewardResult:
    extra["reason"] = reason
    extra["correct"] = float(score == 1.0)
    extra["elapsed_ms"] = (time.perf_counter() - start) * 1e3
    return RewardResult(score=score, extra=extra, failed=failed)
