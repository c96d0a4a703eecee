"""What a guidance provider is: the instruction turn it writes (``Guidance``), its protocol and the registry the
agent loop picks providers from by name (the built-in ones, ``static`` and ``smart``, are imported on the first
lookup of a name not registered yet).

Why a contract module: the agent loop (``episodes``) looks providers up and the SMART provider (``teacher``)
registers itself; both depend on this module and neither on the other.

Leakage rule for every provider: it sees the problem and the previous attempts only -- never the ground truth, the
reward, or ``extra_info`` (datasets such as GSM8K keep the answer there). SCoRe measures *intrinsic* self-correction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol, Sequence, runtime_checkable

from verl_score.registry import Registry

__all__ = [
    "GUIDANCE_PROVIDERS",
    "Guidance",
    "GuidanceProvider",
    "get_guidance_provider_cls",
    "list_guidance_providers",
    "register_guidance",
]


@dataclass(frozen=True)
class Guidance:
    """The text of one instruction turn and where it came from.

    ``source`` ends up in the episode's ``extra_fields["guidance"]`` so metrics can split guided from static
    attempts: ``"static"``, ``"smart"``, ``"smart_rejected"`` or ``"smart_failed"``. ``reason`` says why a turn fell
    back (a rejection reason such as ``"verdict"`` / ``"classifier_failed"``, or a failure kind such as
    ``"timeout"``; ``""`` otherwise) and goes to ``extra_fields["guidance_reasons"]``. It is bookkeeping, so two
    ``Guidance`` with the same text and source compare equal whatever their reasons.
    """

    text: str
    source: str
    reason: str = field(default="", compare=False)


@runtime_checkable
class GuidanceProvider(Protocol):
    """Writes the user turn that precedes attempt ``attempt`` (>= 2; attempt 1 has no instruction).

    ``max_text_tokens`` is the provider's promise on the length of ``Guidance.text`` in tokens (``None``: it only
    ever returns the static paper instructions). The agent loop reserves that much of ``rollout.response_length``
    per instruction at construction; a longer text at run time is replaced by the static instruction and its source
    gets a ``_rejected`` suffix, so the last attempt is never starved of budget.
    """

    name: str
    max_text_tokens: int | None

    async def instruction(
        self,
        problem_messages: Sequence[Mapping[str, Any]],
        previous_attempt_text: str,
        task: str,
        *,
        attempt: int,
        previous_attempts: Sequence[str],
    ) -> Guidance: ...


GUIDANCE_PROVIDERS: Registry[Callable[..., GuidanceProvider]] = Registry(
    "guidance provider",
    builtins=("verl_score.episodes.guidance", "verl_score.teacher.guidance"),
    hint="is the module that registers it imported, e.g. through verl_score.register?",
)


def register_guidance(name: str) -> Callable[[Callable[..., GuidanceProvider]], Callable[..., GuidanceProvider]]:
    """Register a provider class (or factory) under ``name``, the value of the loop's ``guidance`` kwarg."""
    return GUIDANCE_PROVIDERS.register(name)


def list_guidance_providers() -> list[str]:
    return GUIDANCE_PROVIDERS.names()


def get_guidance_provider_cls(name: str) -> Callable[..., GuidanceProvider]:
    return GUIDANCE_PROVIDERS.get(name)
