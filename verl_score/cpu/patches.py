"""The only monkeypatches verl-score applies to verl 0.9.1, all in this one file, all CPU-only.

verl has no hook for these two points, so we patch them — but only when the CPU platform is selected
(``VERL_PLATFORM=cpu``); on GPU nothing here runs. Each patch names the verl function it touches and why, and
``PATCH_TARGETS`` records a fingerprint of the verl source it relies on: ``tests/cpu/test_patches.py`` fails loudly
if verl's code under a patch changes (e.g. after an upgrade), instead of the patch silently doing the wrong thing.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import logging
from dataclasses import dataclass
from typing import Any, Callable

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PatchTarget:
    """A verl function whose source a patch relies on, and the sha256 of that source in verl 0.9.1."""

    module: str
    qualname: str
    sha256: str
    why: str

    def resolve(self) -> Any:
        obj: Any = importlib.import_module(self.module)
        for part in self.qualname.split("."):
            obj = getattr(obj, part)
        return obj

    def current_sha256(self) -> str:
        return source_sha256(self.resolve())


def source_sha256(obj: Any) -> str:
    return hashlib.sha256(inspect.getsource(obj).encode()).hexdigest()


PATCH_TARGETS: tuple[PatchTarget, ...] = (
    PatchTarget(
        module="verl.utils.distributed",
        qualname="initialize_global_process_group_ray",
        sha256="761a94d1a2e058d31a0ac231c89a142abf5daf822e333bac75e84cafcf7507ac",
        why=(
            "builds backend f'cpu:gloo,{device}:{backend}', which is 'cpu:gloo,cpu:gloo' on CPU and torch rejects "
            "duplicate device types; we pass plain 'gloo' instead"
        ),
    ),
    PatchTarget(
        module="verl.utils.distributed",
        qualname="initialize_global_process_group",
        sha256="33a5452c4dde00591e00692a5f967cc7b424a3b7ebd9da7cb23697209ddbd0e1",
        why="same backend string problem, used by the SFT trainer (torchrun)",
    ),
    PatchTarget(
        module="verl.workers.engine.fsdp.transformer_impl",
        qualname="FSDPEngine._build_fsdp_module",
        sha256="35b7b539858443e45894da2d9675fb5a1d7b2bbb7c7c8b35605b0746d3179213",
        why=(
            "hard-codes CPUOffloadPolicy(pin_memory=True) for forward-only (ref) FSDP2 modules; pinning memory needs "
            "an accelerator, so we rebind the module-level name CPUOffloadPolicy to a subclass with pin_memory=False"
        ),
    ),
)

_applied = False


def _plain_gloo(backend: str | None) -> str | None:
    """Map verl's composite backend strings to plain "gloo" when every device in them is the CPU."""
    if backend is None:
        return "gloo"
    parts = {p.split(":", 1)[0] for p in backend.split(",") if ":" in p}
    return "gloo" if parts <= {"cpu"} else backend


def _patch_process_group() -> None:
    import verl.utils.distributed as dist_utils

    orig_ray: Callable[..., Any] = dist_utils.initialize_global_process_group_ray
    orig_torchrun: Callable[..., Any] = dist_utils.initialize_global_process_group

    def initialize_global_process_group_ray(timeout_second=None, backend=None):
        import torch.distributed

        if backend is None and not torch.distributed.is_initialized():
            backend = "gloo"
        return orig_ray(timeout_second=timeout_second, backend=_plain_gloo(backend))

    def initialize_global_process_group(timeout_second=36000):
        import os
        from datetime import timedelta

        import torch.distributed

        torch.distributed.init_process_group(
            backend="gloo",
            timeout=timedelta(seconds=timeout_second),
            init_method=os.environ.get("DIST_INIT_METHOD", None),
        )
        return int(os.environ["LOCAL_RANK"]), int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])

    initialize_global_process_group_ray.__wrapped__ = orig_ray  # type: ignore[attr-defined]
    initialize_global_process_group.__wrapped__ = orig_torchrun  # type: ignore[attr-defined]
    _rebind(dist_utils, "initialize_global_process_group_ray", initialize_global_process_group_ray)
    _rebind(dist_utils, "initialize_global_process_group", initialize_global_process_group)


def _rebind(module: Any, name: str, new: Any) -> None:
    """Replace ``module.name`` and every already-imported ``from module import name`` copy in verl's modules."""
    import sys

    old = getattr(module, name)
    setattr(module, name, new)
    for mod_name, mod in list(sys.modules.items()):
        if mod_name.startswith("verl.") and mod is not module and getattr(mod, name, None) is old:
            setattr(mod, name, new)


def _patch_cpu_offload_policy() -> None:
    import verl.workers.engine.fsdp.transformer_impl as impl

    base = impl.CPUOffloadPolicy
    if getattr(base, "_verl_score_unpinned", False):
        return

    class UnpinnedCPUOffloadPolicy(base):  # type: ignore[misc, valid-type]
        """``CPUOffloadPolicy`` that never pins memory (no accelerator to pin for); isinstance checks still hold."""

        _verl_score_unpinned = True

        def __init__(self, pin_memory: bool = True) -> None:  # noqa: ARG002 - the argument is deliberately ignored
            super().__init__(pin_memory=False)

    impl.CPUOffloadPolicy = UnpinnedCPUOffloadPolicy


def apply_cpu_patches() -> bool:
    """Apply every patch once, if and only if the CPU platform is selected. Returns whether patches are active."""
    global _applied
    from verl_score.cpu.platform import cpu_platform_selected

    if not cpu_platform_selected():
        return False
    if not _applied:
        _patch_process_group()
        _patch_cpu_offload_policy()
        _applied = True
        logger.info("verl-score CPU patches applied: %s", [t.qualname for t in PATCH_TARGETS])
    return True
