"""The reward-module contract shared by every verifier.

A reward module scores ONE response text against one ground truth. It is async because some verifiers wait on
I/O (the LLM judge, the code sandbox); CPU-bound ones simply return. Episode structure (several attempts) is not a
module's concern: ``score_fn.compute_score`` splits attempts and calls the module once per attempt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass
class RewardResult:
    """A score plus structured, numeric-or-short-string details.

    ``extra`` holds the module's details for debugging and tests (extracted answer, timings, similarity...).
    ``score_fn.compute_score`` turns a result into verl's fixed, numbers-only ``reward_extra_info`` and reads only
    these conventional keys: ``correct`` (0/1, the final answer is right; ``acc``), ``answer_found`` (0/1) and
    ``reason`` (a short code: ``ok``, ``wrong``, ``no_answer``, ``timeout``...). ``failed`` marks an infrastructure
    failure (judge unreachable, sandbox broken, verifier timeout) as opposed to a wrong answer: it is counted
    (``reward_failed``) and reported, never silently a 0.
    """

    score: float
    extra: dict[str, Any] = field(default_factory=dict)
    failed: bool = False


@runtime_checkable
class RewardModule(Protocol):
    """``await module(solution, ground_truth, extra_info) -> RewardResult``."""

    async def __call__(self, solution: str, ground_truth: Any, extra_info: dict[str, Any]) -> RewardResult: ...
