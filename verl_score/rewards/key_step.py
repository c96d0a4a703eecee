"""``key_step``: SCoRe-B's key-step reward for short rollouts that resume from a verified prefix.

Reward (SCoRe-B, sec. "SCoRe-RL"): 1.0 if the final answer is correct; otherwise the FIRST step generated after
the prefix scores 0.5 if it matches the teacher's correction, 0.0 if it repeats the student's original mistake and
0.1 otherwise. The point is dense credit exactly where the student went wrong before.

Row schema (``extra_info``; the agent loop's ``extra_fields`` are merged in by verl's reward manager):
  * ``teacher_step`` (str, required): the teacher's corrected version of the first wrong step.
  * ``student_mistake_step`` (str, required): the student's original wrong step.
  * ``step_texts`` (list[str], optional): the rollout's steps as the agent loop split them (turns); when present,
    ``step_texts[0]`` is the first step. Otherwise the first step is cut from the response text at the earliest of
    ``step_delimiters`` (end of the first code block, before "Observation", before the next "Thought:", a blank
    line), which fits the MPS rendering (``render_step``) that ``teacher_step`` / ``student_mistake_step`` use.
  * ``reward_model.ground_truth``: the final answer, checked by ``answer_module`` (a registered reward, default
    ``math``; ``exact_match`` or ``llm_judge`` for QA).
  * ``final_answer_text`` (set by the ``score_prefix_rollout`` loop): the answer the loop COMMITTED. Only it is
    scored (as ``\boxed{final_answer_text}``); None / empty = no answer = wrong. Without the key (a plain response),
    the response is scored with every code cell and ``Observation:`` block removed. Either way nothing inside an
    interpreter observation or a code cell can earn the 1.0 (printing ``\boxed{..}`` from code, or writing a fake
    ``Observation:``, would otherwise score).

Matching is pluggable (``matcher: rule | llm_judge``) through a small registry: ``rule`` is the deterministic
default (normalised text / AST-equal code / rapidfuzz ratio >= ``threshold``); ``llm_judge`` is registered by the
judge module (``verl_score.rewards.llm_judge``) with ``@register_step_matcher("llm_judge")``. A matcher is
``async __call__(step, teacher_step, mistake_step, extra_info) -> StepMatch`` (both in ``step_match``).
Reviewers' caveat (ICLR 2026): "differs from the mistake" can still be wrong; 0.1 is deliberately small.
"""

from __future__ import annotations

import ast
import re
import string
import time
from typing import Any, Callable, Mapping, Sequence

from verl_score.contracts.keys import FINAL_ANSWER_TEXT, STEP_TEXTS
from verl_score.rewards.base import RewardResult
from verl_score.rewards.registry import build_reward, register_reward
from verl_score.rewards.step_match import StepMatch, get_step_matcher_cls, register_step_matcher

#: Where the first step ends; the EARLIEST end among these wins. Matches the MPS rendering
#: (``data_preprocess/sources/mps.py:render_step``: "Thought: ...\nCode:\n```python\n...\n```", steps joined by a
#: blank line, observations in their own "Observation:" turn) and the ``<code>...</code>`` CodeAct variant.
DEFAULT_STEP_DELIMITERS = (
    r"```[\w+-]*\n.*?\n[ \t]*```",  # end of the first fenced code block
    r"</code>",
    r"(?=\n[ \t]*(?:Observation\s*:|<observation>))",  # before the tool output
    r"(?=\n[ \t]*Thought\s*:)",  # before the next step
    r"\n[ \t]*\n",  # a blank line
)


# ---------------------------------------------------------------------------------------------------- rule matcher
_CODE_BLOCK = re.compile(r"<code>(.*?)(?:</code>|\Z)|```[\w+-]*\n(.*?)(?:```|\Z)", re.DOTALL)
_PUNCT = str.maketrans("", "", string.punctuation)


def code_of(step: str) -> str | None:
    """The code inside a step (``<code>`` or fenced blocks, concatenated), or ``None``."""
    parts = [a or b for a, b in _CODE_BLOCK.findall(step)]
    return "\n".join(p.strip("\n") for p in parts) if parts else None


def canonical_code(code: str) -> str:
    """Source regenerated from the AST (formatting, comments and quote style do not matter); unparsable code falls
    back to whitespace-normalised text. Regenerated source, not ``ast.dump``: dumps share so much boilerplate that
    unrelated statements look 90% similar."""
    try:
        return ast.unparse(ast.parse(code))
    except (SyntaxError, ValueError, RecursionError):
        lines = [ln.split("#", 1)[0].strip() for ln in code.splitlines()]
        return "\n".join(ln for ln in lines if ln)


def normalize_text(text: str) -> str:
    return " ".join(text.lower().translate(_PUNCT).split())


def step_similarity(a: str, b: str) -> float:
    """Similarity in [0, 1]: 1.0 for AST-equal code, else the rapidfuzz ratio of the normalised forms (code
    compared as code when both steps contain some, text otherwise)."""
    from rapidfuzz import fuzz

    code_a, code_b = code_of(a), code_of(b)
    if code_a is not None and code_b is not None:
        ca, cb = canonical_code(code_a), canonical_code(code_b)
        if ca == cb:
            return 1.0
        return fuzz.ratio(ca, cb) / 100.0
    na, nb = normalize_text(a), normalize_text(b)
    if na == nb:
        return 1.0
    return fuzz.ratio(na, nb) / 100.0


