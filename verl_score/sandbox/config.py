"""All limits of the code sandbox in one hydra-friendly dataclass.

Every number that bounds untrusted code lives here so a YAML block (``reward.custom_reward_function.reward_kwargs
.modules.code_tests.sandbox``) can tune it, and so tests can shrink timeouts to keep the attack suite fast.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping


@dataclass
class SandboxConfig:
    """Limits and isolation switches for one sandboxed Python run.

    Why each limit exists:
      * ``timeout_s``: wall clock; kills the whole process tree (sleeping or blocked code burns no CPU).
      * ``cpu_s``: RLIMIT_CPU per process (busy loops die even if the wall clock is generous).
      * ``memory_mb``: RLIMIT_AS per process (a memory bomb gets ``MemoryError``, not the host's OOM killer).
      * ``max_processes``: RLIMIT_NPROC, set *inside* the sandbox's user namespace so it counts only the sandbox's
        own processes (fork bombs stop; concurrent sandboxes do not starve each other).
      * ``file_size_mb`` / ``scratch_mb``: RLIMIT_FSIZE per file and the size of the private tmpfs scratch.
      * ``max_output_bytes``: stdout+stderr cap at the pipe; exceeding it kills the run (an output flood costs
        nothing).  ``max_cell_output_bytes`` caps what each cell's ``print`` may return as its observation.
      * ``max_concurrency``: async semaphore; sandboxes are processes, and the reward loop fans out per sample.
      * ``test_timeout_s``: strict test harness only: wall clock for the program's top level and for each test
        (all its calls into the program together); past it the program process is killed and the test fails.
      * ``max_value_bytes``: strict test harness only: the largest plain value (arguments, a result) that may cross
        between the program and the tests; bigger is a failed test (``value_too_large``).
    """

    python: str = "/usr/bin/python3"  # the SYSTEM interpreter: the venv (with torch, keys in files, ...) stays out
    bwrap: str = "bwrap"
    timeout_s: float = 10.0
    cpu_s: int = 5
    memory_mb: int = 1024
    file_size_mb: int = 16
    scratch_mb: int = 64
    max_processes: int = 32
    max_open_files: int = 256
    max_output_bytes: int = 1 << 20
    max_cell_output_bytes: int = 64 << 10
    max_concurrency: int = 4
    test_timeout_s: float = 5.0
    max_value_bytes: int = 4 << 20
    # When the parent runs as root, bwrap is started as this uid/gid: RLIMIT_NPROC is never enforced for uid 0.
    run_as_uid: int = 65534
    run_as_gid: int = 65534
    # False runs ``python3 -I -S`` (standard library only, faster start); True also imports the system site-packages.
    import_site: bool = False
    # Extra host paths mounted read-only at the same place (e.g. a venv the code under test needs). Empty = /usr only.
    ro_binds: list[str] = field(default_factory=list)
    # Loudly named escape hatch: without bubblewrap, run an UNISOLATED subprocess (rlimits only) and warn every time.
    allow_unsandboxed_subprocess_i_understand_the_risk: bool = False

    def __post_init__(self) -> None:
        for name in ("timeout_s", "cpu_s", "memory_mb", "file_size_mb", "scratch_mb", "max_processes",
                     "max_open_files", "max_output_bytes", "max_cell_output_bytes", "max_concurrency",
                     "test_timeout_s", "max_value_bytes"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"SandboxConfig.{name} must be a positive number, got {value!r}")
        self.ro_binds = list(self.ro_binds)

    @classmethod
    def from_mapping(cls, cfg: Mapping[str, Any] | None) -> "SandboxConfig":
        """Build from a YAML/dict block; an unknown key is an error (a typo must not silently keep a default)."""
        if cfg is None:
            return cls()
        if isinstance(cfg, SandboxConfig):
            return cfg
        cfg = _to_container(cfg)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(cfg) - known)
        if unknown:
            raise ValueError(f"unknown SandboxConfig keys {unknown}; known: {sorted(known)}")
        return cls(**cfg)


def _to_container(cfg: Any) -> dict[str, Any]:
    try:
        from omegaconf import DictConfig, OmegaConf

        if isinstance(cfg, DictConfig):
            return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]
    except ImportError:  # pragma: no cover - omegaconf is a verl dependency
        pass
    return dict(cfg)
