#!/usr/bin/env bash
# SCoRe-RL (Student-Centered SCoRe / SCoRe-B, arXiv 2509.14257 §3) for Qwen2.5-7B-Instruct on one node of 8 GPUs:
# GRPO over short CodeAct rollouts that resume from the verified prefix (agent loop `score_prefix_rollout`, prefix
# code replayed in the bubblewrap sandbox), scored by the key-step reward (configs/score_rl.yaml).
#
# Settings of the official launcher (run_qwen2.5-7b_agent_distill_tool_agent_mlflow.sh, 8xH100): GRPO, n=16, SGLang
# async rollout with TP=2 and gpu_memory_utilization=0.7, train_batch_size=128, ppo_mini_batch_size=16, lr=7e-7,
# max_prompt_length=2048, max_response_length=4096, total_epochs=3, use_kl_in_reward=False, at most 8 assistant
# turns (the agent loop's max_assistant_turns default), with ONE deliberate change:
#
#   KL. The official launcher has actor.use_kl_loss=True but kl_loss_coef=0.0: the reference model is loaded and its
#   log-probs are computed every step, yet the KL term is multiplied by zero -- inert, all cost and no anchor. Here
#   kl_loss_coef=0.001 (low_var_kl+: k3's value, an unbiased ∇KL(π‖π_ref)), so the policy really is held near the SFT model. KL_COEF=0.0 reproduces the
#   official (KL-free) run; then also set USE_KL=False to skip the wasted reference pass.
#
# Pipeline (README, "Student-Centered SCoRe"):
#           python data_preprocess/convert_parquet.py mps --input trajectories.jsonl --out-dir data/mps
#           bash scripts/run_score_sft.sh            # SCoRe-SFT on data/mps/sft/train.parquet, saves HF weights
#           MODEL=runs/score_sft/checkpoints/global_step_<N>/huggingface bash scripts/run_qwen2.5-7b_score_rl.sh
#           python -m verl.model_merger merge --backend fsdp \
#             --local_dir runs/qwen2.5-7b_score_rl/checkpoints/global_step_<K>/actor --target_dir <HF dir to evaluate>
# Node shape: GPUS_PER_NODE (default 8), NNODES (default 1; several nodes: start Ray on each first, see
# scripts/lib/verl_entry.sh). Extra hydra overrides are passed through: "$@".
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/verl_entry.sh
source scripts/lib/rollout.sh   # ROLLOUT=sglang (default) | vllm
# score_prefix_rollout registers itself on import; verl imports these modules in every process (Ray workers too).
export VERL_USE_EXTERNAL_MODULES="${VERL_USE_EXTERNAL_MODULES:-verl_score.register}"

MODEL="${MODEL:-Qwen/Qwen2.5-7B-Instruct}"
DATA_DIR="${DATA_DIR:-data/mps}"
TRAIN_FILES="${TRAIN_FILES:-$DATA_DIR/train.parquet}"
VAL_FILES="${VAL_FILES:-$TRAIN_FILES}"
RUN_DIR="${RUN_DIR:-runs/qwen2.5-7b_score_rl}"
KL_COEF="${KL_COEF:-0.001}"
USE_KL="${USE_KL:-True}"
LOGGER="${LOGGER:-[\"console\",\"file\"]}"  # the official run logs to MLflow: LOGGER='["console","mlflow"]'
export VERL_FILE_LOGGER_ROOT="${VERL_FILE_LOGGER_ROOT:-$RUN_DIR/logs}"

# A local MODEL (the SCoRe-SFT checkpoint) must hold weights: one line now, not a Ray traceback minutes later.
[[ "${VERL_SCORE_COMPOSE_ONLY:-0}" != 0 || ! -e "$MODEL" ]] || python -m verl_score.model_check "$MODEL"

verl_main_ppo \
  --config-path="$PWD/configs" --config-name=score_rl \
  hydra.run.dir="$RUN_DIR/hydra" \
  algorithm.adv_estimator=grpo \
  algorithm.use_kl_in_reward=False \
  data.train_files="$TRAIN_FILES" \
  data.val_files="$VAL_FILES" \
  data.train_batch_size=128 \
  data.max_prompt_length=2048 \
  data.max_response_length=4096 \
  data.filter_overlong_prompts=True \
  actor_rollout_ref.model.path="$MODEL" \
  actor_rollout_ref.model.use_remove_padding=True \
  actor_rollout_ref.model.enable_gradient_checkpointing=True \
  actor_rollout_ref.actor.optim.lr=7e-7 \
  actor_rollout_ref.actor.ppo_mini_batch_size=16 \
  actor_rollout_ref.actor.use_dynamic_bsz=True \
  actor_rollout_ref.actor.ppo_max_token_len_per_gpu=24576 \
  actor_rollout_ref.actor.use_kl_loss="$USE_KL" \
  actor_rollout_ref.actor.kl_loss_coef="$KL_COEF" \
  actor_rollout_ref.actor.kl_loss_type=low_var_kl+ \
  actor_rollout_ref.actor.entropy_coeff=0 \
  actor_rollout_ref.actor.fsdp_config.param_offload=False \
  actor_rollout_ref.actor.fsdp_config.optimizer_offload=False \
  actor_rollout_ref.ref.fsdp_config.param_offload=True \
  actor_rollout_ref.ref.log_prob_use_dynamic_bsz=True \
  actor_rollout_ref.ref.log_prob_max_token_len_per_gpu=49152 \
  "${ROLLOUT_ARGS[@]}" \
  actor_rollout_ref.rollout.tensor_model_parallel_size=2 \
  actor_rollout_ref.rollout.gpu_memory_utilization=0.7 \
  actor_rollout_ref.rollout.n=16 \
  actor_rollout_ref.rollout.temperature=1.0 \
  actor_rollout_ref.rollout.log_prob_use_dynamic_bsz=True \
  actor_rollout_ref.rollout.log_prob_max_token_len_per_gpu=49152 \
  actor_rollout_ref.rollout.agent.default_agent_loop=score_prefix_rollout \
  actor_rollout_ref.rollout.agent.agent_loop_config_path="$PWD/configs/agent_loops.yaml" \
  trainer.logger="$LOGGER" \
  trainer.project_name=verl_score \
  trainer.experiment_name=qwen2.5-7b_score_rl \
  trainer.default_local_dir="$RUN_DIR/checkpoints" \
  trainer.n_gpus_per_node="${GPUS_PER_NODE:-8}" \
  trainer.nnodes="${NNODES:-1}" \
  trainer.save_freq=50 \
  trainer.test_freq=-1 \
  trainer.val_before_train=False \
  trainer.total_epochs=3 \
  "$@"
