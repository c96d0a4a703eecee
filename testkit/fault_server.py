"""A fault-injecting OpenAI-compatible server on 127.0.0.1 for client tests (real HTTP over a real socket).

Each request to ``/v1/chat/completions`` takes the next scripted ``Behavior`` (then the default), and every request
is recorded (headers, body, timing, how many were in flight) so tests assert exact retry counts, that the
Authorization header carried the key, and that a concurrency cap held. Runs aiohttp on its own loop in a thread
(``FaultServer``) or, for benchmarks that must not share the client's GIL, as a process (``python -m
testkit.fault_server --latency 0.1``).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from aiohttp import web

DEFAULT_VERDICT = '{"equivalent": true, "reason": "same value"}'


# ----------------------------------------------------------------------------------------------- behaviours
@dataclass
class Ok:
    """A valid chat completion whose message content is ``content`` (or ``content_fn(request_json)``)."""

    content: str = DEFAULT_VERDICT
    latency_s: float = 0.0
    content_fn: Callable[[dict[str, Any]], str] | None = None


@dataclass
class Status:
    """An HTTP error (``code``), optionally with a ``Retry-After`` header value."""

    code: int = 500
    retry_after: str | None = None
    latency_s: float = 0.0


@dataclass
class Hang:
    """Sleep ``seconds`` (longer than the client's timeout), then answer like ``Ok``."""

    seconds: float = 30.0


@dataclass
class Malformed:
    """HTTP 200 with a body that is not JSON."""

    body: str = '{"choices": [ this is not json'


Behavior = Ok | Status | Hang | Malformed


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: Any
    started: float
    in_flight_at_start: int
    finished: float | None = None
    behavior: str = ""


def completion_body(content: str, model: str = "fault-server") -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


# ----------------------------------------------------------------------------------------------- the app
class FaultApp:
    """The request handler and its script/recording state; lives on one event loop."""

    def __init__(self, default: Behavior | None = None, record: bool = True):
        self.default: Behavior = default if default is not None else Ok()
        self.record = record  # off in benchmark mode: no per-request parsing or bookkeeping on the server side
        self._ok_bodies: dict[str, bytes] = {}
        self.script: collections.deque[Behavior] = collections.deque()
        self.requests: list[RecordedRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.stopping: asyncio.Event | None = None
        self._lock = threading.Lock()

    def next_behavior(self) -> Behavior:
        with self._lock:
            return self.script.popleft() if self.script else self.default

    async def handle_chat(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        if not self.record:
            return await self._respond(self.next_behavior(), None)
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        behavior = self.next_behavior()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        rec = RecordedRequest(
            path=request.path,
            headers=dict(request.headers),
            body=body,
            started=time.monotonic(),
            in_flight_at_start=self.in_flight,
            behavior=type(behavior).__name__,
        )
        self.requests.append(rec)
        try:
            return await self._respond(behavior, body)
        finally:
            self.in_flight -= 1
            rec.finished = time.monotonic()

    async def _respond(self, behavior: Behavior, body: Any) -> web.StreamResponse:
        if isinstance(behavior, Hang):
            await self._sleep(behavior.seconds)
            return web.json_response(completion_body(DEFAULT_VERDICT))
        if isinstance(behavior, Status):
            await self._sleep(behavior.latency_s)
            headers = {"Retry-After": behavior.retry_after} if behavior.retry_after is not None else {}
            err = {"error": {"message": f"injected {behavior.code}", "type": "injected", "code": behavior.code}}
            return web.json_response(err, status=behavior.code, headers=headers)
        if isinstance(behavior, Malformed):
            return web.Response(text=behavior.body, content_type="application/json")
        assert isinstance(behavior, Ok)
        await self._sleep(behavior.latency_s)
        if behavior.content_fn is not None:
            return web.json_response(completion_body(behavior.content_fn(body)))
        cached = self._ok_bodies.get(behavior.content)
        if cached is None:
            cached = self._ok_bodies[behavior.content] = json.dumps(completion_body(behavior.content)).encode()
        return web.Response(body=cached, content_type="application/json")

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but wake at shutdown so a hanging request never delays the test session's exit."""
        if seconds <= 0:
            return
        assert self.stopping is not None
        try:
            await asyncio.wait_for(self.stopping.wait(), timeout=seconds)
        except asyncio.TimeoutError:
            pass

    async def handle_health(self, _request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.handle_chat)
        app.router.add_get("/health", self.handle_health)
        return app


class FaultServer:
    """``with FaultServer() as srv: srv.script_requests(Status(500), Ok()); client(base_url=srv.base_url)``."""

    def __init__(self, default: Behavior | None = None, host: str = "127.0.0.1"):
        self.app = FaultApp(default)
        self.host = host
        self.port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    # ---- scripting / inspection (called from the test thread)
    def script_requests(self, *behaviors: Behavior) -> None:
        with self.app._lock:
            self.app.script.extend(behaviors)

    def set_default(self, behavior: Behavior) -> None:
        self.app.default = behavior

    def reset(self, default: Behavior | None = None) -> None:
        """Clear script, recordings and counters (between tests sharing one server)."""
        with self.app._lock:
            self.app.script.clear()
        self.app.requests.clear()
        self.app.max_in_flight = 0
        self.app.default = default if default is not None else Ok()

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.app.requests

    @property
    def max_in_flight(self) -> int:
        return self.app.max_in_flight

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    # ---- lifecycle
    def start(self) -> "FaultServer":
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._start_site())
            except BaseException as exc:  # surfaced to start()
                errors.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._stop_site())
            loop.close()

        self._thread = threading.Thread(target=run, name="FaultServer", daemon=True)
        self._thread.start()
        if not ready.wait(timeout=10) or errors:
            raise RuntimeError(f"fault server failed to start: {errors}")
        return self

    async def _start_site(self) -> None:
        self.app.stopping = asyncio.Event()
        self._runner = web.AppRunner(self.app.make_app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0, backlog=1024)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _stop_site(self) -> None:
        assert self.app.stopping is not None and self._runner is not None
        self.app.stopping.set()
        await self._runner.cleanup()

    def stop(self) -> None:
        if self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._loop = None

    def __enter__(self) -> "FaultServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


# ----------------------------------------------------------------------------------------------- process mode
def main(argv: list[str] | None = None) -> None:
    """Serve ``Ok(latency_s=--latency)`` forever; prints ``PORT <n>`` once listening (for benchmarks)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--port", type=int, default=0, help="join an existing port (SO_REUSEPORT worker)")
    args = parser.parse_args(argv)
    app = FaultApp(Ok(latency_s=args.latency), record=False)

    async def serve() -> None:
        app.stopping = asyncio.Event()
        runner = web.AppRunner(app.make_app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", args.port, backlog=4096, reuse_port=True)
        await site.start()
        print(f"PORT {site._server.sockets[0].getsockname()[1]}", flush=True)  # type: ignore[union-attr]
        await asyncio.Event().wait()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
