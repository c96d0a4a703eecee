"""``python -m verl_score.eval --episode codeact``: the tool-using student alone (Student-Centered SCoRe inference).

* scripted student over real loopback HTTP: tool calls, a sandbox error, turn counts and accuracy per data source
  are exactly what the script forces;
* the REAL llama.cpp server (SmolLM2-135M) through the CLI's ``main``: whatever it writes, the counters add up;
* ``--engine local``: the tiny Qwen2 through the real ``score_prefix_rollout`` agent loop with an empty prefix.
"""

from __future__ import annotations

import asyncio
import json
import math

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from testkit.fault_server import Ok, Status
from verl_score.eval.cli import main
from verl_score.contracts.steps import MPS_SYSTEM

PROBLEMS = [  # (data_source, question, gold)
    ("src_a", "What is 3 + 4 * 2?", "11"),  # two tool calls, right
    ("src_a", "What is 10 / 0 plus one?", "7"),  # a cell that raises, then a wrong answer
    ("src_b", "Name the number [5].", "5"),  # answers at once, no tool
]


def _student(body):
    msgs = body["messages"]
    assert msgs[0]["content"] == MPS_SYSTEM and len([m for m in msgs if m["role"] == "system"]) == 1
    assert "stop" in body and "Observation:" in body["stop"]
    q = msgs[1]["content"]
    turns = sum(m["role"] == "assistant" for m in msgs)
    if q.startswith("What is 3"):
        return ["Thought: product first.\nCode:\n```python\na = 4 * 2\nprint(a)\n```",
                "Thought: add 3.\nCode:\n```python\nprint(3 + a)\n```",
                "Thought: the interpreter says 11.\nFinal Answer: \\boxed{11}"][min(turns, 2)]
    if q.startswith("What is 10"):
        return ["Thought: divide.\nCode:\n```python\nprint(10 / 0)\n```",
                "Thought: that failed, guess.\nFinal Answer: 3"][min(turns, 1)]
    return "Thought: easy.\nFinal Answer: 5"


def _parquet(path):
    rows = [{"data_source": ds, "prompt": [{"role": "user", "content": f"Solve: {q}"}],
             "reward_model": {"style": "rule", "ground_truth": gold},
             "extra_info": {"id": f"p{i}", "index": i, "question": q, "task": "math"}}
            for i, (ds, q, gold) in enumerate(PROBLEMS)]
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def test_scripted_student_counts_per_source(fault_server, tmp_path):
    fault_server.set_default(Ok(content_fn=_student))
    out = tmp_path / "eval"
    summary = main(["--episode", "codeact", "--data", str(_parquet(tmp_path / "t.parquet")), "--base-url",
                    fault_server.base_url, "--max-retries", "0", "--out-dir", str(out), "--no-progress", "--quiet"])
    recs = {r["uid"]: r for r in map(json.loads, (out / "samples.jsonl").read_text().splitlines())}
    assert (recs["p0"]["tool_calls"], recs["p0"]["sandbox_errors"], recs["p0"]["turns"]) == (2, 0, 3)
    assert recs["p0"]["correct"] and recs["p0"]["final_answer"] == "11"
    # the observation the student got is the real interpreter's (the cell after the replayed one printed 11)
    assert {"role": "user", "content": "Observation:\n11"} in recs["p0"]["conversation"]
    assert (recs["p1"]["tool_calls"], recs["p1"]["sandbox_errors"], recs["p1"]["turns"]) == (1, 1, 2)
    assert "ZeroDivisionError" in recs["p1"]["conversation"][3]["content"] and not recs["p1"]["correct"]
    assert (recs["p2"]["tool_calls"], recs["p2"]["turns"], recs["p2"]["correct"]) == (0, 1, True)
    a, b = summary["per_source"]["src_a"], summary["per_source"]["src_b"]
    assert (a["n"], a["accuracy"], a["tool_calls_per_problem"], a["sandbox_errors"], a["turns_mean"]) == (
        2, 0.5, 1.5, 1, 2.5)
    assert (b["accuracy"], b["tool_calls_per_problem"], b["turns_max"]) == (1.0, 0.0, 1)
    assert summary["overall"]["accuracy"] == pytest.approx(2 / 3) and summary["failed"] == 0
    assert summary["overall"]["stop_reasons"] == {"final_answer": 3}
    table = (out / "table.md").read_text()
    assert "| src_a | 2 | 2 | 50.0 | 1.50 | 1 | 2.50 / 3 |" in table
    assert json.loads((out / "summary.json").read_text())["config"]["episode"] == "codeact"


