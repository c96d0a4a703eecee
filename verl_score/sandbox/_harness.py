"""In-sandbox two-process test harness: trusted tests in one process, the untrusted program in another.

This file is NOT imported by verl-score: the sandbox's system interpreter runs it (compiled once per host process
by that same interpreter, then handed over as a code object on stdin by a small ``-c`` loader, see ``runner.py``;
the source itself with ``-c`` if that fails). Standard library only, Python 3.8+.

Why two processes: in one interpreter the program can reach everything the tests rely on: it can return an object
whose ``__eq__`` always says True, patch ``builtins.abs`` / ``sorted`` / ``math.isclose`` before the asserts run,
or walk the call stack to the driver's frame and call its reporter with the run's nonce. Here:

* The process reads the public part of the request (the program, setup, limits), makes itself non-dumpable
  (``prctl(PR_SET_DUMPABLE, 0)``: with no capabilities in the sandbox, the program can neither ptrace it nor open
  its ``/proc/<pid>/mem``, ``/proc/<pid>/fd`` or ``environ``) and forks, BEFORE the secret part (the nonce, the
  tests) is read from stdin. The child never holds the nonce or the tests in its memory, its stdin/stdout/stderr are
  ``/dev/null`` and it keeps only its two private pipes to the harness (no inherited result pipe). It starts the
  program once the harness has read stdin to EOF (bwrap's init keeps the pipe open: an early program could
  otherwise reopen it through ``/proc/1/fd/0`` and read the nonce). The parent is the harness.
* The harness runs the trusted test code (MBPP asserts, HumanEval ``check(candidate)``, the HumanEval prompt's
  helpers, ``test_imports`` / ``test_setup_code``) in its own interpreter, whose builtins no program ever touched.
  Each top-level name the tests use that the harness does not define itself is bound to a *proxy*: calling it sends
  the arguments to the child and returns the child's result.
* Values cross as plain data in a small strict codec: exact ``None/bool/int/float/complex/str/bytes`` and
  ``list/tuple/dict/set/frozenset`` of those (no subclasses; tuples and lists stay distinct), bounded in bytes,
  items and depth. Anything else is a failed test with a reason code, never a pass. The harness decodes the child's
  bytes itself (no marshal/pickle on hostile input).

Protocol with the host. stdin: a 4-byte length and a ``marshal`` dict, the PUBLIC part ``{"limits", "setup",
"program", "names", "cell_output_cap", "test_timeout_s", "max_value_bytes"}``, then (to EOF) the SECRET part
``{"nonce", "tests", "prelude", "forced"}``, read only after the fork. Records go to a private duplicate of stdout as
``<nonce><repr(dict)>`` lines, one per cell (setup cells, the program, each test), then ``<nonce>DONE``.
"""

import builtins
import io
import marshal
import os
import resource
import select
import struct
import sys
import time

MAX_DEPTH = 32
_LEN = struct.Struct("<I")
_F64 = struct.Struct("<d")
_C128 = struct.Struct("<dd")


# ------------------------------------------------------------------------------------------------- the codec
class CodecError(Exception):
    """Bytes that are not a well-formed plain value (raised by the harness's decoder on hostile input)."""


class Unsupported(Exception):
    """A value outside the plain-data types; ``args[0]`` is the reason code, ``args[1]`` the detail."""


_SEQ_TAGS = {list: b"l", tuple: b"t", set: b"S", frozenset: b"z"}


def encode(value, max_bytes):
    """Plain value -> bytes. Exact types only: a ``bool`` subclass, an ``int`` subclass, ... is ``Unsupported``."""
    out = []
    budget = [max_bytes]
    _enc(value, out, 0, budget)
    return b"".join(out)


def _spend(budget, n):
    budget[0] -= n
    if budget[0] < 0:
        raise Unsupported("value_too_large", "over the plain-data size limit")


