"""reasoning-gym generator options (``--rg-config``): they reach the generator, and bad ones stop the run at start-up
with one message naming the task, the key and the allowed keys or values."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from data_preprocess.sources.rg_config import RGConfigError, parse_rg_config

ROOT = Path(__file__).resolve().parents[2]
EASY = [
    "--rg-tasks", "basic_arithmetic",
    "--rg-config", "min_digits=1", "--rg-config", "max_digits=1", "--rg-config", "operators=+",
    "--rg-config", "min_terms=2", "--rg-config", "max_terms=3",
    "--rg-config", "allow_negation=false", "--rg-config", "allow_parentheses=false",
]  # fmt: skip


def test_options_reach_the_generator(convert, rows):
    report, out = convert("reasoning_gym", *EASY, "--size", "60", "--test-size", "10")
    got = rows(out / "train.parquet") + rows(out / "test.parquet")
    assert len(got) == sum(report.rows_per_split.values()) > 10
    for r in got:
        expr = json.loads(r["extra_info"]["rg_entry"])["metadata"]["expression"]
        terms = expr.split(" + ")
        # only '+', 2-3 non-negative terms, no parentheses (reasoning-gym's "1 digit" draws 0..10 inclusive)
        assert 2 <= len(terms) <= 3 and all(t.isdigit() and int(t) <= 10 for t in terms), expr
        assert r["reward_model"]["ground_truth"] == str(sum(int(t) for t in terms))
        assert json.loads(r["extra_info"]["rg_config"])["operators"] == ["+"]


def test_values_are_coerced_to_the_dataclass_types():
    cfg = parse_rg_config(
        [
            "max_digits=2",
            "allow_negation=False",
            "basic_arithmetic.operators=+,-",
            "basic_arithmetic.format_style=natural",
            "chain_sum.max_terms=3",
        ],
        ["basic_arithmetic", "chain_sum"],
    )
    assert cfg["basic_arithmetic"] == {
        "max_digits": 2,
        "allow_negation": False,
        "operators": ["+", "-"],
        "format_style": "natural",
    }
    assert cfg["chain_sum"] == {"max_digits": 2, "allow_negation": False, "max_terms": 3}


@pytest.mark.parametrize(
    "pairs, expected",
    [
        (["digits=1"], ["no config key 'digits'", "did you mean", "max_digits", "allowed keys:", "operators"]),
        (["format_style=fancy"], ["basic_arithmetic.format_style", "'fancy'", "['simple', 'natural']"]),
        (["max_digits=two"], ["basic_arithmetic.max_digits", "expected int", "'two'"]),
        (["allow_negation=maybe"], ["expected a boolean"]),
        (["seed=3"], ["set by --seed"]),
        (["size=3"], ["set by --size"]),
        (["min_terms=5", "max_terms=3"], ["rejects config", "max_terms must be >= min_terms"]),
        (["gsm_symbolic.max_digits=1"], ["task 'gsm_symbolic' is not in --rg-tasks"]),
        (["max_digits"], ["expected KEY=VALUE"]),
    ],
)
def test_bad_option_names_key_and_allowed_values(pairs, expected):
    with pytest.raises(RGConfigError) as e:
        parse_rg_config(pairs, ["basic_arithmetic"])
    for text in expected:
        assert text in str(e.value), (text, str(e.value))


def test_unknown_task_suggests_close_names():
    with pytest.raises(RGConfigError, match=r"unknown reasoning-gym task 'basic_arithmetc'.*basic_arithmetic"):
        parse_rg_config([], ["basic_arithmetc"])


def test_task_without_verifiable_answer_stops_before_writing(tmp_path):
    from data_preprocess.convert_parquet import run

    out = tmp_path / "out"
    with pytest.raises(RGConfigError, match="'graph_color' has no verifiable answer"):
        run(["reasoning_gym", "--rg-tasks", "graph_color", "--size", "5", "--out-dir", str(out), "--quiet"])
    assert not out.exists()


def test_cli_prints_one_clear_line_and_exits_2(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "data_preprocess" / "convert_parquet.py"), "reasoning_gym",
         "--rg-tasks", "basic_arithmetic", "--rg-config", "digits=1", "--out-dir", str(tmp_path / "o")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: reasoning-gym task 'basic_arithmetic' has no config key 'digits'")
    assert "Traceback" not in proc.stderr
