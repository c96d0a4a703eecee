"""``MathVerifyPool``'s zygote and lifecycle (review 2, R3): forks only from a single-threaded zygote, a lost zygote
is logged and restarted, and a closed pool refuses work instead of leaking a worker."""

from __future__ import annotations

import logging
import stat
import subprocess
import sys
import time

import pytest

from verl_score.rewards.math_pool import MathVerifyPool, _ForkedProcess

LOGGER = "verl_score.rewards.math_pool"


def _checked(pool: MathVerifyPool) -> None:
    assert pool.check("\\frac{1}{2}", "0.5", deadline=time.monotonic() + 120) == {"equal": True, "reason": "ok"}


def test_a_lost_zygote_is_logged_and_restarted(caplog):
    """Before: a dead zygote was noticed by nobody; every replacement worker was a plain interpreter (1-2 s of
    imports, more on a loaded machine) for the rest of the run, silently."""
    pool = MathVerifyPool(workers=1, timeout_s=30.0)
    try:
        _checked(pool)
        worker = pool._workers[0]
        assert isinstance(worker.proc, _ForkedProcess)
        first = pool._zygote.proc
        first.kill()
        first.wait()
        worker.proc.kill()  # the next check needs a new worker process
        time.sleep(0.1)
        with caplog.at_level(logging.WARNING, logger=LOGGER):
            _checked(pool)
        assert pool._zygote.proc.pid != first.pid and pool._zygote.proc.poll() is None
        assert isinstance(worker.proc, _ForkedProcess), "the replacement should be forked from the new zygote"
        assert any("zygote lost" in r.getMessage() and "restarting" in r.getMessage() for r in caplog.records)
    finally:
        pool.close()


def _threaded_python(tmp_path) -> str:
    """A ``python`` that starts a thread before running the script it is given, as an import with a thread pool
    would: the zygote is then not single-threaded."""
    script = tmp_path / "python-with-a-thread"
    boot = ("import runpy, sys, threading, time; "
            "threading.Thread(target=time.sleep, args=(3600,), daemon=True).start(); "
            "sys.argv = [a for a in sys.argv[1:] if a not in ('-I', '-u')]; "
            "runpy.run_path(sys.argv[0], run_name='__main__')")
    script.write_text(f"#!/bin/sh\nexec {sys.executable} -I -u -c \"{boot}\" \"$@\"\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def test_a_multithreaded_zygote_never_forks(tmp_path, caplog):
    """A fork copies one thread and every lock the others held: a child of a multi-threaded zygote may deadlock.
    Before: the pool forked from it anyway. Now the zygote says so, the pool logs it and starts plain workers."""
    python = _threaded_python(tmp_path)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        pool = MathVerifyPool(workers=1, timeout_s=30.0, python=python)
        try:
            _checked(pool)
            assert isinstance(pool._workers[0].proc, subprocess.Popen)
            assert pool._zygote.disabled and "threads" in pool._zygote.disabled
        finally:
            pool.close()
    assert any("forking it is unsafe" in r.getMessage() for r in caplog.records)


def test_check_after_close_raises():
    """Before: a check after close() started a plain worker that nothing ever reaped."""
    pool = MathVerifyPool(workers=1, timeout_s=5.0)
    pool.close()
    with pytest.raises(RuntimeError, match="after close"):
        pool.check("1", "1")
    assert all(w.proc is None for w in pool._workers)

