"""``llm_judge``: an LLM decides whether a response's final answer is equivalent to the reference answer.

Used where rule-based checking fails (free-form answers, SCoRe-B's QA sets). Its failure modes are the reason for
this module's shape (pitfall 10 in docs: a failed judge call once silently scored 0):

* the verdict must be a JSON object ``{"equivalent": true|false, "reason": "..."}``; a reply without one is re-asked
  (``max_verdict_retries``) and then a *failure*, never a 0;
* transport errors are retried by ``LLMClient``'s policy and then a failure;
* a failure either raises (``on_failure: raise``) or yields ``failure_score`` (which must be given explicitly) with
  ``RewardResult.failed=True`` and ``extra["judge_failed"]=1``, so it is counted, never mistaken for a wrong answer;
* a process-wide ``FailureRateMonitor`` stops the run when too many recent calls failed.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any, Mapping

from verl_score.llm.client import LLMCallError, LLMClient
from verl_score.llm.config import LLMClientConfig
from verl_score.llm.failure_monitor import FailureRateMonitor, MonitorConfig, get_monitor
from verl_score.llm.json_extract import JSONExtractError, extract_json_object
from verl_score.llm.stats import CallStats
from verl_score.rewards.base import RewardResult
from verl_score.rewards.key_step import StepMatch, register_step_matcher
from verl_score.rewards.registry import register_reward

logger = logging.getLogger(__name__)

JUDGE_SYSTEM_PROMPT = (
    "You are a strict grader. Decide whether the final answer in a student's response is mathematically or "
    "semantically equivalent to the reference answer. Ignore the reasoning; compare only the final answer. "
    'Reply with one JSON object and nothing else: {"equivalent": true or false, "reason": "<one short sentence>"}.'
)

JUDGE_USER_TEMPLATE = "{question_block}Reference answer:\n{ground_truth}\n\nStudent response:\n{solution}\n"

# JSON schema for servers that support structured output (OpenAI, vLLM, SGLang, llama.cpp): the reply is then
# guaranteed to parse, and parsing stays strict for servers that ignore it.
VERDICT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"equivalent": {"type": "boolean"}, "reason": {"type": "string"}},
    "required": ["equivalent", "reason"],
    "additionalProperties": False,
}

_DEFAULT_ENV = {"base_url_env": "JUDGE_API_BASE", "api_key_env": "JUDGE_API_KEY"}


class JudgeError(RuntimeError):
    """A judge call failed and the policy is ``on_failure: raise``."""

    def __init__(self, kind: str, message: str):
        self.kind = kind
        super().__init__(message)


class VerdictError(ValueError):
    """The judge replied, but not with a valid verdict object."""


def parse_verdict(text: str) -> tuple[bool, str]:
    """``(equivalent, reason)`` from the judge's text; anything but a JSON bool ``equivalent`` is a ``VerdictError``."""
    try:
        obj = extract_json_object(text)
    except JSONExtractError as e:
        raise VerdictError(str(e)) from None
    verdict = obj.get("equivalent")
    if not isinstance(verdict, bool):
        raise VerdictError(f'"equivalent" must be a JSON boolean, got {verdict!r}')
    reason = obj.get("reason", "")
    return verdict, reason if isinstance(reason, str) else str(reason)


