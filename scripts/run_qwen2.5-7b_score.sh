#!/usr/bin/env bash
# SCoRe (Kumar et al. 2024) on Qwen2.5-7B-Instruct: Stage I then Stage II in one run of verl's `main_ppo`, RLOO over
# SGLang on one 8-GPU node by default. configs/score_math.yaml (or score_code.yaml) holds the paper's objective and
# hyperparameters; this script adds the hardware-dependent settings.
#
#   bash scripts/run_qwen2.5-7b_score.sh                       # RLOO (group of 4), MATH config, 1 node x 8 GPUs
#   ALGO=ppo bash scripts/run_qwen2.5-7b_score.sh              # PPO with a critic (unwhitened GAE, gamma=0 across
#                                                              # attempts; verl's whitening would cancel alpha)
#   TASK=code bash scripts/run_qwen2.5-7b_score.sh             # MBPP -> HumanEval config (beta2 = 0.25, lr 1e-5)
#   GUIDANCE=smart bash scripts/run_qwen2.5-7b_score.sh        # SMART-SCoRe: score_$TASK + configs/guidance/smart.yaml;
#       the guide: GUIDE_API_BASE (an OpenAI-compatible server), GUIDE_MODEL_PATH [+ GUIDE_GPUS, default the last
#       GPU] (a checkpoint served for the run on GPUs taken from training; the batch is fitted to the GPUs left), or
#       neither (the policy itself); GUIDE_ON_UNREACHABLE=stop|fallback (scripts/lib/smart_guide.sh)
#   NNODES=4 RAY_ADDRESS=auto bash scripts/run_qwen2.5-7b_score.sh   # multi-node: start Ray on every node first
#       (ray start --head / ray start --address=...); the plug-ins reach every worker through the job's runtime_env
#       (scripts/lib/verl_entry.sh)
#   STAGE1_STEPS=300 TOTAL_STEPS=900 bash ...                  # own step counts (both; default: the config's)
#   TRAIN_BATCH, ROLLOUT_TP, GPUS_PER_NODE, ROLLOUT=vllm       # node shape; refused at start-up when it cannot divide
# Data: python data_preprocess/convert_parquet.py math --input <MATH dir> --out-dir $DATA_DIR   (see README)
# One actor update per batch (mini-batch = batch): on-policy, like the paper's REINFORCE.
# Extra hydra overrides pass through: "$@". Dry run (compose + validate against verl's schema, no GPU needed):
#   VERL_SCORE_COMPOSE_ONLY=1 bash scripts/run_qwen2.5-7b_score.sh
set -euo pipefail
cd "$(dirname "$0")/.."

TASK="${TASK:-math}"                   # math | code
ALGO="${ALGO:-rloo}"                   # rloo | ppo  (std-normalised GRPO would cancel the shaping alpha)
GUIDANCE="${GUIDANCE:-static}"         # static (SCoRe) | smart (SMART-SCoRe)
MODEL="${MODEL:-Qwen/Qwen2.5-7B-Instruct}"
DATA_DIR="${DATA_DIR:-$HOME/data/score_$TASK}"
NNODES="${NNODES:-1}"
GPUS_PER_NODE="${GPUS_PER_NODE:-8}"
# Steps: the config's own (score_math 1,000 Stage I of 3,000; score_code 500 of 1,500) unless both are set here.
STAGE1_STEPS="${STAGE1_STEPS:-}"
TOTAL_STEPS="${TOTAL_STEPS:-}"
ROLLOUT_TP="${ROLLOUT_TP:-}"           # rollout tensor parallelism (default 2; 1 when 2 does not divide the GPUs)
TRAIN_BATCH="${TRAIN_BATCH:-}"         # prompts per step (default: the config's, 128 math / 32 code)
MICRO_PER_GPU=4                        # actor (and critic) update micro-batch per GPU
LOGPROB_MICRO_PER_GPU=4                # old-policy / reference log-prob micro-batch per GPU (verl asserts that each
                                       # GPU's share of the batch is a whole number of them: code + PPO on 8 GPUs
                                       # has 32 x 1 / 8 = 4 rows per GPU)
MICRO_BATCHES=("$MICRO_PER_GPU" "$LOGPROB_MICRO_PER_GPU")   # a fitted batch splits into whole micro-batches of each
PROJECT="${PROJECT:-verl_score}"
EXPERIMENT="${EXPERIMENT:-qwen2.5-7b_score_${TASK}_${ALGO}}"

