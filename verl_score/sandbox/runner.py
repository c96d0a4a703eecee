"""Run untrusted Python in a bubblewrap sandbox, bounded in time, memory, processes, files and output.

Why bubblewrap: RL rewards run model-written code thousands of times; public SCoRe code runs it with in-process
``exec`` or a bare subprocess, where a single ``os.environ`` read leaks API keys and ``os.kill(os.getppid(), 9)``
takes the trainer down. bwrap gives, per run and without root or Docker: no network, a read-only ``/usr`` and
nothing else of the host (no home, no /root, no project files), a private tmpfs scratch, an empty environment, its
own PID namespace (the parent is invisible; when the run ends every process in it dies), and no capabilities.
Limits are set by the in-sandbox driver itself (``_driver.py``): no ``preexec_fn``, which is unsafe in the
multi-threaded processes (Ray workers) that call us.
"""

from __future__ import annotations

import ast
import asyncio
import dataclasses
import logging
import marshal
import os
import secrets
import selectors
import shutil
import signal
import struct
import subprocess
import tempfile
import threading
import time
import warnings
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from verl_score.sandbox.config import SandboxConfig

logger = logging.getLogger(__name__)

_DRIVER_SOURCE = (Path(__file__).with_name("_driver.py")).read_text()
_HARNESS_SOURCE = (Path(__file__).with_name("_harness.py")).read_text()
# The harness is ~5x the driver's size and ``python -c`` compiles its source on every run (~3-12 ms here), so it is
# compiled ONCE per interpreter (by that interpreter, outside the sandbox: trusted code only) and each run gets this
# stub, which reads the length-prefixed code object from stdin before anything else.
_LOADER_STUB = (
    "import marshal, os\n"
    "def _read(n):\n"
    "    b = b''\n"
    "    while len(b) < n:\n"
    "        c = os.read(0, n - len(b))\n"
    "        if not c:\n"
    "            raise SystemExit('truncated harness code')\n"
    "        b += c\n"
    "    return b\n"
    "_code = marshal.loads(_read(int.from_bytes(_read(4), 'little')))\n"
    "del _read\n"
    "exec(_code)\n"
)
_COMPILED: dict[str, bytes | None] = {}
_COMPILED_LOCK = threading.Lock()


