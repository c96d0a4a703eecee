"""The strict two-process harness (``_harness.py``): isolation of the harness from the program, the plain-data
boundary, and the reason codes of what it refuses.

One module fixture runs every sandbox case concurrently; codec tests exec the harness source without ``main()``.
"""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path

import pytest

from verl_score.sandbox import Sandbox, SandboxConfig

# The program prints what it can reach of its parent (the harness); the program cell's stdout carries it back.
PROBE = r'''
import ctypes, os
ppid = os.getppid()
def probe(label, fn):
    try:
        r = fn()
        print(label, "OPEN", repr(r)[:60])
    except OSError as e:
        print(label, type(e).__name__)
probe("mem", lambda: open("/proc/%d/mem" % ppid, "rb").read(1))
probe("maps", lambda: open("/proc/%d/maps" % ppid).read(10))
probe("environ", lambda: open("/proc/%d/environ" % ppid, "rb").read())
probe("fd", lambda: os.listdir("/proc/%d/fd" % ppid))
probe("fdopen", lambda: os.open("/proc/%d/fd/1" % ppid, os.O_WRONLY))
libc = ctypes.CDLL(None, use_errno=True)
print("ptrace", libc.ptrace(16, ppid, None, None), ctypes.get_errno())
class iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
buf = ctypes.create_string_buffer(16)
local, remote = iovec(ctypes.addressof(buf), 16), iovec(0x400000, 16)
print("vm_readv", libc.process_vm_readv(ppid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0), ctypes.get_errno())
print("own_fds", sorted(int(f) for f in os.listdir("/proc/self/fd")))
print("stdout_is", os.readlink("/proc/self/fd/1"))
print("parent_cmdline_has_nonce", b"@@VS-" in open("/proc/%d/cmdline" % ppid, "rb").read())
def f(x):
    return x
'''

HARNESS_SRC = (Path(__file__).resolve().parents[2] / "verl_score/sandbox/_harness.py").read_text()


@pytest.fixture(scope="module")
def codec():
    ns: dict = {"__name__": "harness_under_test"}
    exec(compile(HARNESS_SRC.rsplit("\nmain()", 1)[0], "_harness.py", "exec"), ns)
    return ns


