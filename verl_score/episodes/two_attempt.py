"""``score_two_attempt``: the SCoRe self-correction episode as a verl agent loop.

One episode (Kumar et al. 2024, Sec. 3): problem -> attempt 1 -> a user turn with the paper's self-correction
instruction -> attempt 2, and, for inference-time scaling (App. A.1), up to K attempts with an instruction before each
later one. The instruction never says whether the previous attempt was right, and a correct attempt never ends the
episode early: SCoRe trains *intrinsic* self-correction, and skipping attempt 2 when attempt 1 is right would leak the
reward into the episode's shape.

Tokens are built with verl's continuous-token helpers, so the engine's generated ids are appended as they are and
never re-encoded (re-tokenising decoded text changes ids and breaks the log-prob match between rollout and actor).
``response_mask`` is 1 on the policy's own tokens only; instruction, template and closing-EOS tokens are 0 and carry
log-prob 0. ``attempt_index`` (see ``verl_score.episodes.output``) tells the loss which attempt owns each token.
"""

from __future__ import annotations

import logging
import os
import weakref
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence
from uuid import uuid4

from verl.experimental.agent_loop.agent_loop import AgentLoopBase, register
from verl.utils.profiler import simple_timer
from verl.utils.rollout_trace import rollout_trace_op
from verl.utils.tokenizer.continuous_token import MergeResult

from verl_score.contracts import keys
from verl_score.contracts.cfg import to_plain
from verl_score.contracts.guidance import Guidance, GuidanceProvider
from verl_score.contracts.run_settings import episode_settings
from verl_score.episodes.budget import AttemptBudget
from verl_score.episodes.guidance import build_guidance_provider
from verl_score.episodes.output import ScoreAgentLoopOutput, episode_extra_fields
from verl_score.prompts import SELF_CORRECTION_INSTRUCTIONS

logger = logging.getLogger(__file__)
logger.setLevel(os.getenv("VERL_LOGGING_LEVEL", "WARN"))

__all__ = ["ScoreTwoAttemptAgentLoop", "resolve_task"]

#: Dataset spellings of the task kind -> key of ``verl_score.prompts.SELF_CORRECTION_INSTRUCTIONS``.
TASK_ALIASES: dict[str, str] = {
    "math": "math",
    "code": "code",
    "coding": "code",
    "python": "code",
    "programming": "code",
}


def resolve_task(row: Mapping[str, Any], default: str | None = "math") -> str:
    """The instruction variant for a dataset row: ``extra_info["task"]``, else the ``ability`` column, else
    ``default``. An explicit but unknown task is an error rather than a silent math instruction on a code problem."""
    extra_info = row.get("extra_info") or {}
    raw = extra_info.get("task") if isinstance(extra_info, Mapping) else None
    if raw is None:
        raw = row.get("ability")
    if raw is None:
        if default is None:
            raise ValueError("row has neither extra_info['task'] nor 'ability', and no default_task is configured")
        raw = default
    task = TASK_ALIASES.get(str(raw).strip().lower())
    if task is None:
        raise ValueError(f"unknown SCoRe task {raw!r}; known spellings: {sorted(TASK_ALIASES)}")
    return task


# Per-tokenizer caches: verl instantiates one agent loop per trajectory, and rendering chat templates is the
# dominant CPU cost of an episode, so the construction-time measurements are done once per worker process.
_TURN_END_CACHE: "weakref.WeakKeyDictionary[Any, int]" = weakref.WeakKeyDictionary()
_TURN_LENGTH_CACHE: "weakref.WeakKeyDictionary[Any, dict[tuple, int]]" = weakref.WeakKeyDictionary()


