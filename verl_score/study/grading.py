"""Both graders on an attempt's text, and the per-problem record a unit dumps.

Why two graders: the old miniature's greedy table used the strict ``anchored`` policy (no "Final Answer" / "the
answer is" anchor -> 0) and its sampled table the format-agnostic ``math_verify`` policy, unlabelled; under
``anchored`` learning the format looks exactly like self-correction (issue #25). The study's headline is always
``math_verify``; ``anchored`` stands beside it to measure the format confound (format-only flips). Both verdicts are
stored in the dump **and** recomputed from the text by the analysis, so a stored verdict is never trusted alone.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

#: headline grader first
GRADERS = ("math_verify", "anchored")

_MODULES: dict[str, Any] = {}


def grader(policy: str):
    """The project's math reward (``verl_score.rewards.math_equiv.MathReward``) with this extraction policy, built
    once per process (it starts killable math-verify workers)."""
    if policy not in _MODULES:
        from verl_score.rewards.math_equiv import MathReward

        _MODULES[policy] = MathReward(policy=policy, workers=1)
    return _MODULES[policy]


def verdict(text: str, ground_truth: Any, policy: str) -> dict[str, Any]:
    """``{correct, answer, reason, failed}`` of one attempt under one policy."""
    r = grader(policy).score(text, ground_truth)
    return {"correct": bool(r.score >= 1.0), "answer": r.extra.get("answer"), "reason": r.extra.get("reason"),
            "failed": bool(r.failed)}


def has_answer(v: Mapping[str, Any]) -> bool:
    """Did the grader read an answer from the attempt? ``v``: its ``math_verify`` verdict (:func:`verdict`)."""
    return v.get("reason") not in ("no_answer", "answer_unparseable") and v.get("answer") not in (None, "")


def same_value(v1: Mapping[str, Any], v2: Mapping[str, Any]) -> bool:
    """Do two attempts state the same answer? ``v1``/``v2``: their ``math_verify`` verdicts (:func:`verdict`).

    Both right -> the same (the gold is one value); one right -> not; neither has an answer -> not. Both wrong: the
    answers the reward read (an anchored answer, else the whole free-form text) are compared by math-verify's own
    parse and verify, so "5.0" keeps "5", "1/2" keeps "0.5" and "So it is 6." keeps "The answer is 6.". Why not the
    text: a second attempt that rewords attempt 1 but keeps its answer is no correction either, and a verbatim-copy
    rate alone misses it."""
    if not (has_answer(v1) and has_answer(v2)):
        return False
    if v1.get("correct") or v2.get("correct"):
        return bool(v1.get("correct") and v2.get("correct"))
    from math_verify import parse, verify

    try:
        p1, p2 = (parse(str(v["answer"]).replace("\u2212", "-")) for v in (v1, v2))
        return bool(p1 and p2 and verify(p1, p2))
    except Exception:  # noqa: BLE001  math-verify on odd text: "not shown to be the same", never a crash
        return False


def verdicts(text: str, ground_truth: Any) -> dict[str, dict[str, Any]]:
    return {p: verdict(text, ground_truth, p) for p in GRADERS}


def problem_record(eval_record: Mapping[str, Any], extra_info: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One line of a unit's ``heldout.jsonl.gz`` from one episode of ``python -m verl_score.eval``'s
    ``samples.jsonl``: the problem (uid, family, canonical group, question, gold), and per attempt its text, token
    count, finish reason and both graders' verdicts (recomputed here from the text)."""
    info = dict(extra_info or {})
    gt = eval_record.get("ground_truth")
    attempts = []
    for a in eval_record.get("attempts") or []:
        attempts.append({
            "attempt": a.get("attempt"),
            "text": a.get("text"),
            "num_tokens": a.get("num_tokens"),
            "finish_reason": a.get("finish_reason"),
            "graders": verdicts(a.get("text") or "", gt),
        })
    return {
        "uid": eval_record.get("uid"),
        "sample": eval_record.get("sample", 0),
        "family": info.get("family"),
        "group": info.get("group"),
        "question": info.get("question"),
        "data_source": eval_record.get("data_source"),
        "ground_truth": gt,
        "status": eval_record.get("status"),
        "error": eval_record.get("error"),
        "guidance": [g.get("text") for g in eval_record.get("guidance") or []],
        "attempts": attempts,
    }


def regrade(records: Sequence[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """The records with every verdict recomputed from the text; also the number of stored verdicts that disagreed
    (a grader change since the unit ran; the analysis reports it)."""
    out, changed = [], 0
    for rec in records:
        new = dict(rec)
        new["attempts"] = []
        for a in rec.get("attempts") or []:
            fresh = verdicts(a.get("text") or "", rec.get("ground_truth"))
            old = a.get("graders") or {}
            changed += sum(bool((old.get(p) or {}).get("correct")) != fresh[p]["correct"] for p in GRADERS)
            new["attempts"].append({**a, "graders": fresh})
        out.append(new)
    return out, changed
