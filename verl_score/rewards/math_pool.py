"""A small pool of persistent math-verify worker processes with a hard per-check deadline.

Why not verl's ``ProcessPoolExecutor`` path: a future that times out leaves its worker spinning forever (executors
cannot kill one worker), and pickling through the executor costs ~5 ms per check. Here each worker is a plain
subprocess speaking JSON lines; a check that overruns is answered ``timeout`` and its worker is SIGKILLed and
replaced. Calls are thread-safe and never touch signals, so they work from any thread of any process.

The bound is wall clock from the caller's deadline: waiting for a free worker, restarting one and the check itself
all count, and a killed (or dead) worker is replaced in the background (its ~1 s of imports never lands on the next
call). Workers are forked from a zygote that imported math-verify once (``_Zygote``): a replacement is ready in
milliseconds, not after a second or more of imports. Only the zygote's cold start (begun at construction) is not
charged to a call. Plain interpreters are the fallback, logged: while the zygote starts, after it refused to fork
because it is not single-threaded, or after it was lost more than ``_ZYGOTE_RESTARTS`` times (a lost one is restarted).

Why one long-lived repair thread per pool: the timeout path used to start two threads (a reaper and a respawner).
``Thread.start()`` waits until the new thread has run, i.e. until it got the GIL; with a batch of calls in flight on a
loaded machine that took up to ~1 s, all of it after the deadline. Now a timed-out call only sends SIGKILL and puts
the worker on a queue (no wait): measured overshoot past the bound went from up to 1.2 s to tens of ms
(``benchmarks/rewards.py --load 2``).
"""

from __future__ import annotations

import json
import logging
import os
import queue
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import weakref
from pathlib import Path

_WORKER = str(Path(__file__).with_name("_math_worker.py"))
#: a check is not sent with less time than this left (its worker would be killed on arrival)
_MIN_CHECK_S = 0.005
#: a lost zygote is restarted this many times; after that workers are plain interpreters
_ZYGOTE_RESTARTS = 3
_log = logging.getLogger(__name__)