export VERL_USE_EXTERNAL_MODULES="${VERL_USE_EXTERNAL_MODULES:-verl_score.register}"
source scripts/lib/verl_entry.sh
source scripts/lib/rollout.sh   # ROLLOUT=sglang (default) | vllm

case "$ALGO" in
  rloo) ROLLOUT_N=4; ALGO_ARGS=(algorithm.adv_estimator=rloo actor_rollout_ref.rollout.n=$ROLLOUT_N) ;;
  ppo)  ROLLOUT_N=1; ALGO_ARGS=(
          algorithm.adv_estimator=gae
          score.adv_estimator=gae_unwhitened
          actor_rollout_ref.rollout.n=$ROLLOUT_N
          critic.enable=True
          critic.model.path="$MODEL"
          critic.optim.lr=1e-5
          critic.ppo_micro_batch_size_per_gpu="$MICRO_PER_GPU"
        ) ;;
  *) echo "ALGO must be rloo or ppo, got $ALGO" >&2; exit 2 ;;
esac

STEP_ARGS=()
if [[ -n "$STAGE1_STEPS$TOTAL_STEPS" ]]; then
  [[ -n "$STAGE1_STEPS" && -n "$TOTAL_STEPS" ]] || { echo "set both STAGE1_STEPS and TOTAL_STEPS, or neither" >&2; exit 2; }
  STEP_ARGS=(
    score.schedule.stage1_steps="$STAGE1_STEPS"
    score.schedule.stage2_steps=$((TOTAL_STEPS - STAGE1_STEPS))
    trainer.total_training_steps="$TOTAL_STEPS"
  )
fi

TRAIN_GPUS_PER_NODE=$GPUS_PER_NODE   # a served SMART guide takes some of them (scripts/lib/smart_guide.sh)
TASK_BATCH=$(python -c "from omegaconf import OmegaConf; print(OmegaConf.load('configs/score_$TASK.yaml').data.train_batch_size)")
case "$GUIDANCE" in
  static) GUIDANCE_ARGS=() ;;
  smart)  GUIDANCE_ARGS=(+guidance=smart); source scripts/lib/smart_guide.sh ;;
  *) echo "GUIDANCE must be static or smart, got $GUIDANCE" >&2; exit 2 ;;
esac
ROLLOUT_TP="${ROLLOUT_TP:-2}"
SHAPE_ARGS=()
[[ -n "$TRAIN_BATCH" ]] && SHAPE_ARGS=(data.train_batch_size="$TRAIN_BATCH")

verl_main_ppo \
  --config-path="$PWD/configs" --config-name="score_$TASK" \
  "${ALGO_ARGS[@]}" "${GUIDANCE_ARGS[@]}" "${SHAPE_ARGS[@]}" \
  actor_rollout_ref.model.path="$MODEL" \
  data.train_files="$DATA_DIR/train.parquet" \
  data.val_files="$DATA_DIR/test.parquet" \
  data.max_prompt_length=1024 \
  data.max_response_length=3072 \
  actor_rollout_ref.model.use_remove_padding=True \
  actor_rollout_ref.model.enable_gradient_checkpointing=True \
  actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu="$MICRO_PER_GPU" \
  actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu="$LOGPROB_MICRO_PER_GPU" \
  actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu="$LOGPROB_MICRO_PER_GPU" \
  "${ROLLOUT_ARGS[@]}" \
  actor_rollout_ref.rollout.tensor_model_parallel_size="$ROLLOUT_TP" \
  actor_rollout_ref.rollout.gpu_memory_utilization=0.6 \
  actor_rollout_ref.rollout.agent.agent_loop_config_path="$PWD/configs/agent_loops.yaml" \
  reward.custom_reward_function.path="$PWD/verl_score/rewards/score_fn.py" \
  "${STEP_ARGS[@]}" \
  trainer.nnodes="$NNODES" \
  trainer.n_gpus_per_node="$TRAIN_GPUS_PER_NODE" \
  trainer.logger='["console","file"]' \
  trainer.project_name="$PROJECT" \
  trainer.experiment_name="$EXPERIMENT" \
  trainer.save_freq=100 \
  trainer.test_freq=100 \
  trainer.val_before_train=True \
  "$@"
