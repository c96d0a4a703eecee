"""The study's statistics, from per-problem dumps alone.

Why this shape (issue #25): the claim is about self-correction, so every accuracy and flip is the format-agnostic
grader's (``math_verify``); the strict grader's figures stand beside it only to size the format confound. Seeds are
training seeds over one held-out split, so the problems are shared by every unit: differences between arms are
**paired on problems**, and their uncertainty comes from a **group bootstrap pooled over seeds** (resample the
held-out problems' canonical groups once per replicate, apply the same resample to every seed of both arms, average
the per-seed differences; groups, because a group's problems are answered alike). The seed-to-seed spread is reported beside it, not folded into it: with three seeds a seed bootstrap
would be noise.

Per problem and unit (one greedy episode, two attempts) the indicators are:

* ``acc@t1``, ``acc@t2``; ``delta`` = c2 - c1; ``i2c`` = (1 - c1) c2; ``c2i`` = c1 (1 - c2) (``math_verify``);
* ``no_answer@tk``: the grader found no answer it could read (reason ``no_answer`` / ``answer_unparseable``);
* ``trunc@tk``: the attempt hit its token budget (finish reason ``length``);
* ``copy``: attempt 2 is attempt 1 verbatim (whitespace-trimmed);
* ``same_answer``: attempt 2 states attempt 1's answer, in whatever words (``verl_score.study.grading.same_value``:
  both right, or both wrong with answers math-verify finds equal); an attempt with no answer keeps nothing, so a
  verbatim copy of an answerless attempt counts in ``copy`` but not here;
* ``unformatted@tk``: right by value (``math_verify``) but wrong under ``anchored``: right, wrong only by format;
* ``format_flip``: a strict-grader i→c flip whose attempt 1 was already right by value (``anchored`` wrong at t1,
  ``math_verify`` right at t1, ``anchored`` right at t2): what the old miniature's "self-correction" mostly was;
* ``changed``: both attempts state an answer and attempt 2's is another one (not ``same_answer``): the only episodes
  where a correction can happen; ``changed_fix`` / ``changed_break``: those that went wrong -> right / right -> wrong
  (every changed right answer is a break: the gold is one value; :func:`changed_answer_table` counts them);
* ``bare_eq@tk``: the attempt shows no working: one bare equation ("7 + 5 = 12"), at most followed by a line that
  states the answer, the shape a policy trained on these tasks collapses to; a gain that comes with it is a format
  change before it is anything else (issue #25);
* ``strict_acc@tk``, ``strict_delta``: the ``anchored`` grader's accuracies, for comparison only;
* ``tokens@tk``: tokens of the attempt.

Every metric is a mean of these over problems, so a per-seed value, a paired difference and a bootstrap replicate are
all means of per-problem vectors.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from verl_score.study.grading import has_answer, same_value

HEADLINE = ("acc@t1", "acc@t2", "delta", "i2c", "c2i")
DIAGNOSTIC = ("no_answer@t1", "no_answer@t2", "trunc@t1", "trunc@t2", "copy", "same_answer", "unformatted@t1",
              "unformatted@t2",
              "format_flip", "strict_acc@t1", "strict_acc@t2", "strict_delta", "bare_eq@t1", "bare_eq@t2", "changed")
TOKENS = ("tokens@t1", "tokens@t2")
METRICS = HEADLINE + DIAGNOSTIC + TOKENS
TITLES = {
    "acc@t1": "Acc@t1", "acc@t2": "Acc@t2", "delta": "Δ(t1,t2)", "i2c": "Δi→c", "c2i": "Δc→i",
    "no_answer@t1": "no answer t1", "no_answer@t2": "no answer t2", "trunc@t1": "truncated t1",
    "trunc@t2": "truncated t2", "copy": "t2 = t1 verbatim",
    "same_answer": "t2 keeps t1's answer", "unformatted@t1": "right, unformatted t1",
    "unformatted@t2": "right, unformatted t2", "format_flip": "format-only flips", "strict_acc@t1": "strict Acc@t1",
    "strict_acc@t2": "strict Acc@t2", "strict_delta": "strict Δ", "tokens@t1": "tokens t1", "tokens@t2": "tokens t2",
    "bare_eq@t1": "bare equation t1", "bare_eq@t2": "bare equation t2", "changed": "t2 changes t1's answer",
}
NO_ANSWER = ("no_answer", "answer_unparseable")
#: one line that is one equation of integers, "a op b (op c ...) = d", optionally with a full stop
BARE_EQUATION = re.compile(r"-?\d+(?:\s*[-+*/×÷]\s*-?\d+)+\s*=\s*-?\d+\.?")
#: a line that only states the answer ("The final answer is 12.", "Answer: 12")
ANSWER_LINE = re.compile(r"(?i)(?:so,?\s+)?(?:the\s+)?(?:final\s+)?answer\s*(?:is|:)\s*:?\s*\S+")


def is_bare_equation(text: str) -> bool:
    """No working: the attempt's lines, less those that only state the answer, are one bare equation."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    body = [line for line in lines if not ANSWER_LINE.fullmatch(line)]
    return len(body) == 1 and BARE_EQUATION.fullmatch(body[0]) is not None


