"""scripts/experiments/study.py end to end with the model replaced: a unit's dump, metrics and unit.json are
written and committed, a rerun skips it, a changed configuration is refused (light: the eval is faked; the real
graders score the fake texts)."""

from __future__ import annotations

import gzip
import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def cli(monkeypatch, tmp_path):
    spec = importlib.util.spec_from_file_location("study_cli_e2e", ROOT / "scripts/experiments/study.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["study_cli_e2e"] = mod
    spec.loader.exec_module(mod)
    calls = []

    def fake_evaluate(model, data, out, seed, args, log):
        """Attempt 1 unformatted and right on even rows, wrong on odd ones; attempt 2 anchored and right."""
        import pyarrow.parquet as pq

        calls.append(str(data))
        out.mkdir(parents=True, exist_ok=True)
        rows = pq.read_table(data).to_pylist()[: args.limit or None]
        recs = []
        for i, row in enumerate(rows):
            gt = row["reward_model"]["ground_truth"]
            t1 = f"So {gt}" if i % 2 == 0 else "So 12345"
            t2 = f"Final Answer: The final answer is ${gt}$. I hope it is correct."
            recs.append({"uid": row["extra_info"]["id"], "sample": 0, "data_source": row["data_source"],
                         "ground_truth": gt, "status": "ok", "error": None, "guidance": [],
                         "attempts": [{"attempt": 1, "text": t1, "finish_reason": "stop", "num_tokens": 3},
                                      {"attempt": 2, "text": t2, "finish_reason": "stop", "num_tokens": 14}]})
        (out / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
        (out / "summary.json").write_text("{}")
        return out / "samples.jsonl"

    monkeypatch.setattr(mod, "evaluate", fake_evaluate)
    monkeypatch.setattr("verl_score.assets.asset_path", lambda name: tmp_path / "model")
    mod.calls = calls
    return mod


def test_unit_is_written_skipped_and_refused(cli, tmp_path, capsys):
    study = tmp_path / "study"
    assert cli.main(["task", "--study", str(study), "--families", "add_sub_1d", "--test-frac", "0.3",
                     "--probe-per-family", "4"]) == 0
    run = ["run", "--study", str(study), "--work-dir", str(tmp_path / "work"), "--arms", "base", "--seeds", "0,1"]
    assert cli.main(run) == 0
    assert len(cli.calls) == 1 and cli.calls[0].endswith("test.parquet")  # greedy base: one unit, on test
    unit = study / "units" / "base-s0"
    meta = json.loads((unit / "unit.json").read_text())
    assert set(meta["files"]) == {"heldout.jsonl.gz", "metrics.json", "eval_summary.json"}
    assert "train" not in meta["config"] and meta["config"]["eval"]["max_tokens"] == 128
    with gzip.open(unit / "heldout.jsonl.gz", "rt") as f:
        recs = [json.loads(x) for x in f]
    assert recs and all(r["family"] == "add_sub_1d" and r["group"].startswith("ops=") for r in recs)
    a1 = recs[0]["attempts"][0]
    assert a1["graders"]["math_verify"]["correct"] and not a1["graders"]["anchored"]["correct"]
    assert a1["num_tokens"] == 3 and a1["finish_reason"] == "stop"
    m = json.loads((unit / "metrics.json").read_text())["heldout"]
    n = len(recs)
    assert m["n"] == n and m["overall"]["format_flip"] == pytest.approx(((n + 1) // 2) / n)
    assert m["overall"]["acc@t2"] == 1.0 and m["overall"]["strict_acc@t1"] == 0.0

    assert cli.main(run) == 0  # rerun: skipped, nothing evaluated
    assert len(cli.calls) == 1 and "skipped" in capsys.readouterr().out
    assert cli.main([*run, "--max-tokens", "256"]) == 2  # another eval configuration: refused
    assert "eval.max_tokens" in capsys.readouterr().err
    assert len(cli.calls) == 1

    assert cli.main(["status", "--study", str(study)]) == 0
    assert "base-s0" in capsys.readouterr().out


def test_trained_unit_killed_in_its_eval_resumes_from_its_weights(cli, tmp_path, monkeypatch, capsys):
    """The launcher and the merger are faked: a unit whose eval dies keeps its merged weights (trained.json with
    the unit's fingerprint), commits nothing, and the rerun evaluates those weights without training again."""
    study = tmp_path / "study"
    assert cli.main(["task", "--study", str(study), "--families", "add_sub_1d", "--test-frac", "0.3"]) == 0
    launches = []

    def fake_run(cmd, env=None, log=None):
        if cmd[0] == "bash":  # the launcher: verl's per-step metrics
            launches.append(cmd)
            logs = Path(env["VERL_FILE_LOGGER_ROOT"]) / "verl_score"
            logs.mkdir(parents=True)
            (logs / f"{env['EXPERIMENT']}.jsonl").write_text(
                "".join(json.dumps({"step": s, "data": {"score/acc@t1": 0.1 * s, "score/acc@t2": 0.1}}) + "\n"
                        for s in (1, 2, 3)))
        else:  # the merger
            hf = Path(cmd[cmd.index("--target_dir") + 1])
            hf.mkdir(parents=True)
            (hf / "config.json").write_text("{}")

    monkeypatch.setattr(cli, "_run", fake_run)
    real_evaluate = cli.evaluate

    def dying_evaluate(*a, **k):
        raise KeyboardInterrupt  # the unit is killed during its eval

    monkeypatch.setattr(cli, "evaluate", dying_evaluate)
    run = ["run", "--study", str(study), "--work-dir", str(tmp_path / "work"), "--arms", "naive", "--seeds", "0",
           "--steps", "3", "--stage1", "1"]
    with pytest.raises(KeyboardInterrupt):
        cli.main(run)
    assert len(launches) == 1 and not (study / "units" / "naive-s0").exists()
    assert (tmp_path / "work" / "runs" / "naive-s0" / "trained.json").exists()
    monkeypatch.setattr(cli, "evaluate", real_evaluate)
    assert cli.main(run) == 0
    assert len(launches) == 1 and "reusing its finished training" in capsys.readouterr().out
    assert cli.calls and cli.calls[-1].endswith("test.parquet")  # the eval ran on the kept weights
    m = json.loads((study / "units" / "naive-s0" / "metrics.json").read_text())
    assert m["train"]["score/acc@t1"]["all"] == [pytest.approx(0.1), pytest.approx(0.2), pytest.approx(0.3)]
    # another training configuration never reuses those weights
    assert cli.main([*run[:-4], "--steps", "4", "--stage1", "1", "--seeds", "1"]) == 2  # refused: naive-s0 used 3


def test_a_tuning_study_evaluates_another_studys_validation_carving(cli, tmp_path, capsys):
    """``--split validation --task-dir``: settings are chosen on the validation carving of the study's own task, in
    a folder of their own; the split is part of the configuration, so test and validation units never mix."""
    study = tmp_path / "study"
    assert cli.main(["task", "--study", str(study), "--families", "add_sub_1d", "--test-frac", "0.3"]) == 0
    tuning = tmp_path / "tuning"
    run = ["run", "--study", str(tuning), "--task-dir", str(study / "task"), "--split", "validation",
           "--work-dir", str(tmp_path / "work"), "--arms", "base", "--seeds", "0"]
    assert cli.main(run) == 0
    assert cli.calls == [str(study / "task" / "validation.parquet")]
    meta = json.loads((tuning / "units" / "base-s0" / "unit.json").read_text())
    assert meta["config"]["eval"]["split"] == "validation" and meta["config"]["eval"]["threads"] == cli.EVAL_THREADS
    assert not (tuning / "task").exists() and not (study / "units").exists()
    assert cli.main([*run, "--split", "test"]) == 2  # the same folder on test: refused
    assert "eval.split" in capsys.readouterr().err


def test_single_turn_arm_trains_on_the_same_problems_as_one_attempt_rows(cli, tmp_path):
    """The single-turn arm's DATA_DIR holds the task's train rows naming verl's single_turn_agent, nothing else
    changed (its end-of-run validation too: 128 tokens cannot hold a two-attempt episode), and the two-attempt arms'
    rows are untouched. Its unit fingerprint differs from naive's (another agent), while naive's print is what it was
    before the key existed."""
    import pyarrow.parquet as pq

    task = ROOT / "results/study/task"
    one = cli.training_data(tmp_path, task, cli.SINGLE_TURN_AGENT)
    two = cli.training_data(tmp_path, task)
    assert one != two
    src, a, b = (pq.read_table(p / "train.parquet").to_pylist() for p in (task, one, two))
    assert len(src) == len(a) == len(b) > 1000
    assert {r["agent_name"] for r in a} == {"single_turn_agent"} and b == src
    assert [{**r, "agent_name": None} for r in a] == [{**r, "agent_name": None} for r in src]
    for d, agent in ((one, "single_turn_agent"), (two, "score_two_attempt")):  # verl's end-of-run validation
        assert {r["agent_name"] for r in pq.read_table(d / "test.parquet").to_pylist()} == {agent}
    arms = cli.arms(8, 3, 10.0)
    shared = {"eval": {}, "task": {}, "model": "m", "train": {}}
    single, naive = cli.unit_spec(arms["single"], 0, shared), cli.unit_spec(arms["naive"], 0, shared)
    assert single.config["arm"]["agent"] == "single_turn_agent" and "agent" not in naive.config["arm"]
    assert single.fingerprint != naive.fingerprint