@register_step_matcher("rule")
class RuleStepMatcher:
    """Deterministic matcher: the closer of the two references wins if its similarity reaches ``threshold``;
    ties go to ``mistake`` (never reward a step that is as close to the known error as to the fix)."""

    def __init__(self, threshold: float = 0.85):
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {threshold}")
        self.threshold = threshold

    async def __call__(self, step: str, teacher_step: str, mistake_step: str, extra_info: Mapping[str, Any]
                       ) -> StepMatch:
        sim_t, sim_m = step_similarity(step, teacher_step), step_similarity(step, mistake_step)
        extra = {"sim_teacher": sim_t, "sim_mistake": sim_m}
        if max(sim_t, sim_m) < self.threshold:
            return StepMatch("neither", extra=extra)
        return StepMatch("teacher" if sim_t > sim_m else "mistake", extra=extra)


# ---------------------------------------------------------------------------------------------------- the reward
def first_step(solution: str, extra_info: Mapping[str, Any], delimiters: Sequence[str]) -> str:
    """The first step the policy generated after the prefix (see the module docstring for the rules)."""
    steps = extra_info.get(STEP_TEXTS) if extra_info else None
    if steps is not None and len(steps) > 0:
        return str(steps[0])
    ends = []
    for pattern in delimiters:
        m = re.search(pattern, solution, re.DOTALL)
        if m is not None and m.end() > 0:
            ends.append(m.end())
    return (solution[: min(ends)] if ends else solution).strip()


_CELL_OR_OBSERVATION = re.compile(
    r"```.*?(?:```|\Z)"  # fenced code cells (an unclosed one runs to the end)
    r"|<code>.*?(?:</code>|\Z)"
    r"|<observation>.*?(?:</observation>|\Z)"
    # an observation turn: up to a blank line, a chat-template turn marker, the next step or "Final Answer:"
    r"|^[ \t]*Observation\s*:.*?(?=\n[ \t]*\n|<\||^[ \t]*(?:Thought|Final Answer)\s*:|\Z)",
    re.DOTALL | re.MULTILINE | re.IGNORECASE,
)


def committed_answer_text(solution: str, extra_info: Mapping[str, Any] | None) -> str | None:
    """What the answer check may see: the loop's committed ``final_answer_text`` (as ``\\boxed{…}``; None = no
    answer), else the response without code cells and observations. See the module docstring for why."""
    info = extra_info or {}
    if FINAL_ANSWER_TEXT in info:
        committed = info[FINAL_ANSWER_TEXT]
        if committed is None or not str(committed).strip():
            return None
        return "\\boxed{" + str(committed).strip() + "}"
    return _CELL_OR_OBSERVATION.sub(" ", solution)


@register_reward("key_step")
class KeyStepReward:
    """SCoRe-B key-step reward; see the module docstring for the schema and the matcher switch."""

    def __init__(
        self,
        matcher: str = "rule",
        matcher_kwargs: Mapping[str, Any] | None = None,
        answer_module: str = "math",
        answer_kwargs: Mapping[str, Any] | None = None,
        correct_reward: float = 1.0,
        teacher_step_reward: float = 0.5,
        mistake_reward: float = 0.0,
        other_step_reward: float = 0.1,
        step_delimiters: Sequence[str] = DEFAULT_STEP_DELIMITERS,
    ):
        self.matcher_name = matcher
        self.matcher = get_step_matcher_cls(matcher)(**dict(matcher_kwargs or {}))
        if answer_module == "key_step":
            raise ValueError("key_step cannot use itself as answer_module")
        self.answer = build_reward(answer_module, **dict(answer_kwargs or {}))
        self.rewards = {"teacher": teacher_step_reward, "mistake": mistake_reward, "neither": other_step_reward}
        self.correct_reward = correct_reward
        self.step_delimiters = [str(d) for d in step_delimiters]
        for d in self.step_delimiters:
            re.compile(d)

    async def __call__(self, solution: str, ground_truth: Any, extra_info: dict[str, Any]) -> RewardResult:
        start = time.perf_counter()
        teacher, mistake = _required(extra_info, "teacher_step"), _required(extra_info, "student_mistake_step")
        answer_text = committed_answer_text(solution, extra_info)
        if answer_text is None:
            answer = RewardResult(score=0.0, extra={"answer": None, "answer_found": 0.0, "reason": "no_final_answer"})
        else:
            answer = await self.answer(answer_text, ground_truth, extra_info)
        extra: dict[str, Any] = {
            "answer": answer.extra.get("answer"),
            "answer_found": answer.extra.get("answer_found", 0.0),
            "answer_reason": answer.extra.get("reason", ""),
            "matched_teacher": 0.0,
            "matched_mistake": 0.0,
        }
        if answer.failed:
            return _result(0.0, "answer_check_failed", extra, start, failed=True, correct=0.0)
        if answer.score >= 1.0:
            return _result(self.correct_reward, "correct", extra, start, correct=1.0)
        step = first_step(solution, extra_info, self.step_delimiters)
        match = await self.matcher(step, teacher, mistake, extra_info)
        extra.update(match.extra)
        extra["first_step"] = step[:500]
        if match.failed:
            return _result(0.0, "matcher_failed", extra, start, failed=True, correct=0.0)
        extra["matched_teacher"] = float(match.label == "teacher")
        extra["matched_mistake"] = float(match.label == "mistake")
        reason = {"teacher": "teacher_step", "mistake": "repeated_mistake", "neither": "other_step"}[match.label]
        return _result(self.rewards[match.label], reason, extra, start, correct=0.0)


def _required(extra_info: Mapping[str, Any] | None, key: str) -> str:
    value = (extra_info or {}).get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"key_step needs extra_info[{key!r}] (a non-empty string); got {value!r}")
    return value


def _result(score: float, reason: str, extra: dict, start: float, *, correct: float, failed: bool = False
            ) -> RewardResult:
    extra.update(reason=reason, correct=correct, elapsed_ms=(time.perf_counter() - start) * 1e3)
    return RewardResult(score=score, extra=extra, failed=failed)
