"""Every attack from the issue's list must be contained by the bubblewrap sandbox.

All attacks run concurrently once (module fixture) so the suite costs about one timeout, not eleven.
Each test then checks the host-side evidence, not just the sandbox's own report.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest

from verl_score.sandbox import Sandbox, SandboxConfig

TIMEOUT_S = 4.0
MARKER = f"VSBG{uuid.uuid4().hex}"
SECRET = f"sk-fake-{uuid.uuid4().hex}"
HOME_SECRET = Path.home() / f".verl_score_test_secret_{uuid.uuid4().hex}"
HOST_TARGET = Path(__file__).resolve().parent / f"escape_{uuid.uuid4().hex}"  # a host path outside the sandbox
SCRATCH_NAME = f"verl_score_scratch_{uuid.uuid4().hex}"


def _listener() -> tuple[socket.socket, list]:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(0.2)
    hits: list = []

    def accept() -> None:
        end = time.time() + TIMEOUT_S + 5
        while time.time() < end:
            try:
                conn, _ = srv.accept()
                hits.append(conn)
            except OSError:
                continue

    threading.Thread(target=accept, daemon=True).start()
    return srv, hits


def attacks(port: int) -> dict[str, list[str]]:
    return {
        "network": [
            f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=1)\nprint('CONNECTED')",
            "import socket\ns = socket.create_connection(('1.1.1.1', 53), timeout=1)\nprint('CONNECTED')",
            "import socket\nprint(socket.gethostbyname('example.com'))",
        ],
        "write_outside": [
            f"open({str(HOST_TARGET)!r}, 'w').write('x')",
            "open('/usr/evil', 'w').write('x')",
            "open('/evil', 'w').write('x')",
            "import os; os.makedirs('/etc/evil')",
            f"open('/tmp/{SCRATCH_NAME}', 'w').write('scratch is fine'); print(open('/tmp/{SCRATCH_NAME}').read())",
        ],
        "read_home": [
            f"print(open({str(HOME_SECRET)!r}).read())",
            "import os; print(os.listdir('/root'))",
            "import os; print(os.listdir('/home'))",
            f"import os; print(os.listdir({str(Path(__file__).resolve().parent)!r}))",
        ],
        "env": [
            "import os; print(dict(os.environ))",
            "print(open('/proc/self/environ', 'rb').read())",
            "print(open('/proc/1/environ', 'rb').read())",
            "import os\nfor p in os.listdir('/proc'):\n    if p.isdigit():\n"
            "        try: print(open(f'/proc/{p}/environ','rb').read())\n        except OSError as e: print(e)",
        ],
        "fork_bomb": [
            "import os\nn = 0\nwhile True:\n    try:\n        os.fork(); n += 1\n    except OSError:\n        pass",
        ],
        "fork_count": [
            "import os, time\nn = 0\ntry:\n    while True:\n        if os.fork() == 0:\n"
            "            time.sleep(30); os._exit(0)\n        n += 1\nexcept OSError:\n    print(n)",
        ],
        "memory_bomb": [
            "x = bytearray(8 << 30)",
            "chunks = []\nwhile True:\n    chunks.append(bytearray(64 << 20))",
        ],
        "infinite_loop": ["while True:\n    pass"],
        "sleep": ["import time\ntime.sleep(600)"],
        "kill_parent": [
            "import os, signal\nprint(os.getppid())\nos.kill(os.getppid(), signal.SIGKILL)",
            f"import os, signal\nos.kill({os.getpid()}, signal.SIGKILL)",
            "import os, signal\nos.kill(-1, signal.SIGKILL)\nprint('still here?')",
        ],
        "flood": ["import os\nwhile True:\n    os.write(1, b'A' * 65536)"],
        "flood_print": ["while True:\n    print('B' * 10000)"],
        "background": [
            "import subprocess\nsubprocess.Popen(['/usr/bin/python3', '-c', 'import time; time.sleep(120)  # "
            + MARKER + "'], start_new_session=True)",
            "import os, time\nif os.fork() == 0:\n    os.setsid()\n    os.execv('/usr/bin/python3', ['python3', "
            "'-c', 'import time; time.sleep(120)  # " + MARKER + "'])\ntime.sleep(0.5)\nprint('parent done')",
            "import os\nprint(sum(b'" + MARKER + "' in open(f'/proc/{p}/cmdline', 'rb').read()\n"
            "          for p in os.listdir('/proc') if p.isdigit()))",
        ],
    }


@pytest.fixture(scope="module")
def results():
    os.environ["VERL_SCORE_FAKE_SECRET"] = SECRET
    HOME_SECRET.write_text(SECRET)
    srv, hits = _listener()
    sandbox = Sandbox(SandboxConfig(timeout_s=TIMEOUT_S, cpu_s=2, memory_mb=512, max_processes=16,
                                    max_output_bytes=256 << 10, max_concurrency=16))
    port = srv.getsockname()[1]

    async def run_all():
        names = list(attacks(port))
        started = time.perf_counter()
        outs = await asyncio.gather(*(sandbox.run_cells(cells) for cells in attacks(port).values()))
        return dict(zip(names, outs)), time.perf_counter() - started

    try:
        out, wall = asyncio.run(run_all())
        time.sleep(0.3)
        yield {"runs": out, "wall": wall, "hits": list(hits)}
    finally:
        srv.close()
        HOME_SECRET.unlink(missing_ok=True)
        os.environ.pop("VERL_SCORE_FAKE_SECRET", None)


def _all_text(run) -> str:
    return run.stdout + run.stderr + "".join(c.stdout + c.stderr for c in run.cells)


def test_suite_is_bounded(results):
    assert results["wall"] < TIMEOUT_S + 10, results["wall"]


def test_network_is_unreachable(results):
    run = results["runs"]["network"]
    assert run.completed
    assert all(not c.ok for c in run.cells), [c.stdout for c in run.cells]
    assert "CONNECTED" not in _all_text(run)
    assert results["hits"] == []  # the host listener never saw a connection


def test_writes_outside_scratch_fail(results):
    run = results["runs"]["write_outside"]
    assert run.completed
    assert [c.ok for c in run.cells] == [False, False, False, False, True]
    assert run.cells[4].stdout.strip() == "scratch is fine"
    assert not HOST_TARGET.exists()
    assert not (Path("/tmp") / SCRATCH_NAME).exists()  # the scratch is private, not the host's /tmp


def test_home_and_root_are_invisible(results):
    run = results["runs"]["read_home"]
    assert run.completed
    assert all(not c.ok for c in run.cells)
    assert SECRET not in _all_text(run)
    assert {c.exception["type"] for c in run.cells} <= {"FileNotFoundError", "PermissionError"}


def test_parent_environment_is_invisible(results):
    run = results["runs"]["env"]
    assert run.completed
    text = _all_text(run)
    assert SECRET not in text and "VERL_SCORE_FAKE_SECRET" not in text
    assert "PATH" in run.cells[0].stdout  # the sandbox does get its own minimal environment


def test_fork_bomb_is_contained(results):
    run = results["runs"]["fork_bomb"]
    assert run.status in ("timeout", "died")
    assert run.elapsed_s < TIMEOUT_S + 3
    count = results["runs"]["fork_count"]
    assert count.completed, count
    assert 0 < int(count.cells[0].stdout) < 16  # RLIMIT_NPROC (16) stopped the forks


def test_memory_bomb_gets_memory_error(results):
    run = results["runs"]["memory_bomb"]
    assert run.completed
    assert [c.exception["type"] for c in run.cells] == ["MemoryError", "MemoryError"]


def test_infinite_loop_is_killed(results):
    run = results["runs"]["infinite_loop"]
    assert run.status in ("died", "timeout")  # RLIMIT_CPU (2 s) or the wall clock, whichever first
    assert run.elapsed_s < TIMEOUT_S + 3
    assert not run.cells[-1].ok


def test_sleep_past_timeout_is_killed(results):
    run = results["runs"]["sleep"]
    assert run.status == "timeout"
    assert TIMEOUT_S - 0.5 < run.elapsed_s < TIMEOUT_S + 3
    assert run.cells[-1].exception["type"] == "Killed"


def test_cannot_kill_the_parent(results):
    run = results["runs"]["kill_parent"]  # this test process is alive, which is the main assertion
    # The "parent" seen inside is the sandbox's own init (PID 1 of its namespace), which ignores the signal.
    assert run.completed and run.cells[0].stdout.strip() == "1"
    assert run.cells[1].exception["type"] == "ProcessLookupError"  # host PIDs do not exist in the sandbox
    # kill(-1) may signal only the sandbox's own processes; besides itself and init there are none
    assert run.cells[2].exception["type"] == "ProcessLookupError"


def test_stdout_flood_is_capped(results):
    run = results["runs"]["flood"]
    assert run.status == "output_limit"
    assert len(run.stdout) <= 256 << 10
    assert run.elapsed_s < TIMEOUT_S
    printed = results["runs"]["flood_print"]  # print() goes to the capped per-cell buffer, then CPU/wall kill
    assert printed.status in ("died", "timeout")


def _host_processes_with(marker: str) -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmd:
            found.append(pid)
    return found


def test_no_background_process_survives(results):
    run = results["runs"]["background"]
    assert run.completed and run.cells[1].stdout.strip() == "parent done"
    assert run.cells[2].stdout.strip() == "2"  # both escapees were alive inside the sandbox during the run
    assert _host_processes_with(MARKER) == []