def _enc(v, out, depth, budget):
    if depth > MAX_DEPTH:
        raise Unsupported("value_too_deep", "nested deeper than %d" % MAX_DEPTH)
    t = type(v)
    if v is None:
        out.append(b"N")
    elif t is bool:
        out.append(b"T" if v else b"F")
    elif t is int:
        raw = v.to_bytes(v.bit_length() // 8 + 1, "little", signed=True)
        _spend(budget, len(raw) + 5)
        out += [b"i", _LEN.pack(len(raw)), raw]
    elif t is float:
        out += [b"f", _F64.pack(v)]
    elif t is complex:
        out += [b"c", _C128.pack(v.real, v.imag)]
    elif t is str:
        raw = v.encode("utf-8", "surrogatepass")
        _spend(budget, len(raw) + 5)
        out += [b"s", _LEN.pack(len(raw)), raw]
    elif t is bytes:
        _spend(budget, len(v) + 5)
        out += [b"b", _LEN.pack(len(v)), v]
    elif t in _SEQ_TAGS:
        _spend(budget, len(v) + 5)
        out += [_SEQ_TAGS[t], _LEN.pack(len(v))]
        for item in v:
            _enc(item, out, depth + 1, budget)
    elif t is dict:
        _spend(budget, 2 * len(v) + 5)
        out += [b"d", _LEN.pack(len(v))]
        for key, item in v.items():
            _enc(key, out, depth + 1, budget)
            _enc(item, out, depth + 1, budget)
    else:
        raise Unsupported("unsupported_type", _type_name(v))
    _spend(budget, 1)


def _type_name(v):
    try:
        return "%s.%s" % (type(v).__module__, type(v).__qualname__)
    except BaseException:
        return "<unnamed type>"


def decode(data):
    """bytes -> plain value; every length is checked against what is left, depth is bounded, trailing bytes fail."""
    value, pos = _dec(data, 0, 0)
    if pos != len(data):
        raise CodecError("trailing bytes")
    return value


def _take_len(data, pos):
    if pos + 4 > len(data):
        raise CodecError("truncated length")
    n = _LEN.unpack_from(data, pos)[0]
    if n > len(data) - pos - 4:
        raise CodecError("length past the end")
    return n, pos + 4


def _dec(data, pos, depth):
    if depth > MAX_DEPTH:
        raise CodecError("too deep")
    if pos >= len(data):
        raise CodecError("truncated")
    tag = data[pos:pos + 1]
    pos += 1
    if tag == b"N":
        return None, pos
    if tag == b"T":
        return True, pos
    if tag == b"F":
        return False, pos
    if tag == b"f":
        if pos + 8 > len(data):
            raise CodecError("truncated float")
        return _F64.unpack_from(data, pos)[0], pos + 8
    if tag == b"c":
        if pos + 16 > len(data):
            raise CodecError("truncated complex")
        re_, im = _C128.unpack_from(data, pos)
        return complex(re_, im), pos + 16
    if tag in (b"i", b"s", b"b"):
        n, pos = _take_len(data, pos)
        raw = bytes(data[pos:pos + n])
        pos += n
        if tag == b"i":
            return int.from_bytes(raw, "little", signed=True), pos
        if tag == b"b":
            return raw, pos
        try:
            return raw.decode("utf-8", "surrogatepass"), pos
        except UnicodeDecodeError:
            raise CodecError("bad utf-8") from None
    if tag in (b"l", b"t", b"S", b"z", b"d"):
        n, pos = _take_len(data, pos)
        items = []
        for _ in range(2 * n if tag == b"d" else n):
            item, pos = _dec(data, pos, depth + 1)
            items.append(item)
        try:
            if tag == b"l":
                return items, pos
            if tag == b"t":
                return tuple(items), pos
            if tag == b"S":
                return set(items), pos
            if tag == b"z":
                return frozenset(items), pos
            return dict(zip(items[0::2], items[1::2])), pos
        except TypeError:  # an unhashable (list, dict, set) element of a set or a dict key
            raise CodecError("unhashable set element or dict key") from None
    raise CodecError("unknown tag %r" % (tag,))


# ------------------------------------------------------------------------------------------- framed pipe I/O
class _Timeout(Exception):
    pass


def _send(fd, body, deadline=None):
    data = memoryview(_LEN.pack(len(body)) + body)
    while data:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([], [fd], [], left)[1]:
                raise _Timeout()
        data = data[os.write(fd, data[:1 << 16]):]


def _read_exact(fd, n, deadline):
    buf = bytearray()
    while len(buf) < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise _Timeout()
        chunk = os.read(fd, min(n - len(buf), 1 << 20))
        if not chunk:
            raise EOFError()
        buf += chunk
    return bytes(buf)


def _recv(fd, max_bytes, deadline=None):
    n = _LEN.unpack(_read_exact(fd, 4, deadline))[0]
    if n > max_bytes:
        raise Unsupported("value_too_large", "message of %d bytes" % n)
    return _read_exact(fd, n, deadline)


# ----------------------------------------------------------------------------------------------- shared bits
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
        soft, hard = (value, value) if not isinstance(value, (list, tuple)) else value
        resource.setrlimit(getattr(resource, name), (soft, hard))


def _safe_str(e, n=2000):
    try:
        return str(e)[:n]
    except BaseException:
        return "<unprintable>"


def _describe(e):
    import traceback

    message = _safe_str(e)
    try:
        tb = "".join(traceback.format_exception(type(e), e, e.__traceback__.tb_next))[-4000:]
    except BaseException:
        tb = "%s: %s\n" % (type(e).__name__, message)
    return {"type": type(e).__name__, "message": message, "traceback": tb}


def _make_undumpable():
    """``prctl(PR_SET_DUMPABLE, 0)`` through ``_ctypes`` (the full ``ctypes`` package costs 5-15 ms to import)."""
    import _ctypes

    class _Int(_ctypes._SimpleCData):
        _type_ = "i"

    class _Fn(_ctypes.CFuncPtr):
        _flags_ = _ctypes.FUNCFLAG_CDECL
        _restype_ = _Int

    class _Lib:
        _handle = _ctypes.dlopen(None, 2)

    prctl = _Fn(("prctl", _Lib()))
    if prctl(4, 0, 0, 0, 0) != 0 or prctl(3, 0, 0, 0, 0) != 0:  # PR_SET_DUMPABLE, then PR_GET_DUMPABLE
        raise OSError("prctl(PR_SET_DUMPABLE, 0) failed: the harness would be readable by the program")


# -------------------------------------------------------------------------------------- the untrusted child
def _child(public, rfd, wfd):
    """Runs setup + program, answers name lookups and calls. Everything here is hostile territory."""
    limits, setup, program, names = public["limits"], public["setup"], public["program"], public["names"]
    cap, max_bytes = int(public["cell_output_cap"]), int(public["max_value_bytes"])
    _set_limits(limits)
    # Wait for the harness's go: until it has drained stdin, the secret part sits in a pipe that bwrap's init also
    # holds open (/proc/1/fd/0, which a same-uid program could reopen when the host does not run as root).
    try:
        _read_exact(rfd, 1, None)
    except EOFError:
        os._exit(0)
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    out, err = _CappedText(cap), _CappedText(cap)
    sys.stdout, sys.stderr = out, err
    exc = None
    t0 = time.perf_counter()
    try:
        for index, source in enumerate(setup + [program]):
            exec(compile(source, "<program>" if index == len(setup) else "<setup %d>" % index, "exec"), namespace)
    except BaseException as e:
        exc = _describe(e)
    elapsed = time.perf_counter() - t0
    sink = _CappedText(0)
    sys.stdout = sys.stderr = sink
    resolved = []
    for name in names:
        try:
            if name not in namespace:
                resolved.append((name, "missing", None))
                continue
            value = namespace[name]
            if callable(value):
                resolved.append((name, "callable", None))
                continue
            encode(value, max_bytes)
            resolved.append((name, "value", value))
        except Unsupported as e:
            resolved.append((name, "unsupported", "%s: %s" % e.args))
        except BaseException as e:
            resolved.append((name, "unsupported", "lookup raised %s" % type(e).__name__))
    exc_t = None if exc is None else (exc["type"], exc["message"], exc["traceback"])
    _reply(wfd, ("program", exc_t, out.getvalue(), err.getvalue(), out.truncated or err.truncated, elapsed,
                 resolved), max_bytes)
    while True:
        try:
            request = decode(_recv(rfd, 1 << 30))
        except BaseException:
            os._exit(0)
        _, name, args, kwargs = request
        try:
            value = namespace[name](*args, **kwargs)
        except BaseException as e:
            _reply(wfd, ("exc", type(e).__name__, _safe_str(e, 500)), max_bytes)
            continue
        _reply(wfd, ("ret", value), max_bytes)


def _reply(wfd, message, max_bytes):
    try:
        body = encode(message, max_bytes)
    except Unsupported as e:
        body = encode(("bad",) + tuple(e.args), max_bytes)
    except BaseException as e:
        body = encode(("bad", "unsupported_type", "encoding raised %s" % type(e).__name__), max_bytes)
    _send(wfd, body)


# ------------------------------------------------------------------------------------------ the trusted side
class ProxyError(BaseException):
    """A call the strict harness could not carry (unsupported value, dead or hung program, malformed reply).

    A ``BaseException`` so that a test's ``except Exception`` cannot swallow it; the harness also remembers it
    and fails the test even if the test caught it.
    """


class ProgramError(Exception):
    """The program raised an exception that is not re-raised by name: not a builtin ``Exception`` class, or one
    that would steer the test's control flow (``StopIteration``, ``StopAsyncIteration``)."""


#: Exceptions that steer the TEST's control flow rather than fail it: a ``StopIteration`` raised inside ``map`` /
#: ``zip`` / ``filter`` / ``next(it, d)`` silently ends the iteration, so ``assert all(map(lambda x: f(x) == x * x,
#: xs))`` would pass on a program that only raises it. Re-raised as ``ProgramError`` (an ordinary failure) instead.
#: (``GeneratorExit`` / ``KeyboardInterrupt`` are ``BaseException``s and never re-raised by name anyway.)
_CONTROL_FLOW = (StopIteration, StopAsyncIteration)


class _Link:
    """The harness's end of the pipes to the child; remembers faults of the test in progress."""

    def __init__(self, pid, wfd, rfd, max_bytes):
        self.pid, self.wfd, self.rfd, self.max_bytes = pid, wfd, rfd, max_bytes
        self.dead = ""
        self.faults = []
        self.deadline = None

    def kill(self, why):
        if not self.dead:
            self.dead = why
            try:
                os.kill(self.pid, 9)  # SIGKILL; the signal module would import enum (~10 ms)
            except OSError:
                pass

    def fault(self, code, detail):
        text = "%s: %s" % (code, detail)
        self.faults.append(text)
        raise ProxyError(text)

    def roundtrip(self, body):
        """Send ``body`` (``None``: it was sent earlier) and decode the child's reply, within ``self.deadline``."""
        if self.dead:
            self.fault(self.dead, "the program process is gone")
        try:
            if body is not None:
                _send(self.wfd, body, self.deadline)
            return decode(_recv(self.rfd, self.max_bytes, self.deadline))
        except _Timeout:
            self.kill("test_timeout")
            self.fault("test_timeout", "the program did not answer in time: killed")
        except (EOFError, OSError):
            self.kill("program_died")
            self.fault("program_died", "the program process ended")
        except Unsupported as e:
            self.kill("value_too_large")
            self.fault(*e.args)
        except CodecError as e:
            self.kill("bad_reply")
            self.fault("bad_reply", str(e))

    def call(self, name, args, kwargs):
        try:
            body = encode(("call", name, args, kwargs), self.max_bytes)
        except Unsupported as e:
            self.fault("unsupported_argument", "%s (%s)" % (e.args[1], e.args[0]))
        reply = self.roundtrip(body)
        if type(reply) is tuple and len(reply) == 2 and reply[0] == "ret":
            return reply[1]
        if type(reply) is tuple and len(reply) == 3 and reply[0] == "exc" and all(type(x) is str for x in reply):
            cls = builtins.__dict__.get(reply[1])
            if (isinstance(cls, type) and issubclass(cls, Exception) and not issubclass(cls, ProxyError)
                    and not issubclass(cls, _CONTROL_FLOW)):
                raise cls(reply[2])
            raise ProgramError("%s: %s" % (reply[1], reply[2]))
        if type(reply) is tuple and len(reply) == 3 and reply[0] == "bad" and all(type(x) is str for x in reply):
            self.fault(reply[1] if reply[1] in ("unsupported_type", "value_too_large", "value_too_deep")
                       else "bad_reply", reply[2][:300])
        self.kill("bad_reply")
        self.fault("bad_reply", "malformed reply")


class _Proxy:
    """Stands, in the harness, for one function of the program; every call is a round trip to the child."""

    __slots__ = ("_link", "_name")

    def __init__(self, link, name):
        self._link, self._name = link, name

    def __call__(self, *args, **kwargs):
        return self._link.call(self._name, args, kwargs)

    def __repr__(self):
        return "<program function %s>" % self._name


class _Unusable:
    """A program global that is not plain data (a module, an instance): any use is a ``ProxyError``."""

    __slots__ = ("_link", "_why")

    def __init__(self, link, why):
        self._link, self._why = link, why

    def _refuse(self, *_a, **_k):
        self._link.fault("unsupported_type", self._why)

    __call__ = __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __bool__ = __len__ = __iter__ = _refuse
    __getattr__ = __getitem__ = __contains__ = __hash__ = __add__ = __radd__ = __sub__ = __mul__ = _refuse


def _read_fd(fd, n=None):
    """Exactly ``n`` bytes (or everything up to EOF) from ``fd`` with plain ``os.read``: no read-ahead buffer may
    pull the secret part of the request into memory before the fork."""
    parts, got = [], 0
    while n is None or got < n:
        chunk = os.read(fd, 1 << 20 if n is None else min(n - got, 1 << 20))
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def main():
    # The request comes in two parts. The PUBLIC part (program, setup, limits) is read first; then the process
    # makes itself non-dumpable and forks: the child starts running the program at once, and is a copy of this
    # process from BEFORE the SECRET part (nonce, tests, prelude) was read from the pipe.
    (size,) = _LEN.unpack(_read_fd(0, 4))
    public = marshal.loads(_read_fd(0, size))
    _make_undumpable()  # before the fork: no instant in which the program runs next to a dumpable harness
    to_child_r, to_child_w = os.pipe()
    to_harness_r, to_harness_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):  # stdin first: the secret part is still in that pipe
            os.dup2(devnull, fd)
        keep = (0, 1, 2, to_child_r, to_harness_w)
        for fd in range(3, 64):
            if fd not in keep:
                try:
                    os.close(fd)
                except OSError:
                    pass
        try:
            _child(public, to_child_r, to_harness_w)
        finally:
            os._exit(0)
    os.close(to_child_r)
    os.close(to_harness_w)
    program_deadline = time.monotonic() + float(public["test_timeout_s"])
    request = marshal.loads(_read_fd(0))  # to EOF: nothing of the request is left in the pipe after this
    os.write(to_child_w, b"G")  # the program may start now
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    out_fd = os.dup(1)  # private result channel
    nonce = request["nonce"]
    cap = int(public["cell_output_cap"])
    max_bytes = int(public["max_value_bytes"])
    test_timeout = float(public["test_timeout_s"])
    _set_limits(public["limits"])
    link = _Link(pid, to_child_w, to_harness_r, max_bytes)

    def emit(record):
        data = ("\n" + nonce + record + "\n").encode("utf-8", "replace")
        while data:
            data = data[os.write(out_fd, data):]

    def cell(index, source_or_fn):
        out, err = _CappedText(cap), _CappedText(cap)
        old = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = out, err
        exc, reason = None, ""
        link.faults = []
        link.deadline = time.monotonic() + test_timeout
        start = time.perf_counter()
        try:
            if callable(source_or_fn):
                source_or_fn()
            else:
                exec(compile(source_or_fn, "<test %d>" % index, "exec"), namespace)
        except BaseException as e:  # SystemExit / ProxyError from a test are the test's failure too
            exc = _describe(e)
        finally:
            sys.stdout, sys.stderr = old
        if link.faults:  # a swallowed ProxyError still fails the test
            reason = link.faults[0].split(":", 1)[0]
            if exc is None:
                exc = {"type": "ProxyError", "message": link.faults[0], "traceback": link.faults[0] + "\n"}
        emit(repr({"index": index, "stdout": out.getvalue(), "stderr": err.getvalue(),
                   "truncated": out.truncated or err.truncated, "exception": exc,
                   "elapsed_s": time.perf_counter() - start, "reason": reason}))

    namespace = {"__name__": "__main__", "__builtins__": builtins}
    setup = list(public["setup"])
    forced = set(request["forced"])
    for index, source in enumerate(setup):
        cell(index, source)
    if request["prelude"]:
        try:  # trusted helpers of the task (the HumanEval prompt: poly, encode_cyclic, ...), run here, never proxied
            exec(compile(request["prelude"], "<prelude>", "exec"), namespace)
        except BaseException:
            pass
    # Names the harness defines itself (imports, setup, the prelude's helpers) are never taken from the program.
    wanted = [n for n in public["names"] if n in forced or (n not in namespace and n not in builtins.__dict__)]

    def run_program():
        link.deadline = program_deadline
        reply = link.roundtrip(None)
        ok = (type(reply) is tuple and len(reply) == 7 and reply[0] == "program" and type(reply[6]) is list)
        if not ok:
            link.kill("bad_reply")
            link.fault("bad_reply", "malformed program reply")
        _, exc_t, stdout, stderr, _truncated, _elapsed, resolved = reply
        sys.stdout.write(stdout if type(stdout) is str else "")
        sys.stderr.write(stderr if type(stderr) is str else "")
        for item in resolved:
            if not (type(item) is tuple and len(item) == 3 and type(item[0]) is str and item[0] in wanted):
                continue
            name, kind, value = item
            if kind == "callable":
                namespace[name] = _Proxy(link, name)
            elif kind == "value":
                namespace[name] = value
            elif kind == "unsupported":
                namespace[name] = _Unusable(link, "%s is %s" % (name, value if type(value) is str else "?"))
        if exc_t is not None:
            if not (type(exc_t) is tuple and len(exc_t) == 3 and all(type(x) is str for x in exc_t)):
                exc_t = ("ProgramError", "malformed", "")
            raise ProgramError("%s: %s\n%s" % (exc_t[0], exc_t[1], exc_t[2]))

    cell(len(setup), run_program)
    for offset, source in enumerate(request["tests"]):
        cell(len(setup) + 1 + offset, source)
    link.kill("finished")
    emit("DONE")
    os._exit(0)


main()
