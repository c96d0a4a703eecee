#!/usr/bin/env python
"""Every table of the self-correction study, from the committed per-problem dumps alone.

    python scripts/experiments/study_analysis.py results/study            # writes tables.md, tables.json
    python scripts/experiments/study_analysis.py results/study --no-regrade   # trust stored verdicts (faster)

Reads ``<study>/units/*/`` (only finished units: ``verl_score.study.units.completed_units``), **re-grades every
attempt from its text** with both graders (``verl_score.study.grading``; stored verdicts that disagree are counted and
reported), and writes ``<study>/tables.md`` and ``<study>/tables.json``:

1. per arm, greedy, the format-agnostic grader: Acc@t1, Acc@t2, Δ(t1,t2), Δi→c, Δc→i (mean over seeds ± seed SD);
2. diagnostics per arm: no-answer and truncation rates per attempt, verbatim copies, kept answers (attempt 2 states
   attempt 1's answer in other words), right-but-unformatted rates,
   format-only flips, the strict grader's accuracies, bare-equation attempts, changed answers, tokens; and per unit,
   what the changed answers did (wrong -> fixed, right -> broken);
3. the same per family;
4. paired differences against base and against naive: per seed, pooled, 95 % problem-bootstrap interval (pooled over
   seeds), seed SD; overall and per family;
5. training (each unit's ``metrics.json`` and ``train_metrics.jsonl.gz``): the sampled training episodes' Acc@t1,
   Acc@t2 and verbatim-copy rate per step, pooled over seeds, and whether they moved from the first two steps to the
   last two (a paired t-interval over seeds: a step's 16 episodes share 4 prompts, and a seed's steps its history);
6. the base model per family on the validation probe (``<study>/probe``), the measurement the families were chosen on.

Units of different configurations are never pooled: the run refuses to write them into one study folder, and this
command refuses a folder whose units disagree on the shared configuration (task, eval, training settings).
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from verl_score.study import analysis as A  # noqa: E402
from verl_score.study.units import canonical_json, completed_units  # noqa: E402

ORDER = ("base", "grpo", "naive", "score", "score_nostage1", "score_noshaping")


def read_dump(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def shared_part(config: dict) -> dict:
    """What every unit of one study must share (the arm's own knobs and, for the base, training are not)."""
    return {k: v for k, v in config.items() if k not in ("arm", "train")}


def load_units(study: Path, regrade: bool) -> tuple[list[A.Unit], int]:
    units, changed = [], 0
    shared = None
    trains = None
    for folder, meta in completed_units(study / "units"):
        cfg = meta.get("config") or {}
        if shared is None:
            shared = canonical_json(shared_part(cfg))
        elif canonical_json(shared_part(cfg)) != shared:
            raise SystemExit(f"{folder.name}: another task / eval configuration than the other units; not pooled")
        if "train" in cfg:
            if trains is None:
                trains = canonical_json(cfg["train"])
            elif canonical_json(cfg["train"]) != trains:
                raise SystemExit(f"{folder.name}: other training settings than the other trained units; not pooled")
        records = read_dump(folder / "heldout.jsonl.gz")
        if regrade:
            from verl_score.study.grading import regrade as do_regrade

            records, n = do_regrade(records)
            changed += n
        metrics = json.loads((folder / "metrics.json").read_text()) if (folder / "metrics.json").exists() else {}
        units.append(A.Unit.from_records(folder.name, meta["arm"], int(meta["seed"]), records,
                                         {"metrics": metrics, "provenance": meta.get("provenance"),
                                          "steps": train_steps(folder)}))
    return units, changed


TRAIN_KEYS = {"score/acc@t1": "Acc@t1", "score/acc@t2": "Acc@t2", "score/identical_attempts_rate": "t2 = t1"}
EDGE = 2  # steps at each end compared by the trend


def train_steps(folder: Path) -> list[dict]:
    """The unit's per-step training metrics (verl's file logger, ``train_metrics.jsonl.gz``), in step order."""
    path = folder / "train_metrics.jsonl.gz"
    if not path.exists():
        return []
    by_step: dict[int, dict] = {}
    for rec in read_dump(path):
        by_step.setdefault(int(rec["step"]), {}).update(rec.get("data") or {})
    return [by_step[k] for k in sorted(by_step) if k >= 1]


def training_trend_table(arms: dict, order: list[str]) -> tuple[str, dict]:
    """Per trained arm, pooled over seeds: each step's sampled rate (mean over seeds), and each seed's last EDGE steps
    against its first EDGE (:func:`verl_score.study.analysis.trend`: paired over seeds). Seeds of unequal length are
    reported, never truncated to a common length (a shorter run's "last steps" are other steps)."""
    lines, notes, out = [], [], {}
    for arm in order:
        runs = [u.meta.get("steps") or [] for u in arms[arm]]
        runs = [r for r in runs if r]
        if not runs:
            continue
        if len({len(r) for r in runs}) > 1 or len(runs[0]) < 2 * EDGE:
            notes.append(f"{arm}: runs of {sorted(len(r) for r in runs)} steps, no trend")
            continue
        n = len(runs[0])
        out[arm] = {}
        for key, title in TRAIN_KEYS.items():
            if any(key not in s for r in runs for s in r):
                continue
            per_step = [sum(r[i][key] for r in runs) / len(runs) for i in range(n)]
            t = A.trend([sum(r[i][key] for i in range(EDGE)) / EDGE for r in runs],
                        [sum(r[i][key] for i in range(n - EDGE, n)) / EDGE for r in runs])
            out[arm][key] = {"per_step": per_step, "trend": t}
            ci = f"[{A.pct(t['ci'][0], True)}, {A.pct(t['ci'][1], True)}]" if "ci" in t else "(one seed: no interval)"
            lines.append(f"| {arm} | {len(runs)} | {title} | " + " ".join(A.pct(x) for x in per_step)
                         + f" | {A.pct(t['mean'], True)} {ci} |")
    if not lines:
        return "\n".join(["(no trained unit with a full training log)", *notes]), out
    head = ["| arm | seeds | rate | per step (mean over seeds) | last − first " + str(EDGE) + " steps (95 %, paired t "
            "over seeds) |", "|---|---|---|---|---|"]
    return "\n".join(head + lines + ([""] + notes if notes else [])), out


def training_table(units: list[A.Unit]) -> str:
    lines = ["| unit | steps | train Acc@t1 (first → last 2 steps) | train Acc@t2 | wall (min) |",
             "|---|---|---|---|---|"]
    for u in units:
        t = (u.meta.get("metrics") or {}).get("train")
        if not t:
            continue
        cell = lambda k: "–" if k not in t else f"{100 * t[k]['first']:.1f} → {100 * t[k]['last']:.1f}"  # noqa: E731
        wall = (u.meta.get("provenance") or {}).get("wall_s")
        lines.append(f"| {u.name} | {t.get('steps', '–')} | {cell('score/acc@t1')} | {cell('score/acc@t2')} | "
                     f"{'–' if wall is None else f'{wall / 60:.1f}'} |")
    return "\n".join(lines) if len(lines) > 2 else "(no trained unit yet)"


def probe_table(study: Path) -> str:
    path = study / "probe" / "heldout.jsonl.gz"
    if not path.exists():
        return "(no probe)"
    from verl_score.study.grading import regrade

    records, _ = regrade(read_dump(path))
    unit = A.Unit.from_records("probe", "base", 0, records)
    metrics = ("acc@t1", "acc@t2", "strict_acc@t1", "no_answer@t1", "copy")
    lines = ["| family | N | " + " | ".join(A.TITLES[m] for m in metrics) + " |", "|" + "---|" * (2 + len(metrics))]
    fams = sorted(set(unit.family.values()))
    for fam in [*fams, None]:
        uids = A.common_uids([unit], family=fam)
        s = A.arm_summary([unit], uids, metrics)
        lines.append(f"| {fam or '**all**'} | {len(uids)} | " + " | ".join(A.pct(s[m]["mean"]) for m in metrics) + " |")
    return "\n".join(lines)


def plots(study: Path, arms: dict, uids: list[str], order: list[str], diffs: dict) -> list[Path]:
    """``plots/accuracy.png`` (Acc@t1 / Acc@t2 per arm: mean over seeds, one dot per seed) and
    ``plots/differences.png`` (each arm minus base and minus naive on the headline metrics, 95 % intervals)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = study / "plots"
    out.mkdir(exist_ok=True)
    fig, ax = plt.subplots(figsize=(1.6 + 1.2 * len(order), 3.2))
    for j, m in enumerate(("acc@t1", "acc@t2")):
        for i, arm in enumerate(order):
            per_seed = [100 * float(x) for x in A.arm_summary(arms[arm], uids, (m,))[m]["per_seed"]]
            x = i + (j - 0.5) * 0.38
            ax.bar(x, sum(per_seed) / len(per_seed), 0.36, color=("#8da0cb", "#fc8d62")[j],
                   label=A.TITLES[m] if i == 0 else None)
            ax.plot([x] * len(per_seed), per_seed, "k.", ms=4)
    ax.set_xticks(range(len(order)), order)
    ax.set_ylabel("% correct (math_verify)")
    ax.set_title(f"held-out, greedy, N = {len(uids)}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "accuracy.png", dpi=120)
    plt.close(fig)
    written = [out / "accuracy.png"]
    rows = [(k, m, d) for k, per in diffs.items() for m, d in per.items() if "ci" in d]
    if rows:
        fig, ax = plt.subplots(figsize=(6, 0.28 * len(rows) + 1))
        for y, (k, m, d) in enumerate(rows):
            ax.plot([100 * d["ci"][0], 100 * d["ci"][1]], [y, y], "k-")
            ax.plot(100 * d["mean"], y, "ko", ms=4)
        ax.axvline(0, color="grey", lw=0.8)
        ax.set_yticks(range(len(rows)), [f"{k}: {A.TITLES[m]}" for k, m, _ in rows], fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel("difference, percentage points (95 % group bootstrap, pooled over seeds)")
        fig.tight_layout()
        fig.savefig(out / "differences.png", dpi=120)
        plt.close(fig)
        written.append(out / "differences.png")
    return written


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("study", type=Path)
    p.add_argument("--no-regrade", action="store_true", help="use the verdicts stored in the dumps")
    p.add_argument("--n-boot", type=int, default=2000)
    args = p.parse_args(argv)
    units, changed = load_units(args.study, regrade=not args.no_regrade)
    if not units:
        raise SystemExit(f"{args.study}/units: no finished unit")
    arms = A.by_arm(units)
    order = [a for a in ORDER if a in arms] + sorted(set(arms) - set(ORDER))
    uids = A.common_uids(units)
    families = sorted({units[0].family[u] for u in uids})
    out = {"units": [u.name for u in units], "n_problems": len(uids), "unscored": {u.name: u.unscored for u in units},
           "regrade_changed": changed if not args.no_regrade else None, "arms": {}, "families": {}, "differences": {}}
    for arm in order:
        out["arms"][arm] = A.arm_summary(arms[arm], uids)
    md = [f"# Study tables (generated by `python scripts/experiments/study_analysis.py {args.study}`)", "",
          f"Units: {', '.join(u.name for u in units)}. Held-out problems scored in every unit: N = {len(uids)}"
          + (f" (left out, unscorable: {out['unscored']})" if any(out["unscored"].values()) else "") + ". "
          "Greedy, two attempts, 128 tokens an attempt. Grader: `math_verify` (format-agnostic) unless marked strict "
          "(`anchored`). Verdicts " + ("re-graded from the dumped text" + (
              f" ({changed} stored verdicts disagreed)" if changed else " (all stored verdicts agreed)")
              if not args.no_regrade else "as stored") + ". Values in %, mean over seeds ± seed-to-seed SD.", "",
          "## 1. Self-correction (format-agnostic grader)", "", A.summary_table(arms, uids, A.HEADLINE, order), "",
          "## 2. Diagnostics", "", A.summary_table(arms, uids, A.DIAGNOSTIC[:7], order), "",
          A.summary_table(arms, uids, A.DIAGNOSTIC[7:12], order), "",
          A.summary_table(arms, uids, A.DIAGNOSTIC[12:] + A.TOKENS, order), "",
          "Changed answers, per unit (both attempts answer, and attempt 2's answer is another one):", "",
          A.changed_answer_table(units, uids), "",
          "## 3. Per family", ""]
    for fam in families:
        fu = A.common_uids(units, family=fam)
        out["families"][fam] = {arm: A.arm_summary(arms[arm], fu) for arm in order}
        md += [f"### {fam}", "", A.summary_table(arms, fu, A.HEADLINE + ("format_flip", "no_answer@t1", "copy"), order),
               ""]
    md += ["## 4. Paired differences (bootstrap over canonical groups, pooled over seeds, 95 %; percentage points)", ""]
    for ref in ("base", "naive"):
        if ref not in arms or len(arms) < 2:
            continue
        # against naive: the trained arms only (base − naive is naive − base negated, and would pair one seed)
        cmp = [a for a in order if ref == "base" or a != "base"]
        md += [f"### against {ref}", "", A.difference_table(arms, uids, ref, cmp, n_boot=args.n_boot), ""]
        for arm in cmp:
            if arm == ref:
                continue
            pairs = A.pair_seeds(arms[arm], arms[ref])
            out["differences"][f"{arm}-{ref}"] = {m: A.paired_difference(pairs, uids, m, n_boot=args.n_boot)
                                                  for m in A.HEADLINE}
        for fam in families:
            md += [f"#### {fam}, against {ref}", "",
                   A.difference_table(arms, A.common_uids(units, family=fam), ref, cmp, n_boot=args.n_boot), ""]
    trend_md, out["training"] = training_trend_table(arms, order)
    md += ["## 5. Training episodes (sampled at the launcher's temperature)", "", training_table(units), "",
           trend_md, "",
           "## 6. Base model per family on the validation probe (how the families were chosen)", "",
           probe_table(args.study), ""]
    written = plots(args.study, arms, uids, order, out["differences"])
    md += ["Plots: " + ", ".join(f"`{p.relative_to(args.study)}`" for p in written), ""]
    (args.study / "tables.md").write_text("\n".join(md))
    (args.study / "tables.json").write_text(json.dumps(out, indent=1, sort_keys=True, default=float) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