def problem_indicators(rec: Mapping[str, Any]) -> dict[str, float] | None:
    """The indicators of one dumped problem (module docstring); ``None`` when the episode is not scorable (failed
    generation, fewer than two attempts, a grader that could not decide): such problems are counted, never scored 0."""
    atts = rec.get("attempts") or []
    if rec.get("status") not in (None, "ok", "reward_failed") or len(atts) < 2:
        return None
    g = [a.get("graders") or {} for a in atts[:2]]
    if any((gk.get(p) or {}).get("failed") or p not in gk for gk in g for p in ("math_verify", "anchored")):
        return None
    c1, c2 = (float(gk["math_verify"]["correct"]) for gk in g)
    s1, s2 = (float(gk["anchored"]["correct"]) for gk in g)
    t1, t2 = ((a.get("text") or "").strip() for a in atts[:2])
    answered = has_answer(g[0]["math_verify"]) and has_answer(g[1]["math_verify"])
    same = float(same_value(g[0]["math_verify"], g[1]["math_verify"]))
    changed = float(answered and not same)
    out = {
        "acc@t1": c1, "acc@t2": c2, "delta": c2 - c1, "i2c": (1 - c1) * c2, "c2i": c1 * (1 - c2),
        "copy": float(t1 == t2),
        "same_answer": same, "changed": changed, "changed_fix": changed * (1 - c1) * c2,
        "changed_break": changed * c1 * (1 - c2), "bare_eq@t1": float(is_bare_equation(t1)),
        "bare_eq@t2": float(is_bare_equation(t2)),
        "format_flip": float(s1 == 0 and c1 == 1 and s2 == 1),
        "strict_acc@t1": s1, "strict_acc@t2": s2, "strict_delta": s2 - s1,
    }
    for k, (a, gk, c, s) in enumerate(zip(atts[:2], g, (c1, c2), (s1, s2)), start=1):
        out[f"no_answer@t{k}"] = float(gk["math_verify"].get("reason") in NO_ANSWER)
        out[f"trunc@t{k}"] = float(a.get("finish_reason") == "length")
        out[f"unformatted@t{k}"] = float(c == 1 and s == 0)
        out[f"tokens@t{k}"] = float(a.get("num_tokens")) if a.get("num_tokens") is not None else np.nan
    return out


@dataclass
class Unit:
    """One unit's per-problem indicators, keyed by problem uid."""

    name: str
    arm: str
    seed: int
    rows: dict[str, dict[str, float]]
    family: dict[str, str]
    unscored: int = 0
    meta: dict[str, Any] = field(default_factory=dict)
    #: uid -> canonical group (same operands up to order, same operators): the bootstrap's resampling unit
    group: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_records(cls, name: str, arm: str, seed: int, records: Sequence[Mapping[str, Any]],
                     meta: Mapping[str, Any] | None = None) -> "Unit":
        rows, family, group, unscored = {}, {}, {}, 0
        for rec in records:
            uid = f"{rec['uid']}#{rec.get('sample', 0)}"
            ind = problem_indicators(rec)
            if ind is None:
                unscored += 1
                continue
            rows[uid] = ind
            family[uid] = rec.get("family") or "?"
            group[uid] = str(rec.get("group") or rec["uid"])  # no group recorded: the problem is its own cluster
        return cls(name, arm, seed, rows, family, unscored, dict(meta or {}), group)

    def matrix(self, uids: Sequence[str], metric: str) -> np.ndarray:
        return np.array([self.rows[u][metric] for u in uids], dtype=np.float64)


def common_uids(units: Sequence[Unit], family: str | None = None) -> list[str]:
    """Problems scored in every unit (and of ``family``), sorted: the paired comparisons' problem set."""
    if not units:
        return []
    uids = set(units[0].rows)
    for u in units[1:]:
        uids &= set(u.rows)
    return sorted(x for x in uids if family is None or units[0].family.get(x) == family)


def by_arm(units: Sequence[Unit]) -> dict[str, list[Unit]]:
    out: dict[str, list[Unit]] = defaultdict(list)
    for u in units:
        out[u.arm].append(u)
    for arm in out:
        out[arm].sort(key=lambda u: u.seed)
    return dict(out)


