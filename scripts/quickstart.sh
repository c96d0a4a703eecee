#!/usr/bin/env bash
# Fresh machine → a finished CPU training run: set-up (idempotent), then a main CPU job with its defaults.
#   MAIN_JOB=smollm2  (default) SCoRe Stage I → II on the real SmolLM2-135M-Instruct, easy sums, real math reward:
#                     per-step training table and before/after held-out table (scripts/run_smollm2_score_cpu.sh;
#                     measured on a quiet 2-core machine: 4 min 36 s in bf16, 8 min 47 s in fp32, ~50 lines after
#                     set-up; README)
#   MAIN_JOB=tiny     the same pipeline on the tiny random Qwen2 (2.5 min, verl's full log on the console); it cannot
#                     solve anything, so every accuracy is 0: a plumbing check, not a demonstration
set -euo pipefail
cd "$(dirname "$0")/.."
MAIN_JOB="${MAIN_JOB:-smollm2}"
case "$MAIN_JOB" in
  tiny) launcher=scripts/run_tiny_score_cpu.sh ;;
  smollm2) launcher=scripts/run_smollm2_score_cpu.sh ;;
  *) echo "error: MAIN_JOB=$MAIN_JOB; expected tiny or smollm2" >&2; exit 2 ;;
esac
bash scripts/setup.sh
source "${VENV:-.venv}/bin/activate"
bash "$launcher" "$@"
