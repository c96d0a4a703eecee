"""In-sandbox driver: sets its own rlimits, then runs code cells in one shared namespace.

This file is NOT imported by verl-score: its source is handed to the sandbox's system interpreter with
``python3 -I -c``. It must therefore depend on the standard library only and stay compatible with any Python 3.8+.

Why the child sets its own limits: ``preexec_fn`` is unsafe in multi-threaded parents (Ray, torch), and setting
RLIMIT_NPROC here, *inside* the sandbox's user namespace, makes the kernel count only this sandbox's processes.

Protocol. stdin: one ``marshal``-encoded dict ``{"nonce", "cells", "limits", "echo_last_expr", "cell_output_cap"}``
(trusted parent -> sandbox). Results go to a private duplicate of stdout as lines ``<nonce><repr(dict)>`` that the
parent reads with ``ast.literal_eval`` (safe on hostile text, unlike marshal/pickle); the run ends with
``<nonce>DONE``. marshal and repr are built in: no json/ast/traceback import on the hot path (each costs
milliseconds per run, and runs are ~30 ms in total). The nonce
is random per run and never shown to the code under test, so printing a fake "all passed" line cannot forge a result,
and ``os._exit(0)`` before the tests simply leaves the result missing (= failure).
"""

import builtins
import io
import marshal
import os
import resource
import sys
import time


class _CappedText(io.TextIOBase):
    """A text sink that keeps at most ``cap`` characters (the rest is counted, not stored)."""

    def __init__(self, cap):
        self.cap = cap
        self.parts = []
        self.size = 0
        self.truncated = False

    def writable(self):
        return True

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError("write() argument must be str, not %s" % type(s).__name__)
        room = self.cap - self.size
        if room > 0:
            self.parts.append(s[:room])
        if len(s) > room:
            self.truncated = True
        self.size += min(len(s), max(room, 0))
        return len(s)

    def getvalue(self):
        return "".join(self.parts)


def _set_limits(limits):
    for name, value in limits.items():
        res = getattr(resource, name)
        soft, hard = (value, value) if not isinstance(value, list) else value
        resource.setrlimit(res, (soft, hard))


def _compile_cell(source, index, echo_last_expr):
    """Compile a cell; with ``echo_last_expr`` a trailing expression's repr is printed, like a notebook/REPL."""
    filename = "<cell %d>" % index
    if not echo_last_expr:
        return compile(source, filename, "exec"), None
    import ast

    tree = ast.parse(source, filename, "exec")
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
        last = compile(last, filename, "eval")
    return compile(tree, filename, "exec"), last


def _describe(e):
    import traceback

    try:
        message = str(e)[:2000]
    except BaseException:  # a hostile __str__
        message = "<unprintable>"
    try:
        tb = "".join(traceback.format_exception(type(e), e, e.__traceback__.tb_next))[-4000:]
    except BaseException:
        tb = "%s: %s\n" % (type(e).__name__, message)
    return {"type": type(e).__name__, "message": message, "traceback": tb}


def main():
    request = marshal.loads(sys.stdin.buffer.read())
    nonce = request["nonce"]
    cells = request["cells"]
    cap = int(request.get("cell_output_cap", 65536))
    echo = bool(request.get("echo_last_expr", False))
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    out_fd = os.dup(1)  # private result channel
    _set_limits(request.get("limits", {}))

    def emit(text):
        data = ("\n" + nonce + text + "\n").encode("utf-8", "replace")
        while data:
            data = data[os.write(out_fd, data):]

    namespace = {"__name__": "__main__", "__builtins__": builtins}
    for index, source in enumerate(cells):
        out, err = _CappedText(cap), _CappedText(cap)
        old_out, old_err = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = out, err
        exc = None
        start = time.perf_counter()
        try:
            code, last = _compile_cell(source, index, echo)
            exec(code, namespace)
            if last is not None:
                value = eval(last, namespace)
                if value is not None:
                    print(repr(value))
        except BaseException as e:  # SystemExit / KeyboardInterrupt from the cell are the cell's failure too
            exc = _describe(e)
        finally:
            sys.stdout, sys.stderr = old_out, old_err
        emit(repr({
            "index": index,
            "stdout": out.getvalue(),
            "stderr": err.getvalue(),
            "truncated": out.truncated or err.truncated,
            "exception": exc,
            "elapsed_s": time.perf_counter() - start,
        }))
    emit("DONE")
    os._exit(0)  # skip user atexit hooks and non-daemon threads: results are already out


main()