CASES = {
    "probe": dict(program=PROBE, tests=["assert f(1) == 1"], names=["f"]),
    "types": dict(
        program="def f(x):\n    return x\ndef pair():\n    return (1, 2)\ndef nested(n):\n    v = []\n"
                "    for _ in range(n):\n        v = [v]\n    return v\ndef big(n):\n    return 'x' * n\n"
                "def gen():\n    return (i for i in range(3))\nCONST = {'a': (1, 2.5, None, b'z', 1j)}\n"
                "def boom():\n    raise ValueError('bad input')\ndef weird():\n    class E(Exception): pass\n"
                "    raise E('custom')\ndef mutate(xs):\n    xs.append(1)\n    return len(xs)\n",
        tests=[
            "assert pair() == (1, 2) and pair() != [1, 2]",           # 0: tuples stay tuples
            "assert f([1, (2, 3), {4: {5}}, frozenset({6})]) == [1, (2, 3), {4: {5}}, frozenset({6})]",  # 1
            "assert CONST == {'a': (1, 2.5, None, b'z', 1j)}",       # 2: a plain global crosses as a value
            "assert nested(10) is not None",                          # 3: depth 10 is fine
            "nested(40)",                                             # 4: too deep -> value_too_deep
            "big(1 << 20)",                                           # 5: over max_value_bytes -> value_too_large
            "list(gen())",                                            # 6: a generator is not plain data
            "f(lambda: 1)",                                           # 7: unsupported argument
            "try:\n    gen()\nexcept BaseException:\n    pass",      # 8: swallowing the ProxyError does not help
            "try:\n    boom()\nexcept ValueError as e:\n    assert str(e) == 'bad input'",  # 9: builtin exc re-raised
            "try:\n    weird()\nexcept ValueError:\n    pass",       # 10: a program class -> ProgramError, fails
            "xs = [0]\nassert mutate(xs) == 2 and xs == [0]",         # 11: arguments are copies (strict mode)
            "assert f(True) is True and type(f(1.0)) is float and f(2 ** 100) == 2 ** 100",  # 12
        ],
        names=["f", "pair", "nested", "big", "gen", "CONST", "boom", "weird", "mutate"],
    ),
    # A program that raises StopIteration / StopAsyncIteration must not end the TEST's iteration (map/zip/next).
    "control_flow": dict(
        program="def stop(x):\n    raise StopIteration\ndef astop(x):\n    raise StopAsyncIteration('x')\n"
                "def ok(x):\n    return x\n",
        tests=["assert all(map(lambda x: stop(x) == x * x, [3, 4]))",
               "for got, want in zip(map(stop, [3, 4]), [9, 16]):\n    assert got == want",
               "assert next(iter(map(stop, [1])), 'default') == 'default'",
               "try:\n    stop(1)\nexcept StopIteration:\n    pass",
               "assert all(map(lambda x: astop(x) == x, [1]))",
               "assert all(map(lambda x: ok(x) == x, [1, 2]))"],
        names=["stop", "astop", "ok"]),
    "timeout": dict(program="def slow(x):\n    while True:\n        pass\ndef fast(x):\n    return x\n",
                    tests=["assert fast(1) == 1", "slow(1)", "assert fast(2) == 2"], names=["fast", "slow"]),
    "setup": dict(program="def area(r):\n    return round(math.pi * r * r, 2) + OFFSET\n",
                  setup=["import math", "OFFSET = 0"], tests=["assert area(1) == 3.14 + OFFSET"], names=["area"]),
    "prelude": dict(program="def helper(x):\n    return 0\ndef solve(x):\n    return x + 1\n",
                    prelude="def helper(x):\n    return x * 10\ndef solve(x):\n    'stub'\n",
                    tests=["assert helper(2) == 20 and solve(1) == 2"], names=["solve", "helper"], forced=["solve"]),
}


@pytest.fixture(scope="module")
def runs():
    sandbox = Sandbox(SandboxConfig(timeout_s=8, cpu_s=4, test_timeout_s=1.0, max_value_bytes=1 << 16,
                                    max_concurrency=8))

    async def go():
        outs = await asyncio.gather(*(sandbox.run_tests(**kw) for kw in CASES.values()))
        return dict(zip(CASES, outs))

    return asyncio.run(go())


def test_program_cannot_reach_the_harness(runs):
    run = runs["probe"]
    assert run.completed and all(c.ok for c in run.cells), run.cells
    lines = dict(line.split(" ", 1) for line in run.cells[0].stdout.strip().splitlines())
    for key in ("mem", "maps", "environ", "fd", "fdopen"):
        assert lines[key] == "PermissionError", (key, lines[key])
    assert lines["ptrace"] == "-1 1"  # EPERM
    assert lines["vm_readv"] == "-1 1"
    # 0/1/2 (/dev/null), its two pipes to the harness, and the fd listing /proc/self/fd itself: no result pipe
    assert len(eval(lines["own_fds"])) == 6 and lines["stdout_is"] == "/dev/null"
    assert lines["parent_cmdline_has_nonce"] == "False"


def test_plain_data_crosses_exactly(runs):
    cells = runs["types"].cells[1:]
    ok = [c.ok for c in cells]
    assert ok[0] and ok[1] and ok[2] and ok[3] and ok[9] and ok[11] and ok[12], [c.exception for c in cells]
    reasons = {i: cells[i].reason for i in (4, 5, 6, 7, 8)}
    assert reasons == {4: "value_too_deep", 5: "value_too_large", 6: "unsupported_type", 7: "unsupported_argument",
                       8: "unsupported_type"}
    assert all(not cells[i].ok for i in reasons)
    assert not cells[10].ok and cells[10].exception["type"] == "ProgramError" and cells[10].reason == ""


