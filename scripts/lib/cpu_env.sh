# Shared environment for verl-score's CPU launchers (sourced, not run).
# Selects verl-score's CPU platform and hfcpu rollout backend and keeps everything offline.
export VERL_USE_EXTERNAL_MODULES="${VERL_USE_EXTERNAL_MODULES:-verl_score.register}"
export VERL_PLATFORM=cpu
export VERL_SCORE_CPU_THREADS="${VERL_SCORE_CPU_THREADS:-1}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1
export WANDB_MODE=disabled TOKENIZERS_PARALLELISM=false
export RAY_DEDUP_LOGS=0 RAY_USAGE_STATS_ENABLED=0
# no launcher preflight (scripts/lib/verl_entry.sh): the trainer runs the same checks at start-up, on one CPU
export VERL_SCORE_PREFLIGHT="${VERL_SCORE_PREFLIGHT:-0}"
# Threads (measured, docs/cpu.md §3): hfcpu generation gets 1 (VERL_SCORE_CPU_THREADS): fastest when anything else
# runs on the machine, while 2 OpenMP threads collapse there; alone on a quiet machine 2 are ~1.4x faster (set
# VERL_SCORE_CPU_THREADS=2 then). The actor update's large matmuls gain from 2. OMP_NUM_THREADS sets every other
# process's torch pool, the actor/ref workers' included (TransferQueue resets torch to it after each put/get); the
# hfcpu server overrides it with VERL_SCORE_CPU_THREADS.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
# glibc gives each thread its own malloc arena (up to 8 per core) and keeps freed memory in them; a Ray worker has
# dozens of threads. Two arenas: SmolLM2 main job peak 9.02 GB vs 9.86 GB (sum of PSS; actor 4.68 vs 5.11 GB,
# rollout server 1.27 vs 1.69 GB), same step times within noise (docs/cpu.md §4).
export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"
# TransferQueue asks torch for TQ_NUM_THREADS=8 threads around every put/get and, on a 2-core machine, logs a
# "target_num_threads 8 should not exceed total physical CPU cores" warning each time (150 lines per 3-step run).
# Its tensors here are a few KB: one thread, no warning. Its ZMQ clients default to 8 I/O threads per process.
export TQ_NUM_THREADS="${TQ_NUM_THREADS:-1}" TQ_CLIENT_ZMQ_IO_THREADS="${TQ_CLIENT_ZMQ_IO_THREADS:-1}"
# Python warnings silenced in every process (Ray workers inherit the environment). Why each one:
#  - verl.workers.engine tries to import five optional engines (veomni, torchtitan, mindspeed, megatron, automodel)
#    and warns for each missing one in every process that imports it (60 lines per run); FSDP is the only CPU engine;
#  - the replay-buffer hook (custom_sampler, see below) is loaded by verl itself through its own deprecated
#    load_extern_type, which warns FutureWarning at every start; nothing for us to change.
_quiet=(
  "ignore:veomni engine is not available:UserWarning"
  "ignore:torchtitan engine is not available:UserWarning"
  "ignore:mindspeed engine is not available:UserWarning"
  "ignore:megatron engine is not available:UserWarning"
  "ignore:automodel engine is not available:UserWarning"
  "ignore:Warning:FutureWarning:verl.trainer.ppo.v1.trainer_base"  # "Warning: Function ...load_extern_type is deprecated"
)
PYTHONWARNINGS="$(IFS=,; echo "${_quiet[*]}")${PYTHONWARNINGS:+,$PYTHONWARNINGS}"
export PYTHONWARNINGS
unset _quiet

# The hydra settings every CPU run needs (fake GPU, Ray CPUs, FSDP2, sdpa, hfcpu, the replay buffer ...) are the
# config group configs/platform/cpu.yaml, each with its reason: the CPU launchers select it with `+platform=cpu`.

# Precision, chosen by the machine (verl_score/cpu/precision.py; VERL_SCORE_CPU_PRECISION=auto|bf16|fp32): bf16
# mixed precision for actor, reference and the hfcpu rollout where the processor has native bf16 kernels, fp32
# elsewhere; fp32 master weights and optimiser state either way. Printed once per launch. The launchers pass
# CPU_PRECISION_OVERRIDES after `+platform=cpu`.
_precision_overrides=$(python "$(dirname "${BASH_SOURCE[0]}")/../../verl_score/cpu/precision.py" overrides) || exit 2
mapfile -t CPU_PRECISION_OVERRIDES <<<"$_precision_overrides"
if [[ "$_precision_overrides" == *"rollout.dtype=bfloat16"* ]]; then CPU_PRECISION=bf16; else CPU_PRECISION=fp32; fi
unset _precision_overrides

# LoRA: LORA_RANK=R [LORA_ALPHA=A] [LORA_TARGET_MODULES=...] works in every launcher, CPU or GPU, through
# scripts/lib/lora.sh (sourced by verl_entry.sh). On CPU it runs in verl's adapter mode (model.lora.merge=False): hfcpu
# receives the base once and then only lora_A / lora_B, and merges W0 + (alpha/r) B A in fp32 exactly (docs/cpu.md §4d);
# the reference is the actor with its adapter disabled, so no reference copy is held.

# In fp32, SCoRe launchers reuse the rollout's log-probs as the PPO "old" log-probs (verl's
# rollout_correction.bypass_mode), skipping a full actor forward per step (6-12 s a step on CPU). Exact there: hfcpu
# samples from the same fp32 weights the actor holds and reports log_softmax(logits / T) like the actor
# (tests/cpu/test_batching.py: within 1e-6; tests/cpu/test_main_ppo_grpo.py keeps the recompute and asserts
# rollout/actor agreement in main_ppo). In bf16 the rollout's KV-cache decode and the actor's full forward round
# differently (measured: |Δp| mean 0.006-0.018 per token, KL 0.001-0.009, docs/cpu.md), so the PPO ratio would start
# away from 1: verl recomputes the old log-probs with the actor instead (a bf16 forward, ~3 s a step on SmolLM2) and
# logs the rollout/actor gap (rollout_corr/*). GPU launchers always recompute (SGLang/vLLM kernels differ too).
if [[ "$CPU_PRECISION" == fp32 ]]; then
  CPU_REUSE_ROLLOUT_LOG_PROBS=(algorithm.rollout_correction.bypass_mode=True)
else
  CPU_REUSE_ROLLOUT_LOG_PROBS=()
fi

# cpu_logged CMD...: run CMD with its full output (stdout + stderr) in $CPU_LOG (default $RUN_DIR/main_ppo.log, path
# printed first) and on the console minus the lines below, which repeat once per Ray process and say nothing about
# the run. Exit status is CMD's.
CPU_CONSOLE_NOISE=(
  'Platform override from VERL_PLATFORM'          # verl logs it in each of its ~6 processes; we set it ourselves
  'Failed to set NUMA affinity: libnuma'          # verl's worker tries NUMA pinning; a CPU box without libnuma skips it
)
cpu_logged() {
  # Dry runs (scripts/lib/verl_entry.sh) exec and end the script: keep that, and their stdout untouched.
  if [[ "${VERL_SCORE_COMPOSE_ONLY:-0}" != 0 ]]; then "$@"; return; fi
  local log="${CPU_LOG:-${RUN_DIR:-.}/main_ppo.log}"
  mkdir -p "$(dirname "$log")"
  echo "[verl-score] full log: $log" >&2
  "$@" 2>&1 | tee "$log" | { grep --line-buffered -v -F "${CPU_CONSOLE_NOISE[@]/#/-e}" || true; }
  return "${PIPESTATUS[0]}"
}
