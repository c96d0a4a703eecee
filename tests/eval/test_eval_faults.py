"""The eval CLI against the fault-injecting OpenAI-compatible server: scripted answers give a known outcome table,
a transient 500 is retried by the client, and a sample whose endpoint keeps failing is counted as failed in the
summary -- never scored 0. The server's own request log is compared with the per-sample record."""

from __future__ import annotations

import json
from typing import Any

import pytest

from verl_score.contracts.guidance import Guidance, register_guidance
from verl_score.eval.cli import main
from verl_score.eval.data import load_samples
from verl_score.prompts import MATH_SELF_CORRECTION
from verl_score.rewards.base import RewardResult
from verl_score.rewards.registry import register_reward

from testkit.fault_server import Ok, Status


def answer(value: str) -> str:
    return f"Some steps.\nFinal Answer: The final answer is ${value}$. I hope it is correct."


def scripted_content(plan: dict[str, tuple[str, str]]):
    """Reply per (problem text, attempt number): attempt = assistant turns already in the conversation + 1."""

    def content(body: dict[str, Any]) -> str:
        messages = body["messages"]
        question = next(m["content"] for m in messages if m["role"] == "user")
        attempt = sum(m["role"] == "assistant" for m in messages) + 1
        return answer(plan[question][attempt - 1])

    return content


@pytest.fixture
def plan_and_data(gsm8k_parquet):
    rows = load_samples(gsm8k_parquet, limit=4)
    gold = [str(r.ground_truth) for r in rows]
    wrong = [str(int(g) + 1) for g in gold]
    # row 0: c→c, row 1: c→i, row 2: i→c, row 3: endpoint down
    plan = {rows[0].prompt[-1]["content"]: (gold[0], gold[0]),
            rows[1].prompt[-1]["content"]: (gold[1], wrong[1]),
            rows[2].prompt[-1]["content"]: (wrong[2], gold[2]),
            rows[3].prompt[-1]["content"]: (gold[3], gold[3])}
    return plan, rows


def run_cli(fault_server, data, out_dir, *extra: str) -> dict:
    return main(["--data", str(data), "--base-url", fault_server.base_url, "--model", "m", "--limit", "4",
                 "--concurrency", "1", "--max-retries", "1", "--max-tokens", "64", "--out-dir", str(out_dir),
                 "--no-progress", "--quiet", *extra])


def test_retry_then_failure_is_counted_not_scored_zero(fault_server, gsm8k_parquet, plan_and_data, tmp_path):
    plan, rows = plan_and_data
    ok = Ok(content_fn=scripted_content(plan))
    fault_server.set_default(ok)
    # concurrency 1 -> deterministic request order: p0a1 (500, then retried OK), p0a2, p1a1, p1a2, p2a1, p2a2,
    # p3a1 (500, 500: retries exhausted -> the episode fails)
    fault_server.script_requests(Status(500), ok, ok, ok, ok, ok, ok, Status(503), Status(500))
    summary = run_cli(fault_server, gsm8k_parquet, tmp_path)

    assert len(fault_server.requests) == 9
    assert summary["n_episodes"] == 4 and summary["n_scored"] == 3
    assert summary["failed"] == 1 and summary["failed_by_status"] == {"generation_failed": 1}
    assert summary["overall"]["transitions"] == {"c2c": 1, "c2i": 1, "i2c": 1, "i2i": 0}
    o = summary["overall"]
    assert (o["acc@t1"], o["acc@t2"]) == (pytest.approx(2 / 3), pytest.approx(2 / 3))
    assert o["delta_i2c_uncond"] == pytest.approx(1 / 3) and o["fix_rate_i2c_cond"] == 1.0
    assert o["break_rate_c2i_cond"] == 0.5 and o["answer_change_ratio"] == pytest.approx(2 / 3)
    stats = summary["client_stats"]
    assert (stats["retries"], stats["failures"], stats["requests"]) == (2, 1, 9)

    records = [json.loads(line) for line in (tmp_path / "samples.jsonl").read_text().splitlines()]
    assert [r["status"] for r in records] == ["ok", "ok", "ok", "generation_failed"]
    failed = records[3]
    assert failed["uid"] == rows[3].uid and "attempts" not in failed and "transition" not in failed
    assert "LLMCallError" in failed["error"] and "http_5xx" in failed["error"]
    assert [r["transition"] for r in records[:3]] == ["c2c", "c2i", "i2c"]
    assert [a["answer"] for a in records[2]["attempts"]] == [str(int(rows[2].ground_truth) + 1),
                                                            str(rows[2].ground_truth)]
    assert [a["correct"] for a in records[1]["attempts"]] == [True, False]

    # the record's requests are what the server received (the successful attempt of each call)
    served = [r.body["messages"] for r in fault_server.requests if r.behavior == "Ok"]
    assert served == [msgs for r in records[:3] for msgs in r["requests"]]
    body = fault_server.requests[2].body  # p0 attempt 2
    assert body["temperature"] == 0.0 and body["max_tokens"] == 64 and body["model"] == "m"
    assert body["messages"][-2:] == [{"role": "assistant", "content": answer(str(rows[0].ground_truth))},
                                     {"role": "user", "content": MATH_SELF_CORRECTION}]
    assert fault_server.requests[0].headers["Authorization"] == "Bearer EMPTY"

    table = (tmp_path / "table.md").read_text()
    assert "| all | 3 | 66.7 | 66.7 | +0.0 | 33.3 | 33.3 | 100.0 | 50.0 | 66.7 |" in table
    assert "| 1 / 1 / 1 / 0 | 1 |" in table and "not scored 0): 1" in table


