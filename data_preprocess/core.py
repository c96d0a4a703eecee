"""Shared machinery of the converters: the example record, strict validation, dedup, splits and parquet writing.

Sources (``data_preprocess/sources/*.py``) only know how to *read* their format and turn one input record into an
:class:`Example`; everything that must behave the same for every dataset (what a valid row is, how duplicates and
splits are decided, what a verl row looks like) lives here, once.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Iterator

#: ``--target`` → the verl agent loop named in each row's ``agent_name`` column.
AGENT_FOR_TARGET: dict[str, str] = {
    "score": "score_two_attempt",  # SCoRe / SMART-SCoRe two-attempt episode
    "prefix": "score_prefix_rollout",  # SCoRe-RL (Student-Centered) rollout from a verified prefix
    "plain": "single_turn_agent",  # verl's stock single-turn loop (baselines, eval)
}

#: Splits in the order that wins when the same problem appears in several: evaluation data is never dropped in
#: favour of a training copy, so a duplicate can only shrink the training set.
SPLIT_PRIORITY: tuple[str, ...] = ("test", "validation", "train")

VALID_ROLES = frozenset({"system", "user", "assistant"})


class InvalidRow(Exception):
    """A single input row cannot become a training row.

    ``reason`` is a short stable key (counted by ``--skip-invalid``); ``detail`` is for humans.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class DropRow(Exception):
    """A valid row the source deliberately leaves out (e.g. an MPS trajectory with ``kept: false``); counted under
    ``reason`` in the summary, never an error."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ConversionError(Exception):
    """The run stops: names the file, the 1-based row number and the reason, so the user can fix the input."""

    def __init__(self, file: str, row: int, reason: str, detail: str = "") -> None:
        msg = f"{file}: row {row}: {reason}" + (f": {detail}" if detail else "")
        msg += "\n(use --skip-invalid to drop such rows and count them instead)" if row > 0 else ""
        super().__init__(msg)
        self.file, self.row, self.reason, self.detail = file, row, reason, detail


class SchemaError(Exception):
    """The input's format could not be recognised; the message lists the formats that were expected."""


@dataclass
class RawRow:
    """One input record and where it came from (for error messages). ``error`` is set when it could not be parsed."""

    file: str
    row: int  # 1-based line / record / file number
    record: dict[str, Any] | None
    error: str | None = None


@dataclass
class Example:
    """A converted, not yet validated, problem.

    ``problem`` is the plain problem text (dedup and SFT/RL disjointness key); ``prompt`` the chat list the policy
    sees; ``ground_truth`` what ``reward_model.ground_truth`` carries (a math answer, or for code the JSON test spec
    that ``verl_score.rewards.code_tests`` reads; always a string so math and code files can be mixed in one verl
    run); ``extra`` the task-specific ``extra_info`` fields.
    """

    problem: str
    prompt: list[dict[str, str]]
    ground_truth: str
    data_source: str
    ability: str  # "math" | "code"
    extra: dict[str, Any] = field(default_factory=dict)
    split: str | None = None  # the source's own split, when it has one
    source_id: str = ""
    origin: tuple[str, int] = ("", 0)
    # (name, source) pairs that must compile (code rows: the assembled test program, setup code, the prompt).
    code_to_compile: list[tuple[str, str]] = field(default_factory=list)
    # Extra outputs some sources produce beside the RL row (MPS: SFT messages); not written to the RL parquet.
    side: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------------------------
# Schema detection
# --------------------------------------------------------------------------------------------------------------


def detect_schema(record: dict[str, Any], schemas: dict[str, frozenset[str]], where: str) -> str:
    """Name the one schema whose required keys ``record`` has; otherwise raise :class:`SchemaError` listing all.

    Detection is by required keys only and must be unambiguous: when two schemas match, the one whose keys are a
    strict superset wins (it is the more specific format); a true tie is an error rather than a guess.
    """
    keys = set(record)
    matches = [name for name, req in schemas.items() if req <= keys]
    if len(matches) > 1:
        best = [m for m in matches if all(schemas[o] < schemas[m] for o in matches if o != m)]
        if len(best) == 1:
            return best[0]
    if len(matches) == 1:
        return matches[0]
    expected = "\n".join(f"  - {name}: {{{', '.join(sorted(req))}}}" for name, req in schemas.items())
    if matches:
        raise SchemaError(f"{where}: ambiguous format (matches {matches}); keys found: {sorted(keys)}")
    raise SchemaError(f"{where}: unrecognised record format; keys found: {sorted(keys)}\nexpected one of:\n{expected}")


