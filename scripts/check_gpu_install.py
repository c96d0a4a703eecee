#!/usr/bin/env python3
"""Resolve the README's GPU install commands with pip's dry run and print what they resolve to.

No GPU is needed and nothing is installed: ``pip install --dry-run --ignore-installed --report`` runs pip's real
resolver against the package index (the one pip is configured with) and stops before installing. Each command is
resolved in a throwaway copy of the project (pyproject.toml, README.md, verl_score/) so parallel runs do not share
setuptools' in-tree egg-info. Both engines resolve concurrently (pip is mostly single-threaded and waits on the
network), and with ``--use-feature=fast-deps`` pip reads each wheel's metadata with HTTP range requests instead of
downloading it whole where the index serves no PEP 658 metadata files (an index mirror: ~3.9 GB of CUDA wheels per
set otherwise); pip versions without that feature are run without it.

    python scripts/check_gpu_install.py                  # both engines
    python scripts/check_gpu_install.py sglang --out D   # one; pip's JSON report goes to D/sglang.json

Exit status: 0 every command resolves; 1 one does not (pip's reason is printed); 3 the package index cannot be
reached, so nothing was checked (printed as SKIP, never as success).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: engine -> the extras of `pip install -e ".[EXTRAS]"` as the README documents it
COMMANDS: dict[str, str] = {"sglang": "sglang", "vllm": "vllm"}
#: versions printed for each resolution (the ones that must agree across torch, engine and verl)
SHOWN = ("verl", "torch", "transformers", "sglang", "sglang-kernel", "vllm", "flashinfer-python", "numpy")
UNREACHABLE = 3
#: pip output that means the network failed, not the resolution
NETWORK_ERRORS = ("Max retries exceeded", "NewConnectionError", "ConnectTimeoutError", "Temporary failure in name "
                  "resolution", "Network is unreachable", "Connection refused", "ReadTimeoutError")
TIMEOUT_S = 900


def index_url() -> str:
    """The index pip uses here: $PIP_INDEX_URL, else pip's configured index-url, else pip's own default index."""
    if os.environ.get("PIP_INDEX_URL"):
        return os.environ["PIP_INDEX_URL"]
    for key in ("install.index-url", "global.index-url"):
        out = subprocess.run([sys.executable, "-m", "pip", "config", "get", key], capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip()
    from pip._internal.models.index import PyPI  # pip's default, taken from pip rather than written here

    return PyPI.simple_url


def unreachable_reason(url: str, timeout: float = 15.0) -> str | None:
    """Why the index cannot be reached (None when it answers). A 404 is an answer: pip then reports the failure."""
    probe = url.rstrip("/") + "/verl/"
    try:
        with urllib.request.urlopen(probe, timeout=timeout):
            return None
    except urllib.error.HTTPError as exc:
        return None if exc.code < 500 else f"{probe}: HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return f"{probe}: {getattr(exc, 'reason', exc)}"


def project_copy(project: Path, dest: Path) -> Path:
    """What pip needs to build the project's metadata: pyproject.toml, the readme, the package."""
    dest.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        if (project / name).exists():
            shutil.copy2(project / name, dest / name)
    if (project / "verl_score").is_dir():
        shutil.copytree(project / "verl_score", dest / "verl_score",
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    return dest


def pip_dry_run(extras: str, report: Path, workdir: Path, fast_deps: bool = True) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed",
           "--disable-pip-version-check", "--report", str(report), "-e", f".[{extras}]"]
    if fast_deps:
        cmd.insert(4, "--use-feature=fast-deps")
    return subprocess.Popen(cmd, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def resolved(report: Path) -> dict[str, str]:
    data = json.loads(report.read_text())
    return {item["metadata"]["name"].lower().replace("_", "-"): item["metadata"]["version"] for item in data["install"]}


def pip_reason(output: str) -> str:
    """pip's own explanation, without this machine's noise about missing local index folders."""
    lines = [ln for ln in output.splitlines() if "is ignored: it is neither a file nor a directory" not in ln
             and "fast-deps" not in ln]
    return "\n".join(lines[-40:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("engines", nargs="*", default=list(COMMANDS),
                        help=f"which documented commands ({', '.join(COMMANDS)}), or NAME=EXTRAS for any other")
    parser.add_argument("--out", type=Path, help="keep pip's JSON reports here (NAME.json)")
    parser.add_argument("--project", type=Path, default=REPO, help="the project whose extras are resolved")
    ns = parser.parse_args(argv)
    targets = dict(e.split("=", 1) if "=" in e else (e, COMMANDS[e]) for e in ns.engines)

    url = index_url()
    why = unreachable_reason(url)
    if why:
        print(f"SKIP: package index unreachable ({why}); the GPU install commands were NOT checked")
        return UNREACHABLE

    with tempfile.TemporaryDirectory(prefix="gpu-install-") as tmp:
        out_dir = (ns.out or Path(tmp) / "reports").resolve()
        out_dir.mkdir(parents=True, exist_ok=True)
        fast_deps, start = True, time.monotonic()
        while True:
            procs = {}
            for name, extras in targets.items():
                copy = project_copy(ns.project, Path(tmp) / f"{name}-{fast_deps}")
                procs[name] = pip_dry_run(extras, out_dir / f"{name}.json", copy, fast_deps)
            outputs, codes = {}, {}
            for name, proc in procs.items():
                try:
                    outputs[name], _ = proc.communicate(timeout=TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    outputs[name] = proc.communicate()[0] + f"\n[timed out after {TIMEOUT_S} s]"
                codes[name] = proc.returncode
            if fast_deps and any("fast-deps" in o and "invalid choice" in o for o in outputs.values()):
                fast_deps = False  # this pip has no such feature: plain dry run (downloads whole wheels)
                continue
            break
        elapsed = time.monotonic() - start

        print(f"index: {url}; pip {metadata.version('pip')}; python {sys.version.split()[0]}; fast-deps: {fast_deps};"
              f" {len(targets)} resolution(s) in parallel, {elapsed:.0f} s")
        status = 0
        for name, extras in targets.items():
            shown = f'pip install --dry-run --ignore-installed -e ".[{extras}]"'
            if codes[name] == 0:
                versions = resolved(out_dir / f"{name}.json")
                keys = ", ".join(f"{k} {versions[k]}" for k in SHOWN if k in versions)
                print(f"OK   {shown}: {len(versions)} packages; {keys}")
                continue
            reason = pip_reason(outputs[name])
            if any(sig in reason for sig in NETWORK_ERRORS) and "ResolutionImpossible" not in reason:
                print(f"SKIP {shown}: the index stopped answering mid-resolution; NOT checked\n{reason}")
                if status == 0:
                    status = UNREACHABLE
            else:
                print(f"FAIL {shown} (pip exit {codes[name]}):\n{reason}")
                status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
