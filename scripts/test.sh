#!/usr/bin/env bash
# Set up (idempotent) and run the whole test suite, CPU only. Extra arguments go to pytest.
# A full run (no arguments, as CI's .ci/run does) also resolves the README's GPU install commands with pip's dry run
# (scripts/check_gpu_install.py), next to the suite since it mostly waits on the network; its verdict is printed after
# pytest's and fails the run when a GPU set stops resolving (an unreachable index prints SKIP and does not fail).
# GPU_INSTALL_CHECK=0 leaves it out, =1 adds it to a run with arguments.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source "${VENV:-.venv}/bin/activate"
export VERL_SCORE_CPU_THREADS="${VERL_SCORE_CPU_THREADS:-1}"
GPU_INSTALL_CHECK="${GPU_INSTALL_CHECK:-$([[ $# == 0 ]] && echo 1 || echo 0)}"
if [[ "$GPU_INSTALL_CHECK" == 1 ]]; then
  gpu_log=$(mktemp)
  python scripts/check_gpu_install.py >"$gpu_log" 2>&1 &
  gpu_pid=$!
fi
rc=0
python -m pytest -q -p no:cacheprovider --durations=15 "$@" tests || rc=$?
if [[ "$GPU_INSTALL_CHECK" == 1 ]]; then
  gpu_rc=0
  wait "$gpu_pid" || gpu_rc=$?
  echo "== GPU install commands (README 'On a GPU cluster'), pip --dry-run: scripts/check_gpu_install.py =="
  cat "$gpu_log" && rm -f "$gpu_log"
  case "$gpu_rc" in
    0) ;;
    3) echo "== GPU install check SKIPPED: package index unreachable ==" ;;
    *) echo "== GPU install check FAILED (exit $gpu_rc) ==" >&2; (( rc != 0 )) || rc=1 ;;
  esac
fi
exit "$rc"
