#!/usr/bin/env python
"""Convert local / bundled datasets to verl RLHFDataset parquet, offline.

    python data_preprocess/convert_parquet.py humaneval --out-dir data/humaneval
    python data_preprocess/convert_parquet.py gsm8k --out-dir data/gsm8k            # bundled 100-problem sample
    python data_preprocess/convert_parquet.py math --input MATH/ --out-dir data/math --target score
    python data_preprocess/convert_parquet.py mbpp --input mbpp.jsonl --out-dir data/mbpp
    python data_preprocess/convert_parquet.py reasoning_gym --size 5000 --test-size 500 --out-dir data/rg
    python data_preprocess/convert_parquet.py mps --input trajectories.jsonl --out-dir data/mps

(``--dataset NAME`` works as well as the sub-command.) One ``<split>.parquet`` per split is written to ``--out-dir``;
an input file's split comes from its name or the folders below ``--input`` (``train.jsonl``,
``test-00000-of-00001.parquet``, ``test/``: ``data_preprocess/splits.py``), and a run that would have to guess one is
refused.
Every row is validated; the first bad row stops the run naming file, row and reason, unless ``--skip-invalid``.
``--target score|prefix|plain`` picks the agent loop each row names (``score_two_attempt`` / ``score_prefix_rollout``
/ ``single_turn_agent``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Sequence

if __package__ in (None, ""):  # run as a script: make the repo root importable (data_preprocess, verl_score)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from data_preprocess.core import (  # noqa: E402
    AGENT_FOR_TARGET,
    ConversionError,
    DropRow,
    Example,
    InvalidRow,
    Report,
    SchemaError,
    assign_splits,
    dedup,
    to_verl_row,
    validate,
    write_parquet,
)
from data_preprocess.ids import IdClashError, make_ids_unique  # noqa: E402
from data_preprocess.sources import Source, registered_sources  # noqa: E402
from data_preprocess.splits import (  # noqa: E402
    SplitError,
    apply_path_split,
    check_input_folder_name,
    check_splits_not_mixed,
    split_of_input_file,
)


def _add_common(p: argparse.ArgumentParser, source: type[Source]) -> None:
    p.add_argument(
        "--input",
        nargs="+",
        required=source.needs_input,
        metavar="PATH",
        help="input file(s) or folder(s)" + ("" if source.needs_input else " (default: the bundled copy)"),
    )
    p.add_argument("--out-dir", required=True, type=Path, help="folder for <split>.parquet")
    p.add_argument(
        "--target",
        choices=source.targets,
        default=source.default_target,
        help="agent loop named by each row: "
        + ", ".join(f"{t} -> {AGENT_FOR_TARGET[t]}" for t in source.targets)
        + f" (default {source.default_target})",
    )
    p.add_argument("--split", default=None, help="only write these splits (comma-separated), e.g. train,test")
    p.add_argument(
        "--default-split",
        default=None,
        help="split for input files whose name and folders name none (required when other inputs name one; "
        "otherwise the source's default, see data_preprocess/README.md)",
    )
    p.add_argument("--test-size", type=float, default=0.0, help="carve a test split: fraction in (0,1) or count")
    p.add_argument("--val-size", type=float, default=0.0, help="carve a validation split: fraction or count")
    p.add_argument("--seed", type=int, default=42, help="seed of split carving and generators (default 42)")
    p.add_argument("--no-dedup", action="store_true", help="keep duplicate problems (default: drop, count them)")
    p.add_argument("--skip-invalid", action="store_true", help="drop invalid rows and count them per reason")
    p.add_argument("--limit", type=int, default=None, help="stop after this many input rows (quick looks)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    source.add_arguments(p)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="convert_parquet.py",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run '<dataset> --help' for a dataset's own flags.",
    )
    sub = parser.add_subparsers(dest="dataset", required=True, metavar="DATASET")
    for name, cls in sorted(registered_sources().items()):
        _add_common(sub.add_parser(name, help=cls.help, description=cls.__doc__), cls)
    return parser


def _normalize_argv(argv: Sequence[str]) -> list[str]:
    """Accept ``--dataset NAME`` / ``--dataset=NAME`` anywhere as an alias of the sub-command."""
    argv = list(argv)
    for i, a in enumerate(argv):
        if a == "--dataset" and i + 1 < len(argv):
            return [argv[i + 1], *argv[:i], *argv[i + 2 :]]
        if a.startswith("--dataset="):
            return [a.split("=", 1)[1], *argv[:i], *argv[i + 1 :]]
    return argv


def run(argv: Sequence[str] | None = None) -> Report:
    """Parse ``argv``, convert, write; returns the :class:`Report`. Raises ``ConversionError`` on a bad row."""
    from tqdm import tqdm

    args = build_parser().parse_args(_normalize_argv(sys.argv[1:] if argv is None else argv))
    source = registered_sources()[args.dataset](args)
    report = Report()
    t0 = time.perf_counter()

    examples: list[Example] = []
    # bundled copies (no --input) and trajectory sources take no split from their path (splits.py)
    path_splits = source.path_splits and bool(args.input)
    total = source.total()
    if args.limit is not None and total is not None:
        total = min(total, args.limit)
    bar = tqdm(total=total, desc=f"{args.dataset}", unit="row", disable=args.quiet, file=sys.stderr)
    for raw in source.rows():
        if args.limit is not None and report.rows_in >= args.limit:
            break
        report.rows_in += 1
        bar.update(1)
        try:
            if raw.error is not None:
                reason, _, detail = raw.error.partition(": ")
                raise InvalidRow(reason, detail)
            ex = source.convert(raw)
            ex.origin = (raw.file, raw.row)
            if path_splits:  # only the path below the --input folder counts (splits.py)
                root = source.input_roots.get(raw.file)
                apply_path_split(ex, split_of_input_file(raw.file, root))
                if ex.split is None:
                    check_input_folder_name(raw.file, root, args.default_split)
            validate(ex)
        except DropRow as d:
            report.dropped[d.reason] += 1
            continue
        except InvalidRow as e:
            if not args.skip_invalid:
                bar.close()
                raise ConversionError(raw.file, raw.row, e.reason, e.detail) from None
            report.skipped[e.reason] += 1
            continue
        examples.append(ex)
    bar.close()

    check_splits_not_mixed(examples, args.default_split)
    if not args.no_dedup:
        examples, report.dedup_removed = dedup(examples)
    report.id_prefix = make_ids_unique(examples)
    examples = source.postprocess(examples, report)
    assign_splits(
        examples, args.default_split or source.default_split_name(), args.test_size, args.val_size, args.seed
    )

    wanted = set(args.split.split(",")) if args.split else None
    by_split: dict[str, list[Example]] = {}
    for ex in examples:
        if wanted is None or ex.split in wanted:
            by_split.setdefault(str(ex.split), []).append(ex)
    if wanted:
        missing = wanted - set(by_split)
        if missing:
            print(f"warning: no rows for split(s) {sorted(missing)}", file=sys.stderr)

    agent = AGENT_FOR_TARGET[args.target]
    for split, exs in sorted(by_split.items()):
        path = args.out_dir / f"{split}.parquet"
        write_parquet([to_verl_row(ex, i, agent) for i, ex in enumerate(exs)], path)
        report.rows_per_split[split] = len(exs)
        report.outputs.append(str(path))
    source.write_extra(args.out_dir, report)
    report.seconds = time.perf_counter() - t0
    if not args.quiet:
        print(report.table())
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """CLI wrapper: user errors print one clear message and exit 2 (no traceback)."""
    try:
        run(argv)
    except (ConversionError, SchemaError, SplitError, IdClashError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
