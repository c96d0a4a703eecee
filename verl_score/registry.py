"""One name -> plug-in registry for every kind of plug-in (rewards, step matchers, guidance providers, shapings,
per-attempt advantage estimators).

Why one class: the registries used to be written three ways and failed three ways (``KeyError`` here,
``ValueError`` there, some listing the known names, some not). A YAML typo must get the same answer everywhere: the
name it asked for and the names it could have used. verl's own registries (``register_adv_est``,
``register_trainer``, agent loops, platforms) are verl's and are not wrapped; we register into them.

``builtins``: modules that register plug-ins of this kind, imported on the first lookup of a name the registry does
not hold yet. It keeps ``import verl_score...`` cheap and lets a plug-in module depend on its registry without the
registry importing it at import time (``tests/test_import_graph.py`` explains why that is not an import cycle).
"""

from __future__ import annotations

import importlib
import threading
from typing import Any, Callable, Generic, Iterator, Sequence, TypeVar

__all__ = ["DuplicatePluginError", "Registry", "UnknownPluginError"]

T = TypeVar("T")


class UnknownPluginError(KeyError, ValueError):
    """A name no plug-in of the kind is registered under; the message names the kind and lists what is registered.

    A ``KeyError`` (a lookup that missed) and a ``ValueError`` (a bad config value) both, because the registries it
    replaces raised one or the other and their callers catch either.
    """

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class DuplicatePluginError(ValueError):
    """A second, different plug-in registered under a taken name (re-registering the same object is allowed: a
    module imported twice under two names must not fail)."""


class Registry(Generic[T]):
    """Name -> plug-in (a class, factory or function), with per-entry metadata for registries that need it.

    Args:
        kind: what the names name, as the user meets it (``"reward module"``, ``"score.shaping.name"``); it starts
            every error message.
        builtins: modules imported on the first miss (see the module docstring).
        hint: appended to the unknown-name message (e.g. where the name is set).
    """

    def __init__(self, kind: str, *, builtins: Sequence[str] = (), hint: str = "") -> None:
        self.kind = kind
        self.builtins = tuple(builtins)
        self.hint = hint
        self._entries: dict[str, T] = {}
        self._meta: dict[str, dict[str, Any]] = {}
        self._builtins_loaded = not self.builtins
        self._loading = False
        self._lock = threading.RLock()

    def register(self, name: str, **meta: Any) -> Callable[[T], T]:
        """Decorator: register the decorated object under ``name`` (with optional metadata, see :meth:`meta`)."""

        def decorator(obj: T) -> T:
            self.add(name, obj, **meta)
            return obj

        return decorator

    def add(self, name: str, obj: T, **meta: Any) -> None:
        existing = self._entries.get(name)
        if existing is not None and existing is not obj:
            raise DuplicatePluginError(
                f"{self.kind} {name!r} is already registered ({getattr(existing, '__qualname__', existing)!r})"
            )
        self._entries[name] = obj
        self._meta[name] = dict(meta)

    def get(self, name: str) -> T:
        """The plug-in registered as ``name``; :class:`UnknownPluginError` listing the registered names otherwise."""
        if name not in self._entries:
            self._load_builtins()
        try:
            return self._entries[name]
        except KeyError:
            hint = f" ({self.hint})" if self.hint else ""
            raise UnknownPluginError(f"unknown {self.kind} {name!r}; registered: {self.names()}{hint}") from None

    def meta(self, name: str) -> dict[str, Any]:
        """The metadata ``name`` was registered with (unknown name: as :meth:`get`)."""
        self.get(name)
        return self._meta[name]

    def names(self) -> list[str]:
        """Every registered name, sorted (built-in modules imported first)."""
        self._load_builtins()
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        if name not in self._entries:
            self._load_builtins()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def _load_builtins(self) -> None:
        if self._builtins_loaded:
            return
        # One thread imports; another thread's lookup waits for it instead of seeing a half-filled registry (a valid
        # built-in name would otherwise raise UnknownPluginError). Re-entrant: a built-in module that looks a name up
        # while it is being imported returns here at once (the _loading flag), no loop.
        with self._lock:
            if self._builtins_loaded or self._loading:
                return
            self._loading = True
            try:
                for module in self.builtins:
                    importlib.import_module(module)
            finally:
                self._loading = False
            self._builtins_loaded = True  # only once all imported: a failed import fails again, not silently