def require(record: dict[str, Any], keys: Iterable[str], nonempty: Iterable[str] = ()) -> None:
    """Raise ``InvalidRow("missing_field")`` / ``("empty_field")`` so one bad row never aborts detection."""
    for k in keys:
        if k not in record or record[k] is None:
            raise InvalidRow("missing_field", f"field {k!r} is missing")
    for k in nonempty:
        v = record[k]
        if (isinstance(v, str) and not v.strip()) or (isinstance(v, (list, tuple)) and len(v) == 0):
            raise InvalidRow("empty_field", f"field {k!r} is empty")


# --------------------------------------------------------------------------------------------------------------
# Readers shared by several sources
# --------------------------------------------------------------------------------------------------------------


def read_records(path: Path) -> Iterator[RawRow]:
    """Yield records of a ``.jsonl`` / ``.jsonl.gz`` / ``.json`` (list) / ``.parquet`` file, one bad line at a time.

    A JSON line that does not parse becomes a ``RawRow`` with ``error`` set, so strict mode can name its number.
    """
    name = str(path)
    suffixes = "".join(path.suffixes[-2:]) if path.suffix == ".gz" else path.suffix
    if suffixes in (".jsonl", ".jsonl.gz"):
        import gzip

        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as f:
            for i, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as e:
                    yield RawRow(name, i, None, f"bad_json: {e.msg} at column {e.colno}")
                    continue
                if not isinstance(rec, dict):
                    yield RawRow(name, i, None, f"bad_json: expected an object, got {type(rec).__name__}")
                    continue
                yield RawRow(name, i, rec)
    elif suffixes == ".json":
        with open(path, encoding="utf-8") as f:
            try:
                data = json.load(f)
            except json.JSONDecodeError as e:  # the whole file is unreadable: no row to skip
                raise SchemaError(f"{name}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
        if isinstance(data, dict):
            data = [data]
        for i, rec in enumerate(data, 1):
            yield RawRow(name, i, rec if isinstance(rec, dict) else None, None if isinstance(rec, dict) else "bad_json")
    elif suffixes == ".parquet":
        import pyarrow.parquet as pq

        for i, rec in enumerate(pq.read_table(path).to_pylist(), 1):
            yield RawRow(name, i, rec)
    else:
        raise SchemaError(f"{name}: unsupported file type {suffixes!r}; expected .jsonl, .jsonl.gz, .json or .parquet")


def read_schema_records(path: Path, schemas: dict[str, frozenset[str]], tag: bool = True) -> Iterator[RawRow]:
    """:func:`read_records`, with the file's schema detected on its first record (:func:`detect_schema`; a file is
    one format, so a bad one fails before any row is converted). With ``tag`` every record carries the schema's name
    as ``__schema`` for ``convert``; sources with one schema only need the check."""
    schema: str | None = None
    for raw in read_records(path):
        if raw.record is not None:
            if schema is None:
                schema = detect_schema(raw.record, schemas, str(path))
            if tag:
                raw.record["__schema"] = schema
        yield raw


def count_records(path: Path) -> int | None:
    """Cheap total for the progress bar (lines of a jsonl, rows of a parquet); ``None`` when unknown."""
    try:
        if path.name.endswith((".jsonl", ".jsonl.gz")):
            import gzip

            with (gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")) as f:
                return sum(1 for line in f if line.strip())
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq

            return pq.ParquetFile(path).metadata.num_rows
    except OSError:
        return None
    return None


# --------------------------------------------------------------------------------------------------------------
# Answer extraction
# --------------------------------------------------------------------------------------------------------------

_BOXED = re.compile(r"\\(?:boxed|fbox)\s*")


def last_boxed(text: str) -> str | None:
    """Content of the LAST ``\\boxed{...}`` (or ``\\fbox``) in ``text``, nested braces included; ``None`` if absent.

    The last one wins because MATH solutions sometimes box intermediate results; a regex cannot balance braces,
    hence the scan. ``\\boxed 5`` (no braces, seen in a few MATH solutions) yields ``5``.
    """
    starts = [m.end() for m in _BOXED.finditer(text)]
    for start in reversed(starts):
        if start < len(text) and text[start] == "{":
            depth = 0
            for j in range(start, len(text)):
                c = text[j]
                if c == "{":
                    depth += 1
                elif c == "}":
                    depth -= 1
                    if depth == 0:
                        return text[start + 1 : j].strip()
            continue  # unbalanced: try the previous one
        m = re.match(r"([^\s$]+)", text[start:])
        if m:
            return m.group(1)
    return None


_GSM_ANSWER = re.compile(r"####\s*(.+?)\s*$", re.S)


def gsm8k_answer(solution: str) -> str | None:
    """The number after GSM8K's ``####`` marker, thousands separators removed (``1,000`` → ``1000``)."""
    m = _GSM_ANSWER.search(solution)
    if not m:
        return None
    return m.group(1).strip().replace(",", "").rstrip(".")


# --------------------------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------------------------


_PLAIN_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


@lru_cache(maxsize=65536)
def math_parseable(answer: str) -> bool:
    """True when the math reward can read ``answer`` as a gold: the reward's own routine
    (``verl_score.rewards.math_gold.gold_parse_error``: its gold reduction and its math-verify reading), so a gold
    that converts is a gold that scores (an unreadable gold scores every response ``gold_unparseable``). Cached:
    generated sets repeat answers a lot.

    Plain integers/decimals (most GSM8K-style answers) skip the ~1 ms parse: math-verify always parses them
    (``tests/data/test_data_sources.py::test_plain_number_fast_path_agrees_with_math_verify`` checks that).
    """
    if _PLAIN_NUMBER.fullmatch(answer):
        return True
    from verl_score.rewards.math_gold import gold_parse_error

    return gold_parse_error(answer) is None


def validate(ex: Example) -> None:
    """Every check a row must pass; raises :class:`InvalidRow`. Code is only ``compile()``d, never executed."""

    if not ex.problem or not ex.problem.strip():
        raise InvalidRow("empty_problem")
    if not ex.prompt:
        raise InvalidRow("empty_prompt")
    for i, msg in enumerate(ex.prompt):
        if msg.get("role") not in VALID_ROLES:
            raise InvalidRow("bad_prompt", f"message {i} has role {msg.get('role')!r}")
        if not isinstance(msg.get("content"), str) or not msg["content"].strip():
            raise InvalidRow("empty_prompt", f"message {i} ({msg.get('role')}) has no content")
    if not any(m["role"] == "user" for m in ex.prompt) or ex.prompt[-1]["role"] == "system":
        raise InvalidRow("bad_prompt", "the prompt needs a user message after any system message")
    if not isinstance(ex.ground_truth, str) or not ex.ground_truth.strip():
        raise InvalidRow("missing_ground_truth")
    if ex.ability == "math":
        if not math_parseable(ex.ground_truth):
            raise InvalidRow("unparseable_answer", f"the math reward cannot parse the gold {ex.ground_truth[:80]!r}")
    elif ex.ability == "code":
        try:
            spec = json.loads(ex.ground_truth)
        except json.JSONDecodeError:
            spec = None
        if not isinstance(spec, dict):
            raise InvalidRow("bad_ground_truth", "code ground truth must be a JSON object (the test spec)")
        if not ex.code_to_compile:
            raise InvalidRow("missing_tests", "no test program to check")
        for name, src in ex.code_to_compile:
            try:
                compile(src, f"<{name}>", "exec")
            except (SyntaxError, ValueError) as e:
                raise InvalidRow("tests_do_not_compile", f"{name}: {e}") from None
    elif ex.ability != "qa":  # qa (MPS multi-hop questions): free-text answers, judged by an LLM, no parse check
        raise InvalidRow("bad_ability", repr(ex.ability))


# --------------------------------------------------------------------------------------------------------------
# Dedup and splits
# --------------------------------------------------------------------------------------------------------------


def normalize_problem(text: str) -> str:
    """Dedup key: NFKC, case-folded, whitespace collapsed. Deliberately light: it merges copies, not paraphrases."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def split_rank(split: str | None) -> int:
    return SPLIT_PRIORITY.index(split) if split in SPLIT_PRIORITY else len(SPLIT_PRIORITY)


def dedup(examples: list[Example]) -> tuple[list[Example], int]:
    """Keep one example per normalised problem, preferring evaluation splits; return (kept, removed).

    Stable: survivors keep their input order.
    """
    best: dict[str, int] = {}
    for i, ex in enumerate(examples):
        key = normalize_problem(ex.problem)
        j = best.get(key)
        if j is None or split_rank(ex.split) < split_rank(examples[j].split):
            best[key] = i
    keep = sorted(best.values())
    return [examples[i] for i in keep], len(examples) - len(keep)


def resolve_size(size: float, n: int, flag: str) -> int:
    """``--test-size 0.1`` is a fraction, ``--test-size 50`` a count."""
    if size < 0:
        raise ValueError(f"{flag} must be >= 0, got {size}")
    if 0 < size < 1:
        return int(round(size * n))
    if size != int(size):
        raise ValueError(f"{flag} must be a fraction in (0, 1) or a whole count, got {size}")
    if size > n:
        raise ValueError(f"{flag}={int(size)} exceeds the {n} rows available")
    return int(size)


def stable_order(examples: list[Example], seed: int) -> list[Example]:
    """A seeded permutation that depends on the problems, not the input order: re-running with rows appended
    moves few existing problems between splits (each problem gets a seeded hash key)."""

    def key(ex: Example) -> str:
        return hashlib.sha256(f"{seed}\0{normalize_problem(ex.problem)}".encode()).hexdigest()

    return sorted(examples, key=key)


def assign_splits(
    examples: list[Example], default_split: str, test_size: float, val_size: float, seed: int
) -> list[Example]:
    """Give every example a split. Source-provided splits are kept; the rest are carved deterministically by seed
    into test / validation / ``default_split`` when sizes are given, else all go to ``default_split``."""
    free = [ex for ex in examples if ex.split is None]
    if free and (test_size or val_size):
        order = stable_order(free, seed)
        n_test = resolve_size(test_size, len(order), "--test-size")
        n_val = resolve_size(val_size, len(order), "--val-size")
        if n_test + n_val > len(order):
            raise ValueError(f"--test-size + --val-size ({n_test} + {n_val}) exceed the {len(order)} rows")
        for i, ex in enumerate(order):
            ex.split = "test" if i < n_test else "validation" if i < n_test + n_val else default_split
    for ex in free:
        if ex.split is None:
            ex.split = default_split
    return examples


# --------------------------------------------------------------------------------------------------------------
# verl rows
# --------------------------------------------------------------------------------------------------------------


def to_verl_row(ex: Example, index: int, agent_name: str) -> dict[str, Any]:
    """The RLHFDataset row (extension-points §8). ``extra_info.index`` is per split, as in verl's own scripts."""
    return {
        "data_source": ex.data_source,
        "agent_name": agent_name,
        "prompt": ex.prompt,
        "ability": ex.ability,
        "reward_model": {"style": "rule", "ground_truth": ex.ground_truth},
        "extra_info": {
            "split": ex.split,
            "index": index,
            "id": ex.source_id,
            "task": ex.ability,
            "question": ex.problem,
            **ex.extra,
        },
    }


def write_parquet(rows: list[dict[str, Any]], path: Path) -> None:
    """Write rows with pyarrow (schema inferred from the rows; every row of one file has the same keys)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)


@dataclass
class Report:
    """What the closing summary prints; also returned to callers (tests, the benchmark)."""

    rows_in: int = 0
    rows_per_split: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)
    dropped: Counter = field(default_factory=Counter)  # not errors: kept=false, disjointness, ...
    moved: Counter = field(default_factory=Counter)  # rows that changed output (MPS: RL-assigned, no mistake -> SFT)
    marked: Counter = field(default_factory=Counter)  # rows carrying a per-row setting (MBPP: shared-process harness)
    id_prefix: str | None = None  # "split" / "file" when ids clashed across inputs and were qualified (ids.py)
    dedup_removed: int = 0
    outputs: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def table(self) -> str:
        lines = ["", "summary", "-------", f"{'input rows':<46}{self.rows_in:>10}"]
        for split, n in sorted(self.rows_per_split.items()):
            lines.append(f"{'rows ' + split:<46}{n:>10}")
        for reason, n in sorted(self.skipped.items()):
            lines.append(f"{'skipped (invalid): ' + reason:<46}{n:>10}")
        for reason, n in sorted(self.dropped.items()):
            lines.append(f"{'dropped: ' + reason:<46}{n:>10}")
        for reason, n in sorted(self.moved.items()):
            lines.append(f"{'moved: ' + reason:<46}{n:>10}")
        for reason, n in sorted(self.marked.items()):
            lines.append(f"{'marked: ' + reason:<46}{n:>10}")
        if self.id_prefix:
            lines.append(f"ids clashed across input files: each id is prefixed with its {self.id_prefix}")
        lines.append(f"{'duplicates removed':<46}{self.dedup_removed:>10}")
        rate = self.rows_in / self.seconds if self.seconds else float("nan")
        lines.append(f"{'time':<46}{self.seconds:>9.2f}s  ({rate:,.0f} rows/s)")
        lines += [f"output: {p}" for p in self.outputs]
        return "\n".join(lines)