def test_endpoint_down_is_counted_not_scored_zero(fault_server, tmp_path):
    fault_server.set_default(Status(503))
    summary = main(["--episode", "codeact", "--data", str(_parquet(tmp_path / "t.parquet")), "--base-url",
                    fault_server.base_url, "--max-retries", "0", "--out-dir", str(tmp_path / "o"), "--no-progress",
                    "--quiet"])
    assert summary["failed"] == 3 and summary["n_scored"] == 0 and math.isnan(summary["overall"]["accuracy"])


@pytest.mark.integration
def test_codeact_eval_on_real_llamacpp_server(llamacpp_server, gsm8k_parquet, tmp_path, monkeypatch):
    monkeypatch.setenv("EVAL_TEST_KEY", llamacpp_server.api_key)
    out = tmp_path / "eval"
    summary = main(["--episode", "codeact", "--data", str(gsm8k_parquet), "--base-url", llamacpp_server.base_url,
                    "--model", llamacpp_server.model, "--api-key-env", "EVAL_TEST_KEY", "--limit", "3",
                    "--max-tokens", "48", "--max-turns", "2", "--concurrency", "2", "--out-dir", str(out),
                    "--no-progress", "--quiet"])
    records = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert len(records) == 3 and summary["failed"] == 0 and summary["n_scored"] == 3
    assert summary["client_stats"]["successes"] == sum(r["turns"] for r in records) >= 3  # one request per turn
    for r in records:
        assert r["status"] == "ok" and 1 <= r["turns"] <= 2 and r["correct"] in (True, False)
        assert r["conversation"][0] == {"role": "system", "content": MPS_SYSTEM}
        assert r["stop_reason"] in ("final_answer", "no_code", "length", "max_turns")
        assert r["sandbox_errors"] <= r["tool_calls"]
        n_obs = sum(m["role"] == "user" and m["content"].startswith("Observation:") for m in r["conversation"])
        assert n_obs <= r["turns"] - 1 and (n_obs > 0) == (r["tool_calls"] > 0)  # one observation per code turn
    o = summary["overall"]
    assert o["tool_calls_per_problem"] == pytest.approx(sum(r["tool_calls"] for r in records) / 3)
    assert summary["per_source"]["openai/gsm8k"]["n"] == 3


@pytest.mark.integration
def test_local_engine_runs_the_prefix_rollout_loop(assets, gsm8k_parquet):
    from verl_score.eval.codeact import LocalCodeActEngine, evaluate_codeact
    from verl_score.eval.data import load_samples
    from verl_score.eval.engines import Sampling

    samples = load_samples(gsm8k_parquet, limit=2)
    engine = LocalCodeActEngine(str(assets["tiny_qwen"]), max_turns=2, max_tokens=8, prompt_length=512)
    records, summary = asyncio.run(evaluate_codeact(samples, engine, Sampling(temperature=0.0, max_tokens=8),
                                                    concurrency=1, progress=False))
    assert summary["n_scored"] == 2 and summary["failed"] == 0
    assert engine.server_manager.calls == sum(r["turns"] for r in records)  # verl's generate contract, per turn
    for r in records:
        assert r["status"] == "ok" and 1 <= r["turns"] <= 2 and r["correct"] is False
        assert r["stop_reason"] in ("final_answer", "no_code", "length", "max_turns", "token_budget")
