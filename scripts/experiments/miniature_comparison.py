#!/usr/bin/env python
"""The paper's comparison in miniature, on CPU: base model vs single-turn GRPO vs naive multi-turn RL vs SCoRe.

    python scripts/experiments/miniature_comparison.py --out results/miniature            # the full run
    python scripts/experiments/miniature_comparison.py --out /tmp/m --dry-run             # compose-check only

Same task (SmolLM2-135M-Instruct on easy reasoning-gym sums, real math verifier), same data seed, same step budget
and same rollout seed for every method; each one is ``scripts/run_smollm2_score_cpu.sh`` with different knobs:

============  =====================================================================================================
base          no training: the step-0 (pre-training) greedy validation of the SCoRe run, and the sampled eval of
              the bundled model
grpo          single-turn GRPO, the paper's "w/o multi-turn training": one-attempt training rows
              (``single_turn_agent``), verl's stock ``sync`` trainer; evaluated with two attempts like the others
naive         naive multi-turn RL: both attempts rewarded from step 1 (Stage II only), no Stage I, no shaping
score         SCoRe: Stage I (``--stage1`` steps) → Stage II with progress shaping α = ``--alpha`` (paper: 10)
stage1        Stage I alone for all ``--steps`` (issue 10): reward on attempt 2 only, attempt 1 held to the base model
              by the β2 KL — attempt 2 should rise while attempt 1 stays put
stage1_nokl   the same with β2 = 0: what the attempt-1 KL is for (attempt 1 free to drift, or to collapse onto
              attempt 2)
============  =====================================================================================================

The default ``--methods`` is the paper's four; ``--methods base,stage1,stage1_nokl,naive`` is the Stage I study.

Each method is evaluated on the held-out split greedily (verl validation at the last step, per-episode dump) and —
after its final checkpoint is merged to Hugging Face format with verl's model merger (``<out>/<method>/hf``) — at
temperature 0.7 with ``--samples`` samples per problem through ``python -m verl_score.eval --engine local``, so the
standard errors are not those of one greedy draw. Writes ``<out>/results.md`` (table + the exact command, seed and
commit), ``<out>/plots/*.png`` (training curves of Acc@t1/Acc@t2 per method, transition charts, edit-distance
histograms) and ``<out>/results.json``. Nothing here is tuned on the held-out split: the hyperparameters are the
command line's.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

LAUNCHER = REPO / "scripts" / "run_smollm2_score_cpu.sh"


@dataclass
class Method:
    """One arm of the comparison: launcher environment and hydra overrides on top of the shared ones."""

    name: str
    title: str
    env: dict[str, str] = field(default_factory=dict)
    overrides: list[str] = field(default_factory=list)
    train_target: str = "score"  # the converter's --target for the training rows
    trains: bool = True
    beta2: float | None = None  # Stage I's attempt-1 KL weight; None: the command line's --beta2


def methods(steps: int, stage1: int, alpha: float, beta2: float = 0.1) -> dict[str, Method]:
    """The paper's four arms and the two Stage I arms, registered by name (``--methods`` picks a subset, in order)."""
    return {
        "base": Method("base", "base model (no training)", trains=False),
        "grpo": Method(
            "grpo",
            "single-turn GRPO (w/o multi-turn training)",
            env={"STAGE1_STEPS": "0", "STAGE2_STEPS": str(steps)},
            overrides=["trainer.v1.trainer_mode=sync", "algorithm.adv_estimator=grpo"],
            train_target="plain",
        ),
        "naive": Method(
            "naive",
            "naive multi-turn RL (no Stage I, no shaping)",
            env={"STAGE1_STEPS": "0", "STAGE2_STEPS": str(steps)},
            overrides=["~score.shaping.kwargs", "score.shaping.name=none"],
        ),
        "score": Method(
            "score",
            f"SCoRe (Stage I → II, α={alpha:g})",
            env={"STAGE1_STEPS": str(stage1), "STAGE2_STEPS": str(steps - stage1)},
            overrides=[f"score.shaping.kwargs.alpha={alpha}"],
        ),
        "stage1": Method(
            "stage1",
            f"Stage I only, β2 = {beta2:g}",
            env={"STAGE1_STEPS": str(steps), "STAGE2_STEPS": "0"},
        ),
        "stage1_nokl": Method(
            "stage1_nokl",
            "Stage I only, β2 = 0",
            env={"STAGE1_STEPS": str(steps), "STAGE2_STEPS": "0"},
            beta2=0.0,
        ),
    }


