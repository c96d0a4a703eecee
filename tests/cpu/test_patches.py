"""The CPU plug-ins register through verl's own hooks, and every monkeypatch target is still the code we patched.

If verl is upgraded and a function under a patch changes, the fingerprint test fails loudly: re-read the function,
adapt (or drop) the patch, then update its sha256 in ``verl_score/cpu/patches.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from verl_score.cpu.patches import PATCH_TARGETS, _plain_gloo


@pytest.mark.parametrize("target", PATCH_TARGETS, ids=lambda t: t.qualname)
def test_patched_verl_code_is_unchanged(target):
    assert target.current_sha256() == target.sha256, (
        f"verl's {target.module}.{target.qualname} changed; the CPU patch relies on it because it {target.why}"
    )


def test_backend_mapping():
    assert _plain_gloo("cpu:gloo,cpu:gloo") == "gloo"
    assert _plain_gloo("cpu:gloo") == "gloo"
    assert _plain_gloo(None) == "gloo"
    assert _plain_gloo("cpu:gloo,cuda:nccl") == "cpu:gloo,cuda:nccl"  # a GPU in the string: leave it alone


_PROBE = r"""
import verl, json
from verl.plugin.platform import get_platform
from verl.workers.rollout.replica import get_rollout_replica_class
from verl.workers.rollout.base import get_rollout_class
from verl.workers.engine.base import EngineRegistry
import verl.workers.engine.fsdp.transformer_impl as impl
import verl.utils.distributed as d
print(json.dumps({
    "device": get_platform().device_name,
    "backend": get_platform().communication_backend_name(),
    "replica": get_rollout_replica_class("hfcpu").__name__,
    "adapter": get_rollout_class("hfcpu", "async").__name__,
    "engine": EngineRegistry.get_engine_cls("language_model", "fsdp2").__name__,
    "engine_is_stock_subclass": issubclass(EngineRegistry.get_engine_cls("language_model", "fsdp2"), impl.FSDPEngineWithLMHead),
    "pin": impl.CPUOffloadPolicy(pin_memory=True).pin_memory,
    "pg_patched": hasattr(d.initialize_global_process_group_ray, "__wrapped__"),
}))
"""


def _probe(env_extra: dict[str, str]) -> dict:
    import json

    env = {k: v for k, v in os.environ.items() if not k.startswith("VERL_")}
    env.update(env_extra)
    out = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_plugins_load_in_a_fresh_process_through_verl_external_modules():
    got = _probe({"VERL_USE_EXTERNAL_MODULES": "verl_score.register", "VERL_PLATFORM": "cpu"})
    assert got == {
        "device": "cpu",
        "backend": "gloo",
        "replica": "HFCpuReplica",
        "adapter": "HFCpuServerAdapter",
        # our subclass (fp32 log-probs under bf16 autocast, verl_score/cpu/platform.py), registered for device cpu
        "engine": "CpuFSDPEngineWithLMHead",
        "engine_is_stock_subclass": True,
        "pin": False,
        "pg_patched": True,
    }


def test_no_patch_without_the_cpu_platform():
    """On a GPU machine (no VERL_PLATFORM=cpu) verl-score registers hfcpu but patches nothing."""
    env = {"VERL_USE_EXTERNAL_MODULES": "verl_score.register", "VERL_PLATFORM": "nvidia"}
    probe = _PROBE.replace('"engine": EngineRegistry.get_engine_cls("language_model", "fsdp2").__name__,', "").replace(
        '"engine_is_stock_subclass": issubclass(EngineRegistry.get_engine_cls("language_model", "fsdp2"), impl.FSDPEngineWithLMHead),',
        "",
    )
    envs = {k: v for k, v in os.environ.items() if not k.startswith("VERL_")} | env
    out = subprocess.run([sys.executable, "-c", probe], env=envs, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    import json

    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["replica"] == "HFCpuReplica" and got["pin"] is True and got["pg_patched"] is False
