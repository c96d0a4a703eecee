"""Pictures of a SCoRe run: training history per stage, edit-distance histograms (paper Fig. 4), transition chart.

Every function returns the matplotlib ``Figure`` (and writes a PNG when given a path), so tests read the axes back
(titles, labels, bar heights, line counts) instead of trusting that a file exists. Agg backend: no display needed.

CLI::

    python -m verl_score.eval.plots history --log outputs/score_math.jsonl --out plots/
    python -m verl_score.eval.plots eval --samples outputs/eval/gsm8k/samples.jsonl --out plots/

``history`` reads verl's file-logger jsonl (``{"step": n, "data": {metric: value}}``, written when
``trainer.logger`` contains ``file``; path from ``VERL_FILE_LOGGER_PATH`` or ``$VERL_FILE_LOGGER_ROOT/<project>/
<experiment>.jsonl``) and plots every ``score/*`` key (accuracy-like keys, reward-like keys and the rest on three
panels) plus ``critic/score/mean``, with the SCoRe stage (``score/stage``) shaded.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from verl_score.eval.report import TRANSITION_LABELS, TRANSITIONS  # noqa: E402

STAGE_KEY = "score/stage"
REWARD_KEYS = ("critic/score/mean",)
STAGE_COLORS = {1: "#fde2b3", 2: "#cfe3f7"}


# ---------------------------------------------------------------------------------------------------- history
def read_history(path: str | Path) -> dict[str, tuple[list[int], list[float]]]:
    """``metric -> (steps, values)`` from a verl file-logger jsonl; non-numeric and NaN values are skipped."""
    series: dict[str, tuple[list[int], list[float]]] = defaultdict(lambda: ([], []))
    with Path(path).open(encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            row = json.loads(line)
            step, data = row.get("step"), row.get("data") or {}
            for key, value in data.items():
                if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(float(value)):
                    continue
                steps, values = series[key]
                steps.append(int(step))
                values.append(float(value))
    return dict(series)


def stage_spans(steps: Sequence[int], stages: Sequence[float]) -> list[tuple[int, int, int]]:
    """Contiguous ``(stage, first_step, last_step)`` runs of ``score/stage`` (stages may interleave)."""
    spans: list[tuple[int, int, int]] = []
    for step, stage in sorted(zip(steps, stages)):
        s = int(round(stage))
        if spans and spans[-1][0] == s:
            spans[-1] = (s, spans[-1][1], step)
        else:
            spans.append((s, step, step))
    return spans


def _panel_of(key: str) -> str:
    name = key.lower()
    if "acc" in name or "rate" in name or "delta" in name or "ratio" in name:
        return "accuracy"
    if "reward" in name or "score/mean" in name:
        return "reward"
    return "other"


def plot_history(series: Mapping[str, tuple[Sequence[int], Sequence[float]]], out: str | Path | None = None,
                 title: str = "SCoRe training") -> Figure:
    """One panel each for accuracy-like, reward-like and other ``score/*`` metrics (+ ``critic/score/mean``)."""
    keys = sorted(k for k in series if (k.startswith("score/") and k != STAGE_KEY) or k in REWARD_KEYS)
    panels: dict[str, list[str]] = {"accuracy": [], "reward": [], "other": []}
    for k in keys:
        panels[_panel_of(k)].append(k)
    used = [(name, ks) for name, ks in panels.items() if ks] or [("accuracy", [])]
    fig, axes = plt.subplots(len(used), 1, figsize=(9, 3.2 * len(used)), sharex=True, squeeze=False)
    spans = stage_spans(*series[STAGE_KEY]) if STAGE_KEY in series else []
    for ax, (name, ks) in zip(axes[:, 0], used):
        labelled: set[int] = set()
        for s, lo, hi in spans:  # one legend entry per stage even when stages alternate
            ax.axvspan(lo - 0.5, hi + 0.5, color=STAGE_COLORS.get(s, "#eeeeee"), alpha=0.6, lw=0,
                       label=None if s in labelled else f"stage {s}")
            labelled.add(s)
        for k in ks:
            steps, values = series[k]
            ax.plot(steps, values, marker=".", label=k)
        ax.set_title(f"{title}: {name}")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        if ks or spans:
            ax.legend(fontsize=7, loc="best")
    axes[-1, 0].set_xlabel("step")
    fig.tight_layout()
    _save(fig, out)
    return fig


def plot_compare(runs: Mapping[str, Mapping[str, tuple[Sequence[int], Sequence[float]]]], metrics: Sequence[str],
                 out: str | Path | None = None, title: str = "training") -> Figure:
    """Several runs side by side: one panel per metric, one line per run (``runs``: run name -> ``read_history``
    output). A metric no run logged still gets its panel, saying so, rather than a silently empty figure."""
    fig, axes = plt.subplots(len(metrics), 1, figsize=(9, 3.0 * len(metrics)), sharex=True, squeeze=False)
    for ax, metric in zip(axes[:, 0], metrics):
        drawn = 0
        for name, series in runs.items():
            if metric in series and series[metric][0]:
                steps, values = series[metric]
                ax.plot(steps, values, marker=".", label=name)
                drawn += 1
        ax.set_title(f"{title}: {metric}" if drawn else f"{title}: {metric} (not logged by any run)")
        ax.set_ylabel(metric.rsplit("/", 1)[-1])
        ax.grid(alpha=0.3)
        if drawn:
            ax.legend(fontsize=7, loc="best")
    axes[-1, 0].set_xlabel("step")
    fig.tight_layout()
    _save(fig, out)
    return fig


# ---------------------------------------------------------------------------------------------------- eval
def _scored(records: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [r for r in records if r.get("status") == "ok" and r.get("edit_distance_ratio") is not None]


def plot_edit_distance(records: Sequence[Mapping[str, Any]], out: str | Path | None = None, bins: int = 20,
                       title: str = "Edit-distance ratio between attempts") -> Figure:
    """Paper Fig. 4: histograms of Levenshtein(y1, y2) / (|y1| + |y2|), one panel per transition.

    Ratio ~0 means attempt 2 copies attempt 1 (no real correction), ~1 an unrelated rewrite. The panels' bar
    heights add up to the number of scored episodes.
    """
    scored = _scored(records)
    edges = [i / bins for i in range(bins + 1)]
    fig, axes = plt.subplots(1, len(TRANSITIONS), figsize=(14, 3.2), sharey=True, squeeze=False)
    for ax, t in zip(axes[0], TRANSITIONS):
        values = [float(r["edit_distance_ratio"]) for r in scored if r.get("transition") == t]
        ax.hist(values, bins=edges, color="#4c72b0", edgecolor="white")
        ax.set_title(f"{TRANSITION_LABELS[t]} (n={len(values)})")
        ax.set_xlabel("edit-distance ratio")
        ax.set_xlim(0, 1)
    axes[0, 0].set_ylabel("episodes")
    fig.suptitle(f"{title} (N={len(scored)})")
    fig.tight_layout()
    _save(fig, out)
    return fig


def transition_counts(records: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """``{"all": {c2c: n, ...}, <data_source>: {...}}`` over scored episodes."""
    out: dict[str, dict[str, int]] = {"all": {t: 0 for t in TRANSITIONS}}
    for r in records:
        if r.get("status") != "ok" or r.get("transition") not in TRANSITIONS:
            continue
        for group in ("all", r["data_source"]):
            out.setdefault(group, {t: 0 for t in TRANSITIONS})[r["transition"]] += 1
    return out


def plot_transitions(records: Sequence[Mapping[str, Any]], out: str | Path | None = None,
                     title: str = "Attempt 1 → attempt 2 transitions") -> Figure:
    """Bar chart of c→c, c→i, i→c, i→i counts: one group of bars per split (all, then each data source)."""
    counts = transition_counts(records)
    groups = ["all"] + sorted(g for g in counts if g != "all")
    if len(groups) == 2:  # one data source: identical to "all"
        groups = ["all"]
    fig, ax = plt.subplots(figsize=(max(6, 2.5 * len(groups) + 3), 3.6))
    width = 0.8 / len(groups)
    for g_i, g in enumerate(groups):
        xs = [i + (g_i - (len(groups) - 1) / 2) * width for i in range(len(TRANSITIONS))]
        heights = [counts[g][t] for t in TRANSITIONS]
        bars = ax.bar(xs, heights, width=width, label=g)
        ax.bar_label(bars, fontsize=8)
    ax.set_xticks(range(len(TRANSITIONS)), [TRANSITION_LABELS[t] for t in TRANSITIONS])
    ax.set_xlabel("transition (attempt 1 → last attempt)")
    ax.set_ylabel("episodes")
    ax.set_title(f"{title} (N={sum(counts['all'].values())})")
    ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, out)
    return fig


def _save(fig: Figure, out: str | Path | None) -> None:
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=110)


# ---------------------------------------------------------------------------------------------------- CLI
def main(argv: Sequence[str] | None = None) -> list[Path]:
    p = argparse.ArgumentParser(prog="python -m verl_score.eval.plots", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    h = sub.add_parser("history", help="training reward/accuracy per stage from verl's file-logger jsonl")
    h.add_argument("--log", required=True)
    h.add_argument("--out", required=True, help="output folder")
    h.add_argument("--title", default="SCoRe training")
    e = sub.add_parser("eval", help="edit-distance histograms + transition chart from samples.jsonl")
    e.add_argument("--samples", required=True)
    e.add_argument("--out", required=True, help="output folder")
    e.add_argument("--bins", type=int, default=20)
    args = p.parse_args(argv)
    out = Path(args.out)
    written: list[Path] = []
    if args.cmd == "history":
        series = read_history(args.log)
        if not any(k.startswith("score/") or k in REWARD_KEYS for k in series):
            raise SystemExit(f"{args.log}: no score/* or critic/score/mean metrics found")
        plot_history(series, out / "training_history.png", title=args.title)
        written.append(out / "training_history.png")
    else:
        from verl_score.eval.runner import read_jsonl

        records = read_jsonl(args.samples)
        plot_edit_distance(records, out / "edit_distance_hist.png", bins=args.bins)
        plot_transitions(records, out / "transitions.png")
        written += [out / "edit_distance_hist.png", out / "transitions.png"]
    plt.close("all")
    for path in written:
        print(path)
    return written


if __name__ == "__main__":
    main()
