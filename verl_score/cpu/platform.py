"""A CPU platform for verl 0.9.1, registered through verl's own ``PlatformRegistry``.

verl reaches the accelerator only through ``verl.plugin.platform.get_platform()`` (device name, the torch device
module, the collective backend, Ray's resource name). Registering a ``cpu`` platform and selecting it with
``VERL_PLATFORM=cpu`` makes the real trainer, FSDP2 engine and workers run on a machine without a GPU.

Two choices need explaining:
* ``ray_resource_name`` stays ``"GPU"``: verl's resource pools and worker groups count "GPUs" everywhere. The CPU
  launcher gives Ray a fake GPU (``ray_init.num_gpus``) so one worker per "device" is placed, exactly as on a node.
* The FSDP engines are registered for ``device="cpu"`` in verl's ``EngineRegistry`` (the official hook), so no
  ``VERL_ENGINE_DEVICE`` override is needed.
"""

from __future__ import annotations

import os
import resource
from contextlib import contextmanager, nullcontext
from types import SimpleNamespace
from typing import Any, Optional

import torch

from verl.plugin.platform.platform_base import PlatformBase
from verl.plugin.platform.platform_manager import PlatformRegistry

CPU_PLATFORM = "cpu"


def cpu_platform_selected() -> bool:
    """True when this process runs verl on the CPU platform (``VERL_PLATFORM=cpu``)."""
    return os.environ.get("VERL_PLATFORM", "").strip().lower() == CPU_PLATFORM


def _rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class _CpuStream:
    """No-op stream: CPU work is synchronous, but verl's overlap code creates and waits on streams."""

    def __init__(self, *_: Any, **__: Any) -> None:
        pass

    def wait_stream(self, *_: Any) -> None:
        pass

    def synchronize(self) -> None:
        pass

    def record_event(self, *_: Any) -> "_CpuEvent":
        return _CpuEvent()


class _CpuEvent:
    def __init__(self, *_: Any, **__: Any) -> None:
        pass

    def record(self, *_: Any) -> None:
        pass

    def wait(self, *_: Any) -> None:
        pass

    def synchronize(self) -> None:
        pass

    def query(self) -> bool:
        return True

    def elapsed_time(self, _other: "_CpuEvent") -> float:
        return 0.0


def _make_device_module() -> SimpleNamespace:
    """The subset of the ``torch.cuda`` API that verl calls through ``get_torch_device()``, answered for the CPU."""
    return SimpleNamespace(
        is_available=lambda: True,
        device_count=lambda: 1,
        current_device=lambda: "cpu",  # FSDP/DTensor take it as a device; an int would mean cuda:N
        set_device=lambda *_: None,
        synchronize=lambda *_: None,
        empty_cache=lambda: None,
        ipc_collect=lambda: None,
        manual_seed=torch.manual_seed,
        manual_seed_all=torch.manual_seed,
        get_rng_state=lambda *_, **__: torch.get_rng_state(),
        set_rng_state=lambda state, *_, **__: torch.set_rng_state(state),
        set_per_process_memory_fraction=lambda *_: None,
        mem_get_info=lambda *_: (_available_bytes(), _total_bytes()),
        memory_allocated=lambda *_: _rss_bytes(),
        memory_reserved=lambda *_: _rss_bytes(),
        max_memory_allocated=lambda *_: _rss_bytes(),
        max_memory_reserved=lambda *_: _rss_bytes(),
        get_device_name=lambda *_: "cpu",
        current_stream=lambda *_: _CpuStream(),
        stream=lambda *_: nullcontext(),
        Stream=_CpuStream,
        Event=_CpuEvent,
    )


def _total_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _available_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")