def _run(cmd: list[str], env: dict[str, str] | None = None, log: Path | None = None) -> None:
    print("+ " + " ".join(shlex.quote(c) for c in cmd), flush=True)
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    if log is None:
        subprocess.run(cmd, cwd=REPO, env=full_env, check=True)
        return
    with log.open("w") as f:
        proc = subprocess.run(cmd, cwd=REPO, env=full_env, stdout=f, stderr=subprocess.STDOUT)
    if proc.returncode:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise SystemExit(f"{cmd[0]} failed ({proc.returncode}); tail of {log}:\n{tail}")


def build_data(out: Path, args: argparse.Namespace) -> dict[str, Path]:
    """One held-out split for all arms; the GRPO arm's training rows are the same problems as single-turn rows."""
    rg = [a for kv in args.rg_config.split() for a in ("--rg-config", kv)]
    dirs = {}
    for target in ("score", "plain"):
        d = out / "data" / target
        if not (d / "train.parquet").exists():
            _run([sys.executable, "data_preprocess/convert_parquet.py", "reasoning_gym", "--rg-tasks", args.rg_task,
                  *rg, "--size", str(args.size), "--seed", str(args.data_seed), "--test-size", str(args.heldout),
                  "--target", target, "--out-dir", str(d), "--quiet"])  # fmt: skip
        dirs[target] = d
    # verl validates on two-attempt episodes for every arm: the GRPO arm's folder takes the score split's test file
    mixed = out / "data" / "grpo"
    mixed.mkdir(parents=True, exist_ok=True)
    for name, src in (("train.parquet", dirs["plain"]), ("test.parquet", dirs["score"])):
        if not (mixed / name).exists():
            (mixed / name).symlink_to((src / name).resolve())
    dirs["grpo"] = mixed
    return dirs


def base_donor(trained: list[str]) -> str | None:
    """The arm whose step-0 validation is the base model's greedy row (SCoRe's when it runs): only it validates
    before training, the others skip that identical pass (same model, prompts and greedy decoding)."""
    for preferred in ("score", "stage1"):
        if preferred in trained:
            return preferred
    return trained[0] if trained else None


def train(m: Method, out: Path, data: dict[str, Path], args: argparse.Namespace, donor: str | None = None) -> Path:
    """Run the launcher for one arm; returns its run folder (metrics, val dumps, merged HF checkpoint)."""
    run_dir = out / m.name
    run_dir.mkdir(parents=True, exist_ok=True)
    total = int(m.env.get("STAGE1_STEPS", 0)) + int(m.env.get("STAGE2_STEPS", 0))
    env = {
        **m.env,
        "RUN_DIR": str(run_dir),
        "DATA_DIR": str(data["grpo" if m.train_target == "plain" else "score"]),
        "EXPERIMENT": f"mini_{m.name}",
        "LR": str(args.lr),
        "PROMPTS_PER_STEP": str(args.prompts),
        "SAMPLES_PER_PROMPT": str(args.samples_per_prompt),
        "VERL_FILE_LOGGER_ROOT": str(run_dir / "logs"),
        # the strict grader this experiment was run with (results/miniature): kept so the format confound it documents
        # (issue #25) reproduces; the launcher's default is now the format-agnostic math_verify
        "GRADER": "anchored",
    }
    overrides = [*m.overrides, f"actor_rollout_ref.rollout.seed={args.seed}", f"data.seed={args.seed}",
                 f"trainer.save_freq={total}", f"score.beta2={args.beta2 if m.beta2 is None else m.beta2}"]  # fmt: skip
    if m.name != donor:
        overrides.append("trainer.val_before_train=False")
    if args.dry_run:
        env["VERL_SCORE_COMPOSE_ONLY"] = "1"
        _run(["bash", str(LAUNCHER), *overrides], env, log=run_dir / "compose.log")
        return run_dir
    _run(["bash", str(LAUNCHER), *overrides], env, log=run_dir / "launcher.log")
    actor = run_dir / "checkpoints" / f"global_step_{total}" / "actor"
    _run([sys.executable, "-m", "verl.model_merger", "merge", "--backend", "fsdp", "--local_dir", str(actor),
          "--target_dir", str(run_dir / "hf")], log=run_dir / "merge.log")  # fmt: skip
    return run_dir


def sampled_eval(model: Path, test: Path, run_dir: Path, args: argparse.Namespace) -> dict:
    """T=0.7, ``--samples`` samples per held-out problem, two attempts, through the real agent loop (local engine)."""
    out = run_dir / "eval_t07"
    if not args.dry_run:
        _run([sys.executable, "-m", "verl_score.eval", "--engine", "local", "--model", str(model), "--data", str(test),
              "--num-samples", str(args.samples), "--temperature", "0.7", "--seed", str(args.seed),
              "--max-tokens", "128", "--out-dir", str(out), "--quiet", "--no-progress"], log=run_dir / "eval_t07.log")
    return json.loads((out / "summary.json").read_text()) if (out / "summary.json").exists() else {}


