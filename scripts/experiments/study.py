#!/usr/bin/env python
"""The self-correction study (issue #25) as resumable units: one per (arm, seed), each with per-problem dumps.

    python scripts/experiments/study.py task  --study results/study                 # build the task (canonical split)
    python scripts/experiments/study.py probe --study results/study                 # base model per family, validation
    python scripts/experiments/study.py run   --study results/study --arms base,naive,score --seeds 0,1,2
    python scripts/experiments/study.py run   ... --dry-run                         # compose-check, no model
    python scripts/experiments/study_analysis.py results/study                      # every table, from the dumps

A unit trains with ``scripts/run_smollm2_score_cpu.sh`` (the arms differ only in the launcher knobs the paper
compares, as in ``miniature_comparison.py``), merges its last checkpoint to Hugging Face format, and evaluates it on
the task's **test** split greedily through ``python -m verl_score.eval --engine local`` (two attempts, 128 tokens an
attempt, the static instruction); the base arm skips training. The unit's folder (``<study>/units/<arm>-s<seed>/``)
holds ``heldout.jsonl.gz`` (per problem: both attempts' text, token count, finish reason, both graders' verdicts),
``metrics.json``, ``eval_summary.json``, ``train_metrics.jsonl.gz`` (trained arms: verl's per-step metrics) and
``unit.json`` (configuration, fingerprint, provenance, file hashes). See ``verl_score/study/units.py`` for skip /
refuse / atomic commit.

Training reward: the format-agnostic ``math_verify`` policy for **every** arm (the launcher's config routes
reasoning-gym sums to ``anchored``; the run deletes those routes). Why: with the strict policy a reward pays for
learning the "Final Answer" format at attempt 2 and SCoRe's α = 10 bonus pays 11 for a format-only flip (issue #25);
grading training and evaluation with one format-agnostic grader removes that confound for all arms alike, without an
extra SFT phase whose own effect would have to be measured.

Work files (checkpoints, merged weights, verl logs) go to ``--work-dir`` (default ``runs/study/<study name>``,
git-ignored); nothing heavy is committed: the study fine-tunes fully, so the dumps are the record.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from data_preprocess.core import AGENT_FOR_TARGET  # noqa: E402
from verl_score.study.units import ConfigConflict, UnitSpec, UnitStore, diff_keys, write_atomic  # noqa: E402

LAUNCHER = REPO / "scripts" / "run_smollm2_score_cpu.sh"
#: the one reward every arm trains and is graded with (module docstring)
#: the training reward's grader: the launcher's GRADER knob (scripts/run_smollm2_score_cpu.sh), whose math_verify
#: setting drops the config's anchored routes; the launcher's default since session 8, set explicitly here
GRADER = "math_verify"
EVAL_REWARD_KWARGS = {"default": "math", "modules": {"math": {"policy": "math_verify"}}}
#: problems of the validation carving verl validates on at the unit's last step (the launcher needs a val file; the
#: study's held-out numbers come from the test-split eval, never from this)
TRAIN_VAL_PROBLEMS = 8
#: episodes decoded together by the local engine, and its torch threads; fixed for a study (batch composition and
#: the reduction order of a matmul can move a greedy argmax), recorded in its ``eval`` block
EVAL_CONCURRENCY = 32
EVAL_THREADS = 2
#: tokens an attempt in the eval (``--max-tokens``' default)
EVAL_ATTEMPT_TOKENS = 128

#: the agent loop the task's rows name (the converter's --target score) and verl's stock single-turn one (plain)
TWO_ATTEMPT_AGENT = AGENT_FOR_TARGET["score"]
SINGLE_TURN_AGENT = AGENT_FOR_TARGET["plain"]


@dataclass(frozen=True)
class Arm:
    """Launcher environment and hydra overrides of one arm, on top of the shared ones."""

    name: str
    title: str
    env: dict = field(default_factory=dict)
    overrides: tuple = ()
    trains: bool = True
    #: the agent loop its training rows name (``agent_name``); the eval is two attempts for every arm
    agent: str = TWO_ATTEMPT_AGENT


#: the "none" shaping takes no parameters: drop the base config's progress kwargs (alpha) before switching
NO_SHAPING = ("~score.shaping.kwargs", "score.shaping.name=none")


def arms(steps: int, stage1: int, alpha: float, attempt_tokens: int = EVAL_ATTEMPT_TOKENS) -> dict[str, Arm]:
    """base, naive, score (the issue's three) and the paper's ablations, registered by name."""
    return {
        "base": Arm("base", "base model (no training)", trains=False),
        "naive": Arm("naive", "naive multi-turn RL (Stage II only, no shaping)",
                     {"STAGE1_STEPS": "0", "STAGE2_STEPS": str(steps)}, NO_SHAPING),
        "score": Arm("score", f"SCoRe (Stage I → II, α = {alpha:g})",
                     {"STAGE1_STEPS": str(stage1), "STAGE2_STEPS": str(steps - stage1)},
                     (f"score.shaping.kwargs.alpha={alpha}",)),
        "score_nostage1": Arm("score_nostage1", f"SCoRe without Stage I (α = {alpha:g})",
                              {"STAGE1_STEPS": "0", "STAGE2_STEPS": str(steps)}, (f"score.shaping.kwargs.alpha={alpha}",)),
        "score_noshaping": Arm("score_noshaping", "SCoRe without shaping (Stage I → II)",
                               {"STAGE1_STEPS": str(stage1), "STAGE2_STEPS": str(steps - stage1)},
                               NO_SHAPING),
        # the paper's "w/o multi-turn training" baseline: one-attempt episodes (verl's single_turn_agent) on the same
        # train problems, verl's stock sync trainer, the same RLOO estimator, KL (actor.use_kl_loss, beta1) and steps
        # as naive; an attempt may take the eval's tokens an attempt (128: naive's attempt 1 gets about that much of
        # its 320, the rest is the instruction and attempt 2). Evaluated with two attempts like every arm, so its
        # attempt 2 shows what RL on attempt 1 alone does to a second try.
        "single": Arm("single", "single-turn RL (w/o multi-turn training)",
                      {"STAGE1_STEPS": "0", "STAGE2_STEPS": str(steps), "HELDOUT_ATTEMPTS": "1"},
                      ("trainer.v1.trainer_mode=sync", *NO_SHAPING, f"data.max_response_length={attempt_tokens}"),
                      agent=SINGLE_TURN_AGENT),
    }  # fmt: skip


def shared_config(args: argparse.Namespace, task_manifest: dict) -> dict:
    """Everything every unit of the study shares: a change here is a different study."""
    return {
        "task": {"files": task_manifest["files"], "seed": task_manifest["seed"],
                 "families": [f["name"] for f in task_manifest["families"]]},
        "model": "smollm2 (verl_score.assets, SmolLM2-135M-Instruct)",
        "eval": {"split": args.split, "num_attempts": 2, "max_tokens": args.max_tokens, "temperature": 0.0,
                 "concurrency": EVAL_CONCURRENCY, "threads": EVAL_THREADS,
                 "guidance": "static", "reward_kwargs": EVAL_REWARD_KWARGS, "graders": ["math_verify", "anchored"]},
        "train": {"launcher": "scripts/run_smollm2_score_cpu.sh", "steps": args.steps, "stage1": args.stage1,
                  "alpha": args.alpha, "beta2": args.beta2, "lr": args.lr, "prompts": args.prompts,
                  "samples_per_prompt": args.samples_per_prompt, "temperature": args.train_temperature,
                  "grader": GRADER, "extra_overrides": list(args.override or [])},
    }


def unit_spec(arm: Arm, seed: int, shared: dict) -> UnitSpec:
    arm_cfg = {"env": arm.env, "overrides": list(arm.overrides), "trains": arm.trains}
    if arm.agent != TWO_ATTEMPT_AGENT:  # only where it differs: the units run before this key existed keep their print
        arm_cfg["agent"] = arm.agent
    cfg = {"eval": shared["eval"], "task": shared["task"], "model": shared["model"], "arm": arm_cfg}
    if arm.trains:
        cfg["train"] = shared["train"]
    return UnitSpec(arm.name, seed, cfg)


def _git(*a: str) -> str:
    return subprocess.run(["git", *a], cwd=REPO, capture_output=True, text=True).stdout.strip()


def provenance() -> dict:
    commit = _git("rev-parse", "HEAD")
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
    return {"commit": commit + (" (with uncommitted changes)" if dirty else ""), "cores": os.cpu_count(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def _run(cmd: list[str], env: dict | None = None, log: Path | None = None) -> None:
    print("+ " + " ".join(shlex.quote(c) for c in cmd), flush=True)
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    if log is None:
        subprocess.run(cmd, cwd=REPO, env=full_env, check=True)
        return
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as f:
        proc = subprocess.run(cmd, cwd=REPO, env=full_env, stdout=f, stderr=subprocess.STDOUT)
    if proc.returncode:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise SystemExit(f"{cmd[0]} failed ({proc.returncode}); tail of {log}:\n{tail}")


# ---------------------------------------------------------------------------------------------------- task
def task_dir(args: argparse.Namespace) -> Path:
    """The study's task: ``<study>/task``, or the folder ``--task-dir`` names (a tuning study evaluates another
    study's task on its validation carving, ``--split validation``)."""
    return getattr(args, "task_dir", None) or args.study / "task"


def load_manifest(task: Path) -> dict:
    path = task / "manifest.json"
    if not path.exists():
        raise SystemExit(f"{path} missing: build the task first (study.py task --study <its study>)")
    manifest = json.loads(path.read_text())
    from verl_score.study.units import sha256_file

    for name, digest in manifest["files"].items():
        if sha256_file(task / name) != digest:
            raise SystemExit(f"{task / name} does not match its manifest sha256: the task changed")
    return manifest


def cmd_task(args: argparse.Namespace) -> int:
    from data_preprocess import study_task

    argv = ["--out-dir", str(args.out or task_dir(args)), "--families", args.families,
            "--seed", str(args.task_seed),
            "--test-frac", str(args.test_frac), "--val-frac", str(args.val_frac),
            "--probe-per-family", str(args.probe_per_family)]
    return study_task.main(argv)


# ---------------------------------------------------------------------------------------------------- eval + dumps
def parquet_extra(path: Path) -> dict[str, dict]:
    """``extra_info`` of each row by its id (what the eval records as ``uid``)."""
    import pyarrow.parquet as pq

    return {str(info["id"]): info for info in pq.read_table(path).column("extra_info").to_pylist()}


def evaluate(model: str, data: Path, out: Path, seed: int, args: argparse.Namespace, log: Path) -> Path:
    """Greedy two-attempt eval through the project's eval path; returns its samples.jsonl."""
    _run([sys.executable, "-m", "verl_score.eval", "--engine", "local", "--model", str(model), "--data", str(data),
          "--max-tokens", str(args.max_tokens), "--seed", str(seed), "--out-dir", str(out), "--quiet",
          "--concurrency", str(EVAL_CONCURRENCY),
          "--no-progress", "--reward-kwargs", json.dumps(EVAL_REWARD_KWARGS)]
         + (["--limit", str(args.limit)] if args.limit else []),
         {"VERL_SCORE_CPU_THREADS": str(EVAL_THREADS)}, log=log)  # fmt: skip
    return out / "samples.jsonl"


def write_dump(samples: Path, data: Path, dump: Path) -> list[dict]:
    """``heldout.jsonl.gz`` (gzip without a timestamp: the same records give the same bytes)."""
    from verl_score.eval.runner import read_jsonl
    from verl_score.study.grading import problem_record

    extra = parquet_extra(data)
    records = [problem_record(r, extra.get(str(r["uid"]))) for r in read_jsonl(samples)]
    body = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records)
    with open(dump, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
        f.write(body.encode())
    return records


def read_dump(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def dump_metrics(records: list[dict]) -> dict:
    """The unit's own numbers (overall and per family), for a quick look; the analysis recomputes everything."""
    from verl_score.study.analysis import METRICS, Unit, arm_summary

    unit = Unit.from_records("u", "u", 0, records)
    uids = sorted(unit.rows)
    out = {"overall": {m: v["mean"] for m, v in arm_summary([unit], uids).items() if m in METRICS},
           "n": len(uids), "unscored": unit.unscored, "per_family": {}}
    for fam in sorted(set(unit.family.values())):
        fu = [u for u in uids if unit.family[u] == fam]
        out["per_family"][fam] = {"n": len(fu), **{m: v["mean"] for m, v in arm_summary([unit], fu).items()
                                                   if m in METRICS}}
    return out


# ---------------------------------------------------------------------------------------------------- training
def training_data(work: Path, task: Path, agent: str = TWO_ATTEMPT_AGENT) -> Path:
    """The launcher's DATA_DIR: the task's train split with its rows naming ``agent``, and as its ``test.parquet``
    (verl's end-of-run validation, not the study's eval) the first problems of the validation carving, never the
    test split, naming the same agent: a single-turn run's 128-token responses cannot hold a two-attempt episode."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    d = work / ("data" if agent == TWO_ATTEMPT_AGENT else f"data-{agent}")
    d.mkdir(parents=True, exist_ok=True)

    def with_agent(table: pa.Table) -> pa.Table:
        if agent == TWO_ATTEMPT_AGENT:
            return table
        column = table.schema.get_field_index("agent_name")
        return table.set_column(column, "agent_name", pa.array([agent] * table.num_rows, pa.string()))

    pq.write_table(with_agent(pq.read_table(task / "train.parquet")), d / "train.parquet")
    val = pq.read_table(task / "validation.parquet").slice(0, TRAIN_VAL_PROBLEMS)
    pq.write_table(with_agent(val), d / "test.parquet")
    return d


#: written into a unit's run folder once its training and merge are done: a unit killed later (during its eval)
#: resumes from the merged weights instead of training again, but only for the same unit fingerprint
TRAINED = "trained.json"


def train(arm: Arm, seed: int, t: dict, work: Path, data: Path, dry_run: bool,
          fingerprint: str = "") -> tuple[Path, float]:
    """The launcher for one unit (``t``: the shared training settings); returns (merged HF model folder, seconds).

    A run folder whose ``trained.json`` carries this unit's fingerprint (training and merge finished, the eval did
    not) is reused; any other leftover (a run killed mid-training) is deleted, never resumed."""
    run_dir = work / "runs" / f"{arm.name}-s{seed}"
    if not dry_run and fingerprint:
        try:
            done = json.loads((run_dir / TRAINED).read_text())
        except (OSError, ValueError):
            done = {}
        if done.get("fingerprint") == fingerprint and (run_dir / "hf" / "config.json").exists():
            print(f"{arm.name}-s{seed}: reusing its finished training in {run_dir}", flush=True)
            return run_dir / "hf", float(done.get("train_s", 0.0))
    if run_dir.exists() and not dry_run:
        shutil.rmtree(run_dir)  # a killed earlier attempt: its checkpoints must not be resumed or reused
    run_dir.mkdir(parents=True, exist_ok=True)
    total = int(arm.env.get("STAGE1_STEPS", 0)) + int(arm.env.get("STAGE2_STEPS", 0))
    env = {**arm.env, "RUN_DIR": str(run_dir), "DATA_DIR": str(data), "EXPERIMENT": f"study_{arm.name}_s{seed}",
           "LR": str(t["lr"]), "PROMPTS_PER_STEP": str(t["prompts"]),
           "SAMPLES_PER_PROMPT": str(t["samples_per_prompt"]),
           "TEMPERATURE": str(t["temperature"]), "GRADER": t["grader"], "VERL_FILE_LOGGER_ROOT": str(run_dir / "logs")}  # fmt: skip
    overrides = [*arm.overrides, f"actor_rollout_ref.rollout.seed={seed}", f"data.seed={seed}",
                 f"trainer.save_freq={total}", f"score.beta2={t['beta2']}", "trainer.val_before_train=False",
                 *t["extra_overrides"]]  # fmt: skip
    t0 = time.time()
    if dry_run:
        _run(["bash", str(LAUNCHER), *overrides], {**env, "VERL_SCORE_COMPOSE_ONLY": "1"}, log=run_dir / "compose.log")
        return run_dir / "hf", 0.0
    _run(["bash", str(LAUNCHER), *overrides], env, log=run_dir / "launcher.log")
    actor = run_dir / "checkpoints" / f"global_step_{total}" / "actor"
    _run([sys.executable, "-m", "verl.model_merger", "merge", "--backend", "fsdp", "--local_dir", str(actor),
          "--target_dir", str(run_dir / "hf")], log=run_dir / "merge.log")  # fmt: skip
    shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)  # ~2 GB of FSDP shards + optimizer; hf/ is kept
    train_s = time.time() - t0
    if fingerprint:
        write_atomic(run_dir / TRAINED, json.dumps({"fingerprint": fingerprint, "train_s": round(train_s, 1)}) + "\n")
    return run_dir / "hf", train_s


def training_log(run_dir: Path, arm: Arm, seed: int) -> Path:
    return run_dir / "logs" / "verl_score" / f"study_{arm.name}_s{seed}.jsonl"


def training_summary(log: Path, window: int = 2) -> dict:
    """First and last ``window`` steps of the training episodes' accuracies and reward (on-policy, T = the
    launcher's; whether the reward moved at all)."""
    from verl_score.eval.plots import read_history

    hist = read_history(log)
    out = {"steps": 0}
    for key in ("score/acc@t1", "score/acc@t2", "critic/score/mean", "score/identical_attempts_rate",
                "actor/score/kl_attempt1", "timing_s/step"):
        if key in hist and hist[key][1]:
            v = hist[key][1]
            out["steps"] = max(out["steps"], len(v))
            out[key] = {"first": sum(v[:window]) / len(v[:window]), "last": sum(v[-window:]) / len(v[-window:]),
                        "all": v}
    return out


# ---------------------------------------------------------------------------------------------------- commands
def check_study(study: Path, shared: dict) -> None:
    """Refuse a configuration that differs from what a finished unit of the folder used (its task, eval and model,
    and its training settings if it trained): units of one study are never of two configurations. Settings no
    finished unit used yet may change (e.g. the training steps while only the base unit exists). ``study.json``
    records the configuration of the latest run."""
    from verl_score.study.units import completed_units

    for folder, meta in completed_units(study / "units"):
        cfg = meta.get("config") or {}
        used = {k: cfg[k] for k in ("task", "eval", "model", "train") if k in cfg}
        differ = diff_keys(used, {k: shared[k] for k in used})
        if differ:
            raise ConfigConflict(f"{study}: unit {folder.name} was run with another configuration (differs in: "
                                 f"{', '.join(differ)}); use another --study folder")
    write_atomic(study / "study.json", json.dumps(shared, indent=1, sort_keys=True) + "\n")


def run_unit(arm: Arm, seed: int, spec: UnitSpec, store: UnitStore, args: argparse.Namespace) -> None:
    from verl_score.assets import asset_path

    study, work = args.study, args.work_dir
    prov = provenance()
    t0 = time.time()
    with store.staging(spec) as staged:
        timings = {}
        model = asset_path("smollm2")
        if arm.trains:
            data = training_data(work, task_dir(args), arm.agent)
            model_dir, timings["train_s"] = train(arm, seed, spec.config["train"], work, data, args.dry_run,
                                                  spec.fingerprint)
            if args.dry_run:
                print(f"dry run: {spec.name} composed")
                raise _DryRun
            log = training_log(model_dir.parent, arm, seed)
            with open(log, "rb") as src, gzip.GzipFile(staged / "train_metrics.jsonl.gz", "wb", mtime=0) as dst:
                shutil.copyfileobj(src, dst)
            train_summary = training_summary(log)
            model = str(model_dir)
        elif args.dry_run:
            print(f"dry run: {spec.name} needs no training")
            raise _DryRun
        else:
            train_summary = None
        test = task_dir(args) / f"{args.split}.parquet"
        t1 = time.time()
        scratch = work / "eval" / spec.name
        samples = evaluate(model, test, scratch, seed, args, log=work / "logs" / f"{spec.name}.eval.log")
        timings["eval_s"] = time.time() - t1
        shutil.copyfile(scratch / "summary.json", staged / "eval_summary.json")
        records = write_dump(samples, test, staged / "heldout.jsonl.gz")
        metrics = {"heldout": dump_metrics(records), "train": train_summary, "timings": timings}
        write_atomic(staged / "metrics.json", json.dumps(metrics, indent=1, sort_keys=True) + "\n")
        prov.update(finished=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), wall_s=round(time.time() - t0, 1),
                    command=" ".join(shlex.quote(a) for a in sys.argv))
        store.commit(spec, staged, prov)
    h = metrics["heldout"]["overall"]
    print(f"{spec.name}: done in {(time.time() - t0) / 60:.1f} min; Acc@t1 {100 * h['acc@t1']:.1f} "
          f"Acc@t2 {100 * h['acc@t2']:.1f} (math_verify, N = {metrics['heldout']['n']})", flush=True)