def _compiled_harness(python: str) -> bytes | None:
    """``marshal`` bytes of the harness compiled by ``python`` itself (once per process), or ``None`` on failure."""
    with _COMPILED_LOCK:
        if python not in _COMPILED:
            script = ("import marshal, sys; sys.stdout.buffer.write(marshal.dumps(compile(sys.stdin.read(), "
                      "'_harness.py', 'exec')))")
            try:
                proc = subprocess.run([python, "-I", "-S", "-c", script], input=_HARNESS_SOURCE.encode(),
                                      capture_output=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
                _COMPILED[python] = proc.stdout if proc.returncode == 0 and proc.stdout else None
            except (OSError, subprocess.SubprocessError):
                _COMPILED[python] = None
        return _COMPILED[python]
PIPE_CHUNK = 1 << 16

UNSANDBOXED_WARNING = (
    "verl-score sandbox: running model code in an UNISOLATED subprocess "
    "(allow_unsandboxed_subprocess_i_understand_the_risk=True): it can read your files and environment, use the "
    "network and leave processes behind. Install bubblewrap (apt-get install bubblewrap) for real isolation."
)


class SandboxUnavailableError(RuntimeError):
    """bubblewrap is missing or cannot create namespaces here, and the unsandboxed opt-in was not given."""


@dataclass
class CellResult:
    """What one code cell produced: its observation for a tool-using model, and pass/fail for tests."""

    index: int
    stdout: str = ""
    stderr: str = ""
    exception: dict[str, str] | None = None  # {"type", "message", "traceback"}; None when the cell finished
    truncated: bool = False
    elapsed_s: float = 0.0
    # Strict test harness only: why a test failed when the harness itself refused it (``unsupported_type``,
    # ``unsupported_argument``, ``value_too_large``, ``value_too_deep``, ``test_timeout``, ``program_died``,
    # ``bad_reply``); "" otherwise.
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.exception is None

    def observation(self) -> str:
        """Text shown to a model after its code ran: stdout, stderr, then the traceback if it raised."""
        parts = [self.stdout]
        if self.stderr:
            parts.append(self.stderr)
        if self.exception is not None:
            parts.append(self.exception.get("traceback") or f"{self.exception['type']}: {self.exception['message']}")
        return "".join(p if p.endswith("\n") or not p else p + "\n" for p in parts)


@dataclass
class RunResult:
    """Outcome of one sandboxed run.

    ``status``: ``ok`` (the driver finished every cell), ``timeout`` (wall clock, whole tree killed),
    ``output_limit`` (stdout+stderr over the cap, killed), ``died`` (the interpreter ended without finishing:
    CPU limit, ``os._exit``, a signal; see ``returncode``) or ``sandbox_error`` (bwrap itself failed).
    A cell that did not run to completion (timeout, death) is reported with a synthetic exception.
    """

    status: str
    cells: list[CellResult] = field(default_factory=list)
    returncode: int | None = None
    stdout: str = ""  # raw process output outside the per-cell capture (e.g. os.write(1, ...)), capped
    stderr: str = ""
    elapsed_s: float = 0.0
    backend: str = "bwrap"

    @property
    def completed(self) -> bool:
        return self.status == "ok"

    @property
    def all_ok(self) -> bool:
        """Every cell ran and none raised (the pass criterion for test-based rewards)."""
        return self.completed and all(c.ok for c in self.cells)


class Sandbox:
    """Async runner: ``await Sandbox(cfg).run_cells([...])`` runs cells in ONE fresh interpreter, shared globals.

    Concurrency is bounded by ``max_concurrency`` per event loop (an asyncio semaphore belongs to one loop; the
    reward loop and tests each have their own) and per Sandbox object (the thread pool that drives the processes).
    Needs bubblewrap >= 0.8 (``--disable-userns``) and unprivileged user namespaces; probed once per process.
    """

    def __init__(self, config: SandboxConfig | Mapping[str, Any] | None = None):
        self.config = SandboxConfig.from_mapping(config)
        self.backend = _resolve_backend(self.config)
        self._semaphores: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]" = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    # ------------------------------------------------------------------ public API
    async def run_program(self, source: str, *, timeout_s: float | None = None) -> RunResult:
        """Run one program (a single cell)."""
        return await self.run_cells([source], timeout_s=timeout_s)

    async def run_cells(
        self, cells: Sequence[str], *, echo_last_expr: bool = False, timeout_s: float | None = None
    ) -> RunResult:
        """Run ``cells`` in order in one fresh sandboxed interpreter; every cell runs even if an earlier one raised."""
        if isinstance(cells, str) or not all(isinstance(c, str) for c in cells):
            raise TypeError("cells must be a sequence of str")
        async with self._semaphore():
            return await self._run(list(cells), echo_last_expr, timeout_s or self.config.timeout_s)

    def run_cells_sync(self, cells: Sequence[str], **kwargs: Any) -> RunResult:
        """Blocking variant for code without an event loop (scripts, benchmarks)."""
        return asyncio.run(self.run_cells(cells, **kwargs))

    async def run_tests(
        self,
        program: str,
        tests: Sequence[str],
        *,
        names: Sequence[str] = (),
        setup: Sequence[str] = (),
        prelude: str = "",
        forced: Sequence[str] = (),
        timeout_s: float | None = None,
    ) -> RunResult:
        """Strict two-process harness (``_harness.py``): trusted ``tests`` judge an untrusted ``program``.

        ``setup`` cells (test imports, test setup code) run in both processes; ``prelude`` (trusted helpers such as
        the HumanEval prompt) only in the harness; ``names`` are the top-level names the tests use: those the
        harness lacks (and every name in ``forced``, e.g. the entry point) are bound to proxies of the program's
        objects. Result cells: one per setup cell, one for the program, one per test.
        """
        if isinstance(tests, str) or not all(isinstance(t, str) for t in tests) or not isinstance(program, str):
            raise TypeError("program must be a str and tests a sequence of str")
        cfg = self.config
        public = {
            "setup": [str(s) for s in setup], "program": program, "names": [str(n) for n in names],
            "limits": self._limits(), "cell_output_cap": cfg.max_cell_output_bytes,
            "test_timeout_s": float(cfg.test_timeout_s), "max_value_bytes": int(cfg.max_value_bytes),
        }
        # The harness forks between the two parts: the public one is length-prefixed, the secret one (nonce, tests)
        # follows and is read after the fork (see _harness.py).
        public_bytes = marshal.dumps(public)
        prefix = struct.pack("<I", len(public_bytes)) + public_bytes
        code = _compiled_harness(cfg.python)
        source = _HARNESS_SOURCE
        if code is not None:
            source, prefix = _LOADER_STUB, struct.pack("<I", len(code)) + code + prefix
        request = {"tests": list(tests), "prelude": str(prelude), "forced": [str(n) for n in forced],
                   "_prefix": prefix}
        n_cells = len(public["setup"]) + 1 + len(request["tests"])
        async with self._semaphore():
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(
                self._executor(), self._run_request, source, request, n_cells, timeout_s or cfg.timeout_s
            )

    # ------------------------------------------------------------------ internals
    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        with self._lock:
            sem = self._semaphores.get(loop)
            if sem is None:
                sem = self._semaphores[loop] = asyncio.Semaphore(self.config.max_concurrency)
            return sem

    def _limits(self) -> dict[str, Any]:
        cfg = self.config
        limits: dict[str, Any] = {
            "RLIMIT_AS": cfg.memory_mb << 20,
            "RLIMIT_CPU": [cfg.cpu_s, cfg.cpu_s + 1],  # SIGXCPU at soft, SIGKILL at hard
            "RLIMIT_FSIZE": cfg.file_size_mb << 20,
            "RLIMIT_CORE": 0,
            "RLIMIT_NOFILE": cfg.max_open_files,
        }
        if self.backend == "bwrap":
            # Inside the sandbox's own user namespace the kernel counts only this sandbox's processes.
            # Outside (unsandboxed) it would count every process of the uid, so it is left off there.
            limits["RLIMIT_NPROC"] = cfg.max_processes
        return limits

    def _command(self, source: str = _DRIVER_SOURCE) -> list[str]:
        cfg = self.config
        flags = ["-I"] if cfg.import_site else ["-I", "-S"]  # -S: no site import, ~8 ms less per run
        interpreter = [cfg.python, *flags, "-X", "utf8", "-c", source]
        if self.backend != "bwrap":
            return [*self._drop_privileges(), *interpreter]
        args = [*self._drop_privileges(), _which(cfg.bwrap)]
        args += [
            "--ro-bind", "/usr", "/usr",
            "--symlink", "usr/lib", "/lib",
            "--symlink", "usr/lib64", "/lib64",
            "--symlink", "usr/bin", "/bin",
            "--symlink", "usr/sbin", "/sbin",
            "--proc", "/proc",
            "--dev", "/dev",
            "--size", str(cfg.scratch_mb << 20), "--tmpfs", "/tmp",
        ]
        for path in cfg.ro_binds:
            args += ["--ro-bind", path, path]
        args += [
            "--remount-ro", "/",
            "--chdir", "/tmp",
            "--unshare-all", "--unshare-user", "--disable-userns",
            "--die-with-parent", "--new-session",
            "--clearenv", "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/tmp",
            "--setenv", "TMPDIR", "/tmp", "--setenv", "LANG", "C.UTF-8",
            "--cap-drop", "ALL",
            "--",
        ]
        return args + interpreter

    def _drop_privileges(self) -> list[str]:
        """As root, start bwrap through ``setpriv`` as ``run_as_uid`` (RLIMIT_NPROC is ignored for uid 0).

        Why setpriv and not ``Popen(user=...)``: with ``user``/``group`` CPython cannot use vfork and really forks
        the parent, whose page tables (torch, Ray: gigabytes mapped) make every spawn ~100+ ms slower.
        """
        if os.geteuid() != 0:
            return []
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            return []  # _spawn_kwargs falls back to Popen(user=...)
        cfg = self.config
        return [setpriv, f"--reuid={cfg.run_as_uid}", f"--regid={cfg.run_as_gid}", "--clear-groups", "--"]

    def _spawn_kwargs(self, scratch: str | None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"start_new_session": True, "close_fds": True}
        if os.geteuid() == 0 and shutil.which("setpriv") is None:  # no setpriv: drop uid in Popen (slower spawn)
            kwargs.update(user=self.config.run_as_uid, group=self.config.run_as_gid, extra_groups=[])
        if self.backend == "bwrap":
            kwargs["env"] = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        else:
            kwargs["env"] = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": scratch, "TMPDIR": scratch}
            kwargs["cwd"] = scratch
        return kwargs

    async def _run(self, cells: list[str], echo_last_expr: bool, timeout_s: float) -> RunResult:
        # The process is driven from a thread with a plain select loop: asyncio's subprocess transport costs
        # several event-loop round trips per run (child-watcher thread, pipe protocols), measured at +50-80 ms on
        # a loaded 2-core machine against ~30 ms for the whole sandboxed run. The executor (max_concurrency
        # threads) also bounds concurrent sandboxes process-wide, across event loops.
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor(), self._run_blocking, cells, echo_last_expr, timeout_s)

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.config.max_concurrency, thread_name_prefix="verl-score-sandbox")
            return self._pool

    def _run_blocking(self, cells: list[str], echo_last_expr: bool, timeout_s: float) -> RunResult:
        request = {"cells": cells, "echo_last_expr": echo_last_expr}
        return self._run_request(_DRIVER_SOURCE, request, len(cells), timeout_s)

    def _run_request(self, source: str, request: dict[str, Any], n_cells: int, timeout_s: float) -> RunResult:
        cfg = self.config
        nonce = "@@VS-" + secrets.token_hex(16) + "@@"
        prefix = request.pop("_prefix", b"")
        payload = prefix + marshal.dumps(
            {**request, "nonce": nonce, "limits": self._limits(), "cell_output_cap": cfg.max_cell_output_bytes}
        )
        scratch = None
        if self.backend != "bwrap":
            logger.warning(UNSANDBOXED_WARNING)
            warnings.warn(UNSANDBOXED_WARNING, RuntimeWarning, stacklevel=2)
            scratch = tempfile.mkdtemp(prefix="verl-score-unsandboxed-")
            os.chmod(scratch, 0o777)
        start = time.perf_counter()
        try:
            proc = subprocess.Popen(
                self._command(source),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                **self._spawn_kwargs(scratch),
            )
            status, out, err = _communicate(proc, payload, cfg.max_output_bytes, timeout_s)
        finally:
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)
        elapsed = time.perf_counter() - start
        return _parse_output(status, proc.returncode, out, err, nonce, n_cells, elapsed, self.backend)


