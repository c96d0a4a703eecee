"""SMART guidance: a model writes the hint before attempt 2; leaks and failures fall back to the static instruction.

Registered as ``guidance: smart`` for the ``score_two_attempt`` agent loop (import this module, e.g. from
``verl_score.register``). Rules from notes/score-methods.md §2:

* The guide sees the problem and attempt 1 ONLY. ``instruction`` (the ``GuidanceProvider`` protocol) has no
  parameter through which a ground truth could arrive, and ``guide_messages`` -- the only function that builds the
  guide's prompt -- takes just the problem and the attempt.
* The hint is screened by ``LeakageFilter``: a stated/boxed final answer, a verdict on the attempt, text that is
  not English or a full solution is rejected inside ``instruction``; a hint the rules pass then goes to the optional
  second pass, ``VerdictClassifier`` (one YES/NO call: does it reveal or imply whether the answer is right?; on by
  default, ``verdict_classifier.enabled``), where anything but a clear NO -- a YES, an unparseable reply, a failed
  call -- is a rejection too. The answer-equivalence rule needs the gold answer, which the guide must never see, so
  it is a separate step: ``screen(guidance, reference=gold)`` receives only the finished hint text and the gold;
  callers that hold the ground truth (the agent loop's row, eval) call it after ``instruction``.
* Any failure (endpoint error after the client's retries, timeout, empty text) or rejection returns the static
  paper instruction with source ``smart_failed`` / ``smart_rejected`` and the reason in ``Guidance.reason``; both
  are counted (``metrics()``), and the loop records the reason per turn (``extra_fields["guidance_reasons"]``) so
  training and validation log ``guidance/rejected_rate/{reason}`` (``verl_score.metrics``).
"""

from __future__ import annotations

import asyncio
import json
import sys
import logging
import threading
from collections import Counter
from pathlib import Path
from typing import Any, Mapping, Sequence

from verl_score.contracts.guidance import Guidance, register_guidance
from verl_score.llm import LLMClientConfig, LLMConfigError
from verl_score.prompts import self_correction_instruction
from verl_score.teacher.backends import ChatBackend, EndpointBackend, PolicyBackend, TokenGenerator
from verl_score.teacher.config import client_config_for_role, load_yaml_section
from verl_score.teacher.leakage import LeakageFilter
from verl_score.teacher.verdict_classifier import VerdictClassifier

logger = logging.getLogger(__name__)

__all__ = [
    "GUIDE_SYSTEM",
    "GuideUnavailableError",
    "probe_endpoint",
    "GuidanceCounters",
    "SmartGuidance",
    "guide_messages",
    "rates_from_sources",
    "screened_instruction",
]

# After hrl-reasoning's correction prompt ("analyze the solution for errors ... write a brief, helpful
# instruction ... DO NOT include ANY SOLUTION"), tightened with the leakage rules the filter enforces: no answer, no
# solution, and no verdict (a "correct" / "no changes needed" would make attempt 2 verifier-assisted correction).
GUIDE_SYSTEM = (
    "You are a teacher reviewing a student's attempt at a problem. Analyze the solution for errors in reasoning, "
    "arithmetic or understanding of the question. Then write a brief, helpful instruction (one to three sentences) "
    "that tells the student what to re-check or reconsider. DO NOT include ANY SOLUTION: do not state the final "
    "answer, do not compute intermediate results, do not write equations or code. NEVER give a verdict: do not say "
    "whether the solution is correct or incorrect, right or wrong, that it has or has no mistakes, or that changes "
    "are or are not needed -- even if it looks right to you. Do not praise, do not say the student is close or on "
    "the right track, and do not say what the student did right or wrong; write in English. Always phrase your "
    "instruction as something specific to re-check (a step, a quantity, an assumption), for example: \"Re-check how "
    "you counted the days in step 2.\""
)
GUIDE_USER = "Problem:\n{problem}\n\nStudent's solution:\n{attempt}\n\nYour brief instruction to the student:"
DEFAULT_TEMPLATE = "{static}\nSuggestive Correction: {hint}"


def _problem_text(problem_messages: Sequence[Mapping[str, Any]]) -> str:
    """The problem as the student saw it: the user turns of the prompt (system prompts are formatting rules)."""
    users = [str(m.get("content", "")) for m in problem_messages if m.get("role") == "user"]
    return "\n\n".join(users) if users else "\n\n".join(str(m.get("content", "")) for m in problem_messages)