def arm_summary(units: Sequence[Unit], uids: Sequence[str], metrics: Sequence[str] = METRICS) -> dict[str, Any]:
    """Per metric: mean over seeds of the per-seed means, the per-seed values and their sample SD."""
    out: dict[str, Any] = {"n_problems": len(uids), "seeds": [u.seed for u in units]}
    for m in metrics:
        per_seed = [float(np.nanmean(u.matrix(uids, m))) if uids else np.nan for u in units]
        out[m] = {"mean": float(np.mean(per_seed)) if per_seed else np.nan, "per_seed": per_seed,
                  "sd": float(np.std(per_seed, ddof=1)) if len(per_seed) > 1 else np.nan}
    return out


def pair_seeds(arm: Sequence[Unit], ref: Sequence[Unit]) -> list[tuple[Unit, Unit]]:
    """(unit, reference unit) pairs: a reference with one unit (the greedy base model) pairs with every seed; else
    seeds are matched by number (seeds only one side has are left out)."""
    if len(ref) == 1:
        return [(u, ref[0]) for u in arm]
    by_seed = {r.seed: r for r in ref}
    return [(u, by_seed[u.seed]) for u in arm if u.seed in by_seed]


def paired_difference(pairs: Sequence[tuple[Unit, Unit]], uids: Sequence[str], metric: str, n_boot: int = 2000,
                      rng_seed: int = 0, level: float = 0.95) -> dict[str, Any]:
    """Arm minus reference on ``metric``: per-seed differences, their mean (the pooled estimate), the seed SD, and a
    percentile interval from a bootstrap pooled over seeds that resamples canonical **groups** (one resample per
    replicate, used for every seed pair).

    Why groups, not problems: the problems of one group (6 + 1 and 1 + 6; the same sum from two generators) are
    answered alike, so resampling them independently would count correlated outcomes as independent evidence and
    narrow the interval (the test split has 228 problems in 172 groups). The interval covers problem sampling
    only; the seeds it pools are the ones run, so read it beside the per-seed differences and their SD.
    ``per_seed_ci``: each seed's own interval from the same resamples (a rule that must hold "in every seed")."""
    if not pairs or not uids:
        return {"n_pairs": len(pairs), "n_problems": len(uids)}
    diffs = np.stack([a.matrix(uids, metric) - r.matrix(uids, metric) for a, r in pairs])  # [S, N]
    per_problem = diffs.mean(axis=0)  # the pooled estimate is the mean of this vector
    groups = pairs[0][0].group
    names = sorted({groups.get(u, u) for u in uids})
    index = {g: i for i, g in enumerate(names)}
    cluster = np.array([index[groups.get(u, u)] for u in uids])
    seed_sums = np.stack([np.bincount(cluster, weights=row, minlength=len(names)) for row in diffs])  # [S, G]
    counts = np.bincount(cluster, minlength=len(names)).astype(np.float64)
    rng = np.random.default_rng(rng_seed)
    idx = rng.integers(0, len(names), size=(n_boot, len(names)))
    seed_boot = seed_sums[:, idx].sum(axis=2) / counts[idx].sum(axis=1)  # [S, n_boot]: each seed, same resamples
    q = [(1 - level) / 2, 1 - (1 - level) / 2]
    lo, hi = np.quantile(seed_boot.mean(axis=0), q)  # pooled: the mean over seeds of each resample
    per_seed = diffs.mean(axis=1)
    return {
        "n_pairs": len(pairs), "n_problems": len(uids), "seeds": [a.seed for a, _ in pairs],
        "per_seed": [float(x) for x in per_seed], "mean": float(per_problem.mean()),
        "ci": [float(lo), float(hi)], "seed_sd": float(np.std(per_seed, ddof=1)) if len(per_seed) > 1 else None,
        "per_seed_ci": [[float(a), float(b)] for a, b in np.quantile(seed_boot, q, axis=1).T],
    }


# ---------------------------------------------------------------------------------------------------- rendering
def pct(x: float | None, signed: bool = False) -> str:
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return "–"
    return f"{100 * x:+.1f}" if signed else f"{100 * x:.1f}"


def _cell(s: Mapping[str, Any], m: str) -> str:
    v = s[m]
    if m.startswith("tokens"):
        return "–" if np.isnan(v["mean"]) else f"{v['mean']:.0f}"
    signed = m in ("delta", "strict_delta")
    sd = "" if v["sd"] is None or np.isnan(v["sd"]) else f" ± {100 * v['sd']:.1f}"
    return pct(v["mean"], signed) + sd


