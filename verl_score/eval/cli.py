"""``python -m verl_score.eval``: K-attempt self-correction eval of a checkpoint, the way the paper evaluates.

Argparse, not hydra: the eval is a plain tool with a dozen flags that is also called from a shell script around an
SGLang server; nothing here composes verl configs. Examples::

    # any OpenAI-compatible server (SGLang, vLLM, llama.cpp): greedy, 2 attempts, static paper instruction
    python -m verl_score.eval --data data/gsm8k/test.parquet --base-url http://127.0.0.1:30000/v1 \\
        --model Qwen2.5-7B-score --out-dir outputs/eval/gsm8k

    # a local transformers checkpoint through the real score_two_attempt agent loop (CPU ok for small models)
    python -m verl_score.eval --engine local --model /ckpt/hf --data test.parquet --limit 20

    # inference-time scaling (paper §6.2): 16 samples at T=0.7, each with one correction, majority vote
    python -m verl_score.eval ... --num-samples 16 --temperature 0.7

    # Student-Centered SCoRe inference: the tool-using student alone, CodeAct turns with the sandboxed interpreter
    # (the score_prefix_rollout episode with an empty prefix); accuracy, tool calls, sandbox errors, turns per source
    python -m verl_score.eval --episode codeact --data test.parquet --base-url http://127.0.0.1:30000/v1

Writes ``samples.jsonl`` (one line per episode), ``summary.json`` and ``table.md`` into ``--out-dir`` and prints the
table. Exit status 0 when at least one episode was scored (failures are reported in the summary), 2 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import math
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from verl_score.contracts.run_settings import MIN_ATTEMPTS
from verl_score.eval.data import load_samples
from verl_score.eval.engines import Engine, LocalEngine, OpenAIEngine, Sampling
from verl_score.eval.report import render_markdown
from verl_score.eval.runner import RunConfig, evaluate, write_jsonl

#: §6.2 samples at 0.7; greedy (0) is the paper's protocol otherwise.
SCALING_TEMPERATURE = 0.7

#: Default ``--max-tokens`` of a two-attempt eval: the tokens attempt 1 gets in training.
#: scripts/run_qwen2.5-7b_score.sh gives an episode data.max_response_length=3072 response tokens; the
#: score_two_attempt loop (configs/agent_loops.yaml, attempt_max_tokens null) reserves 83 for the self-correction
#: turn under Qwen2.5's template and splits the rest evenly, (3072 - 83) // 2 = 1494 (verl_score.episodes.budget;
#: attempt 2 gets at least as many). Evaluating with fewer tokens than training allowed would cut answers of lengths
#: training rewarded. tests/eval/test_eval_budget.py recomputes it from the launcher and the real agent loop.
TRAIN_ATTEMPT_TOKENS = 1494
#: Default ``--max-tokens`` of a CodeAct eval: per assistant turn.
CODEACT_TURN_TOKENS = 1024


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m verl_score.eval", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="parquet written by data_preprocess/convert_parquet.py")
    p.add_argument("--out-dir", default=None, help="output folder (default outputs/eval/<timestamp>)")
    p.add_argument("--engine", choices=("openai", "local"), default="openai")
    p.add_argument("--base-url", default=None, help="OpenAI-compatible root, e.g. http://127.0.0.1:30000/v1")
    p.add_argument("--base-url-env", default=None, help="env var holding the base URL (instead of --base-url)")
    p.add_argument("--model", default="default", help="served model name (openai) or HF checkpoint dir (local)")
    p.add_argument("--api-key-env", default="VERL_SCORE_EVAL_API_KEY",
                   help="env var holding the API key (keys are never taken on the command line)")
    p.add_argument("--episode", choices=("two_attempt", "codeact"), default="two_attempt",
                   help="two_attempt: K-attempt self-correction (SCoRe); codeact: the tool-using student alone "
                        "(Student-Centered SCoRe inference, verl_score.eval.codeact)")
    p.add_argument("--max-turns", type=int, default=8, help="codeact: assistant turns per problem (the horizon)")
    p.add_argument("--num-attempts", type=int, default=2, help="K attempts per episode (paper: 2)")
    p.add_argument("--num-samples", type=int, default=1, help="m episodes per problem; >1 adds the majority vote")
    p.add_argument("--temperature", type=float, default=None,
                   help=f"default 0 (greedy) for m=1, {SCALING_TEMPERATURE} for m>1 (paper §6.2)")
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--max-tokens", type=int, default=None,
                   help=f"per attempt (default {TRAIN_ATTEMPT_TOKENS}: attempt 1's budget in training) or, with "
                        f"--episode codeact, per turn (default {CODEACT_TURN_TOKENS})")
    p.add_argument("--seed", type=int, default=None, help="base seed; each (problem, sample, attempt) derives one")
    p.add_argument("--concurrency", type=int, default=8, help="episodes in flight (and the client's request cap)")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds per request")
    p.add_argument("--max-retries", type=int, default=4, help="client retries per request")
    p.add_argument("--extra-body", default=None, help="JSON merged into every request body (server-specific)")
    p.add_argument("--guidance", default="static", help="instruction provider: static | smart | any registered")
    p.add_argument("--guidance-kwargs", default=None, help="JSON constructor kwargs of the guidance provider")
    p.add_argument("--reward-kwargs", default=None,
                   help='JSON reward_kwargs as in training, e.g. {"routes": {"openai/gsm8k": "math"}}')
    p.add_argument("--threshold", type=float, default=None, help="a reward >= this is correct (default 1.0)")
    p.add_argument("--limit", type=int, default=None, help="first N problems only")
    p.add_argument("--data-source", action="append", default=None, help="keep only this data_source (repeatable)")
    p.add_argument("--prompt-length", type=int, default=2048, help="local engine: max prompt tokens")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--quiet", action="store_true", help="do not print the table")
    return p


def _json_arg(value: str | None, name: str) -> dict[str, Any]:
    if not value:
        return {}
    try:
        out = json.loads(value)
    except json.JSONDecodeError as e:
        raise SystemExit(f"{name}: not valid JSON ({e})")
    if not isinstance(out, dict):
        raise SystemExit(f"{name}: expected a JSON object")
    return out


#: Modules whose import registers guidance providers (``smart`` lives in ``verl_score.teacher.guidance``).
GUIDANCE_PLUGINS = ("verl_score.teacher.guidance",)


def json_safe(value: Any) -> Any:
    """NaN (a conditional rate with an empty denominator: undefined, not 0) -> ``null``; bare NaN is not JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def load_guidance_plugins() -> None:
    """Import the modules that register non-static providers (``verl_score.register`` does so for training)."""
    for name in GUIDANCE_PLUGINS:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name != name:
                raise


