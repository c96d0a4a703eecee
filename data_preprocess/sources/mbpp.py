"""MBPP (Austin et al. 2021): the original ``mbpp.jsonl`` ``{text, code, task_id, test_setup_code, test_list,
challenge_test_list}`` or the sanitized ``sanitized-mbpp.json`` ``{prompt, code, task_id, test_imports, test_list}``
(jsonl, json list or parquet).

Splits follow the dataset's task-id ranges (1-10 prompt, 11-510 test, 511-600 validation, 601-974 train), so they
are the official ones however the file was obtained. The few-shot tasks (2, 3, 4) are dropped: a row must not be its
own demonstration.

``reward_model.ground_truth`` is the JSON test spec ``{test_list, test_setup_code, test_imports}`` that
``verl_score.rewards.code_tests`` runs after the extracted ``[BEGIN]…[DONE]`` code; ``extra_info`` repeats the pieces
(plus ``challenge_test_list`` and the reference solution). Validation compiles setup + asserts as one program.

Rows whose tests the strict two-process harness cannot carry (they build the solution's class instances, e.g. task
601's ``Pair``; see ``data_preprocess/code_harness.py``) get ``extra_info.harness_reason`` and are counted in the
summary; they stay strict (every program, the reference too, scores 0 on them) unless ``--shared-process-rows`` puts
``"harness": "shared_process"`` in their spec, where a wrong program can be paid (always-equal objects, forged
records: ``docs/rewards.md``).
"""

from __future__ import annotations

import argparse
import json
from typing import Iterator

from data_preprocess.code_harness import shared_process_reason
from data_preprocess.core import (
    DropRow,
    Example,
    InvalidRow,
    RawRow,
    Report,
    SchemaError,
    read_schema_records,
    require,
)
from data_preprocess.prompt_format import MBPP_FEWSHOT_IDS, mbpp_prompt
from data_preprocess.sources import RECORD_EXTS, Source, register_source

SCHEMAS = {
    "original": frozenset({"text", "code", "task_id", "test_list", "test_setup_code", "challenge_test_list"}),
    "sanitized": frozenset({"prompt", "code", "task_id", "test_list"}),
}


def mbpp_split(task_id: int) -> str:
    """The official MBPP split of a task id."""
    if 1 <= task_id <= 10:
        return "prompt"
    if 11 <= task_id <= 510:
        return "test"
    if 511 <= task_id <= 600:
        return "validation"
    return "train"


def tests_program(setup: str, imports: list[str], tests: list[str]) -> str:
    """The test code as one program (imports, setup, asserts): what validation compiles."""
    lines = [*imports, setup.strip()] if setup.strip() else list(imports)
    return "\n".join(lines + tests) + "\n"


@register_source("mbpp")
class MBPP(Source):
    help = "MBPP original jsonl or sanitized json/jsonl/parquet (--input required); canonical 3-shot [BEGIN]..[DONE]"

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--shared-process-rows",
            action="store_true",
            help="RISK: give rows whose tests build the solution's objects (task 601's Pair, tree tasks) the "
            "one-interpreter shared_process harness, where a wrong program can earn reward (an always-equal object "
            "scores 1 on task 601). Default: such rows stay strict and score 0 for every program, the reference too",
        )

    def rows(self) -> Iterator[RawRow]:
        paths = self.input_paths()
        if not paths:
            raise SchemaError("mbpp needs --input: mbpp.jsonl (original) or sanitized-mbpp.json")
        for path in self.input_files(RECORD_EXTS):
            yield from read_schema_records(path, SCHEMAS)

    def convert(self, raw: RawRow) -> Example:
        rec = raw.record
        assert rec is not None
        schema = rec["__schema"]
        text_key = "text" if schema == "original" else "prompt"
        require(rec, SCHEMAS[schema], nonempty=(text_key, "code", "test_list"))
        try:
            task_id = int(rec["task_id"])
        except (TypeError, ValueError):
            raise InvalidRow("bad_field", f"task_id {rec['task_id']!r} is not an integer") from None
        if task_id in MBPP_FEWSHOT_IDS:
            raise DropRow("mbpp_fewshot_task")
        tests = rec["test_list"]
        if not isinstance(tests, (list, tuple)) or not all(isinstance(t, str) and t.strip() for t in tests):
            raise InvalidRow("bad_field", "test_list must be a list of non-empty strings")
        tests = [t.strip() for t in tests]
        setup = str(rec.get("test_setup_code") or "")
        imports = [str(x) for x in (rec.get("test_imports") or [])]  # sanitized variant
        challenge = [str(t).strip() for t in (rec.get("challenge_test_list") or [])]
        text = str(rec[text_key])
        reference = str(rec["code"]).replace("\r\n", "\n")
        spec: dict[str, object] = {"test_list": tests, "test_setup_code": setup, "test_imports": imports}
        why_shared = shared_process_reason(tests, setup, reference)
        if why_shared and self.args.shared_process_rows:  # opt-in only: that harness can pay a wrong program
            spec["harness"] = "shared_process"
        return Example(
            problem=text,
            prompt=mbpp_prompt(text, tests),
            ground_truth=json.dumps(spec),
            data_source="mbpp" if schema == "original" else "mbpp_sanitized",
            ability="code",
            extra={
                "test_list": tests,
                "test_setup_code": setup,
                "test_imports": imports,
                "challenge_test_list": challenge,
                "reference_solution": reference,
                "answer_format": "begin_done",
                # why the strict harness cannot carry the tests ("" = it can), with or without the opt-in mark;
                # not "harness" itself: code_tests reads that key from extra_info too (it would override the route)
                "harness_reason": why_shared or "",
            },
            split=mbpp_split(task_id),
            source_id=f"mbpp/{task_id}",
            code_to_compile=[
                ("tests", tests_program(setup, imports, tests)),
                *[(f"challenge_test_list[{i}]", t) for i, t in enumerate(challenge)],
            ],
        )

    def postprocess(self, examples: list[Example], report: Report) -> list[Example]:
        """Count the rows the strict harness cannot carry: left strict they score 0 for everyone (noise for RL);
        marked with ``--shared-process-rows`` they are gameable. Either way the summary shows how many."""
        marked = sum(1 for ex in examples if ex.extra["harness_reason"])
        if marked:
            label = ("harness shared_process (gameable)" if self.args.shared_process_rows
                     else "strict harness cannot carry (score 0)")
            report.marked[label] += marked
        return examples
