"""The study's task: canonical problem groups, and a split in which no group straddles train / validation / test.

Light: reasoning-gym generation and the converter's validation only (no model)."""

from __future__ import annotations

from collections import defaultdict

import pytest

from data_preprocess.canonical import canonical_key, expression_of
from data_preprocess.study_task import CANDIDATES, SPLITS, build, group_split, write


def test_commuted_twins_share_a_group():
    assert canonical_key("6 + 1") == canonical_key("1 + 6")
    assert canonical_key("3 * 7") == canonical_key("7 * 3")
    # a - b and b - a are different problems; merged on purpose (operands and operator seen either way)
    assert canonical_key("4 - 1") == canonical_key("1 - 4")
    assert canonical_key("3 + 5 - 2") == canonical_key("5 - 3 + 2") == canonical_key("2 - 5 + 3")
    # the same sum phrased by two generators: one group (read from the question when no expression is recorded)
    assert canonical_key(expression_of("Calculate 4 - 1.")) == canonical_key(
        expression_of("State the final answer to the following arithmetic problem: 4 - 1 ="))


def test_different_operands_or_operators_are_different_groups():
    assert canonical_key("6 + 1") != canonical_key("6 - 1")
    assert canonical_key("6 + 1") != canonical_key("6 + 2")
    assert canonical_key("6 + 1") != canonical_key("6 + 1 + 1")
    assert canonical_key("12 + 3") != canonical_key("1 + 23")  # digits are not operands
    assert canonical_key("-3 + 4") != canonical_key("3 + 4")  # a leading sign belongs to its operand
    with pytest.raises(ValueError):
        canonical_key("no numbers here")


def test_group_split_is_a_pure_function_of_seed_and_key():
    assert group_split("ops=+|nums=1,6", 25, 0.13, 0.12) == group_split("ops=+|nums=1,6", 25, 0.13, 0.12)
    counts = defaultdict(int)
    for i in range(4000):
        counts[group_split(f"k{i}", 3, 0.2, 0.1)] += 1
    assert abs(counts["test"] / 4000 - 0.2) < 0.03 and abs(counts["validation"] / 4000 - 0.1) < 0.03


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    fams = [CANDIDATES[n] for n in ("add_sub_1d", "chain_1d", "mul_1d", "add_sub_12d")]
    exs = build(fams, seed=25, test_frac=0.13, val_frac=0.12)
    out = tmp_path_factory.mktemp("task")
    manifest = write(exs, out, fams, 25, 0.13, 0.12)
    return exs, out, manifest


def test_no_canonical_group_straddles_splits(built):
    exs, _, _ = built
    splits_of = defaultdict(set)
    for ex in exs:
        splits_of[ex.extra["group"]].add(ex.split)
    assert all(len(s) == 1 for s in splits_of.values())
    # the real data has commuted twins (6 + 1 / 1 + 6) and cross-generator twins, and they land together
    sizes = defaultdict(int)
    for ex in exs:
        sizes[ex.extra["group"]] += 1
    assert max(sizes.values()) >= 4  # a + b, b + a, a - b, b - a ... across basic_arithmetic and chain_sum
    twin = [ex for ex in exs if ex.problem in ("Calculate 6 + 1.", "Calculate 1 + 6.")]
    assert len(twin) == 2 and twin[0].extra["group"] == twin[1].extra["group"] and twin[0].split == twin[1].split


def test_written_parquet_keeps_groups_apart_and_is_deterministic(built, tmp_path):
    import pyarrow.parquet as pq

    exs, out, manifest = built
    groups = {}
    for split in SPLITS:
        infos = pq.read_table(out / f"{split}.parquet").column("extra_info").to_pylist()
        assert len(infos) == manifest["splits"][split]["problems"] > 0
        groups[split] = {i["group"] for i in infos}
        assert all(i["split"] == split and i["family"] and i["id"].startswith(i["family"] + "/") for i in infos)
    assert not (groups["train"] & groups["test"]) and not (groups["train"] & groups["validation"])
    assert not (groups["validation"] & groups["test"])
    # same seed -> same bytes
    fams = [CANDIDATES[n] for n in ("add_sub_1d", "chain_1d", "mul_1d", "add_sub_12d")]
    again = write(build(fams, 25, 0.13, 0.12), tmp_path, fams, 25, 0.13, 0.12)
    assert again["files"] == manifest["files"]


def test_rows_are_the_converters_rows(built):
    """The study's rows are the reasoning_gym converter's: the paper's system prompt, the two-attempt agent loop."""
    import pyarrow.parquet as pq

    _, out, _ = built
    row = pq.read_table(out / "test.parquet").slice(0, 1).to_pylist()[0]
    assert row["agent_name"] == "score_two_attempt"
    assert row["prompt"][0]["role"] == "system" and "Final Answer" in row["prompt"][0]["content"]
    assert row["data_source"].startswith("reasoning_gym/")
