"""Aggregate episode records into the paper's numbers (overall and per data source) and render them as markdown.

The rates come from ``verl_score.metrics.episode_metrics``, the function training and validation log with,
so eval, train and val numbers are the same quantities. What is eval-specific lives here: grouping by data source,
transition counts, guidance-source splits, and the inference-time-scaling vote (paper §6.2: m samples, each with one
correction round, majority vote over final answers, next to self-consistency over the m first attempts).

Only episodes with status ``ok`` enter a rate; failed ones are counted in ``failed`` (never scored 0).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from verl_score.metrics import CORRECT_THRESHOLD, episode_metrics, is_correct

#: attempt 1 → attempt 2 outcome pairs (the paper's Δi→c / Δc→i counts)
TRANSITIONS = ("c2c", "c2i", "i2c", "i2i")
TRANSITION_LABELS = {"c2c": "c→c", "c2i": "c→i", "i2c": "i→c", "i2i": "i→i"}


def _scored(records: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [r for r in records if r.get("status") == "ok"]


def group_metrics(records: Sequence[Mapping[str, Any]], *, threshold: float = CORRECT_THRESHOLD) -> dict[str, Any]:
    """Self-correction metrics of scored episodes (:func:`verl_score.metrics.episode_metrics`: attempt 2 is attempt
    2, ``acc@tK`` / ``delta_t1_tK`` beside it when K > 2) plus the t1 → t2 transition counts and N.

    Empty input gives ``{"n": 0, "transitions": {...0}}`` (no rates: nothing was measured).
    """
    ok = _scored(records)
    out: dict[str, Any] = {"n": len(ok), "transitions": {t: 0 for t in TRANSITIONS}}
    if not ok:
        return out
    k_min = min(len(r["attempts"]) for r in ok)
    scores = np.array([[a["reward"] for a in r["attempts"][:k_min]] for r in ok], dtype=np.float64)  # [N, K]
    out["num_attempts"] = k_min
    if k_min < 2:  # a single-attempt baseline (--num-attempts 1): its accuracy, no self-correction rates
        out["acc@t1"] = float(is_correct(scores[:, 0], threshold).mean())
        return out
    # Only modules that extract an answer (math, exact_match) write the key; None there means "no answer found",
    # which is a state like any other. Code tasks have no answer, so no answer-change ratio.
    have_answers = all("answer" in r["attempts"][0] and "answer" in r["attempts"][1] for r in ok)
    out.update(
        episode_metrics(
            scores,
            texts=[[a["text"] for a in r["attempts"][:2]] for r in ok],
            answers=[[a.get("answer") for a in r["attempts"][:2]] for r in ok] if have_answers else None,
            threshold=threshold,
        )
    )
    c1, c2 = is_correct(scores[:, 0], threshold), is_correct(scores[:, 1], threshold)
    out["transitions"] = {
        "c2c": int(np.sum(c1 & c2)), "c2i": int(np.sum(c1 & ~c2)),
        "i2c": int(np.sum(~c1 & c2)), "i2i": int(np.sum(~c1 & ~c2)),
    }
    return out


def normalize_answer(answer: str | None) -> str | None:
    """Vote key: whitespace-insensitive (``1, 2`` and ``1,2`` are one vote)."""
    if answer is None:
        return None
    key = "".join(str(answer).split())
    return key or None


def majority_vote(answers: Sequence[str | None], correct: Sequence[bool]) -> tuple[str | None, bool]:
    """The most frequent non-empty answer and whether it is correct.

    Ties go to the answer seen first (deterministic, independent of hash order). The verdict is the reward of the
    first episode with the winning answer. No answer at all -> ``(None, False)``: abstaining is not solving.
    """
    keys = [normalize_answer(a) for a in answers]
    counts = Counter(k for k in keys if k is not None)
    if not counts:
        return None, False
    best = max(counts.values())
    winner = next(k for k in keys if k is not None and counts[k] == best)
    return winner, bool(correct[keys.index(winner)])


def scaling_metrics(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Paper §6.2 per problem: majority over the m final attempts vs self-consistency over the m first attempts.

    ``maj@m_last`` costs 2m generations (m episodes of 2 attempts), ``maj@m_first`` m; ``sc_budget_first`` votes over
    the first attempts only as a same-episode reference. Problems with no scored episode are left out (counted failed).
    """
    by_problem: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for r in _scored(records):
        by_problem[r["uid"]].append(r)
    if not by_problem:
        return {"n_problems": 0}
    first, last, mean_first, mean_last, m_seen = [], [], [], [], []
    for eps in by_problem.values():
        eps = sorted(eps, key=lambda r: r["sample"])
        a1 = [e["attempts"][0] for e in eps]
        ak = [e["attempts"][-1] for e in eps]
        first.append(majority_vote([a.get("answer") for a in a1], [a["correct"] for a in a1])[1])
        last.append(majority_vote([a.get("answer") for a in ak], [a["correct"] for a in ak])[1])
        mean_first.append(np.mean([a["correct"] for a in a1]))
        mean_last.append(np.mean([a["correct"] for a in ak]))
        m_seen.append(len(eps))
    return {
        "n_problems": len(by_problem),
        "m_mean": float(np.mean(m_seen)),
        "maj@m_first": float(np.mean(first)),
        "maj@m_last": float(np.mean(last)),
        "mean_acc_first": float(np.mean(mean_first)),
        "mean_acc_last": float(np.mean(mean_last)),
    }


