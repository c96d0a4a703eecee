#!/usr/bin/env bash
# SCoRe-RL (SCoRe-B key-step GRPO from verified prefixes) through the real `python -m verl.trainer.main_ppo` on CPU:
# configs/score_rl.yaml (the same config as scripts/run_qwen2.5-7b_score_rl.sh), the `score_prefix_rollout` agent
# loop (prefix code replayed in the bubblewrap sandbox), the key-step reward, the tiny random Qwen2 (real Qwen2.5
# tokenizer) and RL rows converted from the MPS fixture trajectories; verl-score's CPU platform + hfcpu backend.
# A random model writes no code and rarely a final answer, so most rollouts score 0.1 ("neither"): real, expected.
# Extra hydra overrides are passed through: "$@".
#   bash scripts/run_tiny_score_rl_cpu.sh trainer.total_training_steps=2
set -euo pipefail
cd "$(dirname "$0")/.."
# The agent loop registers itself on import (@register); importing it in every process (verl imports the modules
# named here at `import verl`) makes "score_prefix_rollout" resolvable in the agent-loop workers.
export VERL_USE_EXTERNAL_MODULES="${VERL_USE_EXTERNAL_MODULES:-verl_score.register}"
source scripts/lib/cpu_env.sh
source scripts/lib/verl_entry.sh

RUN_DIR="${RUN_DIR:-runs/tiny_score_rl_cpu}"
DATA_DIR="${DATA_DIR:-$RUN_DIR/data}"
MPS_INPUT="${MPS_INPUT:-data_preprocess/fixtures/mps.jsonl}"
MODEL="${MODEL:-$(python -c "from verl_score.assets import asset_path; print(asset_path('tiny_qwen'))")}"
mkdir -p "$RUN_DIR"
export VERL_FILE_LOGGER_ROOT="${VERL_FILE_LOGGER_ROOT:-$RUN_DIR/logs}"

[[ "${VERL_SCORE_COMPOSE_ONLY:-0}" != 0 ]] || python -m verl_score.model_check "$MODEL"

# The MPS fixtures, split by problem as in the real pipeline: half to SFT, the corrected rest to RL rows.
if [[ ! -f "$DATA_DIR/train.parquet" ]]; then
  python data_preprocess/convert_parquet.py mps --input "$MPS_INPUT" --out-dir "$DATA_DIR" --quiet
fi

cpu_logged verl_main_ppo \
  --config-path="$PWD/configs" --config-name=score_rl \
  hydra.run.dir="$RUN_DIR/hydra" \
  +platform=cpu "${CPU_PRECISION_OVERRIDES[@]}" \
  "${CPU_REUSE_ROLLOUT_LOG_PROBS[@]}" \
  data.train_files="$DATA_DIR/train.parquet" \
  data.val_files="$DATA_DIR/train.parquet" \
  data.train_batch_size=2 \
  data.max_prompt_length=384 \
  data.max_response_length=48 \
  actor_rollout_ref.model.path="$MODEL" \
  actor_rollout_ref.actor.optim.lr=1e-3 \
  actor_rollout_ref.actor.ppo_mini_batch_size=2 \
  actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=4 \
  actor_rollout_ref.actor.kl_loss_coef=0.01 \
  actor_rollout_ref.rollout.n=2 \
  actor_rollout_ref.rollout.calculate_log_probs=True \
  actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=4 \
  actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu=4 \
  actor_rollout_ref.rollout.agent.agent_loop_config_path="$PWD/configs/agent_loops.yaml" \
  +reward.custom_reward_function.reward_kwargs.modules.key_step.answer_kwargs.workers=1 \
  trainer.logger='["console","file"]' \
  trainer.project_name=verl_score \
  trainer.experiment_name=tiny_score_rl_cpu \
  trainer.default_local_dir="$RUN_DIR/checkpoints" \
  trainer.save_freq=-1 \
  trainer.test_freq=-1 \
  trainer.val_before_train=False \
  trainer.total_training_steps=1 \
  trainer.total_epochs=1 \
  "$@"
