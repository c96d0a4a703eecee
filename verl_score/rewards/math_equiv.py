"""``math``: the last committed answer, checked for mathematical equivalence with math-verify.

Why this shape: RL amplifies reward bugs. The public SCoRe code accepts a response if *any* number in it equals
the gold answer and keeps only the last 300 characters; both reward wrong or hedged answers. Here exactly one
answer is extracted (the LAST committed one across ``\\boxed{}`` groups, "The final answer is $X$", "the answer
is X" and ``#### N``: see ``extract.py``), then compared by a cheap exact numeric path or by math-verify in a
killable worker process (bounded wall clock from call to return, any thread).

Extraction policy (``policy``, per data source in YAML):

* ``anchored`` -- only an anchored answer counts; a response without one is ``no_answer``. For RL with a format
  instruction ("write Final Answer: ..."): not following the format earns nothing.
* ``math_verify`` (default) -- anchors first, exactly as ``anchored``; an anchorless response is read as a careful
  grader reads free-form text: the value its closing sentence states ("There are 76 involutions on {1,...,6}."),
  else math-verify's own extraction on its last ``FREE_FORM_TAIL_CHARS`` characters. For evaluation and data
  without a format instruction.
"""

from __future__ import annotations

import asyncio
import functools
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from verl_score.rewards.base import RewardResult
from verl_score.rewards.dressed import compare_plain, plain_number
from verl_score.rewards.exact_value import compare as exact_compare
from verl_score.rewards.exact_value import exact_value
from verl_score.rewards.extract import Extracted, extract_math_answer
from verl_score.rewards.math_gold import gold_text, reward_gold
from verl_score.rewards.math_pool import MathVerifyPool
from verl_score.rewards.registry import register_reward
from verl_score.rewards.unevaluated import gold_is_number, is_unevaluated, stated_value_after

_SPACED_DIGITS = re.compile(r"(?<=\d)\s+(?=\d)")
POLICIES = ("anchored", "math_verify")


# what sympy may spend seconds to hours on: a power in an exponent (9^{9^{9}}, e^{e^{e^e}}, 10^{10^9}, 10^10^9), a
# 3+-digit exponent or factorial, a factorial of a group ((10^{6})!), sums / products / integrals / binomials / limits /
# determinants (\binom{10^{6}}{500000} and \int_0^1 \sin(x^5)\cos(x^3)\,dx held a worker for the whole bound)
_RISKY = re.compile(
    r"\^\s*\{[^{}]*\^|\^\s*(?:\d+|[A-Za-z]|\\[A-Za-z]+)\s*\^|\^\s*\{?\s*\d{3,}|\d{3,}\s*!|[)}\]]\s*!"
    r"|\\(?:sum|prod|int|iint|iiint|oint|[dt]?binom|lim|det)(?![A-Za-z])"
    r"|\\frac\s*\{[^{}]*\\frac\s*\{[^{}]*\\frac")
_RISKY_LEN = 300


def is_risky(answer: str, text_mode: bool = False) -> bool:
    """An answer whose check may not end: nested or huge powers, big factorials, sums, products, integrals,
    binomials, limits, determinants, triply nested fractions, or over ``_RISKY_LEN`` characters (an expression;
    ``text_mode`` prose is long by nature). Its check gets ``risky_check_s`` (2 s) instead of the whole bound, so
    pathological answers no longer hold the workers for 10 s while every ordinary check waits behind them (they timed
    out). An ordinary answer with such a command (``\\binom{5}{2}``) takes milliseconds: the cap costs it nothing."""
    return (not text_mode and len(answer) > _RISKY_LEN) or _RISKY.search(answer) is not None


