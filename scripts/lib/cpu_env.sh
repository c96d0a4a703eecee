# Shared environment for verl-score's CPU launchers (sourced, not run).
# Selects verl-score's CPU platform and hfcpu rollout backend and keeps everything offline.
export VERL_USE_EXTERNAL_MODULES="${VERL_USE_EXTERNAL_MODULES:-verl_score.register}"
export VERL_PLATFORM=cpu
export VERL_SCORE_CPU_THREADS="${VERL_SCORE_CPU_THREADS:-1}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1
export WANDB_MODE=disabled TOKENIZERS_PARALLELISM=false
export RAY_DEDUP_LOGS=0 RAY_USAGE_STATS_ENABLED=0
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"

# Hydra overrides every CPU run needs (verl 0.9.1 on a machine without a GPU). Why each one:
#  - one fake GPU for Ray so verl places exactly one actor/ref/rollout worker ("device") on this node; no Ray
#    dashboard (its ten processes hold ~1.2 GB);
#  - num_cpus=16: verl's TransferQueue / agent-loop / reward actors each reserve CPUs and would deadlock on 2 real cores;
#  - FSDP2 (FSDP1 insists on an accelerator), fp32 everywhere (bf16 mixed precision would make rollout and actor
#    log-probs disagree), sdpa attention (no flash-attn on CPU), no remove-padding kernels.
CPU_COMMON_OVERRIDES=(
  trainer.device=cpu
  trainer.n_gpus_per_node=1
  trainer.nnodes=1
  ray_kwargs.ray_init.num_cpus=16
  +ray_kwargs.ray_init.num_gpus=1
  +ray_kwargs.ray_init.include_dashboard=False
  transfer_queue.backend.SimpleStorage.num_data_storage_units=1
  data.dataloader_num_workers=0
  actor_rollout_ref.rollout.name=hfcpu
  actor_rollout_ref.rollout.tensor_model_parallel_size=1
  actor_rollout_ref.rollout.agent.num_workers=1
  reward.num_workers=1
  actor_rollout_ref.model.use_remove_padding=False
  +actor_rollout_ref.model.override_config.attn_implementation=sdpa
  actor_rollout_ref.actor.strategy=fsdp2
  actor_rollout_ref.ref.strategy=fsdp2
  actor_rollout_ref.actor.fsdp_config.dtype=float32
  actor_rollout_ref.ref.fsdp_config.dtype=float32
  '+actor_rollout_ref.actor.fsdp_config.mixed_precision={param_dtype:fp32,reduce_dtype:fp32,buffer_dtype:fp32}'
  '+actor_rollout_ref.ref.fsdp_config.mixed_precision={param_dtype:fp32,reduce_dtype:fp32,buffer_dtype:fp32}'
  actor_rollout_ref.actor.use_torch_compile=False
  actor_rollout_ref.ref.use_torch_compile=False
)
