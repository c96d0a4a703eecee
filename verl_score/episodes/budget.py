"""Token budget of a K-attempt SCoRe episode inside verl's ``rollout.response_length``.

verl pads every response to ``rollout.response_length`` and cuts anything longer, and everything after the prompt
counts: all attempts, the instruction turns and the template tokens between them. A prototype let attempt 1 take the
engine's default ``max_tokens`` (the whole budget), so attempt 2 -- the one SCoRe trains hardest -- was truncated
away and the policy gradient was zero. Here every attempt gets its own ``max_tokens``, and an impossible budget is a
configuration error at construction instead of a silent zero-length last attempt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

__all__ = ["AttemptBudget", "BudgetError"]


class BudgetError(ValueError):
    """``rollout.response_length`` cannot hold K attempts of the minimum length plus their instructions."""


@dataclass(frozen=True)
class AttemptBudget:
    """Per-attempt ``max_tokens`` for a K-attempt episode.

    Args:
        response_length: ``rollout.response_length``.
        num_attempts: K.
        instruction_reserve: tokens reserved for each of the K-1 instruction turns: a closing EOS (if an attempt was
            cut), the template boundary and the templated instruction, up to the generation prompt.
        attempt_max_tokens: ``None`` (default): each attempt gets an even split of what is left when it starts
            (after reserving the later instructions), the last attempt everything left. Otherwise one cap per attempt.
        min_attempt_tokens: the smallest per-attempt budget accepted at construction.
    """

    response_length: int
    num_attempts: int
    instruction_reserve: int
    attempt_max_tokens: tuple[int, ...] | None = None
    min_attempt_tokens: int = 32

    @classmethod
    def create(
        cls,
        response_length: int,
        num_attempts: int,
        instruction_reserve: int,
        attempt_max_tokens: int | Sequence[int] | None = None,
        min_attempt_tokens: int = 32,
    ) -> "AttemptBudget":
        """Normalise ``attempt_max_tokens`` (an int is the same cap for every attempt) and validate."""
        caps: tuple[int, ...] | None
        if attempt_max_tokens is None:
            caps = None
        elif isinstance(attempt_max_tokens, int):
            caps = (int(attempt_max_tokens),) * num_attempts
        else:
            caps = tuple(int(c) for c in attempt_max_tokens)
        return cls(int(response_length), int(num_attempts), int(instruction_reserve), caps, int(min_attempt_tokens))

    def __post_init__(self) -> None:
        k, r, res = self.num_attempts, self.response_length, self.instruction_reserve
        if k < 1:
            raise BudgetError(f"num_attempts must be >= 1, got {k}")
        if self.min_attempt_tokens < 1:
            raise BudgetError(f"min_attempt_tokens must be >= 1, got {self.min_attempt_tokens}")
        for_attempts = r - (k - 1) * res
        if self.attempt_max_tokens is None:
            share = for_attempts // k
            if share < self.min_attempt_tokens:
                raise BudgetError(
                    f"rollout.response_length={r} cannot hold {k} attempts of >= {self.min_attempt_tokens} tokens: "
                    f"{k - 1} instruction turn(s) reserve {res} tokens each, leaving {for_attempts} tokens, "
                    f"{share} per attempt. Raise data.max_response_length / rollout.response_length, lower "
                    "num_attempts, or lower min_attempt_tokens."
                )
            return
        caps = self.attempt_max_tokens
        if len(caps) != k:
            raise BudgetError(f"attempt_max_tokens has {len(caps)} entries, expected one per attempt ({k})")
        small = [c for c in caps if c < self.min_attempt_tokens]
        if small:
            raise BudgetError(
                f"attempt_max_tokens {list(caps)} has entries below min_attempt_tokens={self.min_attempt_tokens}"
            )
        if sum(caps) > for_attempts:
            raise BudgetError(
                f"attempt_max_tokens {list(caps)} (sum {sum(caps)}) plus {k - 1} instruction turn(s) of {res} tokens "
                f"exceed rollout.response_length={r}; at most {for_attempts} tokens are left for the attempts."
            )

    def max_tokens_for(self, attempt: int, used: int) -> int:
        """``max_tokens`` for attempt ``attempt`` (1-based) when ``used`` response tokens are already taken.

        Instructions shorter than their reserve and attempts that stop early hand their slack to later attempts.
        """
        k = self.num_attempts
        if not 1 <= attempt <= k:
            raise ValueError(f"attempt {attempt} outside 1..{k}")
        # What this attempt and the later ones may use, after reserving the later instruction turns.
        left = self.response_length - used - (k - attempt) * self.instruction_reserve
        if self.attempt_max_tokens is None:
            budget = left if attempt == k else left // (k - attempt + 1)
        else:
            later = sum(self.attempt_max_tokens[attempt:])
            budget = min(self.attempt_max_tokens[attempt - 1], left - later)
        # vLLM rejects max_tokens < 1; the construction-time check makes this unreachable for well-behaved guidance.
        return max(1, budget)
