"""verl's ``reward.custom_reward_function``: route each row to a reward module and score every attempt separately.

YAML (verl 0.9.1 passes ``reward_kwargs`` as keyword arguments on every call)::

    reward:
      custom_reward_function:
        path: pkg://verl_score.rewards.score_fn   # or the file path verl_score/rewards/score_fn.py
        name: compute_score
        reward_kwargs:
          routes: {gsm8k: math, humaneval: code_tests, hotpotqa: llm_judge}
          default: math                      # for data sources not in routes; null = unknown source is an error
          modules:                           # constructor kwargs per module name
            code_tests: {sandbox: {timeout_s: 10, max_concurrency: 4}}
            math: {workers: 2}

A route may also be ``{name: llm_judge, kwargs: {...}}`` (its own kwargs, overriding ``modules``).

How verl calls this (``experimental/reward_loop/reward_manager/naive.py``): ``async`` functions are awaited on the
reward-loop worker's event loop, with ``extra_info`` = the row's ``extra_info`` + the agent loop's
``extra_fields`` + ``num_turns``. The returned dict's ``score`` becomes the scalar reward (on the last valid
response token) and EVERY key goes to ``reward_extra_info``. Hence the output shape is fixed:

* the same keys for every row of a batch, whatever module scored it (verl builds the batch's arrays from the
  first row's keys and indexes the others with them: a missing key is a ``KeyError``);
* numbers only (validation metrics take ``np.mean`` of each key; a string column is skipped, a mixed one
  crashes). Module details that are text (the extracted answer, error messages) stay in ``RewardResult.extra``
  for debugging via ``score_attempts``.

Keys: ``score`` (the final attempt's reward), ``acc`` (final attempt fully correct: verl's core validation
metric), ``reward_failed`` (1 if any attempt's check failed: judge down, sandbox broken, verify timeout; counted,
never a silent 0), ``answer_found`` (final attempt), and with ``extra_info["attempt_texts"]`` (K attempts from the
two-attempt agent loop, which records ``num_attempts`` beside them: a different count is refused, never guessed)
``score_t1..score_tK``, ``acc_t1..acc_tK``, ``failed_t1..failed_tK`` (that attempt's check
failed: the trainer gives the whole episode zero advantage and leaves it out of its group's statistics) and the
one-hot ``guidance_t2_{static,smart,smart_rejected,smart_failed,other}`` (where the instruction before attempt 2
came from, from the loop's ``extra_fields["guidance"]``; validation splits attempt-2 accuracy by it) and
``guidance_t2_rejected_{reason}`` (1 when that instruction was a rejected SMART hint, for each reason in
``verl_score.metrics.GUIDANCE_REJECTION_REASONS``, from ``extra_fields["guidance_reasons"]``): verl averages every
column, so validation logs each reason's rate as ``val-aux/{data_source}/guidance_t2_rejected_{reason}/mean@N``, and
the trainer's split adds ``val-core/{data_source}/score/guidance/rejected_rate/{reason}``.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any, Mapping, Sequence

from verl_score.contracts import keys
from verl_score.metrics import GUIDANCE_BUCKETS, GUIDANCE_REJECTION_REASONS, guidance_bucket
from verl_score.rewards.attempts import texts_to_score
from verl_score.rewards.base import RewardModule, RewardResult
from verl_score.rewards.registry import build_reward

_MODULES: dict[str, RewardModule] = {}
_VERL_INJECTED = ("reward_router_address", "reward_model_tokenizer")
_MODULES_LOCK = threading.Lock()


async def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: Any,
    extra_info: Mapping[str, Any] | None = None,
    **reward_kwargs: Any,
) -> dict[str, float]:
    """Score one row (all its attempts); see the module docstring for the contract."""
    for injected in _VERL_INJECTED:  # verl adds these when a reward model server is configured; not ours
        reward_kwargs.pop(injected, None)
    extra_info = dict(extra_info or {})
    results = await score_attempts(data_source, solution_str, ground_truth, extra_info, **reward_kwargs)
    per_attempt = keys.ATTEMPT_TEXTS in extra_info and extra_info[keys.ATTEMPT_TEXTS] is not None
    return summarize(results, per_attempt=per_attempt, guidance=extra_info.get(keys.GUIDANCE),
                     guidance_reasons=extra_info.get(keys.GUIDANCE_REASONS))


async def score_attempts(
    data_source: str,
    solution_str: str,
    ground_truth: Any,
    extra_info: Mapping[str, Any] | None = None,
    **reward_kwargs: Any,
) -> list[RewardResult]:
    """The module's full ``RewardResult`` per attempt (one for a single response); text details included."""
    extra_info = dict(extra_info or {})
    module = get_module(data_source, reward_kwargs)
    texts = texts_to_score(extra_info, solution_str)  # K as the episode ran it; a different count is an error
    return list(await asyncio.gather(*(module(text, ground_truth, extra_info) for text in texts)))


