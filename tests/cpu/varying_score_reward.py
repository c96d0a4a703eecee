"""A deterministic per-attempt reward that varies with each attempt's text, for integration tests of the SCoRe
trainer that must see the actor move (``tests/cpu/varying_reward.py`` is the single-attempt form; same idea).

Each attempt scores ``crc32(text) % 1000 / 1000`` (continuous, so the samples of a group almost never tie and every
step has a non-zero advantage). Same output contract as ``verl_score/rewards/score_fn.py`` (``score`` = last attempt,
``score_t1 … score_tK``, ``failed_t1 …``). A test instrument, not a model of any task.
"""

import zlib


def _score(text: str) -> float:
    return (zlib.crc32(text.encode("utf-8")) % 1000) / 1000.0


def compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs):
    texts = list((extra_info or {}).get("attempt_texts") or [solution_str])
    out = {f"score_t{k}": _score(t) for k, t in enumerate(texts, start=1)}
    out.update({f"failed_t{k}": 0.0 for k in range(1, len(texts) + 1)})
    out["score"] = out[f"score_t{len(texts)}"]
    return out
