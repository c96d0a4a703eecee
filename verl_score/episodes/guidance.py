"""Where the instruction before a SCoRe correction attempt comes from.

SCoRe (Kumar et al. 2024) puts one fixed instruction between attempts (``verl_score.prompts``). SMART-SCoRe lets a
model write the hint instead and falls back to the fixed text when the hint is rejected (it leaks an answer) or the
call fails. The agent loop only knows the ``GuidanceProvider`` protocol and picks a provider by name (the loop's
``guidance`` kwarg), so a new provider registers itself (``verl_score.contracts.guidance.register_guidance``) and
needs no change to the loop. This module holds the loop's side: the static provider and the per-process cache.
"""

from __future__ import annotations

import json
from typing import Any, Mapping, Sequence

from verl_score.contracts.guidance import (
    Guidance,
    GuidanceProvider,
    get_guidance_provider_cls,
    register_guidance,
)
from verl_score.prompts import self_correction_instruction

__all__ = ["StaticGuidance", "build_guidance_provider"]


_PROVIDER_CACHE: dict[tuple[str, str], GuidanceProvider] = {}


def build_guidance_provider(name: str, **kwargs: Any) -> GuidanceProvider:
    """Return the process-wide provider for ``(name, kwargs)``.

    verl builds one agent-loop instance per trajectory, so providers are cached here: a SMART provider holds an HTTP
    client whose connection pool must be shared by all trajectories of a worker.
    """
    key = (name, json.dumps(kwargs, sort_keys=True, default=repr))
    provider = _PROVIDER_CACHE.get(key)
    if provider is None:
        provider = get_guidance_provider_cls(name)(**kwargs)
        if not isinstance(provider, GuidanceProvider):
            raise TypeError(f"guidance provider {name!r} does not implement GuidanceProvider: {provider!r}")
        _PROVIDER_CACHE[key] = provider
    return provider


@register_guidance("static")
class StaticGuidance:
    """The paper's fixed self-correction instruction (App. C), chosen by task; it never reveals correctness."""

    name = "static"
    max_text_tokens: int | None = None

    async def instruction(
        self,
        problem_messages: Sequence[Mapping[str, Any]],
        previous_attempt_text: str,
        task: str,
        *,
        attempt: int = 2,
        previous_attempts: Sequence[str] = (),
    ) -> Guidance:
        return Guidance(text=self_correction_instruction(task), source="static")
