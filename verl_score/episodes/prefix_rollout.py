"""``score_prefix_rollout``: SCoRe-RL (Student-Centered SCoRe / SCoRe-B) short rollouts from a verified prefix.

SCoRe-B (arXiv 2509.14257 §3): after Mentored Problem Solving, RL starts from the verified prefix that precedes the
student's first critical mistake and rolls out a short horizon in CodeAct ``Thought / Code / Observation`` steps. The
key-step reward (``verl_score.rewards.key_step``) then scores the final answer, or else the FIRST generated step
against the teacher's correction and the student's original mistake.

The dataset row (``data_preprocess/sources/mps.py``, agent_name ``score_prefix_rollout``) already holds system +
problem + the rendered prefix in ``prompt``, so verl's ``max_prompt_length`` filter sees the true length, and the
structured prefix in ``extra_info.prefix_steps``. The prefix's code cells are REPLAYED in the sandbox before the
rollout's first cell (``PythonSession``: every call runs the history in one fresh sandboxed interpreter), so a
variable the prefix defined is there when the policy uses it -- without replay the first tool call of almost every
rollout would fail on a NameError and the reward would measure the broken environment, not the policy.

Tokens are built with verl's continuous-token helpers: the engine's ids are appended as they are (mask 1, with
their log-probs), observations are merged as user turns (mask 0, log-prob 0) -- the same role the SFT data gives
them, so the rollout sees the format it was fine-tuned on; a prefix that ends with an assistant message is
continued in that message (``continue_prefix_turn``), as the SFT data joins steps without an observation. The
episode ends on a committed final answer (``Final Answer: X`` or ``\\boxed{X}``), after ``max_assistant_turns``
turns (the horizon), when a turn has no code to run, when the engine cut a turn on length, or when
``rollout.response_length`` is spent.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from typing import Any, Mapping
from uuid import uuid4

from omegaconf import DictConfig, OmegaConf

from verl.experimental.agent_loop.agent_loop import AgentLoopBase, AgentLoopOutput, register
from verl.utils.profiler import simple_timer
from verl.utils.rollout_trace import rollout_trace_op
from verl.utils.tokenizer.chat_template import apply_chat_template
from verl.utils.tokenizer.tokenizer import normalize_token_ids

from verl_score.contracts import keys
from verl_score.episodes.codeact import parse_turn, prefix_code_cells, render_observation
from verl_score.episodes.output import episode_extra_fields
from verl_score.episodes.two_attempt import turn_end_token_id
from verl_score.sandbox import PythonSession, Sandbox, SandboxConfig

logger = logging.getLogger(__file__)
logger.setLevel(os.getenv("VERL_LOGGING_LEVEL", "WARN"))

__all__ = ["STEP_JOIN", "ScorePrefixRolloutAgentLoop", "StopReason"]

#: Separator of consecutive steps inside one assistant message (``verl_score.contracts.steps.steps_to_messages``).
STEP_JOIN = "\n\n"


class StopReason:
    """Why an episode ended (``extra_fields["stop_reason"]``)."""

    FINAL_ANSWER = "final_answer"
    MAX_TURNS = "max_turns"  # the horizon
    NO_CODE = "no_code"  # a turn with neither code nor a final answer: nothing left to observe
    LENGTH = "length"  # the engine cut a turn (no turn-end token)
    TOKEN_BUDGET = "token_budget"  # rollout.response_length spent (or the next observation would not fit)


# One sandbox per (process, config): its bwrap probe and thread pool are per instance, and verl builds one agent
# loop object per trajectory.
_SANDBOXES: dict[str, Sandbox] = {}
_SANDBOX_LOCK = threading.Lock()


def shared_sandbox(config: Mapping[str, Any] | None) -> Sandbox:
    """The process-wide ``Sandbox`` for a config block (built once; raises if bubblewrap is unusable)."""
    cfg = SandboxConfig.from_mapping(_plain(config) if config is not None else None)
    key = repr(sorted(vars(cfg).items()))
    with _SANDBOX_LOCK:
        if key not in _SANDBOXES:
            _SANDBOXES[key] = Sandbox(cfg)
        return _SANDBOXES[key]


@register("score_prefix_rollout")
class ScorePrefixRolloutAgentLoop(AgentLoopBase):
    """SCoRe-RL rollout: replay the verified prefix's code, then at most ``max_assistant_turns`` CodeAct turns.

    Extra kwargs (``rollout.agent.agent_loop_config_path``, see ``configs/agent_loops.yaml``):
        max_assistant_turns: the horizon, in policy turns (official SCoRe-B launcher: 8).
        max_turn_tokens: ``max_tokens`` cap of one turn (``None``: whatever is left of ``rollout.response_length``).
        max_observation_chars: longer interpreter output is cut (head and tail kept) before it is tokenized.
        sandbox: ``SandboxConfig`` block (timeouts, memory, ...) for the code cells.
        replay_prefix: replay ``extra_info.prefix_steps``' code before the first cell (off only for ablations).
        continue_prefix_turn: when the prefix ends with an assistant message (its last step printed nothing, so no
            observation turn follows it), the first generated step continues that message after a blank line --
            how the SFT data joins such steps (``steps_to_messages``) -- instead of opening a second assistant turn
            the student never saw in SFT.
    """

    def __init__(
        self,
        *args: Any,
        max_assistant_turns: int = 8,
        max_turn_tokens: int | None = None,
        max_observation_chars: int = 2048,
        sandbox: Mapping[str, Any] | None = None,
        replay_prefix: bool = True,
        continue_prefix_turn: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if int(max_assistant_turns) < 1:
            raise ValueError(f"max_assistant_turns must be >= 1, got {max_assistant_turns}")
        self.max_assistant_turns = int(max_assistant_turns)
        self.max_turn_tokens = None if max_turn_tokens is None else int(max_turn_tokens)
        self.max_observation_chars = int(max_observation_chars)
        self.replay_prefix = bool(replay_prefix)
        self.continue_prefix_turn = bool(continue_prefix_turn)
        self.sandbox_config = sandbox
        self.response_length = int(self.rollout_config.response_length)
        self.turn_end_id = turn_end_token_id(self.tokenizer, self.apply_chat_template_kwargs)
        stops = {self.turn_end_id}
        if self.tokenizer.eos_token_id is not None:
            stops.add(int(self.tokenizer.eos_token_id))
        self.stop_token_ids: frozenset[int] = frozenset(stops)

    # ------------------------------------------------------------------ episode
    @rollout_trace_op
    async def run(self, sampling_params: dict[str, Any], priority: int = 0, **kwargs: Any) -> AgentLoopOutput:
        priority = int(priority)
        messages = [dict(m) for m in kwargs["raw_prompt"]]  # system + problem + rendered verified prefix
        extra_info = kwargs.get("extra_info") or {}
        if await self.process_multi_modal_info(messages):
            raise NotImplementedError("score_prefix_rollout is text-only")
        prefix_cells = prefix_code_cells(extra_info) if self.replay_prefix else []
        session = PythonSession(shared_sandbox(self.sandbox_config), prefix_cells=prefix_cells)

        prompt_ids = await self._initial_tokens(messages)
        full_determinism = bool(self.rollout_config.get("full_determinism", False))
        request_id = f"det-{priority}" if full_determinism else uuid4().hex  # one id per trajectory: sticky routing
        continues = self.continue_prefix_turn and messages[-1]["role"] == "assistant"
        ep = _Episode(runtime_ids=list(prompt_ids), messages=messages, continues_prefix=continues)

        while True:
            left = self.response_length - len(ep.response_mask)
            max_tokens = left if self.max_turn_tokens is None else min(left, self.max_turn_tokens)
            if max_tokens <= 0:
                ep.stop_reason = StopReason.TOKEN_BUDGET
                break
            with simple_timer("generate_sequences", ep.metrics):
                output = await self.server_manager.generate(
                    request_id=request_id,
                    prompt_ids=ep.runtime_ids,
                    sampling_params={**sampling_params, "max_tokens": max_tokens},
                    priority=priority,
                )
            ep.server_extras.append(dict(output.extra_fields or {}))
            ep.num_preempted += output.num_preempted or 0
            if ep.turns == 0:
                ep.response_logprobs = [] if output.log_probs is not None else None
            ids = list(output.token_ids)[:max_tokens]
            logprobs = list(output.log_probs)[: len(ids)] if output.log_probs is not None else None
            merged = await self.ct_merge_assistant_token(
                ep.runtime_ids, ids, ep.response_mask, ep.response_logprobs, assistant_logprobs=logprobs
            )
            ep.apply(*merged)
            ep.turns += 1

            text = self._decode_turn(ids)
            if ep.turns == 1 and ep.continues_prefix:
                last = ep.messages[-1]
                ep.messages[-1] = {**last, "content": last["content"] + STEP_JOIN + text}
            else:
                ep.messages.append({"role": "assistant", "content": text})
            turn = parse_turn(text)
            ep.step_texts.extend(turn.steps)
            if turn.final_answer is not None:
                ep.final_answer = turn.final_answer
                ep.stop_reason = StopReason.FINAL_ANSWER
                break
            if not ids or ids[-1] not in self.stop_token_ids:
                ep.stop_reason = StopReason.LENGTH if len(ep.response_mask) < self.response_length else (
                    StopReason.TOKEN_BUDGET
                )
                break
            if not turn.code:
                ep.stop_reason = StopReason.NO_CODE
                break
            if ep.turns >= self.max_assistant_turns:
                # The horizon: the last turn's code is not run, its observation could never be acted on.
                ep.stop_reason = StopReason.MAX_TURNS
                break

            with simple_timer("tool_calls", ep.metrics):
                results = [await session.execute(cell) for cell in turn.code]
                outputs = [self._clip(r.observation()) for r in results]
            ep.tool_calls += len(turn.code)
            ep.tool_errors += sum(not r.ok for r in results)
            updated = ep.messages + [{"role": "user", "content": render_observation(outputs)}]
            merged = await self.ct_merge_context_msg(ep.messages, updated, ep.runtime_ids, ep.response_mask,
                                                     ep.response_logprobs)
            if len(merged[1]) >= self.response_length:
                # The observation (mask 0) would leave no room for another turn: end here, so the texts the reward
                # sees are exactly the trained tokens.
                ep.stop_reason = StopReason.TOKEN_BUDGET
                break
            ep.apply(*merged)
            ep.messages = updated
            ep.observations += 1

        return self._build_output(ep)

    # ------------------------------------------------------------------ helpers
    async def _initial_tokens(self, messages: list[dict[str, Any]]) -> list[int]:
        """Prompt ids for system + problem + prefix.

        Normally verl's templated prompt with the generation prompt. When the prefix ends with an assistant message
        and ``continue_prefix_turn`` is set, the template is rendered without a generation prompt, the message's
        closing turn-end token is dropped and a blank line appended, so the policy continues that very message
        (the SFT layout of consecutive steps without an observation).
        """
        if not (self.continue_prefix_turn and messages[-1]["role"] == "assistant"):
            return await self.ct_build_initial_tokens(messages)

        def render() -> list[int]:
            ids = normalize_token_ids(
                apply_chat_template(
                    self.tokenizer, messages, tokenize=True, add_generation_prompt=False,
                    **self.apply_chat_template_kwargs,
                )
            )
            end = len(ids)
            while end and ids[end - 1] != self.turn_end_id:  # the template's trailing "\n" after <|im_end|>
                end -= 1
            if not end:
                raise ValueError("chat template put no turn-end token after the prefix's assistant message")
            return ids[: end - 1] + self.tokenizer.encode(STEP_JOIN, add_special_tokens=False)

        ids = await self.loop.run_in_executor(None, render)
        return self._cap_text_prompt_length(ids)

    def _decode_turn(self, ids: list[int]) -> str:
        """Text of one policy turn from its own generated ids, closing stop token(s) removed."""
        end = len(ids)
        while end and ids[end - 1] in self.stop_token_ids:
            end -= 1
        return self.tokenizer.decode(ids[:end], skip_special_tokens=False)

    def _clip(self, text: str) -> str:
        n = self.max_observation_chars
        if len(text) <= n:
            return text
        half = n // 2
        return f"{text[:half]}\n...(truncated {len(text) - 2 * half} characters)...\n{text[-half:]}"

    def _build_output(self, ep: "_Episode") -> AgentLoopOutput:
        n = len(ep.response_mask)
        prompt_ids = ep.runtime_ids[: len(ep.runtime_ids) - n]
        response_ids = ep.runtime_ids[len(ep.runtime_ids) - n :]
        extra_fields = episode_extra_fields(
            ep.server_extras,
            # what verl_score.rewards.key_step reads: step_texts[0] is the first step after the prefix
            **{
                keys.STEP_TEXTS: list(ep.step_texts),
                keys.FINAL_ANSWER_TEXT: ep.final_answer,
                keys.STOP_REASON: ep.stop_reason,
                keys.NUM_TOOL_CALLS: ep.tool_calls,
                keys.NUM_TOOL_ERRORS: ep.tool_errors,  # cells that raised, timed out or were killed in the sandbox
                keys.NUM_ASSISTANT_TURNS: ep.turns,
            },
        )
        ep.metrics["num_preempted"] = ep.num_preempted
        return AgentLoopOutput(
            prompt_ids=prompt_ids,
            response_ids=response_ids,
            response_mask=ep.response_mask,
            response_logprobs=ep.response_logprobs,
            num_turns=ep.turns + ep.observations + 1,  # verl's count: prompt + assistant + tool turns
            metrics=ep.metrics,
            extra_fields=extra_fields,
        )


@dataclass
class _Episode:
    """Mutable state of one rollout: the runtime token stream and the response-aligned metadata."""

    runtime_ids: list[int]
    messages: list[dict[str, Any]]
    continues_prefix: bool = False
    response_mask: list[int] = field(default_factory=list)
    response_logprobs: list[float] | None = None
    step_texts: list[str] = field(default_factory=list)
    final_answer: str | None = None
    stop_reason: str = ""
    turns: int = 0
    tool_calls: int = 0
    tool_errors: int = 0
    observations: int = 0
    num_preempted: int = 0
    server_extras: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)

    def apply(self, merge_result: Any, mask: list[int], logprobs: list[float] | None) -> None:
        """Take the result of a continuous-token merge."""
        self.runtime_ids = merge_result.token_ids
        self.response_mask = mask
        self.response_logprobs = logprobs


def _plain(value: Any) -> Any:
    """Hydra hands YAML kwargs over as DictConfig; the sandbox config wants plain Python."""
    if isinstance(value, DictConfig):
        return OmegaConf.to_container(value, resolve=True)
    return dict(value)
