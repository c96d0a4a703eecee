"""A small pool of persistent math-verify worker processes with a hard per-check deadline.

Why not verl's ``ProcessPoolExecutor`` path: a future that times out leaves its worker spinning forever (executors
cannot kill one worker), and pickling through the executor costs ~5 ms per check. Here each worker is a plain
subprocess speaking JSON lines; a check that overruns is answered ``timeout`` and its worker is SIGKILLed and
replaced. Calls are thread-safe and never touch signals, so they work from any thread of any process.
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
        self._buf = b""

    def _start(self) -> None:
        self.proc = subprocess.Popen(
            # -I keeps the script's own directory (which holds our ``math.py``) off sys.path
            [self.python, "-I", "-u", _WORKER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,  # import errors reach the log
            close_fds=True,
        )
        self._buf = b""
        line = self._readline(time.monotonic() + self.start_timeout_s)
        if line != b"ready":
            self.kill()
            raise RuntimeError(f"math-verify worker failed to start (got {line!r}); is math-verify installed?")

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

    def request(self, payload: dict, timeout_s: float) -> dict:
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        assert self.proc is not None and self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(payload).encode() + b"\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            self.kill()
            return {"equal": False, "reason": "error", "error": "worker pipe broken"}
        line = self._readline(time.monotonic() + timeout_s)
        if line is None:
            self.kill()
            return {"equal": False, "reason": "timeout"}
        if not line:
            self.kill()
            return {"equal": False, "reason": "error", "error": "worker died"}
        return json.loads(line)

    def kill(self) -> None:
        if self.proc is not None:
            try:
                self.proc.kill()
                self.proc.wait(timeout=5)
            except Exception:  # noqa: BLE001 - best effort; the process is gone or unkillable
                pass
            for stream in (self.proc.stdin, self.proc.stdout):
                try:
                    stream.close()
                except Exception:  # noqa: BLE001
                    pass
            self.proc = None


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

    def check(self, gold: str, pred: str) -> dict:
        worker = self._idle.get()
        try:
            return worker.request({"gold": gold, "pred": pred}, self.timeout_s)
        finally:
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


def _kill_all(workers: list[_Worker]) -> None:
    for w in workers:
        w.kill()