def _communicate(proc: subprocess.Popen, payload: bytes, cap: int, timeout_s: float) -> tuple[str, bytes, bytes]:
    """Feed stdin, drain stdout/stderr under one shared byte cap; SIGKILL the process group on timeout/overflow.

    Returns ``(status, stdout, stderr)`` with status ``finished`` / ``timeout`` / ``output_limit``.
    """
    deadline = time.monotonic() + timeout_s
    in_fd, out_fd, err_fd = proc.stdin.fileno(), proc.stdout.fileno(), proc.stderr.fileno()
    bufs: dict[int, list[bytes]] = {out_fd: [], err_fd: []}
    total = 0
    status = "finished"
    sel = selectors.DefaultSelector()
    view = memoryview(payload)
    if payload:
        sel.register(in_fd, selectors.EVENT_WRITE)
    else:
        proc.stdin.close()
    for fd in bufs:
        sel.register(fd, selectors.EVENT_READ)
    exited_at = None
    try:
        while sel.get_map():
            now = time.monotonic()
            if status == "finished" and now >= deadline:
                status = "timeout"
                _kill_group(proc.pid)
                deadline = now + 5.0  # grace for pipes held by escaped processes (unsandboxed fallback only)
            elif status != "finished" and now >= deadline:
                break
            if exited_at is None and proc.poll() is not None:
                exited_at = now
            if exited_at is not None and now - exited_at > 1.0:
                break  # the process is gone but something it spawned (unsandboxed) holds the pipes: stop reading
            for key, _ in sel.select(timeout=min(max(deadline - now, 0.0), 0.25)):
                fd = key.fd
                if fd == in_fd:
                    try:
                        written = os.write(fd, view[:PIPE_CHUNK])
                        view = view[written:]
                    except (BrokenPipeError, ConnectionResetError):
                        view = view[len(view):]
                    if not len(view):
                        sel.unregister(fd)
                        proc.stdin.close()
                    continue
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    sel.unregister(fd)
                    continue
                room = max(cap - total, 0)
                if room:
                    bufs[fd].append(chunk[:room])
                    total += min(len(chunk), room)
                if len(chunk) > room and status == "finished":
                    status = "output_limit"
                    _kill_group(proc.pid)
                    deadline = time.monotonic() + 5.0
    finally:
        sel.close()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            try:
                stream.close()
            except OSError:
                pass
    if proc.poll() is None:
        _kill_group(proc.pid)
    proc.wait()
    return status, b"".join(bufs[out_fd]), b"".join(bufs[err_fd])