def summary_table(arms: Mapping[str, Sequence[Unit]], uids: Sequence[str], metrics: Sequence[str],
                  order: Sequence[str]) -> str:
    """Markdown: one row per arm, the mean over seeds (± seed-to-seed SD when several seeds), in %."""
    head = "| arm | seeds | N | " + " | ".join(TITLES[m] for m in metrics) + " |"
    lines = [head, "|" + "---|" * (3 + len(metrics))]
    for arm in order:
        if arm not in arms:
            continue
        s = arm_summary(arms[arm], uids, metrics)
        lines.append(f"| {arm} | {len(arms[arm])} | {len(uids)} | " + " | ".join(_cell(s, m) for m in metrics) + " |")
    return "\n".join(lines)


def difference_table(arms: Mapping[str, Sequence[Unit]], uids: Sequence[str], ref: str, order: Sequence[str],
                     metrics: Sequence[str] = HEADLINE, n_boot: int = 2000) -> str:
    """Markdown: each arm minus ``ref``, per metric: pooled mean [95 % problem-bootstrap interval], the per-seed
    differences with their own intervals (that seed alone, same resamples), and their SD, in percentage points."""
    lines = [f"| arm − {ref} | metric | pooled | 95 % interval | per seed | seed SD |", "|---|---|---|---|---|---|"]
    if ref not in arms:
        return "\n".join(lines + [f"| (no {ref} unit) | | | | | |"])
    for arm in order:
        if arm == ref or arm not in arms:
            continue
        pairs = pair_seeds(arms[arm], arms[ref])
        for m in metrics:
            d = paired_difference(pairs, uids, m, n_boot=n_boot)
            if "mean" not in d:
                continue
            seeds = ", ".join(f"s{s}: {pct(x, True)} [{pct(c[0], True)}, {pct(c[1], True)}]"
                              for s, x, c in zip(d["seeds"], d["per_seed"], d["per_seed_ci"], strict=True))
            sd = "–" if d["seed_sd"] is None else f"{100 * d['seed_sd']:.1f}"
            lines.append(f"| {arm} | {TITLES[m]} | {pct(d['mean'], True)} | [{pct(d['ci'][0], True)}, "
                         f"{pct(d['ci'][1], True)}] | {seeds} | {sd} |")
    return "\n".join(lines)


def changed_answer_table(units: Sequence[Unit], uids: Sequence[str]) -> str:
    """Markdown, one row per unit: how many second attempts state another answer than the first, and what that did:
    of the changed answers that were wrong at t1, how many became right; how many changed a right answer. (A changed
    right answer is wrong by definition: the gold is one value. So the question is how often a policy changes from
    wrong, how often that lands right, and how often it changes from right instead.) A counted form of Δi→c / Δc→i
    that says whether a policy that changes its answer knows when to."""
    lines = ["| unit | N | t2 changes t1's answer | from a wrong answer: fixed | from a right answer (each a break) |",
             "|---|---|---|---|---|"]
    for u in units:
        ch, fix, brk, c1 = (u.matrix(uids, m) for m in ("changed", "changed_fix", "changed_break", "acc@t1"))
        wrong, right = int((ch * (1 - c1)).sum()), int((ch * c1).sum())
        if int(brk.sum()) != right:  # the definition above: only a grader at odds with same_value gets here
            raise ValueError(f"{u.name}: {right} changed right answers but {int(brk.sum())} breaks")
        lines.append(f"| {u.name} | {len(uids)} | {int(ch.sum())} | {int(fix.sum())} of {wrong} | {right} |")
    return "\n".join(lines)


# two-sided 95 % quantiles of Student's t by degrees of freedom (1-30)
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
         2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def trend(early: Sequence[float], late: Sequence[float]) -> dict[str, Any]:
    """Did the training episodes' rate move from the first steps to the last? ``early[s]`` / ``late[s]``: seed s's
    rate over its first / last steps. The seed is the observation: a step's episodes share 4 prompts and one policy,
    and a seed's steps share its policy's history, so neither episodes nor steps are independent. The interval is a
    paired t-interval on the per-seed differences (95 %, S - 1 degrees of freedom); none with fewer than 2 seeds."""
    d = np.asarray(late, dtype=np.float64) - np.asarray(early, dtype=np.float64)
    out: dict[str, Any] = {"early": float(np.mean(early)), "late": float(np.mean(late)), "mean": float(d.mean()),
                           "per_seed": d.tolist()}
    if len(d) >= 2:
        half = (_T975[len(d) - 2] if len(d) - 1 <= len(_T975) else 1.96) * float(d.std(ddof=1)) / np.sqrt(len(d))
        out["ci"] = [out["mean"] - half, out["mean"] + half]
    return out