def build_guidance(name: str, kwargs: dict[str, Any]):
    """The provider from the registry shared with the agent loop (``verl_score.contracts.guidance``)."""
    from verl_score.contracts.guidance import list_guidance_providers
    from verl_score.episodes.guidance import build_guidance_provider

    if name not in list_guidance_providers():
        load_guidance_plugins()
    return build_guidance_provider(name, **kwargs)


def build_engine(args: argparse.Namespace, sampling: Sampling,
                 guidance_kwargs: dict[str, Any]) -> tuple[Engine, Any, Any]:
    """``(engine, client or None, guidance provider)``; client and provider are kept for their statistics."""
    if args.engine == "local":
        # The agent loop looks the provider up in the same registry (and the same process-wide cache).
        provider = build_guidance(args.guidance, guidance_kwargs)
        engine = LocalEngine(args.model, num_attempts=args.num_attempts, max_tokens=sampling.max_tokens,
                             guidance=args.guidance, guidance_kwargs=guidance_kwargs, prompt_length=args.prompt_length)
        return engine, None, provider
    from verl_score.llm import LLMClient

    client = LLMClient(base_url=args.base_url, base_url_env=args.base_url_env, model=args.model,
                       api_key_env=args.api_key_env, timeout_s=args.timeout, max_retries=args.max_retries,
                       concurrency=args.concurrency, temperature=None, max_tokens=None)
    provider = build_guidance(args.guidance, guidance_kwargs)
    engine = OpenAIEngine(client, provider, _json_arg(args.extra_body, "--extra-body"))
    return engine, client, provider


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the eval; returns the summary (tests call this in-process)."""
    args = build_parser().parse_args(argv)
    if args.max_tokens is None:
        args.max_tokens = CODEACT_TURN_TOKENS if args.episode == "codeact" else TRAIN_ATTEMPT_TOKENS
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.num_attempts < 1 or args.num_samples < 1:
        raise SystemExit("--num-attempts and --num-samples must be >= 1")
    if args.engine == "local" and args.episode == "two_attempt" and args.num_attempts < MIN_ATTEMPTS:
        # the local engine runs the training's SCoRe agent loop, whose K has the run's range; a one-attempt baseline
        # is an OpenAI-compatible server run (no loop, no instruction turn)
        raise SystemExit(f"--engine local runs the SCoRe agent loop: --num-attempts must be >= {MIN_ATTEMPTS} "
                         "(--num-attempts 1 baselines run against a served model)")
    temperature = args.temperature
    if temperature is None:
        temperature = SCALING_TEMPERATURE if args.num_samples > 1 else 0.0
    if args.num_samples > 1 and temperature == 0:
        raise SystemExit("--num-samples > 1 with greedy decoding gives m identical episodes; set --temperature > 0")
    sampling = Sampling(temperature=temperature, top_p=args.top_p, max_tokens=args.max_tokens, seed=args.seed)
    out_dir = Path(args.out_dir or f"outputs/eval/{time.strftime('%Y%m%d-%H%M%S')}")

    samples = load_samples(args.data, limit=args.limit,
                           data_sources=set(args.data_source) if args.data_source else None)
    if not samples:
        raise SystemExit(f"{args.data}: no rows selected")
    if args.episode == "codeact":
        return _main_codeact(args, samples, sampling, temperature, out_dir)
    guidance_kwargs = _json_arg(args.guidance_kwargs, "--guidance-kwargs")
    engine, client, provider = build_engine(args, sampling, guidance_kwargs)
    cfg = RunConfig(num_attempts=args.num_attempts, num_samples=args.num_samples, sampling=sampling,
                    concurrency=args.concurrency, reward_kwargs=_json_arg(args.reward_kwargs, "--reward-kwargs"),
                    progress=not args.no_progress,
                    **({"threshold": args.threshold} if args.threshold is not None else {}))
    records, summary = asyncio.run(evaluate(samples, engine, cfg))
    summary["config"] = {
        "data": str(args.data), "engine": args.engine, "model": args.model, "guidance": args.guidance,
        "endpoint": client.endpoint if client is not None else None, "temperature": temperature,
        "top_p": args.top_p, "max_tokens": args.max_tokens, "seed": args.seed, "limit": args.limit,
    }
    if client is not None:
        summary["client_stats"] = client.stats.snapshot()
    if provider is not None and hasattr(provider, "metrics"):  # SMART: accepted / rejected / failed hint counts
        summary["guidance_provider"] = provider.metrics()

    return _write_outputs(records, summary, render_markdown(summary), out_dir, args.quiet)


def _main_codeact(args: argparse.Namespace, samples: list, sampling: Sampling, temperature: float,
                  out_dir: Path) -> dict[str, Any]:
    """``--episode codeact``: one tool-using episode per problem (no attempts, no guidance)."""
    from verl_score.eval.codeact import (LocalCodeActEngine, OpenAICodeActEngine, evaluate_codeact,
                                         render_codeact_markdown)

    if args.num_samples != 1 or args.num_attempts != 2 or args.guidance != "static":
        raise SystemExit("--episode codeact runs one episode per problem: drop --num-samples/--num-attempts/--guidance")
    client = None
    if args.engine == "local":
        engine: Any = LocalCodeActEngine(args.model, max_turns=args.max_turns, max_tokens=args.max_tokens,
                                         prompt_length=args.prompt_length)
    else:
        from verl_score.llm import LLMClient

        client = LLMClient(base_url=args.base_url, base_url_env=args.base_url_env, model=args.model,
                           api_key_env=args.api_key_env, timeout_s=args.timeout, max_retries=args.max_retries,
                           concurrency=args.concurrency, temperature=None, max_tokens=None)
        engine = OpenAICodeActEngine(client, max_turns=args.max_turns,
                                     extra_params=_json_arg(args.extra_body, "--extra-body"))
    records, summary = asyncio.run(evaluate_codeact(
        samples, engine, sampling, concurrency=args.concurrency,
        reward_kwargs=_json_arg(args.reward_kwargs, "--reward-kwargs"),
        threshold=args.threshold if args.threshold is not None else 1.0, progress=not args.no_progress))
    summary["config"] = {"data": str(args.data), "engine": args.engine, "model": args.model, "episode": "codeact",
                         "endpoint": client.endpoint if client is not None else None, "temperature": temperature,
                         "max_tokens": args.max_tokens, "max_turns": args.max_turns, "limit": args.limit}
    if client is not None:
        summary["client_stats"] = client.stats.snapshot()
    return _write_outputs(records, summary, render_codeact_markdown(summary), out_dir, args.quiet)


def _write_outputs(records: list, summary: dict[str, Any], table: str, out_dir: Path, quiet: bool) -> dict[str, Any]:
    """The run's three files (``samples.jsonl``, ``summary.json``, ``table.md``), the same for every episode kind
    so that downstream readers need not know which one ran; returns ``summary`` with ``out_dir`` added."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_jsonl(records, out_dir / "samples.jsonl")
    (out_dir / "summary.json").write_text(json.dumps(json_safe(summary), indent=2, sort_keys=True, default=str,
                                                     allow_nan=False) + "\n")
    (out_dir / "table.md").write_text(table)
    if not quiet:
        print(table)
        print(f"wrote {out_dir}/samples.jsonl, summary.json, table.md")
    summary["out_dir"] = str(out_dir)
    return summary


def cli(argv: Sequence[str] | None = None) -> int:
    summary = main(argv)
    if summary["n_scored"] == 0:
        print(f"no episode could be scored ({summary['failed']} failed)", file=sys.stderr)
        return 2
    return 0