class _DryRun(Exception):
    """Ends a dry run's unit (the staging folder is removed, nothing is committed)."""


def cmd_run(args: argparse.Namespace) -> int:
    manifest = load_manifest(task_dir(args))
    if args.limit and not args.dry_run:
        raise SystemExit("--limit is for dry runs and smoke tests: a unit evaluates the whole test split")
    shared = shared_config(args, manifest)
    registry = arms(args.steps, args.stage1, args.alpha, args.max_tokens)
    chosen = [a.strip() for a in args.arms.split(",") if a.strip()]
    unknown = sorted(set(chosen) - set(registry))
    if unknown:
        raise SystemExit(f"unknown arm(s) {unknown}; known: {list(registry)}")
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    if not args.dry_run:
        check_study(args.study, shared)
    store = UnitStore(args.study / "units")
    plan = []
    for name in chosen:
        arm = registry[name]
        for seed in (seeds if arm.trains else seeds[:1]):  # greedy base: the seed changes nothing, one unit
            spec = unit_spec(arm, seed, shared)
            status = store.status(spec)  # raises ConfigConflict before anything runs
            plan.append((arm, seed, spec, status))
    for arm, seed, spec, status in plan:
        if status == "done":
            print(f"{spec.name}: finished earlier with this configuration, skipped")
            continue
        try:
            run_unit(arm, seed, spec, store, args)
        except _DryRun:
            continue
    return 0


