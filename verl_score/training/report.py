"""Print a SCoRe training run's self-correction metrics as a markdown table, from verl's ``file`` logger output.

    python -m verl_score.training.report runs/tiny_score_cpu/logs/verl_score/tiny_score_cpu.jsonl

verl's file logger writes one ``{"step": n, "data": {metric: value}}`` line per step; the ``score_sync`` trainer
logs the ``score/*`` metrics of ``verl_score.metrics`` there, and validation adds ``val-core/<source>/score/*``.
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
from typing import Any

#: (column title, metric key) per training step; the rates are fractions of all problems unless marked "cond".
TRAIN_COLUMNS: tuple[tuple[str, str], ...] = (
    ("stage", "score/stage"),
    ("Acc@t1", "score/acc@t1"),
    ("Acc@t2", "score/acc@t2"),
    ("Δ(t1,t2)", "score/delta_t1_t2"),
    ("Δi→c", "score/delta_i2c_uncond"),
    ("Δc→i", "score/delta_c2i_uncond"),
    ("fix rate (cond)", "score/fix_rate_i2c_cond"),
    ("break rate (cond)", "score/break_rate_c2i_cond"),
    ("answer change", "score/answer_change_ratio"),
    ("edit-dist ratio", "score/edit_distance_ratio"),
    ("t2 = t1", "score/identical_attempts_rate"),
    # per attempt-k token, log π − log π_ref on the sampled tokens: Stage I should hold t1's near 0 as t2's grows
    ("KL t1/token", "score/kl_ref_t1/mean"),
    ("KL t2/token", "score/kl_ref_t2/mean"),
    ("step s", "timing_s/step"),
)


def read_steps(path: str | pathlib.Path) -> list[dict[str, Any]]:
    lines = pathlib.Path(path).read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, float) and math.isnan(value):
            return "nan"
        return f"{value:.3f}" if isinstance(value, float) and not float(value).is_integer() else str(int(value))
    return str(value)


def render(steps: list[dict[str, Any]], validation: bool = True) -> str:
    """Markdown: one row per training step, then (``validation``) the last validation's ``score/*`` metrics per data
    source. A logged line with no training metric (verl's validation before training: step 0, or a resumed run's
    step N, which carries only ``score/stage`` besides validation metrics) is not a training step and gets no row."""
    head = "| step | " + " | ".join(title for title, _ in TRAIN_COLUMNS) + " |"
    rows = [head, "|" + "---|" * (len(TRAIN_COLUMNS) + 1)]
    for rec in steps:
        data = rec["data"]
        if all(data.get(key) is None for _, key in TRAIN_COLUMNS if key != "score/stage"):
            continue
        rows.append(f"| {rec['step']} | " + " | ".join(_fmt(data.get(key)) for _, key in TRAIN_COLUMNS) + " |")
    val = {k: v for rec in steps for k, v in rec["data"].items() if k.startswith("val-core/") and "/score/" in k}
    if val and validation:
        rows += ["", "| validation metric | value |", "|---|---|"]
        rows += [f"| {k} | {_fmt(v)} |" for k, v in sorted(val.items())]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("jsonl", help="verl file-logger output ($VERL_FILE_LOGGER_ROOT/<project>/<experiment>.jsonl)")
    parser.add_argument(
        "--no-validation",
        action="store_true",
        help="training table only (a launcher that prints its own held-out before/after table)",
    )
    args = parser.parse_args(argv)
    steps = read_steps(args.jsonl)
    if not steps:
        raise SystemExit(f"{args.jsonl}: no logged steps")
    print(render(steps, validation=not args.no_validation))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