def guide_messages(problem_messages: Sequence[Mapping[str, Any]], attempt_text: str) -> list[dict[str, str]]:
    """The guide's whole prompt. Only the problem and the previous attempt go in -- by construction."""
    return [
        {"role": "system", "content": GUIDE_SYSTEM},
        {"role": "user", "content": GUIDE_USER.format(problem=_problem_text(problem_messages), attempt=attempt_text)},
    ]


class GuidanceCounters:
    """Outcome counts of one provider (thread-safe); ``metrics()`` turns them into the trainer's rates."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.outcomes: Counter = Counter()  # smart / smart_rejected / smart_failed
        self.rejected: Counter = Counter()  # by leakage reason
        self.failed: Counter = Counter()  # by failure kind

    def record(self, source: str, detail: str | None = None) -> None:
        with self._lock:
            self.outcomes[source] += 1
            if source == "smart_rejected" and detail:
                self.rejected[detail] += 1
            elif source == "smart_failed" and detail:
                self.failed[detail] += 1

    def convert_to_rejected(self, reason: str) -> None:
        """A hint counted as accepted was rejected later by ``screen`` (the reference rule)."""
        with self._lock:
            self.outcomes["smart"] -= 1
            self.outcomes["smart_rejected"] += 1
            self.rejected[reason] += 1

    def metrics(self, prefix: str = "guidance/") -> dict[str, float]:
        with self._lock:
            total = sum(self.outcomes.values())
            smart = self.outcomes["smart"]
            rej = self.outcomes["smart_rejected"]
            fail = self.outcomes["smart_failed"]
            out = {
                f"{prefix}calls": float(total),
                f"{prefix}smart_rate": smart / total if total else 0.0,
                f"{prefix}fallback_rate": (rej + fail) / total if total else 0.0,
                f"{prefix}rejected_rate": rej / total if total else 0.0,
                f"{prefix}failed_rate": fail / total if total else 0.0,
            }
            for reason, n in sorted(self.rejected.items()):
                out[f"{prefix}rejected/{reason}"] = float(n)
            for kind, n in sorted(self.failed.items()):
                out[f"{prefix}failed/{kind}"] = float(n)
            return out

    def reset(self) -> dict[str, float]:
        snap = self.metrics()
        with self._lock:
            self.outcomes.clear()
            self.rejected.clear()
            self.failed.clear()
        return snap


@register_guidance("smart")
class SmartGuidance:
    """``GuidanceProvider`` whose hint comes from a guide model (an endpoint or the policy), screened for leaks.

    Args (all plain values so the agent loop's ``guidance_kwargs`` can carry them):
        backend: ``"endpoint"`` (an OpenAI-compatible server, ``client`` / ``$GUIDE_API_BASE``) or ``"policy"``
            (``attach_policy(server_manager, tokenizer)`` must be called by the loop before use).
        client: ``LLMClientConfig`` fields of the guide endpoint; missing ones come from ``GUIDE_*`` env vars.
        config_path: optional YAML whose ``guide`` section supplies ``client`` (``configs/teacher.yaml``).
        max_hint_tokens / temperature: guide decoding (hrl-reasoning: 256 tokens, T=0.7).
        max_text_tokens: the instruction length promised to the loop (static text + hint must fit).
        template: how the hint joins the static instruction (hrl-reasoning appends "Suggestive Correction: ").
        leakage: ``LeakageConfig`` fields.
        verdict_classifier: ``VerdictClassifierConfig`` fields (``enabled``, ``client``, ``max_tokens``,
            ``temperature``, ``timeout_s``) or a bool; ``None`` = the defaults (enabled, the guide's own backend).
        timeout_s: overall deadline of one guide call (retries included), after which the static text is used.
        on_unreachable: what an endpoint guide that does not answer at construction (start-up) means:
            ``"stop"`` raises ``GuideUnavailableError`` with the URL and the reason (the run does not start);
            ``"fallback"`` logs it once and serves the static instruction for the whole run, every such turn
            counted as ``smart_failed`` / ``guide_unreachable``. ``None``: no start-up probe.
        probe_timeout_s: deadline of that probe (``GET <base_url>/models``).

    ``backend="auto"`` (SMART-SCoRe's default, "the base model if none provided"): an endpoint when one is named
    (``client.base_url`` or ``$GUIDE_API_BASE``), otherwise the policy itself.
    """

    name = "smart"

    def __init__(
        self,
        backend: str = "endpoint",
        client: Mapping[str, Any] | None = None,
        config_path: str | None = None,
        max_hint_tokens: int = 128,
        temperature: float = 0.7,
        max_text_tokens: int = 256,
        template: str = DEFAULT_TEMPLATE,
        leakage: Mapping[str, Any] | None = None,
        timeout_s: float = 60.0,
        chat_backend: ChatBackend | None = None,
        on_unreachable: str | None = None,
        probe_timeout_s: float = 10.0,
        verdict_classifier: Mapping[str, Any] | bool | None = None,
    ):
        if backend not in ("endpoint", "policy", "auto"):
            raise ValueError(f"guidance backend must be 'endpoint', 'policy' or 'auto', got {backend!r}")
        if on_unreachable not in (None, "stop", "fallback"):
            raise ValueError(f"on_unreachable must be 'stop', 'fallback' or null, got {on_unreachable!r}")
        if "{hint}" not in template:
            raise ValueError("guidance template must contain {hint}")
        self.backend_kind = backend
        self.max_hint_tokens = int(max_hint_tokens)
        self.temperature = float(temperature)
        self.max_text_tokens: int | None = int(max_text_tokens)
        self.template = template
        self.timeout_s = float(timeout_s)
        self.filter = LeakageFilter(leakage)
        classifier = VerdictClassifier(verdict_classifier)
        self.classifier: VerdictClassifier | None = classifier if classifier.config.enabled else None
        self._classifier_backend: ChatBackend | None = None  # None: ask the guide's own backend
        if self.classifier is not None and self.classifier.config.client is not None:
            self._classifier_backend = EndpointBackend(client_config_for_role("guide",
                                                                              dict(self.classifier.config.client)))
        self.counters = GuidanceCounters()
        self._backend: ChatBackend | None = chat_backend
        self.unreachable: str | None = None  # the start-up probe's failure, when on_unreachable == "fallback"
        if self._backend is None and backend in ("endpoint", "auto"):
            section = dict(load_yaml_section(config_path, "guide").get("client", {})) if config_path else {}
            section.update({k: v for k, v in (client or {}).items() if v is not None})
            client_cfg = client_config_for_role("guide", section)
            if backend == "auto" and not _has_base_url(client_cfg):
                backend = "policy"  # no guide named: the policy guides itself (hrl-reasoning's default)
            else:
                backend = "endpoint"
                self._backend = EndpointBackend(client_cfg)
                if on_unreachable is not None:
                    self._probe_at_startup(client_cfg, on_unreachable, probe_timeout_s)
        self.backend_kind = backend

    def attach_policy(self, generator: TokenGenerator, tokenizer: Any) -> None:
        """Use the policy as the guide (``backend="policy"``): the agent loop passes its server_manager."""
        if self.backend_kind != "policy":
            raise RuntimeError("attach_policy on a provider configured with backend='endpoint'")
        if self._backend is None or getattr(self._backend, "generator", None) is not generator:
            self._backend = PolicyBackend(generator, tokenizer)

    # ------------------------------------------------------------------------------------------ protocol
    async def instruction(
        self,
        problem_messages: Sequence[Mapping[str, Any]],
        previous_attempt_text: str,
        task: str,
        *,
        attempt: int = 2,
        previous_attempts: Sequence[str] = (),
    ) -> Guidance:
        """The hint-carrying instruction, or the static one (counted) on failure/rejection. Never raises for a
        guide failure: the episode must go on."""
        static = self_correction_instruction(task)
        if self.unreachable is not None:
            return self._fallback(static, "smart_failed", "guide_unreachable")
        if self._backend is None:
            return self._fallback(static, "smart_failed", "policy_not_attached")
        try:
            hint = await asyncio.wait_for(
                self._backend.complete(
                    guide_messages(problem_messages, previous_attempt_text),
                    max_tokens=self.max_hint_tokens,
                    temperature=self.temperature,
                ),
                timeout=self.timeout_s,
            )
        except asyncio.CancelledError:
            raise
        except (asyncio.TimeoutError, TimeoutError):
            return self._fallback(static, "smart_failed", "timeout")
        except Exception as exc:  # endpoint errors after retries, policy errors: all fall back
            kind = getattr(exc, "kind", None) or type(exc).__name__
            logger.warning("SMART guide call failed (%s); using the static instruction", kind)
            return self._fallback(static, "smart_failed", str(kind))
        hint = (hint or "").strip()
        if not hint:
            return self._fallback(static, "smart_failed", "empty")
        verdict = self.filter.check_format(hint)
        if not verdict.ok:
            return self._fallback(static, "smart_rejected", verdict.reason)
        if self.classifier is not None:
            doubt = await self.classifier.review(hint, self._classifier_backend or self._backend)
            if doubt is not None:
                logger.debug("SMART hint rejected by the verdict classifier (%s: %s)", *doubt)
                return self._fallback(static, "smart_rejected", doubt[0])
        self.counters.record("smart")
        return Guidance(text=self.template.format(static=static, hint=hint), source="smart")

    async def screen(self, guidance: Guidance, reference: str | None, task: str = "math") -> Guidance:
        """Apply the reference-answer rule to a finished ``Guidance``: only its text and the gold meet here.

        Returns ``guidance`` unchanged when it is not a SMART hint, there is no reference, or it does not leak;
        otherwise the static instruction with source ``smart_rejected`` (the counters move it from accepted).
        """
        if guidance.source != "smart" or reference is None or str(reference).strip() == "":
            return guidance
        static = self_correction_instruction(task)
        hint_only = guidance.text.replace(static, "")  # the paper's fixed text is not the guide's
        verdict = await asyncio.to_thread(self.filter.check_reference, hint_only, str(reference))
        if verdict.ok:
            return guidance
        self.counters.convert_to_rejected(verdict.reason)
        return Guidance(text=static, source="smart_rejected", reason=verdict.reason)

    def _probe_at_startup(self, cfg: LLMClientConfig, on_unreachable: str, timeout_s: float) -> None:
        reason = probe_endpoint(cfg, timeout_s)
        if reason is None:
            return
        where = cfg.safe_endpoint()
        if on_unreachable == "stop":
            raise GuideUnavailableError(
                f"SMART guide endpoint {where} is unreachable at start-up ({reason}). Start the guide server, fix "
                f"GUIDE_API_BASE / guidance.kwargs.client.base_url, unset it to let the policy guide itself, or set "
                f"GUIDE_ON_UNREACHABLE=fallback (guidance.kwargs.on_unreachable) to train with the static "
                f"instruction, each fallback counted."
            )
        self.unreachable = reason
        logger.warning("SMART guide endpoint %s is unreachable at start-up (%s); every correction turn uses the "
                       "static instruction and is counted as guidance/failed/guide_unreachable", where, reason)

    # ------------------------------------------------------------------------------------------ metrics
    def metrics(self, prefix: str = "guidance/") -> dict[str, float]:
        return self.counters.metrics(prefix)

    def reset_metrics(self) -> dict[str, float]:
        return self.counters.reset()

    def _fallback(self, static: str, source: str, detail: str) -> Guidance:
        self.counters.record(source, detail)
        return Guidance(text=static, source=source, reason=detail)


class GuideUnavailableError(RuntimeError):
    """The SMART guide endpoint did not answer at start-up and ``on_unreachable`` is ``"stop"``."""


def _has_base_url(cfg: LLMClientConfig) -> bool:
    try:
        return bool(cfg.resolved_base_url())
    except LLMConfigError:
        return False


def probe_endpoint(cfg: LLMClientConfig, timeout_s: float = 10.0) -> str | None:
    """``None`` when an OpenAI-compatible server answers ``GET <base_url>/models`` (any HTTP status below 500: the
    server is up), else why not (connection refused, timeout, 5xx). Synchronous: runs once, at construction."""
    import urllib.error
    import urllib.request

    url = cfg.resolved_base_url().rstrip("/") + "/models"
    headers = {}
    try:
        key = cfg.resolved_api_key()
    except LLMConfigError:
        key = None
    if key:
        headers["Authorization"] = f"Bearer {key}"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout_s):
            return None
    except urllib.error.HTTPError as exc:
        return None if exc.code < 500 else f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:  # refused, DNS, timeout
        return f"{type(getattr(exc, 'reason', exc)).__name__}: {getattr(exc, 'reason', exc)}"


async def screened_instruction(
    provider: Any,
    problem_messages: Sequence[Mapping[str, Any]],
    previous_attempt_text: str,
    task: str,
    *,
    attempt: int = 2,
    previous_attempts: Sequence[str] = (),
    reference: str | None = None,
) -> Guidance:
    """What an agent loop that holds the row's ground truth should call: ``provider.instruction`` (gold-free), then,
    for providers that have it, ``provider.screen`` with the gold. The gold is passed after generation, to the
    filter only."""
    guidance = await provider.instruction(
        problem_messages, previous_attempt_text, task, attempt=attempt, previous_attempts=previous_attempts
    )
    screen = getattr(provider, "screen", None)
    if screen is not None and reference is not None:
        guidance = await screen(guidance, reference, task)
    return guidance


def rates_from_sources(sources: Sequence[Any], prefix: str = "guidance/") -> dict[str, float]:
    """``guidance/smart_rate`` etc. from the per-episode ``extra_fields["guidance"]`` lists of a batch.

    verl runs agent loops in Ray workers, so the provider's in-process counters are not visible to the trainer;
    the sources recorded per instruction turn are, and give the same three rates (reasons stay in the workers'
    counters / logs). Only SMART turns count (``static`` turns are not guidance calls).
    """
    flat: list[str] = []
    for s in sources:
        if isinstance(s, str):
            flat.append(s)
        elif s is not None:
            flat.extend(str(x) for x in s)
    smart = [s for s in flat if s.startswith("smart")]
    n = len(smart)
    accepted = sum(s == "smart" for s in smart)
    failed = sum(s.startswith("smart_failed") for s in smart)
    rejected = n - accepted - failed
    return {
        f"{prefix}smart_rate": accepted / n if n else 0.0,
        f"{prefix}fallback_rate": (n - accepted) / n if n else 0.0,
        f"{prefix}rejected_rate": rejected / n if n else 0.0,
        f"{prefix}failed_rate": failed / n if n else 0.0,
    }


def _guidance_block(path: str) -> dict[str, Any]:
    """The guidance block of ``path``: the run's composed config as ``python -m verl_score.config_check`` prints it
    (JSON, ``{"config": {..., "guidance": {...}}}``: what the launchers pass, so command-line overrides count), or a
    YAML guidance block such as ``configs/guidance/smart.yaml``. A composed config without a ``guidance`` block runs
    the paper's static instruction."""
    text = Path(path).read_text()
    # config_check prints one JSON line; verl's own validation may print a line before it
    lines = [ln for ln in text.splitlines() if ln.startswith('{"entry"')]
    if lines:
        doc = json.loads(lines[-1])
        if not isinstance(doc, dict) or not isinstance(doc.get("config"), dict):
            raise ValueError(f"{path}: not a composed config from `python -m verl_score.config_check` (no 'config')")
        return dict(doc["config"].get("guidance") or {"name": "static"})
    return load_yaml_section(path)


def check_startup(path: str) -> int:
    """``python -m verl_score.teacher.guidance --check <composed config JSON | guidance YAML>``: build the provider
    the run would build from its guidance block (environment variables resolved) and report which guide it uses.
    Exit 2 with the reason when the guide endpoint is down and ``on_unreachable`` is ``stop``; 0 otherwise (a
    fallback is reported)."""
    block = _guidance_block(path)
    if block.get("name") != "smart":
        print(f"guidance: {block.get('name')!r} (no guide to check)")
        return 0
    try:
        provider = SmartGuidance(**dict(block.get("kwargs") or {}))
    except GuideUnavailableError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if provider.backend_kind == "policy":
        print("SMART guide: the policy itself (no guide endpoint named: GUIDE_API_BASE unset)")
    elif provider.unreachable is not None:
        print(f"SMART guide: endpoint UNREACHABLE at start-up ({provider.unreachable}); training continues with the "
              f"static instruction, each turn counted as guidance/failed/guide_unreachable", file=sys.stderr)
    else:
        client = getattr(provider._backend, "client", None)
        print(f"SMART guide: endpoint {getattr(client, 'endpoint', '?')} answers")
    return 0


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m verl_score.teacher.guidance")
    parser.add_argument("--check", required=True, metavar="FILE",
                        help="the run's composed config (config_check's JSON) or a guidance block YAML")
    sys.exit(check_startup(parser.parse_args().check))