def summarize(results: Sequence[RewardResult], per_attempt: bool, guidance: Any = None,
              guidance_reasons: Any = None) -> dict[str, float]:
    """The fixed, numbers-only dict verl stores (see the module docstring).

    ``guidance``: the loop's per-instruction-turn sources (``extra_fields["guidance"]``); None = static.
    ``guidance_reasons``: why each of those turns fell back (``extra_fields["guidance_reasons"]``)."""
    final = results[-1]
    out = {
        keys.SCORE: float(final.score),
        keys.ACC: _correct(final),
        keys.REWARD_FAILED: float(any(r.failed for r in results)),
        # modules that do not extract (the judge reads the whole response) count as "found" unless they failed
        keys.ANSWER_FOUND: float(final.extra.get("answer_found", float(not final.failed))),
    }
    if per_attempt:
        for k, r in enumerate(results, start=1):
            out[keys.score_t(k)] = float(r.score)
            out[keys.acc_t(k)] = _correct(r)
            out[keys.failed_t(k)] = float(bool(r.failed))
        if len(results) >= 2:
            first = list(guidance)[0] if guidance is not None and len(guidance) else "static"
            bucket = guidance_bucket(first)
            for b in GUIDANCE_BUCKETS:
                out[keys.guidance_t2(b)] = float(b == bucket)
            reason = list(guidance_reasons)[0] if guidance_reasons is not None and len(guidance_reasons) else ""
            if bucket == "smart_rejected" and reason not in GUIDANCE_REJECTION_REASONS:
                reason = "other"
            for r in GUIDANCE_REJECTION_REASONS:
                out[keys.guidance_t2_rejected(r)] = float(bucket == "smart_rejected" and r == reason)
    return out


def get_module(data_source: str, reward_kwargs: Mapping[str, Any]) -> RewardModule:
    """The (cached, built once per process) module routed for ``data_source``."""
    name, kwargs = resolve_route(data_source, reward_kwargs)
    key = name + ":" + json.dumps(kwargs, sort_keys=True, default=repr)
    module = _MODULES.get(key)
    if module is None:
        with _MODULES_LOCK:  # build once even if many rows arrive concurrently (sandbox probe, math workers)
            module = _MODULES.get(key)
            if module is None:
                module = _MODULES[key] = build_reward(name, **kwargs)
    return module


def resolve_route(data_source: str, reward_kwargs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """``(module name, constructor kwargs)`` for a data source; unknown keys and sources are clear errors."""
    cfg = _plain(reward_kwargs)
    unknown = sorted(set(cfg) - {"routes", "default", "modules"})
    if unknown:
        raise ValueError(f"unknown reward_kwargs {unknown}; expected routes / default / modules")
    routes = cfg.get("routes") or {}
    modules = cfg.get("modules") or {}
    route = routes.get(data_source, cfg.get("default", "math"))
    if route is None:
        raise KeyError(f"no reward route for data_source {data_source!r} and no default; routes: {sorted(routes)}")
    if isinstance(route, str):
        return route, dict(modules.get(route) or {})
    if isinstance(route, Mapping) and isinstance(route.get("name"), str):
        extra = sorted(set(route) - {"name", "kwargs"})
        if extra:
            raise ValueError(f"route for {data_source!r} has unknown keys {extra}; use {{name, kwargs}}")
        return route["name"], {**dict(modules.get(route["name"]) or {}), **dict(route.get("kwargs") or {})}
    raise ValueError(f"route for {data_source!r} must be a module name or {{name, kwargs}}, got {route!r}")


def clear_module_cache() -> None:
    """Forget built modules (tests; a config change inside one process)."""
    with _MODULES_LOCK:
        _MODULES.clear()


def _correct(result: RewardResult) -> float:
    value = result.extra.get("correct")
    return float(value) if value is not None else float(result.score >= 1.0)


def _plain(cfg: Any) -> dict[str, Any]:
    try:
        from omegaconf import DictConfig, OmegaConf

        if isinstance(cfg, DictConfig):
            return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]
    except ImportError:  # pragma: no cover
        pass
    out = {}
    for k, v in dict(cfg).items():
        out[k] = _plain(v) if isinstance(v, Mapping) or type(v).__name__ == "DictConfig" else v
    return out
