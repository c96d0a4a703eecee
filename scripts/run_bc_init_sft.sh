#!/usr/bin/env bash
# Cold start (Student-Centered SCoRe / SCoRe-B, arXiv 2509.14257 §3, phase 1): behaviour cloning of the student on
# the teacher's verified-correct CodeAct trajectories, before Mentored Problem Solving. The paper runs this stage
# with LLaMA-Factory (`BC_init.yaml`; the converter writes that format too: OUT/sft/sharegpt.json + dataset_info.json
# with dataset `bc_init`). Here it is the same verl SFT trainer and settings as SCoRe-SFT (scripts/run_score_sft.sh),
# on the BC data; the resulting checkpoint is the MPS student and the starting point of SCoRe-SFT.
#
# Data: python -m verl_score.teacher.bc_init --input problems.parquet --output bc.jsonl --config configs/teacher.yaml
#       python data_preprocess/convert_parquet.py bc --input bc.jsonl --out-dir data/bc   -> data/bc/sft/train.parquet
# Usage: bash scripts/run_bc_init_sft.sh [hydra overrides...]   (SFT_DATA, MODEL, NPROC, RUN_DIR as in run_score_sft.sh)
# Dry run: VERL_SCORE_COMPOSE_ONLY=1 bash scripts/run_bc_init_sft.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export SFT_DATA="${SFT_DATA:-data/bc/sft/train.parquet}"
export RUN_DIR="${RUN_DIR:-runs/bc_init_sft}"
export EXPERIMENT="${EXPERIMENT:-qwen2.5-7b_bc_init_sft}"
exec bash scripts/run_score_sft.sh "$@"
