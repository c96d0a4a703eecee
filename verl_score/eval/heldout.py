"""Held-out self-correction before vs after training, with standard errors, from verl's validation dumps.

    python -m verl_score.eval.heldout runs/smollm2_score_cpu/val

With ``trainer.validation_data_dir=DIR`` verl writes ``DIR/<global_step>.jsonl`` at every validation, one line per
episode with the reward's extra info (``score_t1`` … ``score_tK`` from ``verl_score/rewards/score_fn.py``). With
``trainer.val_before_train=True`` the first file is the untrained model, the last the trained one; both come from
the same engine, prompts and greedy decoding, so the difference is the training. The point estimates are those of
``verl_score.metrics.self_correction_metrics`` (what training and validation log); the standard errors are of a
mean over N held-out problems: ``sd/sqrt(N)`` with the sample sd (``ddof=1``; ``sqrt(p(1-p) N/(N-1))`` for a rate), and
the paired ``sd(c2 - c1)/sqrt(N)`` for Δ.
"""

from __future__ import annotations

import argparse
import json
import math
import re
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from verl_score.contracts.keys import ANSWER_FOUND, REWARD_FAILED, SCORE, SCORE_T_PREFIX, failed_t, score_t
from verl_score.metrics import CORRECT_THRESHOLD, is_correct, scored_episodes

#: (row title, key of :func:`heldout_metrics`)
ROWS: tuple[tuple[str, str], ...] = (
    ("Acc@t1", "acc@t1"),
    ("Acc@t2", "acc@t2"),
    ("Δ(t1,t2)", "delta_t1_t2"),
    ("Δi→c", "delta_i2c"),
    ("Δc→i", "delta_c2i"),
    ("Acc@tK (last attempt, K > 2)", "acc@tK"),
    ("Δ(t1,tK)", "delta_t1_tK"),
    ("no answer (last attempt)", "no_answer_last"),
)


def read_dump(path: str | Path) -> list[dict[str, Any]]:
    lines = Path(path).read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def dump_files(folder: str | Path) -> list[tuple[int, Path]]:
    """``(step, path)`` of every ``<step>.jsonl`` in ``folder``, by step; a clear error when there is none."""
    out = sorted(
        (int(m.group(1)), p) for p in Path(folder).glob("*.jsonl") if (m := re.fullmatch(r"(\d+)\.jsonl", p.name))
    )
    if not out:
        raise FileNotFoundError(f"{folder}: no <step>.jsonl validation dumps (is trainer.validation_data_dir set?)")
    return out


def _mean_se(x: np.ndarray) -> tuple[float, float]:
    n = len(x)
    if n == 0:
        return math.nan, math.nan
    sd = float(np.std(x, ddof=1)) if n > 1 else 0.0
    return float(np.mean(x)), sd / math.sqrt(n)