def turn_end_token_id(tokenizer: Any, chat_template_kwargs: Mapping[str, Any] | None = None) -> int:
    """The special token the chat template puts after an assistant message (``<|im_end|>`` for Qwen).

    That, not necessarily ``tokenizer.eos_token_id``, is what closes an attempt the engine cut on length, so the
    instruction turn that follows sits in a well-formed conversation.
    """
    cached = _TURN_END_CACHE.get(tokenizer)
    if cached is not None:
        return cached
    sentinel = "SCORE_SENTINEL_7f3a"
    token_id = tokenizer.eos_token_id
    try:
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": "x"}, {"role": "assistant", "content": sentinel}],
            tokenize=False,
            add_generation_prompt=False,
            **dict(chat_template_kwargs or {}),
        )
        tail = text[text.rindex(sentinel) + len(sentinel) :]
        special = set(tokenizer.all_special_ids)
        for tid in tokenizer.encode(tail, add_special_tokens=False):
            if tid in special:
                token_id = tid
                break
    except Exception as exc:  # a template without an assistant role: fall back to EOS
        logger.warning("could not find the chat template's turn-end token (%s); using eos_token_id", exc)
    if token_id is None:
        raise ValueError("tokenizer has neither a chat-template turn-end token nor an eos_token_id")
    _TURN_END_CACHE[tokenizer] = int(token_id)
    return int(token_id)


