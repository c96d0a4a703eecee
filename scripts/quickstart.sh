#!/usr/bin/env bash
# Fresh machine → a finished CPU training run: set-up (idempotent), then a main CPU job with its defaults.
#   MAIN_JOB=tiny     (default) SCoRe on the tiny random Qwen2: the whole pipeline in a few minutes; metrics stay 0
#   MAIN_JOB=smollm2  SCoRe on the real SmolLM2-135M-Instruct, easy sums, real math reward: before/after held-out
#                     table (scripts/run_smollm2_score_cpu.sh; slower, see the README for measured time and memory)
set -euo pipefail
cd "$(dirname "$0")/.."
MAIN_JOB="${MAIN_JOB:-tiny}"
case "$MAIN_JOB" in
  tiny) launcher=scripts/run_tiny_score_cpu.sh ;;
  smollm2) launcher=scripts/run_smollm2_score_cpu.sh ;;
  *) echo "error: MAIN_JOB=$MAIN_JOB; expected tiny or smollm2" >&2; exit 2 ;;
esac
bash scripts/setup.sh
source "${VENV:-.venv}/bin/activate"
bash "$launcher" "$@"