@register_reward("llm_judge")
class LLMJudgeReward:
    """Answer-equivalence judge. YAML::

        routes: {my_qa: {name: llm_judge, kwargs: {client: {base_url: ..., model: ..., api_key_env: JUDGE_API_KEY},
                                                   on_failure: score, failure_score: 0.0}}}

    ``client`` defaults its endpoint and key to ``$JUDGE_API_BASE`` / ``$JUDGE_API_KEY``.
    """

    def __init__(
        self,
        client: LLMClientConfig | Mapping[str, Any] | LLMClient | None = None,
        on_failure: str = "raise",
        failure_score: float | None = None,
        max_verdict_retries: int = 2,
        structured_output: bool = True,
        monitor: MonitorConfig | Mapping[str, Any] | None = None,
        monitor_name: str = "llm_judge",
        system_prompt: str = JUDGE_SYSTEM_PROMPT,
        user_template: str = JUDGE_USER_TEMPLATE,
    ):
        if on_failure not in ("raise", "score"):
            raise ValueError(f"on_failure must be 'raise' or 'score', got {on_failure!r}")
        if on_failure == "score" and failure_score is None:
            raise ValueError("on_failure='score' needs an explicit failure_score (no silent default)")
        if max_verdict_retries < 0:
            raise ValueError("max_verdict_retries must be >= 0")
        if isinstance(client, LLMClient):
            self.client = client
        else:
            cfg = LLMClientConfig.from_dict(client)
            if cfg.base_url is None and cfg.base_url_env is None:
                cfg = dataclasses.replace(cfg, base_url_env=_DEFAULT_ENV["base_url_env"])
            if cfg.api_key is None and cfg.api_key_env is None:
                cfg = dataclasses.replace(cfg, api_key_env=_DEFAULT_ENV["api_key_env"])
            self.client = LLMClient(cfg)
        self.on_failure = on_failure
        self.failure_score = failure_score
        self.max_verdict_retries = max_verdict_retries
        self.structured_output = structured_output
        self.system_prompt = system_prompt
        self.user_template = user_template
        self.monitor: FailureRateMonitor = get_monitor(monitor_name, monitor)
        # Verdict-level counters (HTTP-level ones are ``self.client.stats``): calls = judged responses,
        # retries = re-asks after an invalid verdict, failures by kind (``bad_verdict``, ``timeout``, ``http_5xx``...).
        self.stats = CallStats()

    def __repr__(self) -> str:
        return f"LLMJudgeReward(client={self.client!r}, on_failure={self.on_failure!r})"

    def messages(self, solution: str, ground_truth: Any, extra_info: Mapping[str, Any] | None) -> list[dict[str, str]]:
        question = (extra_info or {}).get("question") or (extra_info or {}).get("problem")
        question_block = f"Question:\n{question}\n\n" if question else ""
        user = self.user_template.format(question_block=question_block, ground_truth=ground_truth, solution=solution)
        return [{"role": "system", "content": self.system_prompt}, {"role": "user", "content": user}]

    async def __call__(self, solution: str, ground_truth: Any, extra_info: dict[str, Any] | None) -> RewardResult:
        self.monitor.check()  # a tripped monitor stops every later call, not only the one that tripped it
        messages = self.messages(solution, ground_truth, extra_info)
        params: dict[str, Any] = {}
        if self.structured_output:
            params["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "verdict", "strict": True, "schema": VERDICT_SCHEMA},
            }
        calls = 0
        kind, detail = "", ""
        start = time.monotonic()
        for _ in range(self.max_verdict_retries + 1):
            calls += 1
            try:
                reply = await self.client.chat(messages, **params)
            except LLMCallError as e:  # retries already spent inside the client: do not multiply them here
                kind, detail = e.kind, str(e)
                break
            try:
                equivalent, reason = parse_verdict(reply.text)
            except VerdictError as e:
                kind, detail = "bad_verdict", str(e)
                logger.warning("judge at %s gave no valid verdict (%s)", self.client.endpoint, e)
                if calls <= self.max_verdict_retries:
                    self.stats.record_retry(kind)
                continue
            logger.debug("judge verdict %s: %s", equivalent, reason)
            self.stats.record_success(time.monotonic() - start)
            self.monitor.record(True, endpoint=self.client.endpoint)
            extra = {"judge_failed": 0, "judge_calls": calls, "judge_equivalent": int(equivalent)}
            return RewardResult(score=1.0 if equivalent else 0.0, extra=extra)
        self.stats.record_failure(kind, time.monotonic() - start)
        return self._fail(kind, detail, calls)

    def _fail(self, kind: str, detail: str, calls: int) -> RewardResult:
        self.monitor.record(False, kind, endpoint=self.client.endpoint)  # raises FailureRateExceeded when tripped
        if self.on_failure == "raise":
            raise JudgeError(kind, f"llm_judge failed ({kind}) after {calls} call(s): {detail}")
        assert self.failure_score is not None
        # Same keys as a success (verl collects extras column-wise); the kind goes to the log and the monitor.
        logger.warning("llm_judge failure (%s) after %d call(s); scoring %s", kind, calls, self.failure_score)
        extra = {"judge_failed": 1, "judge_calls": calls, "judge_equivalent": 0}
        return RewardResult(score=float(self.failure_score), extra=extra, failed=True)


# ------------------------------------------------------------------------------------ key-step matching by a judge
STEP_JUDGE_SYSTEM_PROMPT = (
    "You compare one step of a student's solution with a reference step. Decide whether the student's step takes "
    "the same action as the reference step: the same key operation or claim, even if worded or coded differently. "
    'Reply with one JSON object and nothing else: {"equivalent": true or false, "reason": "<one short sentence>"}.'
)
STEP_JUDGE_USER_TEMPLATE = "{question_block}Reference step:\n{ground_truth}\n\nStudent step:\n{solution}\n"


@register_step_matcher("llm_judge")
class LLMStepMatcher:
    """``key_step``'s ``matcher: llm_judge``: two judge verdicts, step ≡ teacher's step? step ≡ student's mistake?

    Reuses ``LLMJudgeReward`` (same client, retries, strict verdict parsing, failure monitor), so a failed judge call
    is a failed match — counted through ``StepMatch.failed`` — never a silent "neither". As in the rule matcher, a
    step equivalent to both references counts as repeating the mistake.
    """

    def __init__(self, **judge_kwargs: Any):
        judge_kwargs.setdefault("system_prompt", STEP_JUDGE_SYSTEM_PROMPT)
        judge_kwargs.setdefault("user_template", STEP_JUDGE_USER_TEMPLATE)
        judge_kwargs.setdefault("monitor_name", "llm_step_judge")
        self.judge = LLMJudgeReward(**judge_kwargs)

    async def __call__(self, step: str, teacher_step: str, mistake_step: str, extra_info: Mapping[str, Any]) -> StepMatch:
        info = dict(extra_info or {})
        as_teacher = await self.judge(step, teacher_step, info)
        as_mistake = await self.judge(step, mistake_step, info) if mistake_step else None
        failed = as_teacher.failed or (as_mistake is not None and as_mistake.failed)
        extra = {"step_judge_calls": as_teacher.extra["judge_calls"] + (as_mistake.extra["judge_calls"] if as_mistake else 0)}
        if failed:
            return StepMatch("neither", failed=True, extra=extra)
        if as_mistake is not None and as_mistake.score == 1.0:
            return StepMatch("mistake", extra=extra)
        return StepMatch("teacher" if as_teacher.score == 1.0 else "neither", extra=extra)
