"""The fully composed hydra config of every launcher variant, as a machine-independent plain dict.

Each launcher in ``scripts/`` is run by bash in its argument dry run (``VERL_SCORE_COMPOSE_ONLY=args``,
scripts/lib/verl_entry.sh: prints the entry point and the exact arguments it would hand verl), and the arguments are
composed in-process the way verl composes them (:func:`verl_score.config_check.compose`). The result is resolved where
it can be (an interpolation that cannot resolve here stays as its ``${...}`` text) and normalised so that it does not
depend on the machine: the temporary, asset-cache, repository and home folders become ``<TMP>``, ``<CACHE>``, ``<REPO>``, ``<HOME>``, and the
CPU precision is pinned (``VERL_SCORE_CPU_PRECISION=fp32``; the bf16 variant only where the processor has bf16
kernels, see :data:`MACHINE_DEPENDENT`).

The snapshots in tests/data/compositions/ are what refactors of configs/ and scripts/ must keep
(tests/test_compositions.py diffs them key by key):

    python -m testkit.compose_launchers --write          # (re)write every snapshot
    python -m testkit.compose_launchers --check          # diff against them, print the differing keys
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
SNAPSHOTS = REPO / "tests" / "data" / "compositions"

#: launcher -> {variant name: environment}. The environment-variable knobs each launcher documents.
VARIANTS: dict[str, dict[str, dict[str, str]]] = {
    "run_tiny_grpo_cpu.sh": {"default": {}, "lora16": {"LORA_RANK": "16"}},
    "run_tiny_score_cpu.sh": {"default": {}, "lora16": {"LORA_RANK": "16"}, "bf16": {"VERL_SCORE_CPU_PRECISION": "bf16"}},
    "run_tiny_score_rl_cpu.sh": {"default": {}},
    "run_smollm2_score_cpu.sh": {"default": {}, "lora16": {"LORA_RANK": "16"}, "anchored": {"GRADER": "anchored"}},
    "run_qwen2.5-7b_score.sh": {
        "default": {},
        "code": {"TASK": "code"},
        "ppo": {"ALGO": "ppo"},
        "ppo_code": {"ALGO": "ppo", "TASK": "code"},
        "smart": {"GUIDANCE": "smart"},
        "smart_code": {"GUIDANCE": "smart", "TASK": "code"},
        "lora16": {"LORA_RANK": "16"},
        "vllm": {"ROLLOUT": "vllm"},
        "steps": {"STAGE1_STEPS": "300", "TOTAL_STEPS": "900"},
    },
    "run_qwen2.5-7b_score_rl.sh": {"default": {}, "lora16": {"LORA_RANK": "16"}},
    "run_score_sft.sh": {"default": {}},
    "run_score_sft_cpu.sh": {"default": {}},
    "run_bc_init_sft.sh": {"default": {}},
    "run_bc_init_sft_cpu.sh": {"default": {}},
}

#: (launcher, variant) -> command-line arguments the variant passes the launcher (which hands them on to verl)
VARIANT_ARGS: dict[tuple[str, str], list[str]] = {
    ("run_qwen2.5-7b_score.sh", "smart_score_math"): ["--config-name=smart_score_math"],
}
VARIANTS["run_qwen2.5-7b_score.sh"]["smart_score_math"] = {}

#: variants that compose only on some machines: name -> why (checked by :func:`available`)
MACHINE_DEPENDENT = {("run_tiny_score_cpu.sh", "bf16"): "needs a processor with bf16 kernels (verl_score/cpu/precision.py)"}

#: knobs of the launchers and their libraries: removed from the caller's environment so a snapshot is the launcher's
#: own defaults plus the variant
KNOBS = (
    "TASK", "ALGO", "GUIDANCE", "MODEL", "DATA_DIR", "RUN_DIR", "NNODES", "GPUS_PER_NODE", "STAGE1_STEPS", "STAGE2_STEPS",
    "TOTAL_STEPS", "ROLLOUT", "ROLLOUT_TP", "TRAIN_BATCH", "PROJECT", "EXPERIMENT", "LORA_RANK", "LORA_ALPHA",
    "LORA_TARGET_MODULES", "GUIDE_API_BASE", "GUIDE_MODEL", "GUIDE_MODEL_PATH", "GUIDE_GPUS", "GUIDE_ON_UNREACHABLE",
    "VERL_USE_EXTERNAL_MODULES", "VERL_SCORE_CPU_PRECISION", "VERL_SCORE_PREFLIGHT", "VERL_FILE_LOGGER_ROOT", "KL_COEF",
    "USE_KL", "LOGGER", "NPROC", "NPROC_PER_NODE", "SFT_DATA", "SFT_SOURCE", "SFT_INPUT", "MPS_INPUT", "BC_INPUT",
    "TRAIN_FILES", "VAL_FILES", "REWARD_FN", "LR", "TEMPERATURE", "PROMPTS_PER_STEP", "SAMPLES_PER_PROMPT",
    "HELDOUT_SIZE", "DATA_SEED", "RG_TASK", "RG_CONFIG", "RAY_ADDRESS", "CUDA_VISIBLE_DEVICES", "VERBOSE",
    "VERL_SCORE_COMPOSE_ONLY",
)


def variants() -> list[tuple[str, str]]:
    return [(script, name) for script, vs in VARIANTS.items() for name in vs]


def snapshot_path(script: str, variant: str) -> Path:
    return SNAPSHOTS / f"{script.removesuffix('.sh')}__{variant}.yaml"


def available(script: str, variant: str) -> str | None:
    """``None`` when the variant composes on this machine, else why not."""
    if (script, variant) in MACHINE_DEPENDENT:
        sys.path.insert(0, str(REPO / "verl_score" / "cpu"))
        try:
            from precision import cpu_bf16_flags  # the launchers run this file as a script too
        finally:
            sys.path.pop(0)
        if not cpu_bf16_flags():
            return MACHINE_DEPENDENT[(script, variant)]
    return None


def launcher_args(script: str, variant: str, tmp: Path) -> tuple[str, list[str]]:
    """(entry point, arguments) the launcher hands verl, from its own dry run."""
    env = {k: v for k, v in os.environ.items() if k not in KNOBS}
    env.update({"VERL_SCORE_COMPOSE_ONLY": "args", "RUN_DIR": str(tmp / "run"), "VERL_SCORE_CPU_PRECISION": "fp32",
                **VARIANTS[script][variant]})
    if "_cpu" in script:  # the CPU launchers convert their bundled data even in a dry run; keep it in tmp
        env["DATA_DIR"] = str(tmp / "data")
    argv = ["bash", str(REPO / "scripts" / script), *VARIANT_ARGS.get((script, variant), [])]
    proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"{script} [{variant}] dry run failed (rc {proc.returncode}):\n{proc.stderr[-3000:]}")
    entry, *args = json.loads(proc.stdout.strip().splitlines()[-1])
    return entry, args


def _resolved(node: Any) -> Any:
    """``node`` as plain containers, resolved where it can be: a value whose interpolation fails stays as text."""
    from omegaconf import DictConfig, ListConfig, OmegaConf

    if isinstance(node, DictConfig):
        return {str(k): _resolved_child(node, k) for k in node.keys()}
    if isinstance(node, ListConfig):
        return [_resolved_child(node, i) for i in range(len(node))]
    return node


def _resolved_child(parent, key) -> Any:
    from omegaconf import OmegaConf

    try:
        value = parent[key]
    except Exception:  # an interpolation that cannot resolve on this machine (or without a run)
        return OmegaConf.to_container(parent, resolve=False)[key]
    return _resolved(value)


def normalise(value: Any, replacements: list[tuple[str, str]]) -> Any:
    if isinstance(value, dict):
        return {k: normalise(v, replacements) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v, replacements) for v in value]
    if isinstance(value, str):
        for old, new in replacements:
            value = value.replace(old, new)
    return value


def compose_variant(script: str, variant: str) -> dict[str, Any]:
    """The composed config of ``script`` under ``variant`` (a plain dict with ``_entry`` = the verl entry point)."""
    from verl_score import config_check

    with tempfile.TemporaryDirectory(prefix="compose_") as tmp_s:
        tmp = Path(tmp_s).resolve()
        entry, args = launcher_args(script, variant, tmp)
        cfg = config_check.compose(entry, args)
        plain = _resolved(cfg)
        episode = episode_snapshot(cfg)
        if episode is not None:
            plain["_episode"] = episode
        from verl_score.assets import cache_dir

        # most specific first: the cache and the repository may lie under the home folder
        replacements = [(str(tmp), "<TMP>"), (str(cache_dir()), "<CACHE>"), (str(Path(cache_dir()).resolve()), "<CACHE>"),
                        (str(REPO), "<REPO>"), (os.path.expanduser("~"), "<HOME>")]
        return {"_entry": entry, **normalise(plain, replacements)}


def episode_snapshot(cfg: Any) -> dict[str, Any] | None:
    """The episode settings the SCoRe agent loops will run with (``_episode`` in a snapshot): the entries of the
    agent-loop file the config names (``agent_loops``), and K and guidance resolved by
    :func:`verl_score.contracts.run_settings.episode_settings` for ``default_agent_loop`` and every SCoRe loop entry
    (``loops``). ``None`` for a config without a ``score`` block or an agent-loop file."""
    from omegaconf import OmegaConf
    from verl.utils.import_utils import resolve_config_path

    from verl_score.contracts.cfg import to_plain
    from verl_score.contracts.run_settings import SCORE_LOOP_TARGETS, episode_settings

    if OmegaConf.select(cfg, "score") is None:
        return None
    agent = OmegaConf.select(cfg, "actor_rollout_ref.rollout.agent")
    path = agent.get("agent_loop_config_path", None) if agent is not None else None
    if not path:
        return None
    entries = to_plain(OmegaConf.load(resolve_config_path(str(path)))) or []
    by_name = {str(e.get("name")): e for e in entries if isinstance(e, dict)}
    names = [str(agent.get("default_agent_loop", None))]
    names += [n for n, e in by_name.items() if e.get("_target_") in SCORE_LOOP_TARGETS and n not in names]
    loops = {}
    for name in names:
        entry = by_name.get(name)
        if entry is None or entry.get("_target_") not in SCORE_LOOP_TARGETS:
            continue
        s = episode_settings(cfg, num_attempts=entry.get("num_attempts"), guidance=entry.get("guidance"),
                             guidance_kwargs=entry.get("guidance_kwargs"), loop=name)
        loops[name] = {"num_attempts": s.num_attempts, "guidance": s.guidance, "guidance_kwargs": s.guidance_kwargs}
    return {"agent_loops": entries, "default_agent_loop": names[0], "loops": loops}


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a.b.c": leaf}``; a list is one leaf unless it holds containers (then ``a.b[0].c``)."""
    if isinstance(value, dict):
        if not value:
            return {prefix: {}} if prefix else {}
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        out = {}
        for i, v in enumerate(value):
            out.update(flatten(v, f"{prefix}[{i}]"))
        return out
    return {prefix: value}


