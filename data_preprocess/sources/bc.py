"""Behaviour-cloning cold-start trajectories (``python -m verl_score.teacher.bc_init``) -> SFT data only: the verl
multi-turn ``messages`` parquet and the LLaMA-Factory sharegpt export (the paper's ``BC_init.yaml`` stage).

The records are ``mps_trajectory_v1`` (the teacher solved alone: no correction, ``verified_prefix_len ==
len(steps)``), so every check and the rendering are the MPS source's; only the split differs: BC data is SFT, all
of it, and it never becomes RL rows. ``--disjoint-with`` keeps the cold-start problems out of later MPS output (the
paper draws BC and MPS problems from disjoint parts of the pool).
"""

from __future__ import annotations

import argparse

from data_preprocess.core import Example, Report
from data_preprocess.sources import register_source
from data_preprocess.sources.mps import MPS


@register_source("bc")
class BC(MPS):
    help = "BC cold-start trajectory jsonl (verl_score.teacher.bc_init) -> SFT parquet + LLaMA-Factory sharegpt"
    default_target = "plain"
    targets = ("plain",)
    llamafactory_name = "bc_init"

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--disjoint-with",
            nargs="*",
            default=[],
            metavar="PATH",
            help="earlier outputs (parquet, sharegpt json) whose problems must not appear in this run's output",
        )

    def postprocess(self, examples: list[Example], report: Report) -> list[Example]:
        self.sft = list(self._drop_disjoint(examples, report))
        report.rows_per_split["sft"] = len(self.sft)
        return []  # no RL rows: the cold start is supervised only

