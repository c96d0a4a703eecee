"""reasoning-gym generator options (``--rg-config KEY=VALUE``), checked against the dataset's config dataclass.

reasoning-gym builds each dataset from a config dataclass (``DATASETS[name] = (dataset_cls, config_cls)``) and
``create_dataset(name, **kwargs)`` passes the kwargs straight to it, so a misspelt key surfaces as a bare
``TypeError: __init__() got an unexpected keyword argument`` deep inside the generator, and a string where an int
belongs fails (or silently misbehaves) later. Here every key is checked against the dataclass's fields *before*
anything is generated, each value is coerced to the field's annotated type (int, float, bool, str, Literal, list,
Optional), and the config's own ``validate()`` runs, so a bad option is one clear error naming the task, the key and
the allowed keys/values.

``seed`` and ``size`` are not options: ``--seed`` / ``--size`` own them (one seed derivation for every task).
A key may be scoped to one task with ``TASK.KEY=VALUE`` when ``--rg-tasks`` names several.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import types
import typing
from typing import Any, Sequence

RESERVED = {"seed": "--seed", "size": "--size"}
_TRUE, _FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off"}


class RGConfigError(ValueError):
    """A reasoning-gym option the dataset does not accept (the message names task, key and allowed values)."""


def dataset_classes(task: str) -> tuple[type, type]:
    """``(dataset_cls, config_cls)`` of a registered reasoning-gym task; unknown names list close matches."""
    from reasoning_gym.factory import DATASETS

    if task not in DATASETS:
        close = difflib.get_close_matches(task, list(DATASETS), n=5)
        hint = f"; did you mean {close}?" if close else f"; known: {sorted(DATASETS)}"
        raise RGConfigError(f"unknown reasoning-gym task {task!r}{hint}")
    return DATASETS[task]


def config_fields(task: str) -> dict[str, dataclasses.Field]:
    """The user-settable fields of ``task``'s config dataclass (``seed``/``size`` excluded)."""
    _, cfg_cls = dataset_classes(task)
    return {f.name: f for f in dataclasses.fields(cfg_cls) if f.init and f.name not in RESERVED}


def describe_fields(task: str) -> str:
    """``name: type = default`` per field, for error messages."""
    _, cfg_cls = dataset_classes(task)
    hints = typing.get_type_hints(cfg_cls)
    parts = []
    for name, f in config_fields(task).items():
        default = f.default if f.default is not dataclasses.MISSING else "<required>"
        parts.append(f"{name}: {_type_name(hints.get(name, Any))} = {default!r}")
    return "; ".join(parts)


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) if typing.get_origin(tp) is None and isinstance(tp, type) else str(tp).replace(
        "typing.", ""
    )


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """``value`` (a CLI string, or already typed from JSON) as an instance of annotation ``tp``."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return value
    if origin is typing.Literal:
        for allowed in args:
            if value == allowed or (isinstance(value, str) and str(allowed) == value):
                return allowed
        raise RGConfigError(f"{where}: {value!r} is not allowed; allowed values: {list(args)}")
    if origin in (typing.Union, types.UnionType):
        if type(None) in args and (value is None or (isinstance(value, str) and value.lower() in ("none", "null"))):
            return None
        errors = []
        for alt in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, alt, where)
            except RGConfigError as e:
                errors.append(str(e))
        raise RGConfigError("; ".join(errors))
    if origin in (list, tuple, Sequence, typing.Sequence) or tp in (list, tuple):
        if isinstance(value, str):
            text = value.strip()
            items: list[Any] = json.loads(text) if text.startswith("[") else [v for v in text.split(",") if v != ""]
        elif isinstance(value, (list, tuple)):
            items = list(value)
        else:
            raise RGConfigError(f"{where}: expected a list (comma-separated or JSON), got {value!r}")
        elem = args[0] if args else Any
        out = [_coerce(v, elem, where) for v in items]
        return tuple(out) if origin is tuple or tp is tuple else out
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE
        raise RGConfigError(f"{where}: expected a boolean (true/false), got {value!r}")
    if tp in (int, float):
        if isinstance(value, bool):
            raise RGConfigError(f"{where}: expected {tp.__name__}, got {value!r}")
        try:
            num = float(value) if tp is float else int(str(value), 10)
        except ValueError:
            raise RGConfigError(f"{where}: expected {tp.__name__}, got {value!r}") from None
        return num
    if tp is str:
        return str(value)
    if isinstance(value, str):  # other annotations (dicts, nested configs): JSON
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def parse_rg_config(pairs: Sequence[str], tasks: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``["min_digits=1", "chain_sum.max_terms=3"]`` → ``{task: {key: typed value}}``, validated per task.

    An unscoped key applies to every task in ``tasks`` and must exist in each; ``TASK.KEY`` applies to that task
    only (which must be in ``tasks``). The resulting config is built and its ``validate()`` run, so cross-field
    rules (``min_terms <= max_terms`` …) fail here too, naming the task.
    """
    per_task: dict[str, dict[str, Any]] = {t: {} for t in tasks}
    for t in tasks:
        dataset_classes(t)  # unknown task names fail first
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise RGConfigError(f"--rg-config {pair!r}: expected KEY=VALUE (or TASK.KEY=VALUE)")
        scope = list(tasks)
        if "." in key:
            task, key = key.split(".", 1)
            if task not in tasks:
                raise RGConfigError(f"--rg-config {pair!r}: task {task!r} is not in --rg-tasks {list(tasks)}")
            scope = [task]
        if key in RESERVED:
            raise RGConfigError(f"--rg-config {pair!r}: {key!r} is set by {RESERVED[key]}, not --rg-config")
        for task in scope:
            fields = config_fields(task)
            if key not in fields:
                close = difflib.get_close_matches(key, list(fields), n=3)
                hint = f" (did you mean {close}?)" if close else ""
                raise RGConfigError(
                    f"reasoning-gym task {task!r} has no config key {key!r}{hint}; "
                    f"allowed keys: {describe_fields(task)}"
                )
            hints = typing.get_type_hints(dataset_classes(task)[1])
            per_task[task][key] = _coerce(raw.strip(), hints.get(key, Any), f"{task}.{key}")
    for task, kwargs in per_task.items():
        _, cfg_cls = dataset_classes(task)
        try:
            cfg = cfg_cls(**kwargs)
            if hasattr(cfg, "validate"):
                cfg.validate()
        except (AssertionError, ValueError, TypeError) as e:
            raise RGConfigError(
                f"reasoning-gym task {task!r} rejects config {kwargs}: {e or type(e).__name__}; "
                f"allowed keys: {describe_fields(task)}"
            ) from None
    return per_task
