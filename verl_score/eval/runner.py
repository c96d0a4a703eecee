"""Run K-attempt episodes for every (problem, parallel sample), score each attempt, and keep one record per episode.

Scoring goes through ``verl_score.rewards.score_fn.score_attempts`` (the training reward, each attempt on its own
text), so an eval number and a training number mean the same thing. Failures are first-class outcomes, never a 0:

* ``generation_failed``: the engine raised (the client already retried); no attempt is scored.
* ``reward_failed``: a verifier could not decide (judge down, sandbox broken, verify timeout).

Both are excluded from the metrics and counted in the summary's ``failed``; silently scoring them 0 would read as
"the model got it wrong" and bias Acc@t1/Acc@t2 and the transitions.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from verl_score.eval.data import EvalSample, to_plain
from verl_score.eval.engines import Engine, Episode, Sampling
from verl_score.metrics import CORRECT_THRESHOLD, edit_distance_ratio

logger = logging.getLogger(__name__)

OK, GENERATION_FAILED, REWARD_FAILED = "ok", "generation_failed", "reward_failed"


@dataclass(frozen=True)
class RunConfig:
    num_attempts: int = 2
    num_samples: int = 1  # m parallel episodes per problem (inference-time scaling, paper §6.2)
    sampling: Sampling = Sampling()
    concurrency: int = 8
    reward_kwargs: Mapping[str, Any] | None = None
    threshold: float = CORRECT_THRESHOLD
    progress: bool = True


def transition(correct_first: bool, correct_last: bool) -> str:
    """``c2c`` / ``c2i`` / ``i2c`` / ``i2i`` (first attempt -> last attempt), the names used in metrics.py."""
    return ("c" if correct_first else "i") + "2" + ("c" if correct_last else "i")


async def score_episode(sample: EvalSample, texts: Sequence[str], reward_kwargs: Mapping[str, Any] | None,
                        threshold: float) -> tuple[list[dict[str, Any]], bool]:
    """Per-attempt ``{reward, correct, answer, reason, reward_failed}`` and whether any check failed."""
    from verl_score.contracts.keys import ATTEMPT_TEXTS
    from verl_score.rewards.score_fn import score_attempts

    extra = {**sample.extra_info, ATTEMPT_TEXTS: list(texts)}
    results = await score_attempts(sample.data_source, texts[-1], sample.ground_truth, extra,
                                   **dict(reward_kwargs or {}))
    out = []
    for r in results:
        a: dict[str, Any] = {
            "reward": float(r.score),
            "correct": bool(float(r.score) >= threshold),
            "reason": r.extra.get("reason"),
            "reward_failed": bool(r.failed),
        }
        if "answer" in r.extra:  # answer-extracting modules (math, exact_match); None = no answer found
            a["answer"] = None if r.extra["answer"] is None else str(r.extra["answer"])
        out.append(a)
    return out, any(r.failed for r in results)


def build_record(sample: EvalSample, sample_index: int, episode: Episode | None, scored: list[dict[str, Any]] | None,
                 status: str, error: str | None) -> dict[str, Any]:
    """The jsonl line of one episode.

    ``uid, index, sample`` (problem id, parquet row, parallel-sample number), ``data_source, task, ground_truth``,
    ``status`` (ok / generation_failed / reward_failed) and ``error``; when the episode ran: ``attempts`` (per
    attempt ``text, finish_reason, reward, correct, reason, reward_failed``, ``answer`` for answer-extracting
    reward modules and ``num_tokens`` where the engine counts them), ``guidance`` (``source, text`` per instruction turn), ``conversation`` (the full chat),
    ``requests`` (the message list sent for each attempt; ``None`` for the token-level local engine),
    ``edit_distance_ratio`` (first vs last attempt); when scored: ``transition`` (c2c/c2i/i2c/i2i) and
    ``answer_changed``.
    """
    rec: dict[str, Any] = {
        "uid": sample.uid,
        "index": sample.index,
        "sample": sample_index,
        "data_source": sample.data_source,
        "task": sample.task,
        "ground_truth": to_plain(sample.ground_truth),
        "status": status,
        "error": error,
    }
    if episode is not None:
        attempts = []
        for k, text in enumerate(episode.attempt_texts):
            finish = episode.finish_reasons[k] if k < len(episode.finish_reasons) else None
            a: dict[str, Any] = {"attempt": k + 1, "text": text, "finish_reason": finish}
            if k < len(episode.num_tokens):
                a["num_tokens"] = episode.num_tokens[k]
            if scored is not None:
                a.update(scored[k])
            attempts.append(a)
        rec["attempts"] = attempts
        rec["guidance"] = [{"source": s, "text": t} for s, t in zip(episode.guidance_sources, episode.guidance_texts)]
        rec["conversation"] = episode.conversation
        rec["requests"] = episode.requests
        first, last = episode.attempt_texts[0], episode.attempt_texts[-1]
        rec["edit_distance_ratio"] = edit_distance_ratio(first, last) if len(episode.attempt_texts) > 1 else None
    if status == OK and scored is not None:
        rec["transition"] = transition(scored[0]["correct"], scored[-1]["correct"])
        if "answer" in scored[0] and "answer" in scored[-1]:
            rec["answer_changed"] = scored[0]["answer"] != scored[-1]["answer"]
    return rec


async def run_episodes(samples: Sequence[EvalSample], engine: Engine, cfg: RunConfig) -> list[dict[str, Any]]:
    """All episodes, at most ``cfg.concurrency`` in flight, with a progress bar; records in (problem, sample) order."""
    from tqdm import tqdm

    sem = asyncio.Semaphore(cfg.concurrency)
    jobs = [(s, j) for s in samples for j in range(cfg.num_samples)]
    bar = tqdm(total=len(jobs), desc=f"eval[{engine.name}]", unit="ep", disable=not cfg.progress, dynamic_ncols=True)
    failed = 0

    async def one(sample: EvalSample, j: int) -> dict[str, Any]:
        nonlocal failed
        async with sem:
            try:
                episode = await engine.run_episode(sample, num_attempts=cfg.num_attempts, sampling=cfg.sampling,
                                                   sample_index=j)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # counted and reported; the eval goes on with the other problems
                logger.warning("episode %s/%d failed: %s", sample.uid, j, exc)
                failed += 1
                bar.set_postfix(failed=failed)
                bar.update()
                return build_record(sample, j, None, None, GENERATION_FAILED, f"{type(exc).__name__}: {exc}")
            try:
                scored, reward_failed = await score_episode(sample, episode.attempt_texts, cfg.reward_kwargs,
                                                            cfg.threshold)
            except Exception as exc:  # a verifier crash: keep the texts, count the episode, go on
                logger.warning("scoring %s/%d failed: %s", sample.uid, j, exc)
                failed += 1
                bar.set_postfix(failed=failed)
                bar.update()
                return build_record(sample, j, episode, None, REWARD_FAILED, f"{type(exc).__name__}: {exc}")
            status = REWARD_FAILED if reward_failed else OK
            if reward_failed:
                failed += 1
                bar.set_postfix(failed=failed)
            bar.update()
            reasons = [a["reason"] for a in scored if a["reward_failed"]]
            error = f"reward check failed: {reasons}" if reasons else None
            return build_record(sample, j, episode, scored, status, error)

    try:
        return list(await asyncio.gather(*(one(s, j) for s, j in jobs)))
    finally:
        bar.close()


def write_jsonl(records: Sequence[Mapping[str, Any]], path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    with Path(path).open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


async def evaluate(samples: Sequence[EvalSample], engine: Engine, cfg: RunConfig) -> tuple[list[dict], dict]:
    """Run + summarise. Returns ``(records, summary)``; the caller writes them (see ``cli.py``)."""
    from verl_score.eval.report import summarize

    start = time.monotonic()
    try:
        records = await run_episodes(samples, engine, cfg)
    finally:
        await engine.aclose()
    summary = summarize(records, num_attempts=cfg.num_attempts, num_samples=cfg.num_samples,
                        threshold=cfg.threshold)
    summary["elapsed_s"] = round(time.monotonic() - start, 3)
    return records, summary