@register_reward("math")
class MathReward:
    """Score 1.0 when the response's final answer equals the gold answer mathematically, else 0.0.

    Reasons in ``extra["reason"]``: ``ok`` / ``wrong`` / ``no_answer`` / ``unevaluated_expression`` (a number's
    gold answered by arithmetic still to do, e.g. the question's "59 + 93"; ``values_only=False`` lets math-verify
    evaluate it) / ``response_too_long`` /
    ``answer_too_long`` / ``answer_too_deep`` / ``answer_unparseable`` (scored 0) and, counted as ``failed``
    (never a wrong answer): ``verify_timeout`` / ``verify_error`` / ``response_not_string`` / ``gold_missing`` /
    ``gold_unparseable`` (the last three are data bugs). Wall clock from call to return is at most ``timeout_s``
    plus scheduling noise, whatever the input.
    """

    def __init__(
        self,
        workers: int = 2,
        timeout_s: float = 10.0,
        policy: str = "math_verify",
        max_response_chars: int = 400_000,
        max_answer_chars: int = 1_000,
        max_depth: int = 64,
        fallback: str | None = None,
        cache_size: int = 8192,
        risky_check_s: float = 2.0,
        values_only: bool = True,
    ):
        if policy not in POLICIES:
            raise ValueError(f"math reward policy must be one of {POLICIES}, got {policy!r}")
        if fallback is None:  # an explicit fallback (last_number / full_text) overrides the policy's
            fallback = "math_verify" if policy == "math_verify" else "none"
        self.policy = policy
        # a number's gold is matched by a value, never by arithmetic still to do ("59 + 93"): see unevaluated.py
        self.values_only = values_only
        self.timeout_s = timeout_s
        self.pool = MathVerifyPool(workers=workers, timeout_s=timeout_s, prestart=True)
        self.risky_check_s = risky_check_s
        self.extract_kwargs = dict(
            max_response_chars=max_response_chars, max_answer_chars=max_answer_chars, max_depth=max_depth,
            fallback=fallback,
        )
        extract_math_answer("", **self.extract_kwargs)  # validate the options now, not at the first sample
        self._cache: OrderedDict[tuple[str, str, bool], dict] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    async def __call__(self, solution: str, ground_truth: Any, extra_info: dict[str, Any]) -> RewardResult:
        """The bound starts HERE and is enforced here: verl awaits a whole batch at once. With ``asyncio.to_thread``
        (a shared executor of min(32, cores + 4) threads) calls queued behind slow checks started their clock late
        and returned seconds past the timeout. Now: the clock starts at the call; a short response is extracted and
        settled by the fast paths right here (no thread, no queue: most answers end here in well under a ms); only
        a check that needs math-verify goes to our executor, and the call returns ``verify_timeout`` at the deadline
        whatever that thread is doing."""
        deadline = time.monotonic() + self.timeout_s
        prepared = None
        if not isinstance(solution, str) or len(solution) <= _INLINE_CHARS:
            prepared = self._prepare(solution, ground_truth, deadline)
            if isinstance(prepared, RewardResult):
                return prepared
            work = functools.partial(self._finish, prepared)
        else:
            work = functools.partial(self.score, solution, ground_truth, deadline=deadline)
        future = asyncio.get_running_loop().run_in_executor(_executor(), work)
        try:
            return await asyncio.wait_for(future, max(0.0, deadline - time.monotonic()) + _GRACE_S)
        except asyncio.TimeoutError:  # the thread (if it ever started) ends by the same deadline; its answer is moot
            extra = dict(prepared.extra) if prepared is not None else {
                "answer": None, "answer_kind": "", "gold": None, "answer_found": 0.0, "fast_path": 0.0,
                "policy": self.policy}
            return _result(0.0, "verify_timeout", extra, deadline - self.timeout_s, failed=True)

    def score(self, solution: str, ground_truth: Any, deadline: float | None = None) -> RewardResult:
        """Synchronous scoring (safe in any thread). Never raises on bad input: a non-string response or a missing
        gold is a ``failed`` result with its reason.

        ``deadline``: ``time.monotonic()`` by which to return (default: now + ``timeout_s``); ``elapsed_ms``
        counts from ``deadline - timeout_s``, i.e. from the call."""
        if deadline is None:
            deadline = time.monotonic() + self.timeout_s
        prepared = self._prepare(solution, ground_truth, deadline)
        return prepared if isinstance(prepared, RewardResult) else self._finish(prepared)

    def _prepare(self, solution: Any, ground_truth: Any, deadline: float) -> RewardResult | _Pending:
        """Everything short of math-verify: the gold, the extracted answer and the in-process comparisons. A
        ``RewardResult`` when that settles it, else what ``_finish`` needs to ask a worker."""
        start = deadline - self.timeout_s  # monotonic time of the call
        extra: dict[str, Any] = {"answer": None, "answer_kind": "", "gold": None, "answer_found": 0.0,
                                 "fast_path": 0.0, "policy": self.policy}
        gold = reward_gold(ground_truth)
        if gold is None:
            extra["error"] = f"ground truth must be a non-empty string or a number, got {ground_truth!r}"[:300]
            return _result(0.0, "gold_missing", extra, start, failed=True)
        extra["gold"] = gold
        if not isinstance(solution, str):
            extra["error"] = f"response must be a str, got {type(solution).__name__}"
            return _result(0.0, "response_not_string", extra, start, failed=True)
        found = extract_math_answer(solution, **self.extract_kwargs)
        extra.update(answer=found.answer, answer_kind=found.kind, answer_found=float(found.answer is not None))
        if found.answer is None:
            return _result(0.0, found.reason, extra, start)
        if self.values_only and gold_is_number(gold) and is_unevaluated(found.answer, found.text_mode):
            value = None if found.text_mode else stated_value_after(solution, found.answer)
            if value is None:
                return _result(0.0, "unevaluated_expression", extra, start)
            extra.update(answer=value, expression=found.answer)
            found = Extracted(value, found.kind)  # "The final answer is 7 + 7, which is 14.": the value it states
        verdict = self._compare_in_process(gold, found.answer, found.text_mode)
        pending = _Pending(gold, found, extra, start, deadline)
        return pending if verdict is None else _verdict_result(verdict, pending)

    def _finish(self, pending: _Pending) -> RewardResult:
        return _verdict_result(self.compare(pending.gold, pending.found, deadline=pending.deadline), pending)

    def compare(self, gold: str, answer: str | Extracted, deadline: float | None = None) -> dict:
        """``{"equal", "reason"}``: exact rational comparison for numbers, else math-verify (cached).

        ``answer``: the extracted answer (an ``Extracted`` says whether it is prose for math-verify to search)
        or a bare answer string. ``deadline``: ``time.monotonic()`` by which to answer (default: ``timeout_s``)."""
        text_mode = isinstance(answer, Extracted) and answer.text_mode
        if isinstance(answer, Extracted):
            answer = answer.answer or ""
        known = self._compare_in_process(gold, answer, text_mode)
        if known is not None:
            return known
        key = (gold, answer, text_mode)
        # sympy may spin on a risky answer: its worker is freed after risky_check_s of work (waiting for a worker
        # does not count), so ordinary checks do not queue behind it for the whole bound
        check_s = self.risky_check_s if is_risky(answer, text_mode) else None
        verdict = self.pool.check(gold, answer, text=text_mode, deadline=deadline, max_check_s=check_s)
        if verdict["reason"] in ("ok", "answer_unparseable", "gold_unparseable"):  # deterministic: cache
            with self._lock:
                self._cache[key] = verdict
                if len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return verdict

    def _compare_in_process(self, gold: str, answer: str, text_mode: bool) -> dict | None:
        """The verdict without a worker when one is certain: identical text, a GSM8K-dressed number, an exact
        number / fraction / surd / multiple of pi (``exact_value``), a cached verdict; else ``None``."""
        if _squash(gold) == _squash(answer):  # identical text (the usual correct answer): equal without sympy
            return {"equal": True, "reason": "ok", "fast_path": True}
        g = plain_number(gold)
        if g is not None:  # "$1,000", "28\\%", "12 apples", "3 thousand", "3 eighths", "8 fewer": see dressed.py
            equal = compare_plain(g, answer)
            if equal is not None:
                return {"equal": equal, "reason": "ok", "fast_path": True}
        if not text_mode:  # integers, decimals, fractions, surds, multiples of pi: exact, without a worker
            exact_gold = exact_value(gold)
            exact_answer = exact_value(answer, allow_assignment=True) if exact_gold is not None else None
            equal = exact_compare(exact_gold, exact_answer) if exact_answer is not None else None
            if equal is not None:
                return {"equal": equal, "reason": "ok", "fast_path": True}
        with self._lock:
            hit = self._cache.get((gold, answer, text_mode))
            if hit is not None:
                self._cache.move_to_end((gold, answer, text_mode))
        return hit