def _kill_group(pid: int) -> None:
    """SIGKILL the process group led by bwrap; its death tears down the sandbox's PID namespace."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    except PermissionError:  # pragma: no cover - group already reaped and reused
        pass


def _parse_output(
    status: str, returncode: int | None, out: bytes, err: bytes, nonce: str, n_cells: int, elapsed: float,
    backend: str,
) -> RunResult:
    cells: list[CellResult] = []
    done = False
    raw_lines: list[str] = []
    for line in out.decode("utf-8", "replace").split("\n"):
        if line.startswith(nonce):
            body = line[len(nonce):]
            if body == "DONE":
                done = True
            else:
                cell = _cell_from_record(body)
                if cell is not None:
                    cells.append(cell)
        else:
            raw_lines.append(line)
    stderr = err.decode("utf-8", "replace")
    if status == "finished":
        if done and len(cells) == n_cells:
            status = "ok"
        elif backend == "bwrap" and stderr.startswith("bwrap:"):
            status = "sandbox_error"
        else:
            status = "died"
    if len(cells) < n_cells:  # the cell in flight when the run ended gets the reason as its exception
        reason = {
            "timeout": "wall-clock timeout: the whole process tree was killed",
            "output_limit": "stdout/stderr exceeded the sandbox output cap: killed",
            "sandbox_error": "the sandbox failed to start",
        }.get(status, f"the interpreter died (returncode {returncode}; CPU limit, os._exit or a signal)")
        cells.append(
            CellResult(
                index=len(cells),
                exception={"type": "SandboxError" if status == "sandbox_error" else "Killed", "message": reason,
                           "traceback": reason + "\n"},
            )
        )
    return RunResult(
        status=status,
        cells=cells,
        returncode=returncode,
        stdout="\n".join(raw_lines).strip("\n"),
        stderr=stderr,
        elapsed_s=elapsed,
        backend=backend,
    )


_CELL_FIELDS = tuple(f.name for f in dataclasses.fields(CellResult))


def _cell_from_record(body: str) -> CellResult | None:
    """Parse one driver record with ``ast.literal_eval`` (never eval/pickle: the line came out of the sandbox)."""
    try:
        record = ast.literal_eval(body)
        cell = CellResult(**{k: record[k] for k in _CELL_FIELDS if k != "reason"}, reason=str(record.get("reason", "")))
    except (ValueError, SyntaxError, TypeError, KeyError, MemoryError, RecursionError):
        return None
    return cell


def _which(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        raise SandboxUnavailableError(f"bubblewrap binary {binary!r} not found on PATH")
    return path


_PROBED: dict[tuple[Any, ...], str] = {}
_PROBE_LOCK = threading.Lock()


def _resolve_backend(cfg: SandboxConfig) -> str:
    """Pick ``bwrap`` after a real probe run (once per process); else the opt-in fallback or a clear error."""
    key = (cfg.bwrap, cfg.python, cfg.run_as_uid, os.geteuid())
    with _PROBE_LOCK:
        if key in _PROBED:
            problem = _PROBED[key]
        else:
            problem = _probe_bwrap(cfg)
            _PROBED[key] = problem
    if not problem:
        return "bwrap"
    if cfg.allow_unsandboxed_subprocess_i_understand_the_risk:
        logger.warning("bubblewrap unusable (%s); falling back to an unsandboxed subprocess", problem)
        return "unsandboxed"
    raise SandboxUnavailableError(
        f"cannot sandbox code: {problem}. Install bubblewrap (`apt-get install bubblewrap`) and make sure user "
        "namespaces are allowed; or, knowing that model code then runs unisolated, set "
        "allow_unsandboxed_subprocess_i_understand_the_risk=True."
    )


def _probe_bwrap(cfg: SandboxConfig) -> str:
    """Return '' when a trivial run works inside bwrap, else a description of the failure."""
    if shutil.which(cfg.bwrap) is None:
        return f"bubblewrap ({cfg.bwrap!r}) is not installed"
    if not Path(cfg.python).exists():
        return f"sandbox interpreter {cfg.python!r} does not exist"
    probe = Sandbox.__new__(Sandbox)
    probe.config = cfg
    probe.backend = "bwrap"
    try:  # synchronous on purpose: the first Sandbox may be built inside a running event loop (lazy reward modules)
        result = probe._run_blocking(["print(6 * 7)"], False, 30.0)
    except Exception as e:  # noqa: BLE001 - any failure means "unusable", reported verbatim
        return f"bwrap probe raised {type(e).__name__}: {e}"
    if result.status != "ok" or result.cells[0].stdout.strip() != "42":
        return f"bwrap probe failed (status={result.status}, stderr={result.stderr.strip()[:300]!r})"
    return ""