def diff(expected: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    """One line per key that differs (missing, extra or another value), sorted by key."""
    e, a = flatten(expected), flatten(actual)
    lines = []
    for key in sorted(e.keys() | a.keys()):
        if key not in a:
            lines.append(f"- {key}: {e[key]!r} (missing now)")
        elif key not in e:
            lines.append(f"+ {key}: {a[key]!r} (new)")
        elif e[key] != a[key] or type(e[key]) is not type(a[key]):
            lines.append(f"~ {key}: {e[key]!r} -> {a[key]!r}")
    return lines


def load_snapshot(script: str, variant: str) -> dict[str, Any]:
    return yaml.safe_load(snapshot_path(script, variant).read_text())


def write_snapshot(script: str, variant: str, cfg: dict[str, Any]) -> Path:
    path = snapshot_path(script, variant)
    path.parent.mkdir(parents=True, exist_ok=True)
    extra = VARIANT_ARGS.get((script, variant))
    header = (f"# Composed config of scripts/{script} [{variant}: {VARIANTS[script][variant] or 'defaults'}"
              f"{'; arguments ' + ' '.join(extra) if extra else ''}], written by"
              f"\n# `python -m testkit.compose_launchers --write`; tests/test_compositions.py diffs it key by key.\n")
    path.write_text(header + yaml.safe_dump(cfg, sort_keys=True, allow_unicode=True, width=120))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="(re)write the snapshots")
    mode.add_argument("--check", action="store_true", help="diff against the snapshots")
    mode.add_argument("--print", metavar="SCRIPT:VARIANT", help="print one composition as YAML")
    parser.add_argument("--only", help="only launchers whose name contains this")
    args = parser.parse_args(argv)
    if args.print:
        script, _, variant = args.print.partition(":")
        print(yaml.safe_dump(compose_variant(script, variant or "default"), sort_keys=True, allow_unicode=True))
        return 0
    failed = 0
    for script, variant in variants():
        if args.only and args.only not in script:
            continue
        why = available(script, variant)
        if why:
            print(f"skip {script} [{variant}]: {why}")
            continue
        cfg = compose_variant(script, variant)
        if args.write:
            print(f"wrote {write_snapshot(script, variant, cfg).relative_to(REPO)}")
            continue
        lines = diff(load_snapshot(script, variant), cfg)
        print(f"{'same' if not lines else 'DIFFERS'} {script} [{variant}]")
        for line in lines:
            print(f"    {line}")
        failed += bool(lines)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
