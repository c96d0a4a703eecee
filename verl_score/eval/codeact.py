"""Tool-using student inference (Student-Centered SCoRe / SCoRe-B, the last phase): the student ALONE (no teacher)
solves each problem in CodeAct ``Thought / Code / Observation`` turns with the sandboxed interpreter; the final
answer is scored by the training reward and tabled per data source.

    python -m verl_score.eval --episode codeact --data data/math500/test.parquet \\
        --base-url http://127.0.0.1:30000/v1 --model student --out-dir outputs/eval/codeact
    python -m verl_score.eval --episode codeact --engine local --model /ckpt/hf --data test.parquet --limit 20

Why two engines, one episode: ``--engine local`` runs the REAL ``score_prefix_rollout`` agent loop (the SCoRe-RL
episode, token level) with an EMPTY verified prefix, so inference is the trained episode exactly; ``--engine openai``
replays the same episode at chat level against any OpenAI-compatible server: the same parser (``codeact.parse_turn``),
the same observation rendering (``render_observation``), the same sandbox (``PythonSession`` in bubblewrap), the
same stop rules (a committed final answer, a turn without code, a turn cut on length, ``--max-turns``). Both prompt
with the student's system prompt (``MPS_SYSTEM``) and the bare problem (``extra_info.question`` or the last user
turn), as in MPS, SCoRe-SFT and SCoRe-RL.

What is scored: the policy's steps, then ``Final Answer: X`` when it committed one -- never the interpreter's
output, whose numbers would otherwise be mistaken for an answer. Failures (endpoint down after retries, verifier
crash) are counted and excluded, never scored 0.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from verl_score.contracts import keys
from verl_score.contracts.steps import MPS_SYSTEM
from verl_score.episodes.codeact import parse_turn, render_observation
from verl_score.eval.data import EvalSample, to_plain
from verl_score.eval.engines import Sampling, episode_seed

logger = logging.getLogger(__name__)

__all__ = ["CodeActEpisode", "LocalCodeActEngine", "OpenAICodeActEngine", "codeact_prompt", "evaluate_codeact",
           "render_codeact_markdown", "scored_text", "summarize_codeact"]


@dataclass
class CodeActEpisode:
    steps: list[str]
    final_answer: str | None
    tool_calls: int
    sandbox_errors: int
    turns: int
    stop_reason: str
    conversation: list[dict[str, Any]] | None = None
    turn_texts: list[str] = field(default_factory=list)


def problem_text(sample: EvalSample) -> str:
    """The bare problem: the converter's ``extra_info.question``, else the last user turn of the prompt."""
    q = sample.extra_info.get("question")
    if isinstance(q, str) and q.strip():
        return q.strip()
    users = [str(m.get("content", "")) for m in sample.prompt if m.get("role") == "user"]
    if not users:
        raise ValueError(f"row {sample.index} ({sample.uid}): no user turn and no extra_info.question")
    return users[-1].strip()


def codeact_prompt(sample: EvalSample) -> list[dict[str, str]]:
    return [{"role": "system", "content": MPS_SYSTEM}, {"role": "user", "content": problem_text(sample)}]


def scored_text(steps: Sequence[str], final_answer: str | None) -> str:
    text = "\n\n".join(s.strip() for s in steps)
    if final_answer is not None:
        text += f"\n\nFinal Answer: {final_answer}"
    return text


def _clip(text: str, n: int) -> str:
    if len(text) <= n:
        return text
    half = n // 2
    return f"{text[:half]}\n...(truncated {len(text) - 2 * half} characters)...\n{text[-half:]}"


