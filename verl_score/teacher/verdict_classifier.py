"""Second pass of the verdict screen: one cheap YES/NO call to the guide model about the finished hint.

The rules (``verl_score.teacher.verdicts``) are the guarantee and run first; they catch the phrasings someone thought
of. This pass asks a model "Does this text reveal or imply whether the answer is right or wrong? Answer YES or NO"
about a hint the rules let through, for the phrasings nobody thought of. Only the hint text is sent -- not the
problem, not the attempt, and never the reference answer.

Fail-safe by construction: only a clear ``NO`` lets the hint through. Each other outcome gives the static
instruction, counted under its own rejection reason:

* ``classifier_verdict``: the model answered YES;
* ``classifier_doubt``: an answer that is neither YES nor NO (empty, "Maybe", an unfinished ``<think>`` ...);
* ``classifier_failed``: the call failed after the shared client's retries, or passed ``timeout_s``.

Config (``guidance.kwargs.verdict_classifier`` of configs/guidance/smart.yaml):

* ``enabled`` (default **true**): why on by default -- the two errors are not symmetric. A verdict that slips through
  is silent and turns SMART-SCoRe into training with an oracle; a false alarm costs one turn of the static
  instruction and is visible (``guidance/rejected_rate/classifier_*``). The call is small: the hint (one to three
  sentences) plus a short fixed prompt in, ``max_tokens`` out, against a guide call that reads the whole problem and
  attempt and writes up to ``max_hint_tokens``. The only SMART launcher guides with a 7B policy or a stronger
  served model. A guide as weak as SmolLM2-135M-Instruct cannot do this: on the verdict corpus it answered NO to 541
  of 610 texts, rejecting 7% of the verdicts and 19% of the genuine hints, none of them ones the rules missed
  (results/benchmarks/verdict_screen.md); turn it off (``enabled: false``) for such guides, knowing the rules are
  all that is left.
* ``client``: another OpenAI-compatible endpoint for the check (``LLMClientConfig`` fields, ``GUIDE_*`` env vars
  fill the gaps); ``null`` (default) asks the guide's own backend -- the guide endpoint, or the policy.
* ``max_tokens`` (8; raise it for models that think before answering), ``temperature`` (0), ``timeout_s`` (30).
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from verl_score.teacher.backends import ChatBackend

logger = logging.getLogger(__name__)

__all__ = [
    "CLASSIFIER_REASONS",
    "CLASSIFIER_SYSTEM",
    "CLASSIFIER_USER",
    "VerdictClassifier",
    "VerdictClassifierConfig",
    "parse_yes_no",
]

CLASSIFIER_REASONS = ("classifier_verdict", "classifier_doubt", "classifier_failed")

CLASSIFIER_SYSTEM = (
    "You screen feedback that a teacher wrote for a student's solution, before the student sees it. The feedback "
    "must not reveal or imply whether the student's answer, or any part of it, is right or wrong. That includes "
    "verdicts, praise, saying the student is close or on the right track, saying that a step contains an error or "
    "that something needs fixing, hedged judgements such as 'probably correct', and judgements in any language. "
    "Pointing at something to re-check, without judging it, is allowed."
)
CLASSIFIER_USER = (
    "Feedback:\n<<<\n{hint}\n>>>\n\nDoes this text reveal or imply whether the answer is right or wrong? "
    "Answer YES or NO."
)

_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_FIRST_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def parse_yes_no(reply: str | None) -> str | None:
    """``"yes"`` / ``"no"`` from the first word of ``reply`` (after any closed ``<think>`` block, markdown and
    punctuation), else None. Deliberately strict: "No." and "**YES**" parse; "The text does not ..." does not, and
    neither does a NO with anything after it ("NO, but it's close")."""
    if not reply:
        return None
    text = _THINK.sub("", reply)
    if "<think>" in text.lower():
        return None  # the model was still thinking when max_tokens ran out
    m = _FIRST_WORD.search(text)
    if m is None or text[: m.start()].strip(" \t\n*_`'\"#>:-.") != "":
        return None
    word = m.group(0).lower()
    if word == "no" and text[m.end() :].strip(" \t\n*_`'\".!") != "":
        return None  # "NO, but it's close" is itself a hint at the verdict: only a bare NO lets the hint pass
    return word if word in ("yes", "no") else None


@dataclass(frozen=True)
class VerdictClassifierConfig:
    """See the module docstring for each field and why ``enabled`` defaults to true."""

    enabled: bool = True
    max_tokens: int = 8
    temperature: float = 0.0
    timeout_s: float = 30.0
    client: Mapping[str, Any] | None = field(default=None, hash=False)

    @classmethod
    def from_dict(cls, cfg: Mapping[str, Any] | "VerdictClassifierConfig" | bool | None) -> "VerdictClassifierConfig":
        """From the YAML block; ``None`` = the defaults, a bare bool = ``enabled``."""
        if cfg is None:
            return cls()
        if isinstance(cfg, VerdictClassifierConfig):
            return cfg
        if isinstance(cfg, (bool, str)):
            return cls(enabled=_as_bool(cfg))
        data = dict(cfg)
        unknown = sorted(set(data) - {"enabled", "max_tokens", "temperature", "timeout_s", "client"})
        if unknown:
            raise ValueError(f"verdict_classifier: unknown keys {unknown}")
        if "enabled" in data:
            data["enabled"] = _as_bool(data["enabled"])
        return cls(**data)


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("true", "1", "yes", "on"):
            return True
        if low in ("false", "0", "no", "off", ""):
            return False
        raise ValueError(f"verdict_classifier.enabled: not a boolean: {value!r}")
    return bool(value)


class VerdictClassifier:
    """``await review(hint, backend)`` -> ``None`` (a clear NO: the hint may pass) or ``(reason, detail)``."""

    def __init__(self, config: VerdictClassifierConfig | Mapping[str, Any] | bool | None = None):
        self.config = VerdictClassifierConfig.from_dict(config)

    @staticmethod
    def messages(hint: str) -> list[dict[str, str]]:
        """The whole classifier prompt: the fixed instruction and the hint, nothing else."""
        return [
            {"role": "system", "content": CLASSIFIER_SYSTEM},
            {"role": "user", "content": CLASSIFIER_USER.format(hint=hint)},
        ]

    async def review(self, hint: str, backend: ChatBackend | None) -> tuple[str, str] | None:
        if backend is None:
            return "classifier_failed", "no backend"
        cfg = self.config
        try:
            reply = await asyncio.wait_for(
                backend.complete(self.messages(hint), max_tokens=cfg.max_tokens, temperature=cfg.temperature),
                timeout=cfg.timeout_s,
            )
        except asyncio.CancelledError:
            raise
        except (asyncio.TimeoutError, TimeoutError):
            return "classifier_failed", "timeout"
        except Exception as exc:  # endpoint errors after the client's retries, policy errors
            kind = getattr(exc, "kind", None) or type(exc).__name__
            logger.warning("SMART verdict classifier call failed (%s); using the static instruction", kind)
            return "classifier_failed", str(kind)
        answer = parse_yes_no(reply)
        if answer == "no":
            return None
        if answer == "yes":
            return "classifier_verdict", (reply or "").strip()[:40]
        return "classifier_doubt", repr((reply or "")[:40])
