#!/usr/bin/env bash
# SCoRe-SFT (Student-Centered SCoRe / SCoRe-B, arXiv 2509.14257 §3): supervised fine-tuning on the kept Mentored
# Problem Solving trajectories, with verl's own SFT trainer (`python -m verl.trainer.sft_trainer`, torchrun, FSDP2).
# The paper trains this stage with LLaMA-Factory (`SCoRe_SFT.yaml`); the converter writes that format too
# (OUT/sft/sharegpt.json). Here the same trajectories go through verl's MultiTurnSFTDataset: loss on assistant turns
# only, so the interpreter's observations (user turns "Observation: ...") carry no loss.
#
# Data: python data_preprocess/convert_parquet.py mps --input trajectories.jsonl --out-dir data/mps
#       -> data/mps/sft/train.parquet (messages column; problems disjoint from the RL rows in data/mps/train.parquet)
# Usage: SFT_DATA=data/mps/sft/train.parquet bash scripts/run_score_sft.sh [hydra overrides...]
# Defaults: Qwen2.5-7B-Instruct on one node of 8 GPUs (NPROC per node); several nodes: NNODES, NODE_RANK and
# MASTER_ADDR on each (scripts/lib/verl_entry.sh). Extra hydra overrides are passed through: "$@".
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/verl_entry.sh

export VERL_USE_EXTERNAL_MODULES="${VERL_USE_EXTERNAL_MODULES:-verl_score.register}"
NPROC="${NPROC:-8}"
MODEL="${MODEL:-Qwen/Qwen2.5-7B-Instruct}"
SFT_DATA="${SFT_DATA:-data/mps/sft/train.parquet}"
RUN_DIR="${RUN_DIR:-runs/score_sft}"
EXPERIMENT="${EXPERIMENT:-qwen2.5-7b_score_sft}"

# A local MODEL (the cold-start checkpoint) must hold weights: one line now, not a traceback from 8 ranks later.
[[ "${VERL_SCORE_COMPOSE_ONLY:-0}" != 0 || ! -e "$MODEL" ]] || python -m verl_score.model_check "$MODEL"

# Checkpoints: verl's default save_contents writes FSDP shards plus a huggingface/ folder holding only config and
# tokenizer. The next stage (SCoRe-SFT after the cold start, SCoRe-RL after SCoRe-SFT) loads MODEL as a Hugging Face
# folder, so 'hf_model' also writes the weights there: MODEL=$RUN_DIR/checkpoints/global_step_<N>/huggingface.
# Resuming reads the shards only (hf_model is an export).
NPROC_PER_NODE="$NPROC" verl_sft_trainer \
  data.train_files="$SFT_DATA" \
  data.val_files=null \
  data.messages_key=messages \
  data.train_batch_size=64 \
  data.micro_batch_size_per_gpu=2 \
  data.max_length=6144 \
  data.truncation=left \
  model.path="$MODEL" \
  model.enable_gradient_checkpointing=True \
  engine.strategy=fsdp2 \
  engine.dtype=bfloat16 \
  optim.lr=1e-5 \
  trainer.device=cuda \
  trainer.n_gpus_per_node="$NPROC" \
  trainer.nnodes="${NNODES:-1}" \
  trainer.logger='["console","file"]' \
  trainer.project_name=verl_score \
  trainer.experiment_name="$EXPERIMENT" \
  trainer.default_local_dir="$RUN_DIR/checkpoints" \
  trainer.total_epochs=3 \
  trainer.save_freq=-1 \
  checkpoint.save_contents='[model,optimizer,extra,hf_model]' \
  checkpoint.load_contents='[model,optimizer,extra]' \
  "$@"