@dataclass
class _Pending:
    """A call that needs math-verify: what ``_prepare`` found, for ``_finish``."""

    gold: str
    found: Extracted
    extra: dict
    start: float
    deadline: float


def _verdict_result(verdict: dict, pending: _Pending) -> RewardResult:
    extra, start = pending.extra, pending.start
    extra["fast_path"] = float(verdict.get("fast_path", False))
    reason = verdict["reason"]
    if reason == "ok":
        return _result(1.0 if verdict["equal"] else 0.0, "ok" if verdict["equal"] else "wrong", extra, start)
    failed = reason in ("timeout", "error", "gold_unparseable")
    reason = {"timeout": "verify_timeout", "error": "verify_error"}.get(reason, reason)
    if "error" in verdict:
        extra["error"] = verdict["error"]
    return _result(0.0, reason, extra, start, failed=failed)


#: threads of the executor ``MathReward.__call__`` runs checks on (shared by every MathReward of the process). A
#: thread mostly waits on a worker's pipe; enough of them that a batch never queues for a thread.
_THREADS = 64
#: ``__call__`` extracts responses up to this long on the event loop (well under a millisecond); longer ones in a thread
_INLINE_CHARS = 16_000
#: ``__call__`` waits this long past the deadline for the thread's own timeout verdict before answering it itself
_GRACE_S = 0.02
_EXECUTOR: ThreadPoolExecutor | None = None
_EXECUTOR_LOCK = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    global _EXECUTOR
    with _EXECUTOR_LOCK:
        if _EXECUTOR is None:
            _EXECUTOR = ThreadPoolExecutor(max_workers=_THREADS, thread_name_prefix="math-reward")
        return _EXECUTOR


def _squash(text: str) -> str:
    """The text without spacing, except between two digits: ``1 2`` is not ``12``."""
    return "".join(_SPACED_DIGITS.sub("\x00", text).split())


def _result(score: float, reason: str, extra: dict, start: float, failed: bool = False) -> RewardResult:
    extra["reason"] = reason
    extra["correct"] = float(score == 1.0)
    extra["elapsed_ms"] = (time.monotonic() - start) * 1e3
    return RewardResult(score=score, extra=extra, failed=failed)
