"""A deterministic reward that varies with the response text, for integration tests on a random model.

A random tiny model never solves a problem, so a real verifier scores every rollout 0, GRPO advantages are all 0 and
the actor never moves — such a run proves nothing about gradients or weight sync. This reward gives each response a
reproducible score in [0, 1) derived from its text (crc32), so groups have non-zero advantages and the actor's
update is observable. Continuous on purpose: a binary stand-in (a hash of the text mapped to 0/1) ties
inside a GRPO group of 2 half the time, and a step whose groups all tie moves nothing. A test instrument, not a
model of any task.
"""

import zlib


def compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs):
    score = (zlib.crc32(solution_str.encode("utf-8")) % 1000) / 1000.0
    return {"score": score, "varying_score": score}
