"""A small pool of persistent math-verify worker processes with a hard per-check deadline.

Why not verl's ``ProcessPoolExecutor`` path: a future that times out leaves its worker spinning forever (executors
cannot kill one worker), and pickling through the executor costs ~5 ms per check. Here each worker is a plain
subprocess speaking JSON lines; a check that overruns is answered ``timeout`` and its worker is SIGKILLed and
replaced. Calls are thread-safe and never touch signals, so they work from any thread of any process.

The bound is wall clock from the caller's deadline: waiting for a free worker, restarting one and the check itself
all count, and a killed (or dead) worker is replaced in the background (its ~1 s of imports never lands on the next
call). Only a worker's very first start (its cold start, begun at construction with ``prestart``) is not charged to
a call.

Why one long-lived repair thread per pool: the timeout path used to start two threads (a reaper and a respawner).
``Thread.start()`` waits until the new thread has run, i.e. until it got the GIL; with a batch of calls in flight on a
loaded machine that took up to ~1 s, all of it after the deadline. Now a timed-out call only sends SIGKILL and puts
the worker on a queue (no wait): measured overshoot past the bound went from up to 1.2 s to tens of ms
(``benchmarks/rewards.py --load 2``).
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
#: a check is not sent with less time than this left (its worker would be killed on arrival)
_MIN_CHECK_S = 0.005


class _Worker:
    def __init__(self, python: str, start_timeout_s: float):
        self.python = python
        self.start_timeout_s = start_timeout_s
        self.proc: subprocess.Popen | None = None
        self.ready = False
        self.ever_ready = False  # its first start is the process's cold start, not charged to a call
        self.dead: list[subprocess.Popen] = []  # killed processes not reaped yet
        self._buf = b""

    def spawn(self) -> None:
        """Start the process without waiting for it (the pool's constructor: imports overlap the caller's work)."""
        if self.proc is None or self.proc.poll() is not None:
            self.proc = self._popen()
            self._buf = b""
            self.ready = False

    def _popen(self) -> subprocess.Popen:
        return subprocess.Popen(
            # -I keeps the script's own directory (which holds our ``math.py``) off sys.path
            [self.python, "-I", "-u", _WORKER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,  # import errors reach the log
            close_fds=True,
        )

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
            self.ready = self.ever_ready = True
            return
        self.proc = self._popen()
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
        if not self.ever_ready:
            # the worker's cold start (~1-2 s of imports, more on a loaded machine) is a one-off cost of the pool,
            # not of this check: wait for it up to start_timeout_s and move the deadline by the time it took
            began = time.monotonic()
            try:
                self._start(began + self.start_timeout_s)
            except TimeoutError:
                return {"equal": False, "reason": "error", "error": "math-verify worker did not start"}
            deadline += time.monotonic() - began
        elif self.proc is None or self.proc.poll() is not None or not self.ready:
            try:
                self._start(deadline)
            except TimeoutError:
                return {"equal": False, "reason": "timeout"}
        assert self.proc is not None and self.proc.stdin is not None
        if deadline - time.monotonic() <= _MIN_CHECK_S:
            # no time left to ask (the call waited for a worker to its deadline): answer without sending, so a
            # healthy worker is not killed and restarted for a check it never had time to do
            return {"equal": False, "reason": "timeout"}
        try:
            self.proc.stdin.write(json.dumps(payload).encode() + b"\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            self.abandon()
            return {"equal": False, "reason": "error", "error": "worker pipe broken", "broken": True}
        line = self._readline(deadline)
        if line is None:
            self.abandon()
            return {"equal": False, "reason": "timeout", "broken": True}
        if not line:
            self.abandon()
            return {"equal": False, "reason": "error", "error": "worker died", "broken": True}
        return json.loads(line)

    def abandon(self) -> None:
        """SIGKILL the process and leave it for the repair thread to reap: no waiting here (a deadline is near)."""
        proc, self.proc, self.ready = self.proc, None, False
        if proc is not None:
            try:
                proc.kill()
            except Exception:  # noqa: BLE001 - best effort; the process is gone
                pass
            self.dead.append(proc)

    def kill(self) -> None:
        """SIGKILL the process and reap it (closing the pool)."""
        self.abandon()
        self.reap()

    def reap(self) -> None:
        while self.dead:
            _reap(self.dead.pop())


class MathVerifyPool:
    """``pool.check(gold, pred) -> {"equal": bool, "reason": "ok"|"timeout"|"error"|...}``; thread-safe."""

    def __init__(self, workers: int = 2, timeout_s: float = 5.0, start_timeout_s: float = 120.0,
                 python: str | None = None, prestart: bool = False, max_workers: int | None = None,
                 spill_after_s: float = 1.0):
        """``max_workers`` (default ``2 * workers``): when every worker has been busy on ONE check for over
        ``spill_after_s`` (a pathological input sympy cannot settle) or is restarting, a call waiting for a worker
        starts an extra one (its start charged to that call), up to this many. Without it, two power towers held
        both workers to their deadline and every ordinary check queued behind them timed out."""
        if workers < 1 or timeout_s <= 0:
            raise ValueError("MathVerifyPool needs workers >= 1 and timeout_s > 0")
        self.timeout_s = timeout_s
        self.python = python or sys.executable
        self.start_timeout_s = start_timeout_s
        self.max_workers = max(workers, 2 * workers if max_workers is None else max_workers)
        self.spill_after_s = spill_after_s
        self._idle: "queue.LifoQueue[_Worker]" = queue.LifoQueue()
        self._workers = [_Worker(self.python, start_timeout_s) for _ in range(workers)]
        self._busy: dict[_Worker, float] = {}  # worker -> monotonic time its current check was sent
        self._lock = threading.Lock()
        for w in self._workers:
            if prestart:  # processes start importing now; the first check waits only for what is left
                w.spawn()
            self._idle.put(w)
        # one thread, started now, reaps and replaces broken workers (never a thread start on a call's path)
        self._repairs: "queue.SimpleQueue[_Worker | None]" = queue.SimpleQueue()
        threading.Thread(target=_repair_loop, args=(self._repairs, self._idle), daemon=True,
                         name="math-verify-repair").start()
        # workers also end on their own when our end of the pipe closes; this just does it promptly and quietly
        self._finalizer = weakref.finalize(self, _shut_down, self._repairs, self._workers)

    def check(self, gold: str, pred: str, text: bool = False, deadline: float | None = None) -> dict:
        """Verdict for one pair by ``deadline`` (``time.monotonic()``; default now + ``timeout_s``), waiting for a
        free worker included. ``text``: ``pred`` is prose for math-verify to search (see ``_math_worker``)."""
        deadline = time.monotonic() + self.timeout_s if deadline is None else deadline
        worker = self._acquire(deadline)
        if worker is None:
            return {"equal": False, "reason": "timeout"}
        broken = True  # an exception in request: replace the worker, its pipe may be out of step
        try:
            verdict = worker.request({"gold": gold, "pred": pred, "text": text}, deadline)
            broken = verdict.pop("broken", False)
            return verdict
        finally:
            with self._lock:
                self._busy.pop(worker, None)
            if broken:  # the repair thread takes it back to the idle queue once a replacement is ready
                worker.abandon()
                self._repairs.put(worker)
            else:
                self._idle.put(worker)

    def _acquire(self, deadline: float) -> _Worker | None:
        """An idle worker, or an extra one when all are stuck (see ``__init__``); ``None`` past ``deadline``."""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                worker = self._idle.get(timeout=min(remaining, 0.05))
            except queue.Empty:
                worker = self._spill()
                if worker is None:
                    continue
            with self._lock:
                self._busy[worker] = time.monotonic()
            return worker

    def _spill(self) -> _Worker | None:
        with self._lock:
            now = time.monotonic()
            stuck = sum(now - since > self.spill_after_s for since in self._busy.values())
            not_busy = len(self._workers) - len(self._busy)  # idle (taken by another caller) or restarting
            if len(self._workers) >= self.max_workers or stuck < len(self._workers) - not_busy or stuck == 0:
                return None
            # every busy worker is stuck; the others are restarting or just taken: one more worker
            if self._idle.qsize() > 0:
                return None
            worker = _Worker(self.python, self.start_timeout_s)
            worker.ever_ready = True  # its start is charged to this call (request waits for it up to the deadline)
            worker.spawn()
            self._workers.append(worker)
            return worker

    def warmup(self) -> None:
        """Start every worker now (in parallel) instead of on first use."""
        threads = [threading.Thread(target=self.check, args=("1", "1")) for _ in self._workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def close(self) -> None:
        self._finalizer()


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


def _repair_loop(repairs: "queue.SimpleQueue[_Worker | None]", idle: "queue.LifoQueue[_Worker]") -> None:
    """Reap broken workers' processes, start their replacements (all at once: imports overlap), hand each back to
    the idle queue when it is ready. ``None`` stops the loop. Holds no reference to the pool (it can be collected)."""
    while True:
        batch = [repairs.get()]
        while True:
            try:
                batch.append(repairs.get_nowait())
            except queue.Empty:
                break
        workers = [w for w in batch if w is not None]
        for w in workers:
            w.reap()
            w.spawn()
        for w in workers:
            try:
                w._start(time.monotonic() + w.start_timeout_s)
            except Exception:  # noqa: BLE001 - the next request retries the start and reports
                pass
            idle.put(w)
        if len(workers) < len(batch):
            return


def _shut_down(repairs: "queue.SimpleQueue[_Worker | None]", workers: list[_Worker]) -> None:
    repairs.put(None)
    for w in workers:
        w.kill()
