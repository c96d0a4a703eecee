"""A deterministic per-attempt reward that varies with each attempt's text, for integration tests of the SCoRe
trainer that must see the actor move (``tests/cpu/varying_reward.py`` is the single-attempt form; same idea).

Each attempt scores ``crc32(text) % 1000 / 1000`` (continuous, so the samples of a group almost never tie and every
step has a non-zero advantage). Same output contract as ``verl_score/rewards/score_fn.py`` (``score`` = last
attempt, ``score_t1 … score_tK``, ``failed_t1 …``), built by the shared ``verl_score.rewards.attempts`` helpers.
A test instrument, not a model of any task.
"""

import zlib

from verl_score.rewards.attempts import per_attempt_output, texts_to_score


def _score(text: str) -> float:
    return (zlib.crc32(text.encode("utf-8")) % 1000) / 1000.0


def compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs):
    return per_attempt_output([_score(t) for t in texts_to_score(extra_info, solution_str)])