@register("score_two_attempt")
class ScoreTwoAttemptAgentLoop(AgentLoopBase):
    """SCoRe episode with K attempts and an instruction before each later attempt (both loop names in
    ``configs/agent_loops.yaml``, ``score_two_attempt`` and its alias ``score_k_attempt``, build this class).

    K and guidance are the run's, not the loop entry's (:mod:`verl_score.contracts.run_settings`): K is
    ``score.num_attempts`` and the provider the run config's ``guidance: {name, kwargs}`` block (``static`` without
    one). ``num_attempts`` / ``guidance`` / ``guidance_kwargs`` kwargs are for callers without a run config (the eval
    CLI's local engine, tests); under a run config they must agree with it or construction fails.

    Loop-only kwargs (``configs/agent_loops.yaml``):
        attempt_max_tokens: per-attempt ``max_tokens`` cap (int, or one per attempt); default ``None`` = an even split
            of what is left when each attempt starts (see ``AttemptBudget``).
        min_attempt_tokens: construction fails if an attempt could get fewer tokens than this.
        default_task: task when a row has neither ``extra_info.task`` nor ``ability`` (``None``: such rows fail).
        extra_stop_token_ids: further token ids that count as a normal end of an attempt (besides the template's
            turn-end token and ``eos_token_id``).
    """

    def __init__(
        self,
        *args: Any,
        num_attempts: int | None = None,
        attempt_max_tokens: int | Sequence[int] | None = None,
        min_attempt_tokens: int = 32,
        guidance: str | None = None,
        guidance_kwargs: Mapping[str, Any] | None = None,
        default_task: str | None = "math",
        extra_stop_token_ids: Sequence[int] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.prompt_length = self.rollout_config.prompt_length
        self.response_length = self.rollout_config.response_length
        settings = episode_settings(self.config, num_attempts=num_attempts, guidance=guidance,
                                    guidance_kwargs=guidance_kwargs, loop=str(kwargs.get("name", "score_two_attempt")))
        self.num_attempts = settings.num_attempts
        self.default_task = default_task
        self.guidance_name = settings.guidance
        self.guidance_provider: GuidanceProvider = build_guidance_provider(settings.guidance,
                                                                           **settings.guidance_kwargs)

        self.turn_end_id = turn_end_token_id(self.tokenizer, self.apply_chat_template_kwargs)
        stops = {self.turn_end_id, *(int(t) for t in to_plain(extra_stop_token_ids))}
        if self.tokenizer.eos_token_id is not None:
            stops.add(int(self.tokenizer.eos_token_id))
        self.stop_token_ids: frozenset[int] = frozenset(stops)

        # Static instructions are the fallback of every provider, so their turns must always fit.
        self._static_turn_lengths = {
            task: self._instruction_turn_length(text) for task, text in SELF_CORRECTION_INSTRUCTIONS.items()
        }
        self.instruction_reserve = 1 + max(self._static_turn_lengths.values())  # +1: closing EOS of a cut attempt
        bound = getattr(self.guidance_provider, "max_text_tokens", None)
        if bound is not None:
            text = SELF_CORRECTION_INSTRUCTIONS["math"]
            overhead = self._static_turn_lengths["math"] - len(self.tokenizer.encode(text, add_special_tokens=False))
            self.instruction_reserve = max(self.instruction_reserve, 1 + overhead + int(bound) + 2)  # +2: BPE seams
        self.budget = AttemptBudget.create(
            response_length=self.response_length,
            num_attempts=self.num_attempts,
            instruction_reserve=self.instruction_reserve,
            attempt_max_tokens=to_plain(attempt_max_tokens),
            min_attempt_tokens=min_attempt_tokens,
        )

        # SMART with backend "policy": the guide is the policy itself, served by this loop's server manager.
        if getattr(self.guidance_provider, "backend_kind", None) == "policy":
            self.guidance_provider.attach_policy(self.server_manager, self.tokenizer)

    async def _screen(self, guidance: Guidance, reference: str | None, task: str) -> Guidance:
        """Let providers that can leak (SMART) check the finished guidance against the row's ground truth.

        The guide model wrote ``guidance`` from the problem and the previous attempt only; the reference answer
        reaches nothing but the provider's leak filter, after generation (``screen`` is optional in the protocol).
        """
        screen = getattr(self.guidance_provider, "screen", None)
        if screen is None or reference is None:
            return guidance
        return await screen(guidance, reference, task)

    # ------------------------------------------------------------------ construction helpers
    def _instruction_turn_length(self, text: str) -> int:
        """Response tokens one instruction turn adds after an attempt closed by the turn-end token: template
        boundary + templated user message + generation prompt. Measured with the same continuous-token builder the
        episode uses, once per (tokenizer, builder, text)."""
        builder = self.continuous_token_builder
        key = (type(builder), repr(sorted(self.apply_chat_template_kwargs.items())), text)
        per_tokenizer = _TURN_LENGTH_CACHE.setdefault(self.tokenizer, {})
        if key not in per_tokenizer:
            problem = [{"role": "user", "content": "Problem."}]
            runtime = list(builder.build_initial_tokens(problem)) + [self.turn_end_id]
            previous = problem + [{"role": "assistant", "content": ""}]
            merged = builder.merge_context_tokens(previous, previous + [{"role": "user", "content": text}], runtime)
            per_tokenizer[key] = len(merged.token_ids) - len(runtime)
        return per_tokenizer[key]

    # ------------------------------------------------------------------ episode
    @rollout_trace_op
    async def run(self, sampling_params: dict[str, Any], priority: int = 0, **kwargs: Any) -> ScoreAgentLoopOutput:
        priority = int(priority)  # may arrive as np.int64 from the non-tensor batch
        problem_messages = list(kwargs["raw_prompt"])
        task = resolve_task(kwargs, self.default_task)
        if await self.process_multi_modal_info(problem_messages):
            raise NotImplementedError("score_two_attempt is text-only")

        reference = _ground_truth(kwargs)  # for the guidance leak screen only; never shown to any model
        prompt_ids = await self.ct_build_initial_tokens(problem_messages)
        full_determinism = bool(self.rollout_config.get("full_determinism", False))
        request_id = f"det-{priority}" if full_determinism else uuid4().hex  # one id: sticky routing, prefix cache
        ep = _Episode(runtime_ids=list(prompt_ids), messages=list(problem_messages))

        for attempt in range(1, self.num_attempts + 1):
            if attempt > 1:
                guidance = await self.guidance_provider.instruction(
                    problem_messages,
                    ep.attempt_texts[-1],
                    task,
                    attempt=attempt,
                    previous_attempts=tuple(ep.attempt_texts),
                )
                guidance = await self._screen(guidance, reference, task)
                source, reason = await self._inject_instruction(ep, guidance, task)
                ep.guidance.append(source)
                ep.guidance_reasons.append(reason)

            max_tokens = self.budget.max_tokens_for(attempt, used=len(ep.response_mask))
            with simple_timer("generate_sequences", ep.metrics):
                output = await self.server_manager.generate(
                    request_id=request_id,
                    prompt_ids=ep.runtime_ids,
                    sampling_params={**sampling_params, "max_tokens": max_tokens},
                    priority=priority,
                )
            ep.num_preempted += output.num_preempted or 0
            ep.server_extras.append(dict(output.extra_fields or {}))
            if attempt == 1:
                # None when the trainer did not ask for rollout log-probs (calculate_log_probs=False)
                ep.response_logprobs = [] if output.log_probs is not None else None

            ids = list(output.token_ids)[:max_tokens]
            logprobs = list(output.log_probs)[: len(ids)] if output.log_probs is not None else None
            merged = await self.ct_merge_assistant_token(
                ep.runtime_ids, ids, ep.response_mask, ep.response_logprobs, assistant_logprobs=logprobs
            )
            ep.apply(*merged, attempt=attempt)
            text = self._decode_attempt(ids)
            ep.attempt_ids.append(ids)
            ep.attempt_texts.append(text)
            ep.truncated.append(not ids or ids[-1] not in self.stop_token_ids)
            ep.messages.append({"role": "assistant", "content": text})

        return self._build_output(ep)

    async def _inject_instruction(self, ep: "_Episode", guidance: Guidance, task: str) -> tuple[str, str]:
        """Close the previous attempt if the engine cut it, then append the instruction turn (all mask 0).

        Returns the guidance source and fallback reason recorded for this turn (``over_reserve`` when the text was
        longer than the reserve and the static instruction replaced it).
        """
        if ep.truncated[-1]:
            # Cut on length (vLLM reports that as "completed" too, hence the last-token test): without the turn-end
            # token the instruction would continue the unfinished assistant message.
            ep.append_injected(self.turn_end_id)

        start = len(ep.response_mask)
        static = SELF_CORRECTION_INSTRUCTIONS[task]
        source, reason = guidance.source, guidance.reason
        for text in (guidance.text, static):
            updated = ep.messages + [{"role": "user", "content": text}]
            merged = await self.ct_merge_context_msg(
                ep.messages, updated, ep.runtime_ids, ep.response_mask, ep.response_logprobs
            )
            # A provider may overrun the reserve it promised; never let that eat the last attempt's budget.
            if len(merged[1]) - start + 1 <= self.instruction_reserve or text is static:
                break
            logger.warning(
                "guidance of %d tokens exceeds the reserve of %d; using the static instruction",
                len(merged[1]) - start,
                self.instruction_reserve,
            )
            source, reason = f"{guidance.source}_rejected", "over_reserve"
        ep.apply(*merged, attempt=0)
        ep.messages = updated
        return source, reason

    def _decode_attempt(self, ids: list[int]) -> str:
        """Text of one attempt from its own generated ids (what the reward scores), closing stop token removed."""
        end = len(ids)
        while end and ids[end - 1] in self.stop_token_ids:
            end -= 1
        return self.tokenizer.decode(ids[:end], skip_special_tokens=False)

    def _build_output(self, ep: "_Episode") -> ScoreAgentLoopOutput:
        n = len(ep.response_mask)
        response_ids = ep.runtime_ids[len(ep.runtime_ids) - n :] if n else []
        prompt_ids = ep.runtime_ids[: len(ep.runtime_ids) - n]
        response_mask, attempt_index, response_logprobs = ep.response_mask, ep.attempt_index, ep.response_logprobs
        attempt_texts, truncated = list(ep.attempt_texts), list(ep.truncated)
        limit = self.response_length
        if n > limit:
            # The budget makes this unreachable unless an engine ignores max_tokens; cut every per-token field at the
            # same place and make the texts match what is left, so rewards score exactly the trained tokens.
            logger.warning("SCoRe episode of %d response tokens cut to rollout.response_length=%d", n, limit)
            response_ids, response_mask = response_ids[:limit], response_mask[:limit]
            attempt_index = attempt_index[:limit]
            response_logprobs = response_logprobs[:limit] if response_logprobs is not None else None
            for k, ids in enumerate(ep.attempt_ids):
                kept = attempt_index.count(k + 1)
                if kept < len(ids):
                    attempt_texts[k] = self._decode_attempt(ids[:kept])
                    truncated[k] = True

        extra_fields = episode_extra_fields(
            ep.server_extras,  # weight-version tags: attempt 1 (min) and the last attempt (max)
            **{
                keys.ATTEMPT_TEXTS: attempt_texts,
                keys.NUM_ATTEMPTS: self.num_attempts,
                keys.GUIDANCE: list(ep.guidance),
                keys.GUIDANCE_REASONS: list(ep.guidance_reasons),
                keys.ATTEMPT_TRUNCATED: truncated,
            },
        )
        ep.metrics["num_preempted"] = ep.num_preempted
        return ScoreAgentLoopOutput(
            prompt_ids=prompt_ids,
            response_ids=response_ids,
            response_mask=response_mask,
            response_logprobs=response_logprobs,
            attempt_index=attempt_index,
            num_turns=2 * self.num_attempts,  # problem + K attempts + K-1 instructions
            metrics=ep.metrics,
            extra_fields=extra_fields,
        )


@dataclass
class _Episode:
    """Mutable state of one episode: the runtime token stream and the response-aligned metadata."""

    runtime_ids: list[int]
    messages: list[dict[str, Any]]
    response_mask: list[int] = field(default_factory=list)
    response_logprobs: list[float] | None = None
    attempt_index: list[int] = field(default_factory=list)
    attempt_ids: list[list[int]] = field(default_factory=list)
    attempt_texts: list[str] = field(default_factory=list)
    truncated: list[bool] = field(default_factory=list)
    guidance: list[str] = field(default_factory=list)
    guidance_reasons: list[str] = field(default_factory=list)  # why each turn fell back ("" when it did not)
    server_extras: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    num_preempted: int = 0

    def apply(self, merge_result: MergeResult, mask: list[int], logprobs: list[float] | None, *, attempt: int) -> None:
        """Take the result of a continuous-token merge (``attempt`` 0 for context turns)."""
        self.runtime_ids = merge_result.token_ids
        self.response_mask = mask
        self.response_logprobs = logprobs
        self.attempt_index = _align_attempt_index(merge_result, self.attempt_index, attempt)

    def append_injected(self, token_id: int) -> None:
        """One token the policy did not generate: mask 0, log-prob 0, attempt 0."""
        self.runtime_ids = self.runtime_ids + [token_id]
        self.response_mask = self.response_mask + [0]
        self.attempt_index = self.attempt_index + [0]
        if self.response_logprobs is not None:
            self.response_logprobs = self.response_logprobs + [0.0]


def _align_attempt_index(merge_result: MergeResult, attempt_index: list[int], attempt: int) -> list[int]:
    """Apply a continuous-token merge's edits to ``attempt_index``, as verl's ``align_response_metadata`` does to the
    mask: trim removed prefix tokens, 0 for inserted boundary tokens, ``attempt`` for appended assistant tokens and 0
    for appended context tokens."""
    aligned = list(attempt_index)
    if merge_result.removed_prefix_token_count:
        aligned = aligned[: -merge_result.removed_prefix_token_count]
    aligned += [0] * len(merge_result.inserted_token_ids)
    aligned += [attempt if merge_result.kind == "assistant" else 0] * merge_result.appended_token_count
    return aligned


def _ground_truth(row: Mapping[str, Any]) -> str | None:
    """The row's ``reward_model.ground_truth`` as text (None when absent or empty)."""
    reward_model = row.get("reward_model") or {}
    truth = reward_model.get("ground_truth") if hasattr(reward_model, "get") else None
    return None if truth is None or str(truth).strip() == "" else str(truth)
