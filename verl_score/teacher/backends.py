"""Two ways to ask a model for text, behind one small protocol: an HTTP endpoint, or the policy being trained.

SMART guidance (hrl-reasoning) defaults to the policy (or its base model) as the guide, and only uses a stronger
model on request. In verl the policy is reachable only through the agent loop's ``server_manager`` (token ids in,
token ids out), while a stronger guide is an OpenAI-compatible server (SGLang/vLLM). ``ChatBackend`` hides that
difference so ``SmartGuidance`` has one code path and tests can drive either backend.
"""

from __future__ import annotations

import asyncio
from typing import Any, Mapping, Protocol, Sequence, runtime_checkable
from uuid import uuid4

from verl_score.llm import LLMClient, LLMClientConfig

__all__ = ["ChatBackend", "EndpointBackend", "PolicyBackend", "TokenGenerator"]

Message = Mapping[str, Any]


@runtime_checkable
class ChatBackend(Protocol):
    """``await backend.complete(messages, max_tokens=..., temperature=...) -> str``; raises on failure."""

    name: str

    async def complete(self, messages: Sequence[Message], *, max_tokens: int, temperature: float) -> str: ...


@runtime_checkable
class TokenGenerator(Protocol):
    """verl's token-level contract (``AgentLoopBase.server_manager`` / ``LLMServerClient.generate``)."""

    async def generate(self, request_id: Any, *, prompt_ids: list[int], sampling_params: dict[str, Any],
                       **kwargs: Any) -> Any: ...


class EndpointBackend:
    """An OpenAI-compatible server through the shared ``LLMClient`` (retries, timeouts, stats)."""

    name = "endpoint"

    def __init__(self, client: LLMClient | LLMClientConfig | Mapping[str, Any]):
        self.client = client if isinstance(client, LLMClient) else LLMClient(client)

    async def complete(self, messages: Sequence[Message], *, max_tokens: int, temperature: float) -> str:
        result = await self.client.chat(messages, max_tokens=max_tokens, temperature=temperature)
        return result.text


class PolicyBackend:
    """The policy itself via verl's ``generate(request_id, *, prompt_ids, sampling_params)``.

    ``tokenizer`` must have a chat template: the guide prompt is rendered with it, the reply decoded without
    special tokens. The call shares the rollout servers with the episodes (its tokens are not trained on).
    """

    name = "policy"

    def __init__(self, generator: TokenGenerator, tokenizer: Any, timeout_s: float = 120.0):
        if not hasattr(generator, "generate"):
            raise TypeError(f"policy generator needs an async generate(request_id, *, prompt_ids, sampling_params): "
                            f"{generator!r}")
        if getattr(tokenizer, "chat_template", None) is None:
            raise ValueError("the policy guide needs a tokenizer with a chat template")
        self.generator = generator
        self.tokenizer = tokenizer
        self.timeout_s = timeout_s

    async def complete(self, messages: Sequence[Message], *, max_tokens: int, temperature: float) -> str:
        prompt_ids = self.tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=True)
        if isinstance(prompt_ids, Mapping):  # some tokenizers return a BatchEncoding
            prompt_ids = prompt_ids["input_ids"]
        output = await asyncio.wait_for(
            self.generator.generate(
                f"guide-{uuid4().hex}",
                prompt_ids=list(prompt_ids),
                sampling_params={"temperature": temperature, "max_tokens": max_tokens, "top_p": 1.0},
            ),
            timeout=self.timeout_s,
        )
        ids = getattr(output, "token_ids", None)
        if ids is None and isinstance(output, Mapping):
            ids = output.get("token_ids")
        if ids is None:
            raise RuntimeError(f"policy generate returned no token_ids: {type(output).__name__}")
        return self.tokenizer.decode(list(ids), skip_special_tokens=True)