class OpenAICodeActEngine:
    """The ``score_prefix_rollout`` episode (empty prefix) as chat turns against ``/v1/chat/completions``."""

    name = "openai"

    def __init__(self, client: Any, *, max_turns: int = 8, max_observation_chars: int = 2048,
                 sandbox: Mapping[str, Any] | None = None, extra_params: Mapping[str, Any] | None = None):
        from verl_score.episodes.prefix_rollout import shared_sandbox

        self.client = client
        self.max_turns = int(max_turns)
        self.max_observation_chars = int(max_observation_chars)
        self.sandbox = shared_sandbox(sandbox or {"timeout_s": 20.0, "cpu_s": 15})
        self.extra_params = dict(extra_params or {})

    async def run(self, sample: EvalSample, sampling: Sampling, sample_index: int = 0) -> CodeActEpisode:
        from verl_score.sandbox import PythonSession

        messages: list[dict[str, Any]] = codeact_prompt(sample)
        session = PythonSession(self.sandbox)
        ep = CodeActEpisode(steps=[], final_answer=None, tool_calls=0, sandbox_errors=0, turns=0, stop_reason="")
        while True:
            params: dict[str, Any] = {"temperature": sampling.temperature, "max_tokens": sampling.max_tokens,
                                      "stop": ["Observation:"], **self.extra_params}
            seed = episode_seed(sampling, sample, sample_index, ep.turns + 1)
            if seed is not None:
                params["seed"] = seed
            result = await self.client.chat([dict(m) for m in messages], **params)
            ep.turns += 1
            ep.turn_texts.append(result.text)
            messages.append({"role": "assistant", "content": result.text})
            turn = parse_turn(result.text)
            ep.steps.extend(turn.steps)
            if turn.final_answer is not None:
                ep.final_answer, ep.stop_reason = turn.final_answer, "final_answer"
                break
            if result.finish_reason == "length":
                ep.stop_reason = "length"
                break
            if not turn.code:
                ep.stop_reason = "no_code"
                break
            if ep.turns >= self.max_turns:
                ep.stop_reason = "max_turns"  # the horizon: the last turn's code is not run (as in training)
                break
            results = [await session.execute(cell) for cell in turn.code]
            ep.tool_calls += len(results)
            ep.sandbox_errors += sum(not r.ok for r in results)
            messages.append({"role": "user", "content": render_observation(
                [_clip(r.observation(), self.max_observation_chars) for r in results])})
        ep.conversation = messages
        return ep

    async def aclose(self) -> None:
        await self.client.aclose()


class LocalCodeActEngine:
    """A transformers checkpoint through the real ``score_prefix_rollout`` agent loop with an empty prefix."""

    name = "local"

    def __init__(self, model_path: str, *, max_turns: int, max_tokens: int, prompt_length: int = 2048,
                 sandbox: Mapping[str, Any] | None = None, num_threads: int | None = None, generator: Any = None):
        from transformers import AutoConfig, AutoTokenizer

        from verl_score.cpu.generator import HFGenerator, LocalServerManager

        self.tokenizer = AutoTokenizer.from_pretrained(model_path)
        self.model_type = AutoConfig.from_pretrained(model_path).model_type
        self.max_turns, self.max_tokens, self.prompt_length = int(max_turns), int(max_tokens), int(prompt_length)
        # every turn plus an observation turn of up to ~256 tokens
        self.response_length = self.max_turns * (self.max_tokens + 256)
        self.generator = generator or HFGenerator(model_path, prompt_length=prompt_length,
                                                  response_length=self.response_length, num_threads=num_threads)
        self.server_manager = LocalServerManager(self.generator)
        self.sandbox = dict(sandbox or {"timeout_s": 20.0, "cpu_s": 15})
        self._loop_obj: Any = None

    def _agent_loop(self) -> Any:
        if self._loop_obj is None:
            from verl_score.episodes.prefix_rollout import ScorePrefixRolloutAgentLoop
            from verl_score.episodes.worker_build import build_agent_loop

            self._loop_obj = build_agent_loop(
                ScorePrefixRolloutAgentLoop, self.server_manager, self.tokenizer, prompt_length=self.prompt_length,
                response_length=self.response_length, hf_model_type=self.model_type,
                max_assistant_turns=self.max_turns, max_turn_tokens=self.max_tokens, sandbox=self.sandbox,
            )
        return self._loop_obj

    async def run(self, sample: EvalSample, sampling: Sampling, sample_index: int = 0) -> CodeActEpisode:
        params: dict[str, Any] = {"temperature": sampling.temperature, "top_p": sampling.top_p, "top_k": -1,
                                  "repetition_penalty": 1.0, "logprobs": False}
        seed = episode_seed(sampling, sample, sample_index, 1)
        if seed is not None:
            params["seed"] = seed
        row = {"raw_prompt": codeact_prompt(sample), "extra_info": {}, "data_source": sample.data_source}
        out = await self._agent_loop().run(params, **row)
        f = out.extra_fields
        return CodeActEpisode(steps=list(f[keys.STEP_TEXTS]), final_answer=f[keys.FINAL_ANSWER_TEXT],
                              tool_calls=int(f[keys.NUM_TOOL_CALLS]), sandbox_errors=int(f[keys.NUM_TOOL_ERRORS]),
                              turns=int(f[keys.NUM_ASSISTANT_TURNS]), stop_reason=str(f[keys.STOP_REASON]))

    async def aclose(self) -> None:
        return None