class _ForkedProcess:
    """A worker forked by the zygote: the parts of ``Popen`` the pool uses (``poll``, ``kill``, ``stdin``,
    ``stdout``) over the one socket it talks on. The zygote reaps it (SIGCHLD ignored there), so it is signalled
    through a pidfd opened right after the fork: a pid the kernel has reused for another process is never hit."""

    def __init__(self, pid: int, sock: socket.socket):
        self.pid = pid
        self.sock = sock
        self.stdin = sock.makefile("wb")
        self.stdout = sock
        self._exited = False
        try:
            self._pidfd: int | None = os.pidfd_open(pid)
        except (AttributeError, OSError):  # no pidfd (old kernel) or already gone
            self._pidfd = None
            self._exited = not _alive(pid)

    def poll(self) -> int | None:
        if not self._exited and self._pidfd is not None:
            self._exited = bool(select.select([self._pidfd], [], [], 0)[0])  # readable once it has exited
        return -9 if self._exited else None

    def kill(self) -> None:
        if self.poll() is not None:
            return
        try:
            if self._pidfd is not None:
                signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)
            else:
                os.kill(self.pid, signal.SIGKILL)
        except (ProcessLookupError, OSError):
            pass

    def close(self) -> None:
        for closeable in (self.stdin, self.sock):
            try:
                closeable.close()
            except Exception:  # noqa: BLE001 - best effort
                pass
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None
            self._exited = True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class _Zygote:
    """One process that imported and warmed math-verify once and forks ready workers on request (see
    ``_math_worker.zygote``). Why: replacing a killed worker by a fresh interpreter costs a second of imports quiet
    and several seconds on a loaded machine, during which checks queue; a fork costs milliseconds. Thread-safe.

    Forking is safe only while the zygote is single-threaded (a fork copies one thread and every lock the others
    held): it says ``threads N`` instead of ``ready`` / ``pid N`` when it is not, and forks are then off for good,
    logged (plain interpreters from then on). A zygote that dies is logged and restarted (at most
    ``_ZYGOTE_RESTARTS`` times; then plain interpreters, logged), not silently replaced by 1-2 s cold workers."""

    def __init__(self, python: str):
        self.python = python
        self.restarts = 0
        self.disabled: str | None = None  # why forks are off for good
        self.closed = False
        self._lock = threading.Lock()
        self._launch()

    def _launch(self) -> None:
        ours, theirs = socket.socketpair()
        self.proc = subprocess.Popen([self.python, "-I", "-u", _WORKER, "--zygote", str(theirs.fileno())],
                                     stdin=subprocess.DEVNULL, pass_fds=(theirs.fileno(),), close_fds=True)
        theirs.close()
        self.ctrl = ours
        self.ready = False
        self._buf = b""

    def fork(self, deadline: float) -> _ForkedProcess | None:
        """A new worker process, or ``None`` when the zygote is not ready by ``deadline``, is off or closed."""
        try:
            return self._fork(deadline)
        except OSError as e:  # the pool was closed under us, or the zygote died mid-request (restarted next time)
            if not self.closed:
                _log.warning("math-verify zygote: fork request failed (%s); it is restarted on the next fork", e)
            return None

    def _fork(self, deadline: float) -> _ForkedProcess | None:
        # bounded by the deadline (a fork takes ms; 50 ms of grace): a call that may not wait (a spill worker, forked
        # only if the zygote is ready now, under the pool's lock) must not queue behind one waiting for the cold start
        if not self._lock.acquire(timeout=max(0.05, deadline - time.monotonic())):
            return None
        try:
            if self.closed or self.disabled:
                return None
            if self.proc.poll() is not None and not self._restart(f"it exited with code {self.proc.returncode}"):
                return None
            if not self.ready:
                line = self._readline(deadline)
                if line is None:  # still importing: a plain worker this time
                    return None
                if line != b"ready":
                    self._refused(line, "starting")
                    return None
                self.ready = True
            ours, theirs = socket.socketpair()
            try:
                socket.send_fds(self.ctrl, [b"F"], [theirs.fileno()])
            except OSError:
                ours.close()
                self._restart("it did not take a fork request")
                return None
            finally:
                theirs.close()
            line = self._readline(max(deadline, time.monotonic() + 5.0))  # a fork answers in ms: don't desync
            if line is None or not line.startswith(b"pid "):
                ours.close()
                self._refused(line, "forking")
                return None
            return _ForkedProcess(int(line[4:]), ours)
        finally:
            self._lock.release()

    def _refused(self, line: bytes | None, doing: str) -> None:
        """The zygote answered something other than what was asked: threads (forks off), or out of step / dead."""
        if line is not None and line.startswith(b"threads "):
            self.disabled = f"the zygote has {line[8:].decode(errors='replace')} threads"
            _log.warning("math-verify zygote: %s while %s, so forking it is unsafe; workers are plain interpreters "
                         "from now on (1-2 s to start each)", self.disabled, doing)
            self._stop()
            return
        self._restart(f"it answered {line!r} while {doing}")

    def _restart(self, why: str) -> bool:
        """Replace a dead or out-of-step zygote (logged); ``False`` when it has been replaced too often (forks off)."""
        self._stop()
        if self.closed:
            return False
        if self.restarts >= _ZYGOTE_RESTARTS:
            self.disabled = f"it was lost {self.restarts + 1} times"
            _log.warning("math-verify zygote lost (%s) and %s: workers are plain interpreters from now on (1-2 s to "
                         "start each)", why, self.disabled)
            return False
        self.restarts += 1
        _log.warning("math-verify zygote lost (%s): restarting it (restart %d of %d); until it is ready, new workers "
                     "are plain interpreters", why, self.restarts, _ZYGOTE_RESTARTS)
        self._launch()
        if self.closed:  # closed while launching: do not leave the new one behind
            self._stop()
            return False
        return True

    def _readline(self, deadline: float) -> bytes | None:
        """The next line; ``None`` past ``deadline``, ``b""`` when the zygote closed its end (it died)."""
        while b"\n" not in self._buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            if select.select([self.ctrl], [], [], remaining)[0]:
                chunk = self.ctrl.recv(1 << 12)
                if not chunk:
                    return b""
                self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return line

    def _stop(self) -> None:
        try:
            self.proc.kill()
            self.proc.wait(timeout=5)
        except Exception:  # noqa: BLE001 - best effort
            pass
        self.ctrl.close()

    def close(self) -> None:
        self.closed = True  # no lock: a fork blocked on the socket is woken by the close (OSError)
        self._stop()


