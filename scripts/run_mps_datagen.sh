#!/usr/bin/env bash
# Mentored Problem Solving data generation (SCoRe-B): student + teacher on OpenAI-compatible endpoints.
#
#   TEACHER_API_BASE=http://teacher:30000/v1 TEACHER_API_KEY=... \
#   STUDENT_API_BASE=http://student:30001/v1 \
#   scripts/run_mps_datagen.sh INPUT.parquet OUTPUT.jsonl [extra flags for python -m verl_score.teacher.mps]
#
# INPUT: a verl parquet from `python data_preprocess/convert_parquet.py gsm8k --out-dir DIR` (or math, ...), or a
# jsonl of {id, problem, ground_truth}. OUTPUT is append-only and resumable: re-run the same command after a kill.
# Then: python data_preprocess/convert_parquet.py mps --input OUTPUT.jsonl --out-dir DIR  (SFT + SCoRe-RL rows).
set -euo pipefail
if [[ $# -lt 2 ]]; then
  sed -n '2,10p' "$0"; exit 2
fi
INPUT=$1; OUTPUT=$2; shift 2
REPO=$(cd "$(dirname "$0")/.." && pwd)
CONFIG=${MPS_CONFIG:-$REPO/configs/teacher.yaml}
: "${TEACHER_API_BASE:?set TEACHER_API_BASE (OpenAI-compatible base URL, e.g. http://host:30000/v1)}"
: "${STUDENT_API_BASE:?set STUDENT_API_BASE (OpenAI-compatible base URL)}"
if [[ -f "$REPO/.venv/bin/activate" && -z "${VIRTUAL_ENV:-}" ]]; then . "$REPO/.venv/bin/activate"; fi
cd "$REPO"
exec python -m verl_score.teacher.mps --input "$INPUT" --output "$OUTPUT" --config "$CONFIG" "$@"
