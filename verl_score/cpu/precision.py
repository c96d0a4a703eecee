"""Which float precision the CPU path computes in: bf16 mixed precision where the processor has bf16 kernels.

Why: on a processor with ``avx512_bf16`` (or AMX) torch's CPU matmuls run 3-5x faster in bf16 than in fp32, and the
actor update, the reference and old-log-prob passes are matmul-bound. Measured on SmolLM2-135M through the real
``main_ppo`` (``benchmarks/cpu_rollout.py``, 4 prompts x 4 samples, quiet 2-core AMD EPYC with ``avx512_bf16``):
update_actor 20-26 s -> 13-17 s, ref 5-6 s -> 2.3-4.3 s, old log-probs 5-8 s -> 3-3.7 s per step (docs/cpu.md).
Without the flag torch emulates bf16 and it is slower than fp32, so the choice depends on the machine.

What "bf16" means here (the same on every module, so the rollout and the actor agree on what the policy is):
* actor and reference: FSDP2 mixed precision, ``param_dtype`` bf16 for the forward/backward, fp32 gradient
  reduction (``fsdp_config.mixed_precision``);
* both are stored in fp32 (``fsdp_config.model_dtype``): the actor so that Adam updates full-precision weights and
  small updates are not lost to bf16 rounding; the frozen reference because its storage dtype is not only its
  weights' — verl's engine casts the whole module to ``model_dtype`` (``module.to(torch_dtype)``), buffers included,
  so a bf16-stored reference would compute RoPE from a bf16-rounded ``inv_freq`` (FSDP2's policy casts parameters,
  never buffers) and its log-probs would differ from the actor's at step 0 by 0.04-0.06 a token, forty times the KL
  Stage I constrains (``tests/cpu/test_precision.py`` keeps that measured);
* rollout (``hfcpu``): the weights synced from the actor are held in bf16 (``rollout.dtype``), like the actor's
  forward sees them.

Chosen by ``VERL_SCORE_CPU_PRECISION``: ``auto`` (bf16 when the processor has bf16 kernels, else fp32), ``bf16`` or
``fp32``. Forcing ``bf16`` on a processor without them is an error, never a silent fallback that changes the numbers.

This file runs as a script from the launchers (``python verl_score/cpu/precision.py overrides``: no package import,
which would load verl first): it prints the hydra overrides, one per line, and the choice and its reason on stderr.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["BF16_FLAGS", "ENV", "choose_precision", "cpu_bf16_flags", "hydra_overrides"]

ENV = "VERL_SCORE_CPU_PRECISION"
#: /proc/cpuinfo flags that mean native bf16 matmul kernels (AVX-512 BF16 on AMD Zen 4+ / Intel Cooper Lake+, AMX)
BF16_FLAGS = ("avx512_bf16", "amx_bf16")
CHOICES = ("auto", "bf16", "fp32")


def cpu_bf16_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> list[str]:
    """The bf16 flags the processor lists (empty when none, or when ``cpuinfo`` is unreadable: not Linux)."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return []
    flags: set[str] = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[1].split())
    return [f for f in BF16_FLAGS if f in flags]


def choose_precision(requested: str | None = None, flags: list[str] | None = None) -> tuple[str, str]:
    """``("bf16" | "fp32", why)`` for a request (default: ``$VERL_SCORE_CPU_PRECISION``, else ``auto``)."""
    requested = (requested if requested is not None else os.environ.get(ENV, "auto")).strip().lower() or "auto"
    if requested not in CHOICES:
        raise ValueError(f"{ENV}={requested!r}: expected one of {CHOICES}")
    flags = cpu_bf16_flags() if flags is None else flags
    if requested == "fp32":
        return "fp32", f"{ENV}=fp32"
    if flags:
        how = "auto: " if requested == "auto" else f"{ENV}=bf16: "
        return "bf16", f"{how}the processor has native bf16 kernels ({', '.join(flags)})"
    if requested == "bf16":
        raise ValueError(
            f"{ENV}=bf16, but this processor lists none of {BF16_FLAGS} in /proc/cpuinfo: torch would emulate bf16, "
            f"slower than fp32 and with different numbers. Fix: {ENV}=auto or {ENV}=fp32."
        )
    return "fp32", f"auto: the processor lists none of {BF16_FLAGS} (bf16 would be emulated, slower than fp32)"


def hydra_overrides(precision: str) -> list[str]:
    """The verl overrides that put actor, reference and the ``hfcpu`` rollout in ``precision``."""
    param = {"bf16": "bf16", "fp32": "fp32"}[precision]
    mp = f"{{param_dtype:{param},reduce_dtype:fp32,buffer_dtype:fp32}}"
    return [
        # fp32 storage in both modes: the optimiser's master weights; the reference's buffers (module docstring)
        "actor_rollout_ref.actor.fsdp_config.model_dtype=fp32",
        "actor_rollout_ref.ref.fsdp_config.model_dtype=fp32",
        f"+actor_rollout_ref.actor.fsdp_config.mixed_precision={mp}",
        f"+actor_rollout_ref.ref.fsdp_config.mixed_precision={mp}",
        f"actor_rollout_ref.rollout.dtype={'bfloat16' if precision == 'bf16' else 'float32'}",
    ]


def main(argv: list[str]) -> int:
    if argv[:1] != ["overrides"]:
        print("usage: python verl_score/cpu/precision.py overrides", file=sys.stderr)
        return 2
    try:
        precision, why = choose_precision()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"[cpu] precision {precision} ({why})", file=sys.stderr)
    print("\n".join(hydra_overrides(precision)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
