"""Parse and render the CodeAct ``Thought / Code / Observation`` turns of a SCoRe-RL (SCoRe-B) prefix rollout.

The step format is defined once, in ``verl_score.contracts.steps`` (``render_step`` / ``steps_to_messages``): the
Mentored-Problem-Solving datagen prompts the student with it, the MPS converter renders the SFT data and the RL
prompt's verified prefix with it, and the key-step reward's ``teacher_step`` / ``student_mistake_step`` texts are
``render_step`` output. This module only *reads* policy text in that format (steps, code cells, the final answer)
and renders observations through ``steps_to_messages`` itself, so a rollout is compared with the teacher's step in
exactly the format the student was fine-tuned on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from verl_score.rewards.extract import extract_math_answer
from verl_score.contracts.steps import steps_to_messages

__all__ = [
    "EMPTY_OBSERVATION",
    "ParsedTurn",
    "code_cells",
    "parse_turn",
    "prefix_code_cells",
    "render_observation",
    "split_steps",
]

#: Observation text for code that printed nothing. The converter drops empty observations (no user turn), but the
#: policy only gets its next turn after a context turn, so the rollout says so explicitly instead.
EMPTY_OBSERVATION = "(no output)"

# A fenced block tagged python/py/python3 or untagged, as ``render_step`` writes it; an unclosed block at the end
# of a turn (cut on length) is not executed.
_CODE_BLOCK = re.compile(r"```[ \t]*(?:python3?|py)?[ \t]*\n(.*?)\n?[ \t]*```", re.DOTALL | re.IGNORECASE)
_THOUGHT = re.compile(r"^[ \t]*Thought[ \t]*:", re.MULTILINE)
_ANY_CODE_BLOCK = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)
_FINAL = re.compile(r"^[ \t]*Final Answer[ \t]*:", re.MULTILINE | re.IGNORECASE)
_HALLUCINATED_OBS = re.compile(r"^[ \t]*Observation[ \t]*:", re.MULTILINE)


@dataclass
class ParsedTurn:
    """One assistant turn of the policy, split into CodeAct pieces.

    ``steps``: the turn's steps in order (a step starts at ``Thought:``; text before the first one is a step too),
    without a ``Final Answer:`` tail or an ``Observation:`` the model wrote itself. ``code``: the fenced code cells
    to execute, in order. ``final_answer``: the committed answer (``Final Answer: X`` or ``\\boxed{X}``) or None.
    """

    steps: list[str] = field(default_factory=list)
    code: list[str] = field(default_factory=list)
    final_answer: str | None = None


def split_steps(text: str) -> list[str]:
    """The ``Thought:``-delimited steps of ``text`` (stripped, empty ones dropped)."""
    starts = [m.start() for m in _THOUGHT.finditer(text)]
    bounds = [0, *starts, len(text)] if not starts or starts[0] != 0 else [*starts, len(text)]
    pieces = (text[a:b].strip() for a, b in zip(bounds, bounds[1:]))
    return [p for p in pieces if p]


def code_cells(text: str) -> list[str]:
    """Closed fenced code blocks of ``text``, in order, without blank ones."""
    return [m.group(1).strip("\n") for m in _CODE_BLOCK.finditer(text) if m.group(1).strip()]


def parse_turn(text: str) -> ParsedTurn:
    """Split one policy turn; see ``ParsedTurn``.

    A model that writes its own ``Observation:`` (instead of stopping for the interpreter) has that part ignored:
    the invented output is neither a step nor executed, and the real observation follows.
    """
    obs = _HALLUCINATED_OBS.search(text)
    body = text[: obs.start()] if obs else text
    # the committed answer is prose: a `\boxed{}` / "Final Answer:" printed from a code cell (or inside an unclosed
    # one) must not commit, or printing it from code would score (issue 10)
    prose = _ANY_CODE_BLOCK.sub(" ", body)
    extracted = extract_math_answer(prose)
    final = extracted.answer if extracted.kind in ("final_answer", "boxed", "boxed_group") else None
    tail = _FINAL.search(body)
    steps_text = body[: tail.start()] if tail else body
    return ParsedTurn(steps=split_steps(steps_text), code=code_cells(steps_text), final_answer=final)


def render_observation(outputs: Iterable[str]) -> str:
    """The user-turn text for the outputs of one turn's cells, as ``steps_to_messages`` renders an observation
    (taken from it rather than re-typed, so the two cannot drift apart)."""
    text = "".join(o if o.endswith("\n") or not o else o + "\n" for o in outputs)
    if not text.strip():
        text = EMPTY_OBSERVATION
    messages = steps_to_messages([{"thought": "-", "code": "", "observation": text}])
    assert [m["role"] for m in messages] == ["assistant", "user"], messages
    return messages[1]["content"]


def prefix_code_cells(extra_info: Mapping[str, Any] | None) -> list[str]:
    """The verified prefix's code cells, in order, from the row's ``extra_info.prefix_steps`` (structured steps
    written by the MPS converter). These are replayed before the rollout's first tool call."""
    steps: Sequence[Any] = (extra_info or {}).get("prefix_steps")
    if steps is None:
        return []
    cells = []
    for step in list(steps):  # a list, or the numpy object array a parquet round trip produces
        code = step.get("code", "") if isinstance(step, Mapping) else ""
        if not isinstance(code, str):
            raise ValueError(f"prefix step code must be a string, got {type(code).__name__}")
        if code.strip():
            cells.append(code.strip("\n"))
    return cells
