#!/usr/bin/env bash
# SCoRe (Stage I then Stage II) through the real `python -m verl.trainer.main_ppo` on CPU: configs/score_math.yaml
# (the paper's objective and hyperparameters) shrunk to the tiny random Qwen2 and the bundled GSM8K sample, with
# verl-score's CPU platform and hfcpu rollout backend. Prints a self-correction metrics table at the end.
# Extra hydra overrides pass through, e.g.:
#   STAGE1_STEPS=1 STAGE2_STEPS=1 bash scripts/run_tiny_score_cpu.sh trainer.test_freq=2
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/cpu_env.sh
source scripts/lib/verl_entry.sh

RUN_DIR="${RUN_DIR:-runs/tiny_score_cpu}"
DATA_DIR="${DATA_DIR:-$RUN_DIR/data}"
MODEL="${MODEL:-$(python -c "from verl_score.assets import asset_path; print(asset_path('tiny_qwen'))")}"
STAGE1_STEPS="${STAGE1_STEPS:-2}"
STAGE2_STEPS="${STAGE2_STEPS:-2}"
REWARD_FN="${REWARD_FN:-$PWD/verl_score/rewards/score_fn.py}"
EXPERIMENT="${EXPERIMENT:-tiny_score_cpu}"
mkdir -p "$RUN_DIR"
export VERL_FILE_LOGGER_ROOT="${VERL_FILE_LOGGER_ROOT:-$RUN_DIR/logs}"

# A chat model (one clear line, before Ray, when MODEL has no chat template); skipped by the compose-only dry run.
[[ "${VERL_SCORE_COMPOSE_ONLY:-0}" != 0 ]] || python -m verl_score.model_check "$MODEL"

# The bundled GSM8K sample as two-attempt episodes (agent_name=score_two_attempt); 4 problems held out.
if [[ ! -f "$DATA_DIR/train.parquet" ]]; then
  python data_preprocess/convert_parquet.py gsm8k --target score --out-dir "$DATA_DIR" \
    --default-split train --test-size 4 --quiet
fi

# Tiny shapes: 2 prompts x 2 samples per step; 224 response tokens hold attempt 1, the instruction turn (83 tokens
# with Qwen2.5's template) and attempt 2.
cpu_logged verl_main_ppo \
  --config-path="$PWD/configs" --config-name=score_math \
  +platform=cpu "${CPU_PRECISION_OVERRIDES[@]}" \
  "${CPU_REUSE_ROLLOUT_LOG_PROBS[@]}" \
  actor_rollout_ref.model.path="$MODEL" \
  data.train_files="$DATA_DIR/train.parquet" \
  data.val_files="$DATA_DIR/test.parquet" \
  data.train_batch_size=2 \
  data.max_prompt_length=256 \
  data.max_response_length=224 \
  data.filter_overlong_prompts=True \
  actor_rollout_ref.rollout.n=2 \
  actor_rollout_ref.actor.optim.lr=1e-4 \
  actor_rollout_ref.actor.ppo_mini_batch_size=2 \
  actor_rollout_ref.rollout.calculate_log_probs=True \
  actor_rollout_ref.rollout.agent.agent_loop_config_path="$PWD/configs/agent_loops.yaml" \
  reward.custom_reward_function.path="$REWARD_FN" \
  score.schedule.stage1_steps="$STAGE1_STEPS" \
  score.schedule.stage2_steps="$STAGE2_STEPS" \
  trainer.total_training_steps=$((STAGE1_STEPS + STAGE2_STEPS)) \
  trainer.total_epochs=1 \
  trainer.logger='["console","file"]' \
  trainer.project_name=verl_score \
  trainer.experiment_name="$EXPERIMENT" \
  trainer.default_local_dir="$RUN_DIR/checkpoints" \
  trainer.save_freq=-1 \
  trainer.test_freq=$((STAGE1_STEPS + STAGE2_STEPS)) \
  trainer.val_before_train=False \
  "$@"

python -m verl_score.training.report "$VERL_FILE_LOGGER_ROOT/verl_score/$EXPERIMENT.jsonl"