def cmd_probe(args: argparse.Namespace) -> int:
    """The base model on the validation carving's probe (choosing the families; never the test split)."""
    from verl_score.assets import asset_path

    data = args.data or task_dir(args) / "validation_probe.parquet"
    out = args.study / "probe"
    if (out / "heldout.jsonl.gz").exists():
        print(f"{out} exists; remove it to measure again")
        return 0
    scratch = args.work_dir / "eval" / "probe"
    prov = provenance()
    t0 = time.time()
    samples = evaluate(asset_path("smollm2"), data, scratch, 0, args, log=args.work_dir / "logs" / "probe.eval.log")
    tmp = args.study / ".probe.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    records = write_dump(samples, data, tmp / "heldout.jsonl.gz")
    metrics = {"heldout": dump_metrics(records), "wall_s": round(time.time() - t0, 1), **prov,
               "data": str(data.resolve().relative_to(REPO)) if data.resolve().is_relative_to(REPO) else str(data),
               "max_tokens": args.max_tokens}
    write_atomic(tmp / "metrics.json", json.dumps(metrics, indent=1, sort_keys=True) + "\n")
    os.rename(tmp, out)
    print(json.dumps(metrics["heldout"]["per_family"], indent=1))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Finished units (wall time, headline numbers) and leftovers of killed ones."""
    from verl_score.study.units import STAGING, completed_units

    root = args.study / "units"
    for folder, meta in completed_units(root):
        m = json.loads((folder / "metrics.json").read_text())
        h = m["heldout"]["overall"]
        print(f"{folder.name:<22} {meta['provenance'].get('wall_s', 0) / 60:6.1f} min  N={m['heldout']['n']}  "
              f"Acc@t1 {100 * h['acc@t1']:.1f}  Acc@t2 {100 * h['acc@t2']:.1f}  ({meta['provenance'].get('commit')})")
    left = sorted(p.name for p in (root / STAGING).glob("*")) if (root / STAGING).is_dir() else []
    if left:
        print(f"staging (a unit running now, or killed; never read): {', '.join(left)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("task", "probe", "run", "status"):
        s = sub.add_parser(name)
        s.add_argument("--study", type=Path, required=True, help="the study folder (results/<study>)")
        s.add_argument("--work-dir", type=Path, default=None, help="checkpoints, logs (default runs/study/<name>)")
        s.add_argument("--max-tokens", type=int, default=EVAL_ATTEMPT_TOKENS, help="tokens an attempt in the eval")
        s.add_argument("--limit", type=int, default=None, help="(dry runs / smoke tests) first N test problems")
    t = sub.choices["task"]
    t.add_argument("--families", default="add_sub_1d,chain_1d,mul_1d,add_2d,add_1d_3t,add_sub_12d")
    t.add_argument("--task-seed", type=int, default=25)
    t.add_argument("--test-frac", type=float, default=0.13)
    t.add_argument("--val-frac", type=float, default=0.12)
    t.add_argument("--probe-per-family", type=int, default=24)
    t.add_argument("--out", type=Path, default=None, help="task folder (default <study>/task)")
    sub.choices["probe"].add_argument("--data", type=Path, default=None,
                                      help="default <study>/task/validation_probe.parquet")
    r = sub.choices["run"]
    r.add_argument("--arms", default="base,naive,score")
    r.add_argument("--seeds", default="0,1,2")
    r.add_argument("--steps", type=int, default=8, help="training steps of every trained arm (results/study: 8)")
    r.add_argument("--stage1", type=int, default=3, help="SCoRe's Stage I steps (of --steps)")
    r.add_argument("--alpha", type=float, default=10.0)
    r.add_argument("--beta2", type=float, default=0.1)
    r.add_argument("--lr", type=float, default=1e-4,
                   help="chosen on the validation carving (results/study/README.md, 'Choosing the training settings')")
    r.add_argument("--prompts", type=int, default=4, help="prompts per step")
    r.add_argument("--samples-per-prompt", type=int, default=4)
    r.add_argument("--train-temperature", type=float, default=0.7)
    r.add_argument("--override", action="append", default=[], help="extra hydra override for every trained arm")
    r.add_argument("--dry-run", action="store_true", help="compose-check every trained unit; nothing is written")
    r.add_argument("--split", choices=("test", "validation"), default="test",
                   help="the split a unit is evaluated on: test for the study, validation for choosing settings")
    for s in (r, sub.choices["probe"]):
        s.add_argument("--task-dir", type=Path, default=None,
                       help="the task folder (default <study>/task; a tuning study names the study's task)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.work_dir is None:
        args.work_dir = REPO / "runs" / "study" / args.study.resolve().name
    args.work_dir = args.work_dir.resolve()
    if args.cmd == "task":
        return cmd_task(args)
    if args.cmd == "probe":
        return cmd_probe(args)
    if args.cmd == "status":
        return cmd_status(args)
    if not 0 <= args.stage1 <= args.steps:
        raise SystemExit("--stage1 must be within [0, --steps]")
    try:
        return cmd_run(args)
    except ConfigConflict as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
