#!/usr/bin/env bash
# The BC cold-start SFT on CPU: scripts/run_score_sft_cpu.sh (verl's SFT trainer, torchrun, FSDP2 on gloo, fp32, the
# tiny Qwen2) on the BC fixture trajectories converted by `convert_parquet.py bc` (teacher-solved, verified-correct).
#   bash scripts/run_bc_init_sft_cpu.sh trainer.total_training_steps=1
set -euo pipefail
cd "$(dirname "$0")/.."
export SFT_SOURCE=bc
export SFT_INPUT="${BC_INPUT:-data_preprocess/fixtures/bc.jsonl}"
export RUN_DIR="${RUN_DIR:-runs/bc_init_sft_cpu}"
export EXPERIMENT="${EXPERIMENT:-bc_init_sft_cpu}"
exec bash scripts/run_score_sft_cpu.sh "$@"