def test_everything_failing_reports_no_rates(fault_server, gsm8k_parquet, tmp_path):
    fault_server.set_default(Status(500))
    summary = main(["--data", str(gsm8k_parquet), "--base-url", fault_server.base_url, "--limit", "2",
                    "--max-retries", "0", "--out-dir", str(tmp_path), "--no-progress", "--quiet"])
    assert summary["n_scored"] == 0 and summary["failed"] == 2
    assert "acc@t1" not in summary["overall"]  # nothing measured: no 0% accuracy is invented
    from verl_score.eval.cli import cli

    assert cli(["--data", str(gsm8k_parquet), "--base-url", fault_server.base_url, "--limit", "1",
                "--max-retries", "0", "--out-dir", str(tmp_path / "b"), "--no-progress", "--quiet"]) == 2


@register_guidance("eval_test_hint")
class HintGuidance:
    """A registered non-static provider: the eval must pick it from the shared registry and record its source."""

    name = "eval_test_hint"
    max_text_tokens = 64

    def __init__(self, prefix: str = "Hint"):
        self.prefix = prefix
        self.seen: list[tuple[str, str]] = []

    async def instruction(self, problem_messages, previous_attempt_text, task, *, attempt, previous_attempts):
        self.seen.append((problem_messages[-1]["content"], previous_attempt_text))
        if "fallback" in previous_attempt_text:
            return Guidance(MATH_SELF_CORRECTION, "eval_test_hint_failed")
        return Guidance(f"{self.prefix}: check attempt {attempt - 1}.", "eval_test_hint")


def test_registered_guidance_provider_and_sampling_flags(fault_server, gsm8k_parquet, plan_and_data, tmp_path):
    plan, rows = plan_and_data
    fault_server.set_default(Ok(content_fn=scripted_content(plan)))
    summary = run_cli(fault_server, gsm8k_parquet, tmp_path, "--guidance", "eval_test_hint", "--guidance-kwargs",
                      '{"prefix": "Look again"}', "--num-samples", "2", "--temperature", "0.5", "--seed", "3",
                      "--limit", "3")
    records = [json.loads(line) for line in (tmp_path / "samples.jsonl").read_text().splitlines()]
    assert len(records) == 6 and [(r["index"], r["sample"]) for r in records] == [(i, j) for i in range(3)
                                                                                   for j in range(2)]
    assert all(r["guidance"] == [{"source": "eval_test_hint", "text": "Look again: check attempt 1."}]
               for r in records)
    assert all(r["requests"][1][-1] == {"role": "user", "content": "Look again: check attempt 1."} for r in records)
    assert summary["guidance"] == {"eval_test_hint": {"n": 6, "acc_last": pytest.approx(4 / 6)}}
    seeds = [r.body["seed"] for r in fault_server.requests]
    assert len(set(seeds)) == 12 and all(r.body["temperature"] == 0.5 for r in fault_server.requests)
    sc = summary["scaling"]["overall"]
    assert sc == {"n_problems": 3, "m_mean": 2.0, "maj@m_first": pytest.approx(2 / 3),
                  "maj@m_last": pytest.approx(2 / 3), "mean_acc_first": pytest.approx(2 / 3),
                  "mean_acc_last": pytest.approx(2 / 3)}


def test_greedy_with_several_samples_is_refused(gsm8k_parquet, tmp_path):
    with pytest.raises(SystemExit, match="identical"):
        main(["--data", str(gsm8k_parquet), "--base-url", "http://127.0.0.1:9/v1", "--num-samples", "4",
              "--temperature", "0", "--out-dir", str(tmp_path)])