# ---------------------------------------------------------------------------------------------- run + report
async def evaluate_codeact(samples: Sequence[EvalSample], engine: Any, sampling: Sampling, *, concurrency: int = 8,
                           reward_kwargs: Mapping[str, Any] | None = None, threshold: float = 1.0,
                           progress: bool = True) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One episode per problem, scored; returns ``(records, summary)``."""
    from tqdm.auto import tqdm

    from verl_score.eval.runner import GENERATION_FAILED, OK, REWARD_FAILED, score_episode

    start = time.monotonic()
    sem = asyncio.Semaphore(max(1, concurrency))
    bar = tqdm(total=len(samples), desc=f"eval-codeact[{engine.name}]", unit="problem", disable=not progress)

    async def one(sample: EvalSample) -> dict[str, Any]:
        rec: dict[str, Any] = {"uid": sample.uid, "index": sample.index, "data_source": sample.data_source,
                               "task": sample.task, "ground_truth": to_plain(sample.ground_truth)}
        async with sem:
            try:
                ep = await engine.run(sample, sampling)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # counted, excluded from accuracy; the eval goes on
                logger.warning("codeact episode %s failed: %s", sample.uid, exc)
                bar.update()
                return {**rec, "status": GENERATION_FAILED, "error": f"{type(exc).__name__}: {exc}"}
            text = scored_text(ep.steps, ep.final_answer)
            rec.update(text=text, final_answer=ep.final_answer, tool_calls=ep.tool_calls,
                       sandbox_errors=ep.sandbox_errors, turns=ep.turns, stop_reason=ep.stop_reason,
                       conversation=ep.conversation)
            try:
                scored, failed = await score_episode(sample, [text], reward_kwargs, threshold)
            except Exception as exc:
                bar.update()
                return {**rec, "status": REWARD_FAILED, "error": f"{type(exc).__name__}: {exc}"}
            bar.update()
            a = scored[0]
            return {**rec, "status": REWARD_FAILED if failed else OK, "error": a["reason"] if failed else None,
                    "reward": a["reward"], "correct": a["correct"], "answer": a.get("answer")}

    try:
        records = list(await asyncio.gather(*(one(s) for s in samples)))
    finally:
        bar.close()
        await engine.aclose()
    summary = summarize_codeact(records)
    summary["elapsed_s"] = round(time.monotonic() - start, 3)
    return records, summary


def _block(recs: list[dict[str, Any]]) -> dict[str, Any]:
    ran = [r for r in recs if "turns" in r]
    ok = [r for r in recs if r["status"] == "ok"]
    n_ran = len(ran)
    return {
        "n": len(recs),
        "n_scored": len(ok),
        "failed": len(recs) - len(ok),
        "accuracy": sum(r["correct"] for r in ok) / len(ok) if ok else float("nan"),
        "tool_calls_per_problem": sum(r["tool_calls"] for r in ran) / n_ran if n_ran else float("nan"),
        "sandbox_errors": sum(r["sandbox_errors"] for r in ran),
        "sandbox_error_rate": (sum(r["sandbox_errors"] for r in ran) / max(1, sum(r["tool_calls"] for r in ran))
                               if n_ran else float("nan")),
        "turns_mean": sum(r["turns"] for r in ran) / n_ran if n_ran else float("nan"),
        "turns_max": max((r["turns"] for r in ran), default=0),
        "turns_hist": dict(sorted(Counter(r["turns"] for r in ran).items())),
        "stop_reasons": dict(Counter(r["stop_reason"] for r in ran)),
    }


def summarize_codeact(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    by_source: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        by_source[r["data_source"]].append(dict(r))
    return {
        "episode": "codeact",
        "n_problems": len(records),
        "n_scored": sum(r["status"] == "ok" for r in records),
        "failed": sum(r["status"] != "ok" for r in records),
        "overall": _block([dict(r) for r in records]),
        "per_source": {ds: _block(rs) for ds, rs in sorted(by_source.items())},
    }


def render_codeact_markdown(summary: Mapping[str, Any]) -> str:
    def pct(x: float) -> str:
        return "n/a" if x != x else f"{100 * x:.1f}"

    def num(x: float) -> str:
        return "n/a" if x != x else f"{x:.2f}"

    lines = ["| data_source | N | scored | accuracy (%) | tool calls / problem | sandbox errors | turns (mean / max) |",
             "|---|---|---|---|---|---|---|"]
    rows = [*summary["per_source"].items(), ("**all**", summary["overall"])]
    for ds, b in rows:
        lines.append(f"| {ds} | {b['n']} | {b['n_scored']} | {pct(b['accuracy'])} | {num(b['tool_calls_per_problem'])} "
                     f"| {b['sandbox_errors']} | {num(b['turns_mean'])} / {b['turns_max']} |")
    if summary.get("failed"):
        lines.append(f"\n{summary['failed']} problem(s) failed (generation or reward check) and are not in accuracy.")
    return "\n".join(lines) + "\n"