def heldout_metrics(
    records: Sequence[Mapping[str, Any]], threshold: float = CORRECT_THRESHOLD, attempts: int = 2
) -> dict[str, Any]:
    """``{key: (mean, standard error)}`` plus ``n`` and ``n_reward_failed`` for one validation dump.

    Attempt 2 is ``score_t2`` whatever K is; with K > 2 the last attempt is reported beside it (``acc@tK``,
    ``delta_t1_tK``). Episodes with a failed reward check (``failed_t{k}``) are left out of every rate and counted
    (:func:`verl_score.metrics.scored_episodes`, the rule training and evaluation use).

    ``attempts=1`` reads a single-turn run's dump (verl's ``single_turn_agent``: one response, scored as ``score`` /
    ``reward_failed``), whose only rows are Acc@t1 and the no-answer rate. It is said, never inferred: a two-attempt
    dump whose per-attempt keys went missing also carries ``score``, and that score is attempt 2's."""
    if not records:
        raise ValueError("no validation records")
    ks = sorted(int(k[len(SCORE_T_PREFIX) :]) for k in records[0] if re.fullmatch(rf"{SCORE_T_PREFIX}\d+", k))
    if attempts == 1:
        if ks:
            raise ValueError(f"attempts=1, but the validation records carry per-attempt scores "
                             f"({', '.join(score_t(k) for k in ks)}): they are a multi-attempt run's")
        if any(SCORE not in r for r in records):
            raise ValueError("attempts=1: a validation record has no 'score'")
        scores = np.array([[float(r[SCORE])] for r in records], dtype=np.float64)
        failed = np.array([[float(r.get(REWARD_FAILED) or 0.0) > 0] for r in records], dtype=bool)
        ks = [1]
    elif attempts == 2:
        if len(ks) < 2 or ks[:2] != [1, 2]:
            raise ValueError(
                "validation records carry no score_t1, score_t2, ... (the two-attempt reward fills them: "
                "reward.custom_reward_function.path=verl_score/rewards/score_fn.py; a single-turn run's dump "
                "is read with attempts=1 / --attempts 1)"
            )
        scores = np.array([[float(r[score_t(k)]) for k in ks] for r in records], dtype=np.float64)
        failed = np.array([[float(r.get(failed_t(k)) or 0.0) > 0 for k in ks] for r in records], dtype=bool)
    else:
        raise ValueError(f"attempts must be 1 (single-turn run) or 2 (two or more attempts), got {attempts}")
    kept, keep = scored_episodes(scores, failed)
    if not len(kept):
        raise ValueError(f"all {len(records)} validation records had a failed reward check (failed_t1..failed_tK)")
    correct = is_correct(kept.ravel(), threshold).reshape(kept.shape).astype(np.float64)
    c1, ck = correct[:, 0], correct[:, -1]
    out: dict[str, Any] = {
        "n": len(kept),
        "n_reward_failed": int((~keep).sum()),
        "num_attempts": len(ks),
        "acc@t1": _mean_se(c1),
    }
    if len(ks) >= 2:
        c2 = correct[:, 1]
        out["acc@t2"] = _mean_se(c2)
        out["delta_t1_t2"] = _mean_se(c2 - c1)
        out["delta_i2c"] = _mean_se((1 - c1) * c2)
        out["delta_c2i"] = _mean_se(c1 * (1 - c2))
    if len(ks) > 2:
        out["acc@tK"] = _mean_se(ck)
        out["delta_t1_tK"] = _mean_se(ck - c1)
    kept_records = [r for r, ok in zip(records, keep, strict=True) if ok]
    if all(ANSWER_FOUND in r and r[ANSWER_FOUND] is not None for r in kept_records):
        out["no_answer_last"] = _mean_se(np.array([1.0 - float(r[ANSWER_FOUND]) for r in kept_records]))
    return out


def _cell(v: tuple[float, float] | None, signed: bool = False) -> str:
    if v is None:
        return "–"
    mean, se = v
    return f"{100 * mean:+.1f} ± {100 * se:.1f}" if signed else f"{100 * mean:.1f} ± {100 * se:.1f}"


def render(before: Mapping[str, Any], after: Mapping[str, Any], step_before: int, step_after: int) -> str:
    """Markdown table in percent: before, after, after − before."""
    rows = [
        (f"Held-out, greedy: N = {after['n']} problems" if before["n"] == after["n"]
         else f"Held-out, greedy: N = {before['n']} problems before, {after['n']} after")
        + "; mean ± standard error, in %"
        + (
            f" (left out, reward check failed: {before['n_reward_failed']} before, {after['n_reward_failed']} after)"
            if before.get("n_reward_failed") or after.get("n_reward_failed")
            else ""
        ),
        "",
        f"| metric | before (step {step_before}) | after (step {step_after}) | change |",
        "|---|---|---|---|",
    ]
    for title, key in ROWS:
        b, a = before.get(key), after.get(key)
        if a is None and b is None:
            continue  # e.g. the K > 2 rows of a two-attempt run
        signed = key.startswith("delta")
        change = "–" if a is None or b is None else f"{100 * (a[0] - b[0]):+.1f}"
        rows.append(f"| {title} | {_cell(b, signed)} | {_cell(a, signed)} | {change} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", help="trainer.validation_data_dir of the run")
    parser.add_argument("--threshold", type=float, default=CORRECT_THRESHOLD)
    parser.add_argument("--attempts", type=int, choices=(1, 2), default=2,
                        help="1 for a single-turn run (verl's single_turn_agent); 2 (default) for two or more")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = parser.parse_args(argv)
    files = dump_files(args.folder)
    (s0, p0), (s1, p1) = files[0], files[-1]
    before = heldout_metrics(read_dump(p0), args.threshold, args.attempts)
    after = heldout_metrics(read_dump(p1), args.threshold, args.attempts)
    if len(files) == 1:
        print(f"note: one validation dump only (step {s0}); before and after are the same")
    print(render(before, after, s0, s1))
    if args.json:
        args.json.write_text(json.dumps({"before": before, "after": after, "steps": [s0, s1]}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