TRAIN_KEYS = ("score/acc@t1", "score/acc@t2", "actor/score/kl_attempt1")


def training_history(run_dir: Path, name: str) -> dict[str, tuple[list[int], list[float]]]:
    """The arm's per-step training metrics from verl's file logger (``train`` points it there); {} before a run."""
    from verl_score.eval.plots import read_history

    log = run_dir / "logs" / "verl_score" / f"mini_{name}.jsonl"
    return read_history(log) if log.exists() else {}


def training_summary(run_dir: Path, name: str, window: int = 2) -> dict[str, tuple[float, float]]:
    """Per training metric: the mean over the first and over the last ``window`` steps (training samples, at the
    launcher's temperature: the on-policy view of what the update did; the held-out tables are the evaluation)."""
    hist = training_history(run_dir, name)
    out = {}
    for key in TRAIN_KEYS:
        if key in hist and hist[key][1]:
            v = hist[key][1]
            out[key] = (sum(v[:window]) / len(v[:window]), sum(v[-window:]) / len(v[-window:]))
    return out


def render(rows: list[dict], command: str, commit: str, args: argparse.Namespace) -> str:
    """The results table (percent, mean ± standard error over held-out problems)."""

    def cell(v, signed=False):
        if not v:
            return "–"
        return f"{100 * v[0]:+.1f} ± {100 * v[1]:.1f}" if signed else f"{100 * v[0]:.1f} ± {100 * v[1]:.1f}"

    lines = [
        "# Miniature SCoRe comparison (SmolLM2-135M-Instruct, CPU)",
        "",
        f"Command: `{command}`  ",
        f"Commit: `{commit}`; data seed {args.data_seed}, rollout seed {args.seed}; {args.steps} steps per trained "
        f"arm ({args.prompts} prompts × {args.samples_per_prompt} samples), lr {args.lr}, β2 {args.beta2}, "
        f"α {args.alpha}; held-out N = {rows[0]['greedy'].get('n', '?') if rows else '?'}; "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '(launcher default)')}.",
        "",
        "Greedy held-out (mean ± s.e., %):",
        "",
        "| method | Acc@t1 | Acc@t2 | Δ(t1,t2) | Δi→c | Δc→i |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        g = r["greedy"]
        lines.append(f"| {r['title']} | {cell(g.get('acc@t1'))} | {cell(g.get('acc@t2'))} | "
                     f"{cell(g.get('delta_t1_t2'), True)} | {cell(g.get('delta_i2c'), True)} | "
                     f"{cell(g.get('delta_c2i'), True)} |")  # fmt: skip
    lines += ["", f"Sampled held-out (T = 0.7, {args.samples} samples per problem, %):", "",
              "| method | N episodes | Acc@t1 | Acc@t2 | Δ(t1,t2) | Δi→c | Δc→i |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        s = (r.get("sampled") or {}).get("overall") or {}
        fmt = lambda k: "–" if s.get(k) is None else f"{100 * s[k]:.1f}"  # noqa: E731
        lines.append(f"| {r['title']} | {s.get('n', '–')} | {fmt('acc@t1')} | {fmt('acc@t2')} | "
                     f"{fmt('delta_t1_t2')} | {fmt('delta_i2c_uncond')} | {fmt('delta_c2i_uncond')} |")  # fmt: skip
    trained = [r for r in rows if r.get("train")]
    if trained:
        lines += ["", "Training episodes (the launcher's sampling temperature; first two steps → last two steps):", "",
                  "| method | Acc@t1 (%) | Acc@t2 (%) | attempt-1 KL |", "|---|---|---|---|"]
        for r in trained:
            t = r["train"]
            pct = lambda k: "–" if k not in t else f"{100 * t[k][0]:.1f} → {100 * t[k][1]:.1f}"  # noqa: E731
            kl = "–" if "actor/score/kl_attempt1" not in t else "{:.4f} → {:.4f}".format(*t["actor/score/kl_attempt1"])
            lines.append(f"| {r['title']} | {pct('score/acc@t1')} | {pct('score/acc@t2')} | {kl} |")
    return "\n".join(lines) + "\n"


def plots(rows: list[dict], out: Path) -> list[Path]:
    """Training curves (Acc@t1, Acc@t2, attempt-1 KL; one line per arm) and, per arm, the sampled eval's transition
    chart and edit-distance histogram."""
    from verl_score.eval import plots as P

    pdir = out / "plots"
    pdir.mkdir(parents=True, exist_ok=True)
    written = []
    histories = {}
    for r in rows:
        hist = training_history(Path(r["run_dir"]), r["name"])
        if hist:
            histories[r["name"]] = hist
        samples = Path(r["run_dir"]) / "eval_t07" / "samples.jsonl"
        if samples.exists():
            recs = [json.loads(x) for x in samples.read_text().splitlines() if x.strip()]
            for fn, name in ((P.plot_transitions, "transitions"), (P.plot_edit_distance, "edit_distance")):
                path = pdir / f"{r['name']}_{name}.png"
                fn(recs, path)
                written.append(path)
    if histories:
        path = pdir / "training_acc.png"
        P.plot_compare(histories, TRAIN_KEYS, path, title="training episodes")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--methods", default="base,grpo,naive,score")
    p.add_argument("--steps", type=int, default=12, help="training steps per trained arm")
    p.add_argument("--stage1", type=int, default=4, help="SCoRe's Stage I steps (of --steps)")
    p.add_argument("--alpha", type=float, default=10.0)
    p.add_argument("--beta2", type=float, default=0.1)
    p.add_argument("--lr", type=float, default=1e-5)
    p.add_argument("--prompts", type=int, default=2)
    p.add_argument("--samples-per-prompt", type=int, default=4)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--data-seed", type=int, default=42)
    p.add_argument("--heldout", type=int, default=32)
    p.add_argument("--size", type=int, default=2000)
    p.add_argument("--samples", type=int, default=4, help="T=0.7 samples per held-out problem")
    p.add_argument("--rg-task", default="basic_arithmetic")
    p.add_argument("--rg-config", default="min_digits=1 max_digits=1 operators=+ min_terms=2 max_terms=2 "
                   "allow_negation=false allow_parentheses=false")  # fmt: skip
    p.add_argument("--dry-run", action="store_true", help="build data, compose-check every arm, write no results")
    args = p.parse_args(argv)
    if not 0 <= args.stage1 <= args.steps:
        raise SystemExit("--stage1 must be within [0, --steps]")

    from verl_score.assets import asset_path
    from verl_score.eval.heldout import dump_files, heldout_metrics, read_dump

    registry = methods(args.steps, args.stage1, args.alpha, args.beta2)
    chosen = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = sorted(set(chosen) - set(registry))
    if unknown:
        raise SystemExit(f"unknown method(s) {unknown}; known: {list(registry)}")
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    # the code every arm runs is the tree at the start (record it now: a commit made during a long run must not be
    # credited with results it did not produce)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    if subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO, capture_output=True,
                      text=True).stdout.strip():
        commit += " (with uncommitted changes)"
    data = build_data(args.out, args)
    test = data["score"] / "test.parquet"
    donor_name = base_donor([m for m in chosen if registry[m].trains])
    runs = {m: train(registry[m], args.out, data, args, donor_name) for m in chosen if registry[m].trains}

    rows = []
    for name in chosen:
        m = registry[name]
        if m.trains:
            run_dir = runs[name]
        else:  # base: the pre-training validation of any trained arm (same model, prompts, greedy decoding)
            run_dir = args.out / "base"
            run_dir.mkdir(parents=True, exist_ok=True)
        row = {"name": name, "title": m.title, "run_dir": str(run_dir), "greedy": {}}
        if not args.dry_run:
            if m.trains:
                step, path = dump_files(run_dir / "val")[-1]
            else:
                donor = runs.get(donor_name) if donor_name else None
                step, path = dump_files(donor / "val")[0] if donor else (None, None)
            row["greedy"] = heldout_metrics(read_dump(path)) if path else {}
            model = run_dir / "hf" if m.trains else Path(asset_path("smollm2"))
            row["sampled"] = sampled_eval(model, test, run_dir, args)
            if m.trains:
                row["train"] = training_summary(run_dir, name)
        rows.append(row)
    if args.dry_run:
        print(f"dry run: data in {args.out / 'data'}, {len(runs)} arm(s) composed ({time.time() - t0:.0f} s)")
        return 0
    command = "python " + " ".join(shlex.quote(a) for a in [str(Path(sys.argv[0])), *(argv or sys.argv[1:])])
    (args.out / "results.md").write_text(render(rows, command, commit, args))
    (args.out / "results.json").write_text(json.dumps(rows, indent=1, default=str))
    plots(rows, args.out)
    print((args.out / "results.md").read_text())
    print(f"done in {(time.time() - t0) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