class _Worker:
    def __init__(self, python: str, start_timeout_s: float, zygote: _Zygote | None = None):
        self.python = python
        self.start_timeout_s = start_timeout_s
        self.zygote = zygote
        self.proc: subprocess.Popen | _ForkedProcess | None = None
        self.ready = False
        self.ever_ready = False  # its first start is the process's cold start, not charged to a call
        self.dead: list[subprocess.Popen] = []  # killed processes not reaped yet
        self._buf = b""

    def ensure_started(self, deadline: float, wait: bool = True) -> None:
        """A live process, started if there is none: forked from the zygote when it is ready by ``deadline``, else a
        plain interpreter (the fallback). ``wait``: also read its "ready" by ``deadline`` (``TimeoutError``: it keeps
        starting and a later call picks it up; ``RuntimeError``: it failed to start, math-verify is broken)."""
        if self.proc is None or self.proc.poll() is not None:
            self.proc = self._new_process(deadline)
            self._buf, self.ready = b"", False
        if self.ready or not wait:
            return
        line = self._readline(deadline)
        if line is None:
            raise TimeoutError("worker still starting")
        if line != b"ready":
            self.kill()
            raise RuntimeError(f"math-verify worker failed to start (got {line!r}); is math-verify installed?")
        self.ready = self.ever_ready = True

    def _new_process(self, deadline: float) -> subprocess.Popen | _ForkedProcess:
        forked = self.zygote.fork(deadline) if self.zygote is not None else None
        if forked is not None:
            return forked
        return subprocess.Popen(
            # -I keeps the script's own directory and PYTHONPATH off sys.path: standard library and math-verify only
            [self.python, "-I", "-u", _WORKER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,  # import errors reach the log
            close_fds=True,
        )

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

    def request(self, payload: dict, deadline: float, max_check_s: float | None = None) -> dict:
        if not self.ever_ready:
            # the worker's cold start (~1-2 s of imports, more on a loaded machine) is a one-off cost of the pool,
            # not of this check: wait for it up to start_timeout_s and move the deadline by the time it took
            began = time.monotonic()
            try:
                self.ensure_started(began + self.start_timeout_s)
            except TimeoutError:
                return {"equal": False, "reason": "error", "error": "math-verify worker did not start"}
            deadline += time.monotonic() - began
        elif self.proc is None or self.proc.poll() is not None or not self.ready:
            try:
                self.ensure_started(deadline)
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
        except OSError:  # BrokenPipeError (a pipe), ConnectionResetError (a forked worker's socket)
            self.abandon()
            return {"equal": False, "reason": "error", "error": "worker pipe broken", "broken": True}
        if max_check_s is not None:  # the work itself is capped (time spent waiting for this worker is not)
            deadline = min(deadline, time.monotonic() + max_check_s)
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
                 python: str | None = None, prestart: bool = True, max_workers: int | None = None,
                 spill_after_s: float = 1.0):
        """``max_workers`` (default ``2 * workers``): when every worker has been busy on ONE check for over
        ``spill_after_s`` (a pathological input sympy cannot settle) or is restarting, a call waiting for a worker
        starts an extra one (its start charged to that call), up to this many. Without it, two power towers held
        both workers to their deadline and every ordinary check queued behind them timed out. ``prestart`` is kept
        for callers; the zygote always starts importing at construction.

        Capped checks (``max_check_s``: risky answers) hold at most ``max_workers // 2`` workers at a time; the rest
        wait for a slot inside their own deadline. Why: 16 pathological answers in a batch took every worker for 2 s
        each, turn after turn, and ordinary checks in the same batch waited up to 8 of their 10 s; now at least half
        of the workers are always free for them."""
        if workers < 1 or timeout_s <= 0:
            raise ValueError("MathVerifyPool needs workers >= 1 and timeout_s > 0")
        self.timeout_s = timeout_s
        self.python = python or sys.executable
        self.start_timeout_s = start_timeout_s
        self.max_workers = max(workers, 2 * workers if max_workers is None else max_workers)
        self.spill_after_s = spill_after_s
        self._idle: "queue.LifoQueue[_Worker]" = queue.LifoQueue()
        # the zygote starts importing now (prestart or not): workers are forked from it when first used
        self._zygote = _Zygote(self.python)
        self._workers = [_Worker(self.python, start_timeout_s, self._zygote) for _ in range(workers)]
        self._busy: dict[_Worker, float] = {}  # worker -> monotonic time its current check was sent
        self._closed = False
        self._capped_slots = threading.BoundedSemaphore(max(1, self.max_workers // 2))
        self._lock = threading.Lock()
        for w in self._workers:
            self._idle.put(w)
        # one thread, started now, reaps and replaces broken workers (never a thread start on a call's path)
        self._repairs: "queue.SimpleQueue[_Worker | None]" = queue.SimpleQueue()
        threading.Thread(target=_repair_loop, args=(self._repairs, self._idle), daemon=True,
                         name="math-verify-repair").start()
        # workers also end on their own when our end of the pipe closes; this just does it promptly and quietly
        self._finalizer = weakref.finalize(self, _shut_down, self._repairs, self._workers, self._zygote)

    def check(self, gold: str, pred: str, text: bool = False, deadline: float | None = None,
              max_check_s: float | None = None) -> dict:
        """Verdict for one pair by ``deadline`` (``time.monotonic()``; default now + ``timeout_s``), waiting for a
        free worker included. ``text``: ``pred`` is prose for math-verify to search (see ``_math_worker``).
        ``max_check_s``: at most this long on the worker itself (a risky answer, see ``math.is_risky``)."""
        if self._closed:
            raise RuntimeError("MathVerifyPool.check() after close(): the pool's workers are gone (a new one would "
                               "never be reaped); build a new pool")
        deadline = time.monotonic() + self.timeout_s if deadline is None else deadline
        if max_check_s is None:
            return self._check(gold, pred, text, deadline, None)
        if not self._capped_slots.acquire(timeout=max(0.0, deadline - time.monotonic())):
            return {"equal": False, "reason": "timeout"}
        try:
            return self._check(gold, pred, text, deadline, max_check_s)
        finally:
            self._capped_slots.release()

    def _check(self, gold: str, pred: str, text: bool, deadline: float, max_check_s: float | None) -> dict:
        worker = self._acquire(deadline)
        if worker is None:
            return {"equal": False, "reason": "timeout"}
        broken = True  # an exception in request: replace the worker, its pipe may be out of step
        try:
            verdict = worker.request({"gold": gold, "pred": pred, "text": text}, deadline, max_check_s)
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
        """A new worker (forked, counted in ``_workers``) when every busy worker is stuck and none is idle."""
        with self._lock:
            if self._closed:
                return None
            now = time.monotonic()
            stuck = sum(now - since > self.spill_after_s for since in self._busy.values())
            not_busy = len(self._workers) - len(self._busy)  # idle (taken by another caller) or restarting
            if len(self._workers) >= self.max_workers or stuck < len(self._workers) - not_busy or stuck == 0:
                return None
            # every busy worker is stuck; the others are restarting or just taken: one more worker
            if self._idle.qsize() > 0:
                return None
            worker = _Worker(self.python, self.start_timeout_s, self._zygote)
            worker.ever_ready = True  # its start is charged to this call (request waits for it up to the deadline)
            worker.ensure_started(time.monotonic(), wait=False)  # forked only if the zygote is ready now
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
        self._closed = True
        self._finalizer()


def _reap(proc: subprocess.Popen | _ForkedProcess) -> None:
    if isinstance(proc, _ForkedProcess):
        proc.close()
        return
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
            try:
                w.reap()
                w.ensure_started(time.monotonic() + w.start_timeout_s, wait=False)
            except Exception:  # noqa: BLE001 - the next request retries the start and reports
                pass
        for w in workers:
            try:
                w.ensure_started(time.monotonic() + w.start_timeout_s)
            except Exception:  # noqa: BLE001 - the next request retries the start and reports
                pass
            idle.put(w)
        if len(workers) < len(batch):
            return


def _shut_down(repairs: "queue.SimpleQueue[_Worker | None]", workers: list[_Worker], zygote: _Zygote) -> None:
    repairs.put(None)
    for w in workers:
        w.kill()
    zygote.close()
