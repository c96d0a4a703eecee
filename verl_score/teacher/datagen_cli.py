"""The command-line pieces the two trajectory generators share (``teacher.mps`` and ``teacher.bc_init``).

Both read problems, talk to one or two endpoints given by role, write an append-only jsonl through ``run_datagen``
and end the same way: a JSON summary on stdout, and exit code 1 when infrastructure failures left problems unwritten
(a re-run retries exactly those). Kept here once so that the two CLIs cannot drift apart in what an option means or
in when they fail. It does not import ``teacher.mps`` (which imports it), so the run itself is passed in.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from typing import Any, Coroutine, Iterable, Mapping

from verl_score.llm import LLMClient
from verl_score.teacher.config import client_config_for_role, load_yaml_section

__all__ = ["add_client_args", "add_datagen_args", "client_from_args", "load_cli_config", "run_and_report",
           "section_with_overrides"]


def add_datagen_args(p: argparse.ArgumentParser, config_help: str) -> None:
    """The options every generator has first: where problems come from and go to, the YAML, and how many at once."""
    p.add_argument("--input", required=True, help="verl parquet (convert_parquet.py) or jsonl of problems")
    p.add_argument("--output", required=True, help="trajectory jsonl (append-only; resumed if it exists)")
    p.add_argument("--config", help=config_help)
    p.add_argument("--limit", type=int, help="first N problems only")
    p.add_argument("--concurrency", type=int)


def add_client_args(p: argparse.ArgumentParser, role: str) -> None:
    """``--{role}-base-url/-model/-timeout/-max-retries``: the endpoint of one role, over its YAML and env vars."""
    p.add_argument(f"--{role}-base-url", help=f"default ${role.upper()}_API_BASE")
    p.add_argument(f"--{role}-model", help=f"default ${role.upper()}_MODEL")
    p.add_argument(f"--{role}-timeout", type=float)
    p.add_argument(f"--{role}-max-retries", type=int)


def load_cli_config(args: argparse.Namespace) -> dict[str, Any]:
    """Logging set up for a CLI run, and the whole YAML of ``--config`` (``{}`` without one)."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return load_yaml_section(args.config) if args.config else {}


def section_with_overrides(cfg: Mapping[str, Any], name: str, args: argparse.Namespace,
                           keys: Iterable[str]) -> dict[str, Any]:
    """The YAML section ``name`` with each of ``keys`` replaced by its command-line value where one was given."""
    section = dict(cfg.get(name) or {})
    for key in keys:
        val = getattr(args, key)
        if val is not None:
            section[key] = val
    return section


def client_from_args(role: str, cfg: Mapping[str, Any], args: argparse.Namespace, **fixed: Any) -> LLMClient:
    """The client of ``role``: its YAML ``<role>.client`` section, then ``fixed`` (what the caller's protocol
    requires), then the ``--{role}-*`` options (see ``add_client_args``)."""
    section = {**dict((cfg.get(role) or {}).get("client") or {}), **fixed}
    overrides = {"base_url": getattr(args, f"{role}_base_url"), "model": getattr(args, f"{role}_model"),
                 "timeout_s": getattr(args, f"{role}_timeout"), "max_retries": getattr(args, f"{role}_max_retries")}
    return LLMClient(client_config_for_role(role, section, **overrides))


def run_and_report(datagen: Coroutine[Any, Any, dict[str, Any]], solver: Any, clients: Mapping[str, LLMClient]) -> int:
    """Run ``datagen`` (a ``run_datagen(...)`` call), close the solver, print the summary with each client's stats
    (``<role>_client``) and return the exit code: 1 when problems were left unwritten for a re-run to retry."""
    try:
        summary = asyncio.run(datagen)
    finally:
        solver.close()
    for role, client in clients.items():
        summary[f"{role}_client"] = client.stats.snapshot()
    print(json.dumps(summary, sort_keys=True), flush=True)
    if summary["unwritten"]:
        print(f"{sum(summary['unwritten'].values())} problem(s) not written because of infrastructure failures "
              f"{summary['unwritten']}; re-run the same command to retry them", file=sys.stderr)
        return 1
    return 0