def test_control_flow_exceptions_of_the_program_fail_the_test(runs):
    """Re-raised as ``StopIteration`` they would silently end ``map`` / ``zip`` in the test and pass it."""
    program, *tests = runs["control_flow"].cells
    assert program.ok
    assert [c.ok for c in tests] == [False, False, False, False, False, True], [c.exception for c in tests]
    assert all(c.exception["type"] == "ProgramError" for c in tests[:5])
    assert "StopIteration" in tests[0].exception["message"]


def test_per_test_timeout_kills_the_program_and_fails_the_rest(runs):
    run = runs["timeout"]
    assert run.completed
    program, fast1, slow, fast2 = run.cells
    assert program.ok and fast1.ok
    assert slow.reason == "test_timeout" and slow.elapsed_s < 3
    assert not fast2.ok and fast2.reason == "test_timeout"


def test_setup_runs_in_both_processes_and_prelude_only_in_the_harness(runs):
    assert runs["setup"].all_ok, runs["setup"].cells
    # the program's own ``helper`` (returns 0) is ignored: the test sees the trusted prelude's, and ``solve``
    # (forced) is the program's even though the prelude defines a stub of it
    assert runs["prelude"].all_ok, runs["prelude"].cells


def test_codec_round_trip_and_exact_types(codec):
    enc, dec = codec["encode"], codec["decode"]
    values = [None, True, False, 0, -1, 2 ** 200, -(2 ** 70), 1.5, float("inf"), 1 + 2j, "", "é\ud800", b"\x00",
              [1, [2]], (1, (2,)), {1: "a", (1, 2): [3]}, {1, 2}, frozenset({"a"}), ([], ())]
    for v in values:
        assert dec(enc(v, 1 << 20)) == v and type(dec(enc(v, 1 << 20))) is type(v)
    assert type(dec(enc((1,), 100))) is tuple and type(dec(enc([1], 100))) is list

    class MyInt(int):
        pass

    for bad in (MyInt(1), object(), [MyInt(2)], {"k": lambda: 1}):
        with pytest.raises(codec["Unsupported"]) as info:
            enc(bad, 1 << 20)
        assert info.value.args[0] == "unsupported_type"


@pytest.mark.parametrize("data", [
    b"", b"Z", b"i", b"i\xff\xff\xff\xff", b"s\x05\x00\x00\x00ab", b"s\x01\x00\x00\x00\xff", b"NN",
    b"S\x01\x00\x00\x00l\x00\x00\x00\x00",  # a set holding a list (unhashable)
    b"d\x01\x00\x00\x00l\x00\x00\x00\x00N",   # a list as a dict key
    b"l\xff\xff\xff\x7f", b"l\x01\x00\x00\x00" * 40 + b"N",  # a huge count; nesting past MAX_DEPTH
    b"f\x00\x00",
])
def test_decoder_rejects_hostile_bytes(codec, data):
    with pytest.raises(codec["CodecError"]):
        codec["decode"](data)


def test_decoder_accepts_exactly_what_the_encoder_writes(codec):
    assert codec["decode"](b"l" + struct.pack("<I", 2) + b"TN") == [True, None]


def test_source_fallback_when_the_code_object_cannot_be_built(monkeypatch):
    """The harness normally arrives as a code object compiled once by the sandbox's interpreter; without one it runs
    from source (``python -c``) with the same result."""
    import verl_score.sandbox.runner as runner

    sandbox = Sandbox(SandboxConfig(timeout_s=8))
    monkeypatch.setitem(runner._COMPILED, sandbox.config.python, None)
    run = asyncio.run(sandbox.run_tests("def f(x):\n    return x * 2\n", ["assert f(2) == 4", "assert f(1) == 3"],
                                        names=["f"]))
    assert run.completed and [c.ok for c in run.cells] == [True, True, False]
    assert runner._compiled_harness(sandbox.config.python) is None  # the patched cache entry was really used
