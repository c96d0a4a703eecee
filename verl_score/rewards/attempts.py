"""The per-attempt side of a reward function's contract, shared by ``score_fn.compute_score`` and the stand-in
rewards of the behaviour tests (``testkit/first_token_reward.py``, ``tests/cpu/varying_score_reward.py``, loaded by
file path inside Ray workers, so this lives in the package they can import).

K is not inferred here: the agent loop records the K it ran (``extra_fields["num_attempts"]``, which is the run's
``score.num_attempts``: :mod:`verl_score.contracts.run_settings`) next to the attempt texts, and a different number
of texts is an error, not a guess. The trainer checks the count against ``score.num_attempts`` again when it reads
the rewards.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from verl_score.contracts import keys

__all__ = ["per_attempt_output", "texts_to_score"]


def texts_to_score(extra_info: Mapping[str, Any] | None, solution_str: str) -> list[str]:
    """The texts to score: the episode's K attempts (``extra_info["attempt_texts"]``), or ``[solution_str]`` for a
    row that is not a SCoRe episode. Raises ``ValueError`` on a malformed list or a count other than the episode's
    recorded ``num_attempts``."""
    extra_info = extra_info or {}
    attempts = extra_info.get(keys.ATTEMPT_TEXTS)
    if attempts is None:
        return [solution_str]
    if isinstance(attempts, str) or not hasattr(attempts, "__len__") or len(attempts) == 0:
        raise ValueError(f"extra_info['{keys.ATTEMPT_TEXTS}'] must be a non-empty list of strings, got {attempts!r}")
    texts = list(attempts)  # list, tuple or the numpy object array a parquet round trip produces
    if not all(isinstance(t, str) for t in texts):
        raise ValueError(f"extra_info['{keys.ATTEMPT_TEXTS}'] must contain only strings")
    k = extra_info.get(keys.NUM_ATTEMPTS)
    if k is not None and int(k) != len(texts):
        raise ValueError(
            f"the episode ran num_attempts={int(k)} (score.num_attempts) but handed the reward {len(texts)} attempt "
            "texts: the reward does not guess K"
        )
    return texts


def per_attempt_output(scores: Sequence[float], failed: Sequence[bool] | None = None) -> dict[str, float]:
    """``score_t1 … score_tK``, ``failed_t1 … failed_tK`` and ``score`` (= the last attempt's), as verl stores
    them."""
    if not scores:
        raise ValueError("per_attempt_output needs at least one attempt's score")
    failed = [False] * len(scores) if failed is None else list(failed)
    if len(failed) != len(scores):
        raise ValueError(f"{len(scores)} scores but {len(failed)} failure flags")
    out = {keys.score_t(k): float(s) for k, s in enumerate(scores, start=1)}
    out.update({keys.failed_t(k): float(bool(f)) for k, f in enumerate(failed, start=1)})
    out[keys.SCORE] = float(scores[-1])
    return out
