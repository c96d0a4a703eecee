"""End to end against a REAL OpenAI-compatible server: llama.cpp serving SmolLM2-135M-Instruct (``llamacpp_server``)
on the first rows of the bundled GSM8K sample, through ``python -m verl_score.eval``'s ``main``, then the plots CLI
on its output. The numbers are real (and small: a 135M model rarely solves GSM8K)."""

from __future__ import annotations

import json
import math

import pytest

from verl_score.eval import plots
from verl_score.eval.cli import main
from verl_score.eval.data import load_samples
from verl_score.metrics import edit_distance_ratio
from verl_score.prompts import MATH_SELF_CORRECTION

N = 3


@pytest.mark.integration
def test_two_attempt_eval_on_real_llamacpp_server(llamacpp_server, gsm8k_parquet, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EVAL_TEST_KEY", llamacpp_server.api_key)  # the server enforces its key
    out = tmp_path / "eval"
    summary = main(["--data", str(gsm8k_parquet), "--base-url", llamacpp_server.base_url,
                    "--model", llamacpp_server.model, "--api-key-env", "EVAL_TEST_KEY", "--limit", str(N),
                    "--max-tokens", "16", "--concurrency", "2", "--out-dir", str(out), "--no-progress"])
    printed = capsys.readouterr().out

    # --- files and structure
    records = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    on_disk = json.loads((out / "summary.json").read_text())  # strict JSON: an undefined rate is null, not NaN
    assert on_disk["n_episodes"] == N and on_disk["overall"]["transitions"] == summary["overall"]["transitions"]
    if math.isnan(summary["overall"]["fix_rate_i2c_cond"]) or math.isnan(summary["overall"]["break_rate_c2i_cond"]):
        assert None in (on_disk["overall"]["fix_rate_i2c_cond"], on_disk["overall"]["break_rate_c2i_cond"])
    rows = load_samples(gsm8k_parquet, limit=N)
    assert [r["uid"] for r in records] == [r.uid for r in rows]
    assert summary["failed"] == 0 and summary["n_scored"] == N, summary["failed_errors"]
    assert summary["client_stats"]["successes"] == 2 * N and summary["client_stats"]["failures"] == 0
    for rec, row in zip(records, rows):
        assert rec["status"] == "ok" and rec["data_source"] == "openai/gsm8k"
        assert rec["ground_truth"] == row.ground_truth
        a1, a2 = rec["attempts"]
        for a in (a1, a2):
            assert isinstance(a["text"], str) and a["text"].strip(), "the real model produced text"
            assert a["reward"] in (0.0, 1.0) and a["correct"] == (a["reward"] == 1.0) and a["reward_failed"] is False
            assert a["finish_reason"] in ("stop", "length")
            assert "answer" in a and "reason" in a
        assert rec["guidance"] == [{"source": "static", "text": MATH_SELF_CORRECTION}]
        # attempt 2 was requested with: the problem prompt, attempt 1 as the assistant turn, then the instruction
        req1, req2 = rec["requests"]
        assert req1 == row.prompt
        assert req2 == row.prompt + [{"role": "assistant", "content": a1["text"]},
                                     {"role": "user", "content": MATH_SELF_CORRECTION}]
        assert rec["conversation"] == req2 + [{"role": "assistant", "content": a2["text"]}]
        assert rec["edit_distance_ratio"] == pytest.approx(edit_distance_ratio(a1["text"], a2["text"]))
        assert rec["transition"] == ("c" if a1["correct"] else "i") + "2" + ("c" if a2["correct"] else "i")

    # --- the numbers add up
    o = summary["overall"]
    t = o["transitions"]
    assert t["c2c"] + t["c2i"] + t["i2c"] + t["i2i"] == N == o["n"]
    assert o["acc@t1"] == pytest.approx((t["c2c"] + t["c2i"]) / N)
    assert o["acc@t2"] == pytest.approx((t["c2c"] + t["i2c"]) / N)
    assert o["delta_i2c_uncond"] == pytest.approx(t["i2c"] / N) and o["delta_c2i_uncond"] == pytest.approx(t["c2i"] / N)
    assert o["edit_distance_ratio"] == pytest.approx(sum(r["edit_distance_ratio"] for r in records) / N)
    assert 0.0 <= o["answer_change_ratio"] <= 1.0
    assert summary["per_source"]["openai/gsm8k"]["transitions"] == t

    # --- the table renders (printed and written), with the measured values
    table = (out / "table.md").read_text()
    assert table in printed
    row_all = next(line for line in table.splitlines() if line.startswith("| all |"))
    cells = [c.strip() for c in row_all.strip("|").split("|")]
    assert cells[1] == str(N) and float(cells[2]) == pytest.approx(100 * o["acc@t1"], abs=0.05)
    assert cells[11] == f"{t['c2c']} / {t['c2i']} / {t['i2c']} / {t['i2i']}"
    fix = o["fix_rate_i2c_cond"]
    assert cells[7] == ("n/a" if math.isnan(fix) else f"{100 * fix:.1f}")
    print(table)  # shown with -s: the real SmolLM2 numbers

    # --- the plots of this real run
    pngs = plots.main(["eval", "--samples", str(out / "samples.jsonl"), "--out", str(tmp_path / "plots")])
    assert sorted(p.name for p in pngs) == ["edit_distance_hist.png", "transitions.png"]
    fig = plots.plot_transitions(records)
    assert [b.get_height() for b in fig.axes[0].containers[0]] == [t["c2c"], t["c2i"], t["i2c"], t["i2i"]]
    fig = plots.plot_edit_distance(records)
    assert sum(p.get_height() for ax in fig.axes for p in ax.patches) == N
