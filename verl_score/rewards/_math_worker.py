"""math-verify worker process: one JSON request per stdin line, one JSON reply per stdout line.

Run as a script by ``math_pool.MathVerifyPool`` (not imported), in one of two modes: a worker on stdin/stdout, or
(``--zygote FD``) a zygote: it imports and warms math-verify once, then forks a ready worker for every socket the pool
sends it over the control socket ``FD`` (a replacement for a killed worker then costs a fork, milliseconds, instead
of a second or more of imports on a loaded machine). Why a process: math-verify's own timeouts use
``signal.alarm`` (main thread only; they raise ``ValueError`` in the reward loop's threads) and sympy can spin for
hours on ``9^{9^{9^9}}`` inside C code that no signal interrupts. Here both timeouts are off and the parent kills
this process when a check overruns its deadline. EOF on stdin (parent gone) ends the worker.

How gold and answer are read is ``math_parse.py`` (the converter's gold check runs the same code, so a gold that
converts is a gold that scores). Equivalence is math-verify's, never weaker than calling it on the same text: a
request names the extracted answer and whether it is one expression (``text: false``: read as ``\\boxed{answer}``,
falling back to ``$answer$``) or prose around a value (``text: true``: math-verify's own extraction searches it,
exactly as plain ``parse(answer)`` would).
"""

import importlib.util
import json
import logging
import os
import signal
import socket
import sys
import threading
from pathlib import Path

logging.disable(logging.WARNING)  # math-verify warns on every call that its timeouts are disabled: we know


def _load_math_parse():
    """``math_parse.py`` by path: ``-I`` keeps this directory and PYTHONPATH off sys.path (no package import here)."""
    spec = importlib.util.spec_from_file_location("_verl_score_math_parse", Path(__file__).with_name("math_parse.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


math_parse = _load_math_parse()
_gold_cache = {}


def _parse_gold(gold):
    parsed = _gold_cache.get(gold)
    if parsed is None:
        parsed = math_parse.parse_gold(gold)
        if len(_gold_cache) > 4096:
            _gold_cache.clear()
        _gold_cache[gold] = parsed
    return parsed


def handle(request):
    gold = _parse_gold(request["gold"])
    if not gold:
        return {"equal": False, "reason": "gold_unparseable"}
    pred = math_parse.parse_answer(request["pred"], bool(request.get("text")))
    if not pred:
        return {"equal": False, "reason": "answer_unparseable"}
    return {"equal": math_parse.equal(gold, pred), "reason": "ok"}


def serve(lines, out):
    """Answer requests until EOF: ``lines`` yields request lines, ``out`` takes reply text."""
    out.write("ready\n")
    out.flush()
    for line in lines:
        try:
            reply = handle(json.loads(line))
        except Exception as e:  # noqa: BLE001 - report, keep serving
            reply = {"equal": False, "reason": "error", "error": f"{type(e).__name__}: {e}"[:500]}
        out.write(json.dumps(reply) + "\n")
        out.flush()


def threads():
    """Threads of this process, native ones included (``/proc/self/status``; Python's own count where there is none):
    an import that starts a thread (a BLAS pool, a monitor) makes forking unsafe."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return threading.active_count()


def zygote(fd):
    """Fork a ready worker per socket received on the control socket ``fd``; reply ``pid N``. EOF: the pool is gone.
    Children are reaped by the kernel (SIGCHLD ignored): the pool SIGKILLs them by pid.

    Why the thread count (checked before ``ready`` and before every fork): a fork copies only the forking thread,
    with every lock another thread held at that instant, so a child of a multi-threaded zygote may deadlock. Then the
    reply is ``threads N`` instead, and the pool starts plain interpreters."""
    ctrl = socket.socket(fileno=fd)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    n = threads()
    ctrl.sendall(b"ready\n" if n == 1 else f"threads {n}\n".encode())
    while True:
        msg, fds, _, _ = socket.recv_fds(ctrl, 16, 1)
        if not msg:
            os._exit(0)
        conn = socket.socket(fileno=fds[0])
        n = threads()
        if n != 1:
            conn.close()
            ctrl.sendall(f"threads {n}\n".encode())
            continue
        pid = os.fork()
        if pid == 0:
            try:
                ctrl.close()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                serve(conn.makefile("r", encoding="utf-8"), conn.makefile("w", encoding="utf-8"))
            finally:
                os._exit(0)
        conn.close()
        ctrl.sendall(f"pid {pid}\n".encode())


def main():
    sys.setrecursionlimit(10_000)
    math_parse.warm()  # before "ready": a fresh (or replacement) worker's first check is as fast as any other
    if len(sys.argv) == 3 and sys.argv[1] == "--zygote":
        zygote(int(sys.argv[2]))
    else:
        serve(sys.stdin, sys.stdout)


if __name__ == "__main__":
    try:
        main()
    except (BrokenPipeError, ConnectionError, KeyboardInterrupt):  # the pool closed our pipes / socket: quiet
        os._exit(0)
