"""The llama.cpp fixture's failure path: a server that cannot start is reported with its log tail, and its process
group is gone afterwards (no orphaned engine processes left on a shared CI box)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from testkit.llamacpp_server import LlamaCppServer


def test_bad_model_fails_fast_with_log_tail(tmp_path: Path) -> None:
    bogus = tmp_path / "not-a-model.gguf"
    bogus.write_bytes(b"this is not a GGUF file" * 10)
    server = LlamaCppServer(tmp_path / "server.log", model=bogus)
    with pytest.raises(RuntimeError, match="did not become ready") as info:
        server.start(ready_timeout_s=60)
    msg = str(info.value)
    assert "log tail" in msg and str(bogus) in (tmp_path / "server.log").read_text(errors="replace")
    assert len(msg.splitlines()) > 2  # the tail itself, not just the headline
    assert server.proc is None


def test_stop_reaps_the_whole_group(llamacpp_server: LlamaCppServer, tmp_path: Path) -> None:
    """A second, private server: stopping it must leave no process in its group (the shared one stays up)."""
    server = LlamaCppServer(tmp_path / "second.log").start()
    pgid = server.proc.pid  # type: ignore[union-attr]
    server.stop()
    with pytest.raises(ProcessLookupError):
        os.killpg(pgid, 0)
    assert llamacpp_server.proc is not None and llamacpp_server.proc.poll() is None
