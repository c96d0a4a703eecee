"""``--engine local``: a transformers checkpoint through the REAL ``score_two_attempt`` agent loop (token-level, the
training episode code) behind ``LocalServerManager``. The tiny random Qwen2 writes garbage, but the conversation,
the guidance plumbing and the failure-free scoring path are the real ones."""

from __future__ import annotations

import asyncio

import pytest

from verl_score.contracts.guidance import Guidance, register_guidance
from verl_score.eval.data import load_samples
from verl_score.eval.engines import LocalEngine, Sampling
from verl_score.eval.runner import RunConfig, evaluate
from verl_score.prompts import MATH_SELF_CORRECTION


@register_guidance("eval_test_local_hint")
class LocalHint:
    name = "eval_test_local_hint"
    max_text_tokens = 16

    async def instruction(self, problem_messages, previous_attempt_text, task, *, attempt, previous_attempts):
        assert len(previous_attempts) == attempt - 1  # sees previous attempts only, never the ground truth
        return Guidance(f"Re-check step {attempt - 1}.", "eval_test_local_hint")


def run(engine, samples, k=2):
    cfg = RunConfig(num_attempts=k, sampling=Sampling(temperature=0.0, max_tokens=4), concurrency=2, progress=False)
    return asyncio.run(evaluate(samples, engine, cfg))


@pytest.mark.integration
def test_local_engine_runs_the_agent_loop(assets, gsm8k_parquet):
    samples = load_samples(gsm8k_parquet, limit=2)
    engine = LocalEngine(str(assets["tiny_qwen"]), num_attempts=2, max_tokens=4, num_threads=1)
    records, summary = run(engine, samples)
    assert engine.server_manager.calls == 4  # 2 problems x 2 attempts, through verl's generate contract
    assert summary["n_scored"] == 2 and summary["failed"] == 0
    assert sum(summary["overall"]["transitions"].values()) == 2
    for rec, s in zip(records, samples):
        assert rec["status"] == "ok" and rec["requests"] is None  # token-level engine: no chat requests
        t1, t2 = (a["text"] for a in rec["attempts"])
        assert rec["conversation"] == s.prompt + [{"role": "assistant", "content": t1},
                                                  {"role": "user", "content": MATH_SELF_CORRECTION},
                                                  {"role": "assistant", "content": t2}]
        assert rec["guidance"] == [{"source": "static", "text": MATH_SELF_CORRECTION}]
        assert all(a["finish_reason"] in ("stop", "length") for a in rec["attempts"])
        # the policy's own tokens per attempt (max_tokens=4; a stopped attempt counts its end-of-turn token)
        assert all(1 <= a["num_tokens"] <= 4 + 1 for a in rec["attempts"])
        assert all(a["num_tokens"] >= 4 for a in rec["attempts"] if a["finish_reason"] == "length")

    hint = LocalEngine(str(assets["tiny_qwen"]), num_attempts=3, max_tokens=4, guidance="eval_test_local_hint",
                       generator=engine.generator)  # share the loaded weights
    records, summary = run(hint, samples[:1], k=3)
    rec = records[0]
    assert [g["text"] for g in rec["guidance"]] == ["Re-check step 1.", "Re-check step 2."]
    assert [m["content"] for m in rec["conversation"] if m["role"] == "user"][-2:] == [
        "Re-check step 1.", "Re-check step 2."]
    assert len(rec["attempts"]) == 3 and summary["overall"]["num_attempts"] == 3
    assert summary["guidance"] == {"eval_test_local_hint": {"n": 1, "acc_last": 0.0}}


def test_local_engine_refuses_a_k_outside_the_runs_range(tmp_path):
    """--engine local runs the SCoRe agent loop, whose K has the one range (>= MIN_ATTEMPTS); refused before any
    model is loaded. A one-attempt baseline is a served-model run."""
    from verl_score.contracts.run_settings import MIN_ATTEMPTS
    from verl_score.eval.cli import main

    with pytest.raises(SystemExit, match=f"--num-attempts must be >= {MIN_ATTEMPTS}"):
        main(["--engine", "local", "--model", str(tmp_path / "no-model"), "--data", str(tmp_path / "none.parquet"),
              "--num-attempts", "1", "--out-dir", str(tmp_path / "out")])