def test_smart_guidance_from_the_registry_with_leak_screening(fault_server, gsm8k_parquet, plan_and_data, tmp_path):
    """``--guidance smart``: the teacher module's provider (guide = the same fault server, told apart by its system
    prompt). Row 0's hint states the gold answer -> screened out against the gold (static text, ``smart_rejected``);
    row 1's hint is clean -> ``smart``; row 2's guide call fails -> ``smart_failed``. The guide never sees the gold."""
    from verl_score.teacher.guidance import GUIDE_SYSTEM, guide_messages
    from verl_score.teacher.verdict_classifier import CLASSIFIER_SYSTEM

    plan, rows = plan_and_data
    student = scripted_content(plan)
    gold0 = str(rows[0].ground_truth)

    def content(body):
        messages = body["messages"]
        if messages[0]["content"] == CLASSIFIER_SYSTEM:
            return "NO"  # the verdict classifier (on by default) clears the hints the rules pass
        if messages[0]["content"] != GUIDE_SYSTEM:
            return student(body)
        problem = messages[1]["content"]
        if rows[0].prompt[-1]["content"] in problem:
            # only the reference screen can catch this one ("Maybe it should be N" is now a verdict for the rules)
            return f"Maybe she started with {gold0} vacuum cleaners."
        if rows[2].prompt[-1]["content"] in problem:
            return ""  # empty hint: a guide failure
        return "Re-read how many were sold at the second house."

    fault_server.set_default(Ok(content_fn=content))
    guide = json.dumps({"client": {"base_url": fault_server.base_url, "model": "guide", "max_retries": 0}})
    summary = run_cli(fault_server, gsm8k_parquet, tmp_path, "--guidance", "smart", "--guidance-kwargs", guide,
                      "--limit", "3")
    records = [json.loads(line) for line in (tmp_path / "samples.jsonl").read_text().splitlines()]
    assert [r["guidance"][0]["source"] for r in records] == ["smart_rejected", "smart", "smart_failed"]
    assert records[0]["guidance"][0]["text"] == MATH_SELF_CORRECTION
    assert records[1]["guidance"][0]["text"].endswith("Suggestive Correction: Re-read how many were sold at the "
                                                      "second house.")
    assert records[1]["requests"][1][-1]["content"] == records[1]["guidance"][0]["text"]  # what the student got
    assert summary["guidance"] == {"smart": {"n": 1, "acc_last": 0.0}, "smart_failed": {"n": 1, "acc_last": 1.0},
                                   "smart_rejected": {"n": 1, "acc_last": 1.0}}
    assert summary["guidance_provider"]["guidance/rejected/reference_answer"] == 1.0
    guide_calls = [r for r in fault_server.requests if r.body["messages"][0]["content"] == GUIDE_SYSTEM]
    assert len(guide_calls) == 3 and all(r.body["model"] == "guide" for r in guide_calls)
    # the guide's prompt is built from the problem and attempt 1 only (no gold, no extra_info)
    for call, rec, row in zip(guide_calls, records, rows):
        assert call.body["messages"] == guide_messages(row.prompt, rec["attempts"][0]["text"])


@register_reward("eval_test_flaky")
class FlakyVerifier:
    """Correct when the text says 'right'; a verifier that cannot decide (e.g. judge down) on 'undecidable'."""

    async def __call__(self, solution, ground_truth, extra_info):
        if "undecidable" in solution:
            return RewardResult(0.0, {"reason": "judge_down"}, failed=True)
        return RewardResult(1.0 if "right" in solution else 0.0, {"reason": "ok"})


def test_reward_failures_are_counted_not_scored_zero(fault_server, gsm8k_parquet, tmp_path):
    replies = iter(["right", "undecidable", "wrong", "right", "right", "right"])
    fault_server.set_default(Ok(content_fn=lambda body: next(replies)))
    summary = run_cli(fault_server, gsm8k_parquet, tmp_path, "--limit", "3",
                      "--reward-kwargs", '{"default": "eval_test_flaky"}')
    records = [json.loads(line) for line in (tmp_path / "samples.jsonl").read_text().splitlines()]
    assert [r["status"] for r in records] == ["reward_failed", "ok", "ok"]
    assert records[0]["attempts"][1]["reward_failed"] is True and "judge_down" in records[0]["error"]
    assert summary["failed_by_status"] == {"reward_failed": 1} and summary["n_scored"] == 2
    assert summary["overall"]["transitions"] == {"c2c": 1, "c2i": 0, "i2c": 1, "i2i": 0}
    assert "answer_change_ratio" not in summary["overall"]  # this verifier extracts no answers

    # a verifier that crashes (here: an unknown module) is a reward failure per episode, texts kept
    fault_server.set_default(Ok(content_fn=lambda body: "text"))
    summary = run_cli(fault_server, gsm8k_parquet, tmp_path / "crash", "--limit", "2",
                      "--reward-kwargs", '{"default": "no_such_module"}')
    assert summary["n_scored"] == 0 and summary["failed_by_status"] == {"reward_failed": 2}
    rec = json.loads((tmp_path / "crash" / "samples.jsonl").read_text().splitlines()[0])
    assert "no_such_module" in rec["error"] and [a["text"] for a in rec["attempts"]] == ["text", "text"]
