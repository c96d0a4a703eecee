"""Constructed episode records (the jsonl schema of ``verl_score.eval.runner.build_record``) for report/plot tests."""

from __future__ import annotations

from typing import Any, Sequence

from verl_score.eval.runner import transition
from verl_score.metrics import edit_distance_ratio


def record(uid: str, data_source: str, rewards: Sequence[float], answers: Sequence[str | None] | None = None,
           texts: Sequence[str] | None = None, *, sample: int = 0, status: str = "ok",
           guidance: str = "static") -> dict[str, Any]:
    k = len(rewards)
    answers = list(answers) if answers is not None else [None] * k
    texts = list(texts) if texts is not None else [f"attempt {i + 1} of {uid}" for i in range(k)]
    rec: dict[str, Any] = {"uid": uid, "index": 0, "sample": sample, "data_source": data_source, "task": "math",
                           "ground_truth": "1", "status": status, "error": None if status == "ok" else "boom"}
    if status == "generation_failed":
        return rec
    rec["attempts"] = [{"attempt": i + 1, "text": texts[i], "reward": float(rewards[i]),
                        "correct": rewards[i] >= 1.0, "answer": answers[i], "reason": "ok",
                        "reward_failed": False, "finish_reason": "stop"} for i in range(k)]
    rec["guidance"] = [{"source": guidance, "text": "fix it"} for _ in range(k - 1)]
    rec["edit_distance_ratio"] = edit_distance_ratio(texts[0], texts[-1])
    if status == "ok":
        rec["transition"] = transition(rewards[0] >= 1.0, rewards[-1] >= 1.0)
        rec["answer_changed"] = answers[0] != answers[-1]
    return rec