@PlatformRegistry.register(platform=CPU_PLATFORM)
class PlatformCPU(PlatformBase):
    """verl platform for machines without an accelerator: gloo collectives, CPU tensors, a fake Ray "GPU"."""

    _device_module = _make_device_module()

    @property
    def device_name(self) -> str:
        return "cpu"

    @property
    def vendor_name(self) -> str:
        return "cpu"

    @property
    def device_module(self) -> SimpleNamespace:
        return self._device_module

    def is_available(self) -> bool:
        return True

    def is_platform_available(self, use_smi_check: bool = False) -> bool:
        # Never auto-detected: the CPU platform is chosen explicitly with VERL_PLATFORM=cpu.
        return False

    def current_device(self) -> str:  # type: ignore[override]
        return "cpu"

    def device_count(self) -> int:
        return 1

    def set_device(self, device_index: int) -> None:
        pass

    def synchronize(self, device_index: Optional[int] = None) -> None:
        pass

    def manual_seed(self, seed: int) -> None:
        torch.manual_seed(seed)

    def manual_seed_all(self, seed: int) -> None:
        torch.manual_seed(seed)

    def set_allocator_settings(self, settings: str) -> None:
        pass

    def empty_cache(self) -> None:
        pass

    def get_device_capability(self, device_index: int = 0) -> tuple[Optional[int], Optional[int]]:
        return None, None

    def communication_backend_name(self) -> str:
        return "gloo"

    def visible_devices_envvar(self) -> str:
        # Ray sets it for the fake GPU; nothing reads it on CPU, but verl's launch code expects a name.
        return "CUDA_VISIBLE_DEVICES"

    @contextmanager
    def nvtx_range(self, msg: str):
        yield

    def profiler_start(self) -> None:
        pass

    def profiler_stop(self) -> None:
        pass

    def ray_resource_name(self) -> str:
        return "GPU"

    def ray_noset_envvars(self) -> list[str]:
        return []

    def is_ipc_supported(self) -> bool:
        return False

    def cudart(self) -> Any:
        return None


def _fp32_logits(_module: Any, _inputs: Any, output: torch.Tensor) -> torch.Tensor:
    return output.float()


class _Fp32LogitsMixin:
    """Log-probs from fp32 logits under bf16 mixed precision.

    Why: under verl's bf16 autocast the LM head returns bf16 logits, and verl's ``logprobs_from_logits`` then takes a
    bf16 ``log_softmax`` over the whole vocabulary: on SmolLM2 (49k tokens) that rounds each sampled token's log-prob
    by ~0.01 on average, ten times the per-token KL to the reference SCoRe's Stage I constrains (~1e-3), and it makes
    the actor's log-probs disagree with the ``hfcpu`` rollout's, which upcasts its logits before the softmax. A forward
    hook on the output embedding upcasts the head's output: the matmul still runs in bf16 (where the speed is), the
    softmax, log-probs, entropy and KL in fp32. In fp32 runs it is a no-op (``Tensor.float()`` returns the tensor).
    Set on the actor and the reference engines alike (one engine class per role), LoRA models included (peft forwards
    ``get_output_embeddings`` to the base model)."""

    def initialize(self) -> None:  # type: ignore[override]
        super().initialize()  # type: ignore[misc]
        head = self.module.get_output_embeddings()  # type: ignore[attr-defined]
        if head is None:
            raise RuntimeError("verl-score CPU engine: the model has no output embedding to compute log-probs from")
        head.register_forward_hook(_fp32_logits)


def register_cpu_engines() -> None:
    """Register verl's FSDP engines for ``device="cpu"`` in its ``EngineRegistry`` (idempotent), with fp32 logits
    (:class:`_Fp32LogitsMixin`)."""
    from verl.workers.engine.base import EngineRegistry
    from verl.workers.engine.fsdp.transformer_impl import FSDPEngineWithLMHead, FSDPEngineWithValueHead

    class CpuFSDPEngineWithLMHead(_Fp32LogitsMixin, FSDPEngineWithLMHead):
        pass

    for model_type, engine_cls in (("language_model", CpuFSDPEngineWithLMHead), ("value_model", FSDPEngineWithValueHead)):
        for backend in ("fsdp", "fsdp2"):
            if EngineRegistry._engines.get(model_type, {}).get(backend, {}).get(CPU_PLATFORM) is None:
                EngineRegistry.register(model_type=model_type, backend=backend, device=CPU_PLATFORM)(engine_cls)
