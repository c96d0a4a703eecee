"""A small pool of persistent math-verify worker processes with a hard per-check deadline.

Why not verl's ``ProcessPoolExecutor`` path: a future that times out leaves its worker spinning forever (executors
cannot kill one worker), and pickling through the executor costs ~5 ms per check. Here each worker is a plain
subprocess speaking JSON lines; a check that overruns is answered ``timeout`` and its worker is SIGKILLed and
replaced. Calls are thread-safe and never touch signals, so they work from any thread of any process.

The bound is wall clock from the caller's deadline: waiting for a free worker, (re)starting one and the check itself
all count, and a killed worker is replaced in the background (its ~1 s of imports never lands on the next call).
"""

from __future__ import annotations

import json
import os
import queue
import select
import subprocess
import sys
import threading
import time
import weakref
from pathlib import Path

_WORKER = str(Path(__file__).with_name("_math_worker.py"))


class _Worker:
    def __init__(self, python: str, start_timeout_s: float):
        self.python = python
        self.start_timeout_s = start_timeout_s
        self.proc: subprocess.Popen | None = None
        self.ready = False
        self._buf = b""

    def _start(self, deadline: float | None = None) -> None:
        """Spawn and wait for "ready": until ``deadline`` (then ``TimeoutError``, the worker keeps starting and
        is picked up by the next call) or ``start_timeout_s`` (then a clear error: math-verify is broken)."""
        if self.proc is not None and self.proc.poll() is None:  # started earlier, not ready yet
            line = self._readline(deadline if deadline is not None else time.monotonic() + self.start_timeout_s)
            if line is None:
                raise TimeoutError("worker still starting")
            if line != b"ready":
                self.kill()
                raise RuntimeError(f"math-verify worker failed to start (got {line!r}); is math-verify installed?")
            self.ready = True
            return
        self.proc = subprocess.Popen(
            # -I keeps the script's own directory (which holds our ``math.py``) off sys.path
            [self.python, "-I", "-u", _WORKER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,  # import errors reach the log
            close_fds=True,
        )
        self._buf = b""
        self.ready = False
        self._start(deadline)

    def _readline(self, deadline: float) -> bytes | None:
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], remaining)
            if ready:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    return b""  # worker died
                self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return line

    def request(self, payload: dict, deadline: float) -> dict:
        if self.proc is None or self.proc.poll() is not None or not self.ready:
            try:
                self._start(deadline)
            except TimeoutError:
                return {"equal": False, "reason": "timeout"}
        assert self.proc is not None and self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(payload).encode() + b"\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            self.kill(wait=False)
            return {"equal": False, "reason": "error", "error": "worker pipe broken"}
        line = self._readline(deadline)
        if line is None:
            self.kill(wait=False)
            return {"equal": False, "reason": "timeout", "killed": True}
        if not line:
            self.kill(wait=False)
            return {"equal": False, "reason": "error", "error": "worker died"}
        return json.loads(line)

    def kill(self, wait: bool = True) -> None:
        """SIGKILL the process; ``wait=False`` reaps it in a background thread (the caller's deadline is near)."""
        proc, self.proc, self.ready = self.proc, None, False
        if proc is None:
            return
        try:
            proc.kill()
        except Exception:  # noqa: BLE001 - best effort; the process is gone
            pass
        if wait:
            _reap(proc)
        else:
            threading.Thread(target=_reap, args=(proc,), daemon=True).start()

    def respawn_then(self, done) -> None:
        """Start a replacement in a background thread, then ``done()`` (the pool takes the worker back only then,
        so no request reads the pipe while the replacement is starting)."""
        def start():
            try:
                self._start(time.monotonic() + self.start_timeout_s)
            except Exception:  # noqa: BLE001 - the next request retries and reports
                pass
            finally:
                done()
        threading.Thread(target=start, daemon=True).start()


class MathVerifyPool:
    """``pool.check(gold, pred) -> {"equal": bool, "reason": "ok"|"timeout"|"error"|...}``; thread-safe."""

    def __init__(self, workers: int = 2, timeout_s: float = 5.0, start_timeout_s: float = 120.0,
                 python: str | None = None):
        if workers < 1 or timeout_s <= 0:
            raise ValueError("MathVerifyPool needs workers >= 1 and timeout_s > 0")
        self.timeout_s = timeout_s
        self._idle: "queue.LifoQueue[_Worker]" = queue.LifoQueue()
        self._workers = [_Worker(python or sys.executable, start_timeout_s) for _ in range(workers)]
        for w in self._workers:
            self._idle.put(w)
        # workers also end on their own when our end of the pipe closes; this just does it promptly and quietly
        weakref.finalize(self, _kill_all, self._workers)

    def check(self, gold: str, pred: str, text: bool = False, deadline: float | None = None) -> dict:
        """Verdict for one pair by ``deadline`` (``time.monotonic()``; default now + ``timeout_s``), waiting for a
        free worker included. ``text``: ``pred`` is prose for math-verify to search (see ``_math_worker``)."""
        deadline = time.monotonic() + self.timeout_s if deadline is None else deadline
        try:
            worker = self._idle.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            return {"equal": False, "reason": "timeout"}
        respawning = False
        try:
            verdict = worker.request({"gold": gold, "pred": pred, "text": text}, deadline)
            if verdict.pop("killed", False):
                worker.respawn_then(lambda: self._idle.put(worker))
                respawning = True
            return verdict
        finally:
            if not respawning:
                self._idle.put(worker)

    def warmup(self) -> None:
        """Start every worker now (in parallel) instead of on first use."""
        threads = [threading.Thread(target=self.check, args=("1", "1")) for _ in self._workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def close(self) -> None:
        _kill_all(self._workers)


def _reap(proc: subprocess.Popen) -> None:
    try:
        proc.wait(timeout=5)
    except Exception:  # noqa: BLE001 - unkillable (D state): leave it to the OS
        pass
    for stream in (proc.stdin, proc.stdout):
        try:
            stream.close()
        except Exception:  # noqa: BLE001
            pass


def _kill_all(workers: list[_Worker]) -> None:
    for w in workers:
        w.kill()
