#!/usr/bin/env bash
# Set up (idempotent) and run the whole test suite, CPU only. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source "${VENV:-.venv}/bin/activate"
export VERL_SCORE_CPU_THREADS="${VERL_SCORE_CPU_THREADS:-1}"
python -m pytest -q -p no:cacheprovider --durations=15 "$@" tests
