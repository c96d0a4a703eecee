#!/usr/bin/env python
"""The self-correction study's task (issue #25): a mixture of reasoning-gym arithmetic families, split by canonical
problem group into train / validation / test, written as the converter's parquet.

    python data_preprocess/study_task.py --out-dir results/study/task                       # the chosen mixture
    python data_preprocess/study_task.py --out-dir /tmp/cands --families all                # every candidate family

Why a module of its own and not ``convert_parquet.py reasoning_gym``: the converter generates one configuration per
task and carves splits by problem text; the study needs several configurations of one task (``basic_arithmetic``
with one and two digits) and a split by **canonical group** (``canonical.py``: same operands up to order and same
operators, across generators), so that no commuted or rephrased twin of a held-out problem is trained on. Everything
else is the converter's code, not a copy: rows come from its ``reasoning_gym`` source (same prompt, same gold
checks), then ``core.validate``, ``core.dedup``, ``core.to_verl_row`` and ``core.write_parquet``.

Splits: a group's split is a function of ``sha256(seed, group key)`` alone (``test`` below ``test_frac``,
``validation`` below ``test_frac + val_frac``, else ``train``), so a group never straddles, a family's split does not
depend on which other families are built, and the same seed gives the same files. The validation carving is the
train side's: the families were chosen on it, never on ``test``. Each row's ``extra_info`` carries ``family`` and
``group``; ``extra_info.id`` is ``<family>/<n>``. ``manifest.json`` records families, sizes per split and family,
seed, fractions and each file's sha256 (the study's units fingerprint the task by it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

if __package__ in (None, ""):  # run as a script: make the repo root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from data_preprocess.canonical import canonical_key, expression_of  # noqa: E402
from data_preprocess.core import AGENT_FOR_TARGET, Example, dedup, to_verl_row, validate, write_parquet  # noqa: E402

SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class Family:
    """One generator configuration. ``size`` items are generated (then deduplicated: small families are exhausted,
    e.g. 3,000 draws of the 242 one-digit ``+``/``-`` sums give all of them)."""

    name: str
    task: str
    config: tuple[str, ...]  # --rg-config KEY=VALUE pairs of the converter's reasoning_gym source
    size: int
    title: str


_NO_NEG = ("allow_negation=false", "allow_parentheses=false")
#: Candidate families (basic_arithmetic operands run 0 .. 10**digits inclusive; chain_sum / products 0 .. 9).
CANDIDATES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("add_sub_1d", "basic_arithmetic",
               ("min_digits=1", "max_digits=1", "operators=+,-", "min_terms=2", "max_terms=2", *_NO_NEG), 3000,
               "basic_arithmetic, one digit, +/-, 2 terms"),
        Family("chain_1d", "chain_sum", ("min_digits=1", "max_digits=1", "min_terms=2", "max_terms=2"), 3000,
               "chain_sum, one digit, +/-, 2 terms"),
        Family("mul_1d", "products", ("min_digits=1", "max_digits=1", "min_terms=2", "max_terms=2"), 3000,
               "products, one digit, *, 2 terms"),
        Family("add_2d", "basic_arithmetic",
               ("min_digits=2", "max_digits=2", "operators=+", "min_terms=2", "max_terms=2", *_NO_NEG), 800,
               "basic_arithmetic, two digits, +, 2 terms"),
        Family("add_1d_3t", "basic_arithmetic",
               ("min_digits=1", "max_digits=1", "operators=+", "min_terms=3", "max_terms=3", *_NO_NEG), 800,
               "basic_arithmetic, one digit, +, 3 terms"),
        Family("add_sub_12d", "basic_arithmetic",
               ("min_digits=1", "max_digits=2", "operators=+,-", "min_terms=2", "max_terms=2", *_NO_NEG), 800,
               "basic_arithmetic, one or two digits, +/-, 2 terms"),
    )
}  # fmt: skip


def group_split(key: str, seed: int, test_frac: float, val_frac: float) -> str:
    """The split of a canonical group: a pure function of (seed, key), uniform in [0, 1) by sha256."""
    u = int.from_bytes(hashlib.sha256(f"{seed}\0{key}".encode()).digest()[:8], "big") / 2.0**64
    return "test" if u < test_frac else "validation" if u < test_frac + val_frac else "train"


def family_examples(fam: Family, seed: int, math_prompt: str = "system") -> list[Example]:
    """The family's rows through the converter's reasoning_gym source (its prompt, gold checks and validation)."""
    from data_preprocess.sources import get_source

    args = argparse.Namespace(rg_tasks=fam.task, rg_config=list(fam.config), size=fam.size, seed=seed,
                              math_prompt=math_prompt, input=None)
    source = get_source("reasoning_gym")(args)
    out = []
    for raw in source.rows():
        ex = source.convert(raw)
        ex.origin = (raw.file, raw.row)
        validate(ex)
        out.append(ex)
    return out


def build(families: Sequence[Family], seed: int, test_frac: float, val_frac: float) -> list[Example]:
    """Every family's distinct problems with ``split``, ``extra['family']`` and ``extra['group']`` set.

    Dedup runs over the whole mixture (a problem text generated by two families is kept once, in the first family
    listed). A family's generator seed is ``seed`` plus an offset from its name, so its items do not depend on which
    other families are built."""
    examples: list[Example] = []
    for fam in families:
        fam_seed = seed + int.from_bytes(hashlib.sha256(fam.name.encode()).digest()[:3], "big")
        exs = family_examples(fam, fam_seed)
        for i, ex in enumerate(exs):
            key = canonical_key(expression_of(ex.problem, ex.extra.get("rg_entry")))
            ex.extra = {**ex.extra, "family": fam.name, "group": key}
            ex.source_id = f"{fam.name}/{i}"
        examples.extend(exs)
    examples, _ = dedup(examples)
    for ex in examples:
        ex.split = group_split(ex.extra["group"], seed, test_frac, val_frac)
    return examples


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write(examples: Sequence[Example], out_dir: Path, families: Sequence[Family], seed: int, test_frac: float,
          val_frac: float, target: str = "score") -> dict:
    """``<split>.parquet`` for the three splits and ``manifest.json``; returns the manifest."""
    agent = AGENT_FOR_TARGET[target]
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest: dict = {"seed": seed, "test_frac": test_frac, "val_frac": val_frac, "target": target,
                      "families": [asdict(f) for f in families], "splits": {}, "files": {}}
    for split in SPLITS:
        rows = [ex for ex in examples if ex.split == split]
        path = out_dir / f"{split}.parquet"
        write_parquet([to_verl_row(ex, i, agent) for i, ex in enumerate(rows)], path)
        manifest["splits"][split] = {
            "problems": len(rows),
            "groups": len({ex.extra["group"] for ex in rows}),
            "per_family": dict(sorted(Counter(ex.extra["family"] for ex in rows).items())),
        }
        manifest["files"][path.name] = sha256_file(path)
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def write_probe(out_dir: Path, per_family: int) -> Path:
    """``validation_probe.parquet``: the first ``per_family`` validation rows of each family (file order), for
    measuring the base model per family before choosing the mixture; the schema is the validation file's."""
    import pyarrow.parquet as pq

    table = pq.read_table(out_dir / "validation.parquet")
    seen: Counter = Counter()
    keep = []
    for i, info in enumerate(table.column("extra_info").to_pylist()):
        if seen[info["family"]] < per_family:
            seen[info["family"]] += 1
            keep.append(i)
    path = out_dir / "validation_probe.parquet"
    pq.write_table(table.take(keep), path)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out-dir", type=Path, required=True)
    p.add_argument("--families", default="all", help=f"comma-separated, or all; candidates: {', '.join(CANDIDATES)}")
    p.add_argument("--seed", type=int, default=25)
    p.add_argument("--test-frac", type=float, default=0.13, help="share of canonical groups held out for test")
    p.add_argument("--val-frac", type=float, default=0.12, help="share of groups carved for validation (train side)")
    p.add_argument("--probe-per-family", type=int, default=0,
                   help="also write validation_probe.parquet: this many validation problems of each family")
    args = p.parse_args(argv)
    names = list(CANDIDATES) if args.families == "all" else [f.strip() for f in args.families.split(",") if f.strip()]
    unknown = sorted(set(names) - set(CANDIDATES))
    if unknown:
        raise SystemExit(f"unknown families {unknown}; candidates: {list(CANDIDATES)}")
    fams = [CANDIDATES[n] for n in names]
    exs = build(fams, args.seed, args.test_frac, args.val_frac)
    manifest = write(exs, args.out_dir, fams, args.seed, args.test_frac, args.val_frac)
    if args.probe_per_family:
        write_probe(args.out_dir, args.probe_per_family)
    print(json.dumps(manifest["splits"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
