#!/usr/bin/env bash
# Fresh machine → a finished CPU training run: set-up (idempotent), then the main CPU job with its defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source "${VENV:-.venv}/bin/activate"
bash scripts/run_tiny_score_cpu.sh "$@"