def guidance_split(records: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """Last-attempt accuracy by the source of the last instruction (static / smart / smart_rejected / ...).

    A strong guide can solve the problem for the student, so guided and static Acc@t2 are reported apart.
    """
    groups: dict[str, list[bool]] = defaultdict(list)
    for r in _scored(records):
        if r.get("guidance"):
            groups[r["guidance"][-1]["source"]].append(bool(r["attempts"][-1]["correct"]))
    return {src: {"n": len(v), "acc_last": float(np.mean(v))} for src, v in sorted(groups.items())}


def summarize(records: Sequence[Mapping[str, Any]], *, num_attempts: int, num_samples: int = 1,
              threshold: float = CORRECT_THRESHOLD) -> dict[str, Any]:
    """The JSON summary: counts, failures, overall + per-source metrics, guidance split and (m > 1) the vote."""
    failed = Counter(r["status"] for r in records if r["status"] != "ok")
    sources = sorted({r["data_source"] for r in records})
    per_source = {}
    for ds in sources:
        rs = [r for r in records if r["data_source"] == ds]
        per_source[ds] = group_metrics(rs, threshold=threshold)
        per_source[ds]["failed"] = sum(1 for r in rs if r["status"] != "ok")
    overall = group_metrics(records, threshold=threshold)
    overall["failed"] = sum(failed.values())
    summary: dict[str, Any] = {
        "num_attempts": num_attempts,
        "num_samples": num_samples,
        "n_problems": len({r["uid"] for r in records}),
        "n_episodes": len(records),
        "n_scored": overall["n"],
        "failed": sum(failed.values()),
        "failed_by_status": dict(sorted(failed.items())),
        "failed_errors": dict(Counter(str(r.get("error", ""))[:120] for r in records if r["status"] != "ok")),
        "overall": overall,
        "per_source": per_source,
        "guidance": guidance_split(records),
    }
    if num_samples > 1:
        summary["scaling"] = {"overall": scaling_metrics(records),
                              "per_source": {ds: scaling_metrics([r for r in records if r["data_source"] == ds])
                                             for ds in sources}}
    return summary


# ---------------------------------------------------------------------------------------------------- markdown
def _pct(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{100 * float(value):.1f}"


def _signed(value: Any) -> str:
    s = _pct(value)
    return s if s == "n/a" or s.startswith("-") else "+" + s


def render_markdown(summary: Mapping[str, Any]) -> str:
    """The paper's Table 2 columns (in %), then both conditional rates, answer change, edit distance and counts."""
    k = summary.get("num_attempts", 2)
    last = f"t{k}"
    extra = f" Acc@{last} | Δ(t1,{last}) |" if k > 2 else ""
    head = (f"| split | N | Acc@t1 | Acc@t2 | Δ(t1,t2) |{extra} Δi→c | Δc→i | fix (i→c / wrong@t1) "
            f"| break (c→i / right@t1) | answer change | edit-dist ratio | c→c / c→i / i→c / i→i | failed |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    rows = [("all", summary["overall"])] + list(summary["per_source"].items())
    for name, m in rows:
        t = m["transitions"]
        edit = m.get("edit_distance_ratio")
        last_cells = f" {_pct(m.get('acc@tK'))} | {_signed(m.get('delta_t1_tK'))} |" if k > 2 else ""
        lines.append(
            f"| {name} | {m['n']} | {_pct(m.get('acc@t1'))} | {_pct(m.get('acc@t2'))} | "
            f"{_signed(m.get('delta_t1_t2'))} |{last_cells} {_pct(m.get('delta_i2c_uncond'))} | "
            f"{_pct(m.get('delta_c2i_uncond'))} | "
            f"{_pct(m.get('fix_rate_i2c_cond'))} | {_pct(m.get('break_rate_c2i_cond'))} | "
            f"{_pct(m.get('answer_change_ratio'))} | {'n/a' if edit is None else f'{edit:.3f}'} | "
            f"{t['c2c']} / {t['c2i']} / {t['i2c']} / {t['i2i']} | {m.get('failed', 0)} |"
        )
    out = ["Self-correction (% of all scored problems; transitions and fix/break compare attempts 1 and 2; fix/break "
           "are conditional rates)", "", *lines]
    if summary.get("guidance"):
        out += ["", "| last instruction | N | Acc@last |", "|---|---|---|"]
        out += [f"| {src} | {g['n']} | {_pct(g['acc_last'])} |" for src, g in summary["guidance"].items()]
    scaling = summary.get("scaling")
    if scaling:
        m = summary["num_samples"]
        out += ["", f"Inference-time scaling (m = {m} samples per problem, majority vote over answers, %)", "",
                f"| split | problems | self-consistency@{m} (first attempts) | maj@{m} after correction "
                f"| mean Acc@t1 | mean Acc@{last} |", "|---|---|---|---|---|---|"]
        for name, s in [("all", scaling["overall"])] + list(scaling["per_source"].items()):
            if not s.get("n_problems"):
                out.append(f"| {name} | 0 | n/a | n/a | n/a | n/a |")
                continue
            out.append(f"| {name} | {s['n_problems']} | {_pct(s['maj@m_first'])} | {_pct(s['maj@m_last'])} | "
                       f"{_pct(s['mean_acc_first'])} | {_pct(s['mean_acc_last'])} |")
    if summary.get("failed"):
        out += ["", f"failed episodes (excluded from the rates, not scored 0): {summary['failed']} "
                    f"{summary['failed_by_status']}"]
    return "\n".join(out) + "\n"
