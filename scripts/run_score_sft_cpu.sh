#!/usr/bin/env bash
# SCoRe-SFT on CPU: the same verl SFT trainer as scripts/run_score_sft.sh (torchrun, FSDP2 on gloo, fp32) with the
# tiny random Qwen2 (real Qwen2.5 tokenizer) on an SFT parquet converted from the MPS fixture trajectories.
# The CPU platform (VERL_PLATFORM=cpu via scripts/lib/cpu_env.sh) patches verl's process-group init to plain gloo.
# Like the GPU launcher it saves Hugging Face weights with the checkpoint (hf_model): the next stage's MODEL is
# $RUN_DIR/checkpoints/global_step_<N>/huggingface.
#   bash scripts/run_score_sft_cpu.sh trainer.total_training_steps=2
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/cpu_env.sh
source scripts/lib/verl_entry.sh

RUN_DIR="${RUN_DIR:-runs/score_sft_cpu}"
DATA_DIR="${DATA_DIR:-$RUN_DIR/data}"
MPS_INPUT="${MPS_INPUT:-data_preprocess/fixtures/mps.jsonl}"
SFT_SOURCE="${SFT_SOURCE:-mps}"                # convert_parquet.py source: mps (SCoRe-SFT) | bc (cold start)
SFT_INPUT="${SFT_INPUT:-$MPS_INPUT}"
EXPERIMENT="${EXPERIMENT:-score_sft_cpu}"
MODEL="${MODEL:-$(python -c "from verl_score.assets import asset_path; print(asset_path('tiny_qwen'))")}"
mkdir -p "$RUN_DIR"
export VERL_FILE_LOGGER_ROOT="${VERL_FILE_LOGGER_ROOT:-$RUN_DIR/logs}"

[[ "${VERL_SCORE_COMPOSE_ONLY:-0}" != 0 ]] || python -m verl_score.model_check "$MODEL"

if [[ ! -f "$DATA_DIR/sft/train.parquet" ]]; then
  python data_preprocess/convert_parquet.py "$SFT_SOURCE" --input "$SFT_INPUT" --out-dir "$DATA_DIR" --quiet
fi

NPROC_PER_NODE=1 verl_sft_trainer \
  hydra.run.dir="$RUN_DIR/hydra" \
  data.train_files="$DATA_DIR/sft/train.parquet" \
  data.val_files=null \
  data.messages_key=messages \
  data.train_batch_size=2 \
  data.micro_batch_size_per_gpu=2 \
  data.max_length=512 \
  data.truncation=left \
  data.num_workers=0 \
  model.path="$MODEL" \
  model.use_remove_padding=False \
  model.enable_gradient_checkpointing=False \
  +model.override_config.attn_implementation=sdpa \
  engine.strategy=fsdp2 \
  engine.dtype=float32 \
  engine.use_torch_compile=False \
  optim.lr=1e-4 \
  trainer.device=cpu \
  trainer.n_gpus_per_node=1 \
  trainer.logger='["console","file"]' \
  trainer.project_name=verl_score \
  trainer.experiment_name="$EXPERIMENT" \
  trainer.default_local_dir="$RUN_DIR/checkpoints" \
  trainer.total_training_steps=1 \
  trainer.total_epochs=1 \
  trainer.save_freq=-1 \
  trainer.resume_mode=disable \
  checkpoint.save_contents='[model,optimizer,extra,hf_model]' \
  checkpoint.load_contents='[model,optimizer,extra]' \
  "$@"
