"""Rows of a ``convert_parquet.py`` parquet, as the eval needs them.

The eval reads the very parquet the trainer reads (same ``prompt`` chat list, ``reward_model.ground_truth``,
``extra_info.task``), so a checkpoint is judged on exactly the conversation shape it was trained on. Parquet gives
numpy arrays and nested dicts; they are turned into plain Python here once so the engines, the reward call and the
jsonl writer never see numpy types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping



@dataclass
class EvalSample:
    """One problem. ``uid`` is ``extra_info.id`` when the converter wrote one, else ``"row-<index>"``."""

    index: int
    uid: str
    data_source: str
    prompt: list[dict[str, Any]]
    ground_truth: Any
    task: str
    ability: str | None = None
    extra_info: dict[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        """The row as verl's agent loop receives it (``raw_prompt`` + the columns it reads)."""
        return {"raw_prompt": self.prompt, "extra_info": self.extra_info, "ability": self.ability,
                "data_source": self.data_source}


def to_plain(value: Any) -> Any:
    """numpy arrays / scalars and nested mappings -> lists, Python scalars and dicts (JSON-serialisable)."""
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return to_plain(value.tolist())
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    return value


def load_samples(path: str | Path, *, limit: int | None = None, data_sources: set[str] | None = None,
                 default_task: str = "math") -> list[EvalSample]:
    """Read ``path`` (one parquet file) into ``EvalSample``s, in file order.

    ``limit`` keeps the first rows (after the optional data-source filter). A row without a prompt or ground truth
    is an error: silently skipping it would change N and every rate with it.
    """
    import pandas as pd

    from verl_score.episodes.two_attempt import resolve_task  # imports verl: only when rows are actually loaded

    df = pd.read_parquet(path)
    missing = {"data_source", "prompt", "reward_model"} - set(df.columns)
    if missing:
        raise ValueError(f"{path}: not a convert_parquet.py file, missing columns {sorted(missing)}")
    samples: list[EvalSample] = []
    for i, raw in enumerate(df.to_dict(orient="records")):
        row = to_plain(raw)
        ds = str(row["data_source"])
        if data_sources and ds not in data_sources:
            continue
        reward_model = row.get("reward_model") or {}
        if "ground_truth" not in reward_model or not row.get("prompt"):
            raise ValueError(f"{path} row {i}: missing prompt or reward_model.ground_truth")
        extra = dict(row.get("extra_info") or {})
        samples.append(
            EvalSample(
                index=i,
                uid=str(extra.get("id", f"row-{i}")),
                data_source=ds,
                prompt=[dict(m) for m in row["prompt"]],
                ground_truth=reward_model["ground_truth"],
                task=resolve_task(row, default_task),
                ability=row.get("ability"),
                extra_info=extra,
            )
        )
        if limit is not None and len(samples) >= limit:
            break
    return samples
