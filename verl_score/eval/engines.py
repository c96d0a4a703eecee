"""Where attempts come from: an OpenAI-compatible endpoint, or a local transformers model through the real agent loop.

Both engines produce the SCoRe conversation used in training (``verl_score.episodes.two_attempt``): problem prompt ->
attempt 1 -> user turn with the self-correction instruction (from a ``GuidanceProvider``) -> attempt 2 (-> ... up to
K). Guidance providers see the problem and the previous attempts only, never the ground truth or ``extra_info``.

* ``OpenAIEngine``: chat completions through the shared ``LLMClient`` (retries, concurrency cap, stats). It records
  the exact message list sent for every attempt, so a reader of the per-sample jsonl can check what the model saw.
* ``LocalEngine``: ``HFGenerator`` behind ``LocalServerManager`` running the *real* ``score_two_attempt`` agent loop,
  i.e. the same token-level episode code as training (token ids never re-encoded, same budget, same instruction
  injection). The guidance text is captured by wrapping the loop's provider.

An engine raises on a failed generation (``LLMCallError`` after the client's retries); the runner counts it.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol, Sequence

from verl_score.contracts import keys
from verl_score.contracts.guidance import Guidance, GuidanceProvider
from verl_score.eval.data import EvalSample
from verl_score.prompts import SELF_CORRECTION_INSTRUCTIONS


@dataclass(frozen=True)
class Sampling:
    """Decoding settings of every attempt. ``temperature=0`` is greedy (the paper's evaluation protocol)."""

    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 512
    seed: int | None = None


@dataclass
class Episode:
    """One K-attempt episode: the texts, where each instruction came from, and what was sent."""

    attempt_texts: list[str]
    guidance_sources: list[str]
    guidance_texts: list[str]
    conversation: list[dict[str, Any]]
    requests: list[list[dict[str, Any]]] | None = None  # messages sent per attempt (chat engines only)
    finish_reasons: list[str | None] = field(default_factory=list)
    truncated: list[bool] = field(default_factory=list)
    # policy tokens of each attempt (the local engine counts the agent loop's own ids, end-of-turn token included;
    # chat engines leave it empty)
    num_tokens: list[int] = field(default_factory=list)


class Engine(Protocol):
    name: str

    async def run_episode(self, sample: EvalSample, *, num_attempts: int, sampling: Sampling,
                          sample_index: int = 0) -> Episode: ...

    async def aclose(self) -> None: ...


def episode_seed(sampling: Sampling, sample: EvalSample, sample_index: int, attempt: int) -> int | None:
    """A distinct, reproducible seed per (problem, parallel sample, attempt) so m samples are not m copies."""
    if sampling.seed is None:
        return None
    return (sampling.seed * 1_000_003 + sample.index * 1009 + sample_index * 31 + attempt) % (2**31 - 1)


async def guided_instruction(provider: GuidanceProvider, sample: EvalSample, texts: Sequence[str]) -> Guidance:
    """The instruction before the next attempt. The provider sees the problem and the attempts only; for math, the
    finished text is then screened against the gold answer by providers that can (SMART's ``screen``: a hint that
    contains the answer falls back to the static text, source ``smart_rejected``). The gold never reaches the guide.
    """
    g = await provider.instruction(sample.prompt, texts[-1], sample.task, attempt=len(texts) + 1,
                                   previous_attempts=tuple(texts))
    screen = getattr(provider, "screen", None)
    if screen is not None and sample.task == "math":
        g = await screen(g, str(sample.ground_truth), sample.task)
    return g


class OpenAIEngine:
    """K attempts as one growing chat conversation against ``/v1/chat/completions``."""

    name = "openai"

    def __init__(self, client: Any, guidance: GuidanceProvider, extra_params: Mapping[str, Any] | None = None):
        self.client = client
        self.guidance = guidance
        self.extra_params = dict(extra_params or {})

    async def run_episode(self, sample: EvalSample, *, num_attempts: int, sampling: Sampling,
                          sample_index: int = 0) -> Episode:
        messages: list[dict[str, Any]] = [dict(m) for m in sample.prompt]
        texts: list[str] = []
        sources: list[str] = []
        guidance_texts: list[str] = []
        requests: list[list[dict[str, Any]]] = []
        finish: list[str | None] = []
        for attempt in range(1, num_attempts + 1):
            if attempt > 1:
                g = await guided_instruction(self.guidance, sample, texts)
                sources.append(g.source)
                guidance_texts.append(g.text)
                messages.append({"role": "user", "content": g.text})
            params: dict[str, Any] = {"temperature": sampling.temperature, "max_tokens": sampling.max_tokens,
                                      **self.extra_params}
            if sampling.temperature > 0 and sampling.top_p < 1.0:
                params["top_p"] = sampling.top_p
            seed = episode_seed(sampling, sample, sample_index, attempt)
            if seed is not None:
                params["seed"] = seed
            sent = [dict(m) for m in messages]
            requests.append(sent)
            result = await self.client.chat(sent, **params)
            texts.append(result.text)
            finish.append(result.finish_reason)
            messages.append({"role": "assistant", "content": result.text})
        return Episode(texts, sources, guidance_texts, messages, requests, finish,
                       truncated=[f == "length" for f in finish])

    async def aclose(self) -> None:
        await self.client.aclose()


# ---------------------------------------------------------------------------------------------------- local
_GUIDANCE_LOG: contextvars.ContextVar[list[Guidance] | None] = contextvars.ContextVar("eval_guidance_log", default=None)


class _RecordingGuidance:
    """Delegates to the loop's provider and keeps each ``Guidance`` in the current episode's task context."""

    def __init__(self, inner: GuidanceProvider):
        self.inner = inner
        self.name = inner.name
        self.max_text_tokens = inner.max_text_tokens

    def __getattr__(self, attr: str) -> Any:  # attach_policy, metrics, ... of the real provider
        return getattr(self.inner, attr)

    async def instruction(self, problem_messages: Sequence[Mapping[str, Any]], previous_attempt_text: str, task: str,
                          *, attempt: int, previous_attempts: Sequence[str]) -> Guidance:
        g = await self.inner.instruction(problem_messages, previous_attempt_text, task, attempt=attempt,
                                         previous_attempts=previous_attempts)
        log = _GUIDANCE_LOG.get()
        if log is not None:
            log.append(g)
        return g


class LocalEngine:
    """A transformers checkpoint on this machine, through ``score_two_attempt`` + ``LocalServerManager``.

    Concurrent episodes are decoded together (``HFGenerator`` batches whatever requests are in flight).
    ``guidance`` / ``guidance_kwargs`` are the agent loop's own kwargs: the loop builds the provider from the registry.
    """

    name = "local"

    def __init__(self, model_path: str, *, num_attempts: int, max_tokens: int, guidance: str = "static",
                 guidance_kwargs: Mapping[str, Any] | None = None, prompt_length: int = 1024,
                 num_threads: int | None = None, generator: Any = None):
        from transformers import AutoConfig, AutoTokenizer

        from verl_score.cpu.generator import HFGenerator, LocalServerManager

        self.model_path = model_path
        self.tokenizer = AutoTokenizer.from_pretrained(model_path)
        self.model_type = AutoConfig.from_pretrained(model_path).model_type
        self.num_attempts = num_attempts
        self.max_tokens = max_tokens
        self.prompt_length = prompt_length
        # Room for K attempts plus the instruction turns (the loop reserves those itself and checks the split).
        self.response_length = num_attempts * max_tokens + (num_attempts - 1) * 256
        # ``generator``: an already-loaded HFGenerator to share (its own budget is not used: the loop sets
        # max_tokens on every call).
        self.generator = generator or HFGenerator(model_path, prompt_length=prompt_length,
                                                  response_length=self.response_length, num_threads=num_threads)
        self.server_manager = LocalServerManager(self.generator)
        self.guidance_name = guidance
        self.guidance_kwargs = dict(guidance_kwargs or {})
        self._loop_obj: Any = None

    def _agent_loop(self) -> Any:
        """One loop object serves every episode (``run`` keeps its state in locals), built as verl's worker does."""
        if self._loop_obj is None:
            from verl_score.episodes.two_attempt import ScoreTwoAttemptAgentLoop
            from verl_score.episodes.worker_build import build_agent_loop

            loop = build_agent_loop(
                ScoreTwoAttemptAgentLoop, self.server_manager, self.tokenizer, prompt_length=self.prompt_length,
                response_length=self.response_length, hf_model_type=self.model_type,
                num_attempts=self.num_attempts, attempt_max_tokens=self.max_tokens, min_attempt_tokens=1,
                guidance=self.guidance_name, guidance_kwargs=self.guidance_kwargs,
            )
            loop.guidance_provider = _RecordingGuidance(loop.guidance_provider)
            self._loop_obj = loop
        return self._loop_obj

    async def run_episode(self, sample: EvalSample, *, num_attempts: int, sampling: Sampling,
                          sample_index: int = 0) -> Episode:
        if num_attempts != self.num_attempts:
            raise ValueError(f"LocalEngine was built for {self.num_attempts} attempts, asked for {num_attempts}")
        loop = self._agent_loop()
        params: dict[str, Any] = {"temperature": sampling.temperature, "top_p": sampling.top_p, "top_k": -1,
                                  "repetition_penalty": 1.0, "logprobs": False}
        seed = episode_seed(sampling, sample, sample_index, 1)
        if seed is not None:
            params["seed"] = seed
        log: list[Guidance] = []
        token = _GUIDANCE_LOG.set(log)
        try:
            out = await loop.run(params, **sample.row())
        finally:
            _GUIDANCE_LOG.reset(token)
        texts = list(out.extra_fields[keys.ATTEMPT_TEXTS])
        sources = list(out.extra_fields[keys.GUIDANCE])  # the loop's record (includes "_rejected" overrides)
        used: list[str] = []
        for g, source in zip(log, sources):
            # The loop swaps in the static text (and suffixes the source) when guidance overruns its token reserve.
            used.append(g.text if source == g.source else SELF_CORRECTION_INSTRUCTIONS[sample.task])
        conversation = [dict(m) for m in sample.prompt]
        for k, text in enumerate(texts):
            if k > 0:
                conversation.append({"role": "user", "content": used[k - 1]})
            conversation.append({"role": "assistant", "content": text})
        truncated = [bool(t) for t in out.extra_fields.get(keys.ATTEMPT_TRUNCATED, [])]
        owner = list(out.attempt_index)
        return Episode(texts, sources, used, conversation, None, ["length" if t else "stop" for t in truncated],
                       truncated, num_tokens=[owner.count(k + 1) for k in range(len(texts))])

    async def aclose(self) -> None:
        return None
