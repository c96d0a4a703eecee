# Sourced by every launcher: how verl is invoked.
#   verl_main_ppo ARGS...      python -m verl.trainer.main_ppo ARGS...
#   verl_sft_trainer ARGS...   torchrun (NPROC_PER_NODE, default 1) -m verl.trainer.sft_trainer ARGS...
# Dry runs, which need no GPU, model weights or data (they end the script):
#   VERL_SCORE_COMPOSE_ONLY=1     compose the same config and validate it against verl's schema (config_check)
#   VERL_SCORE_COMPOSE_ONLY=args  print the entry point and its arguments as JSON (tests compose them in-process)
#
# Multi-node.
#   main_ppo: start Ray on every node first (`ray start --head` on one, `ray start --address=<head>:6379` on the
#     others), then run the launcher on the head with NNODES=<nodes> (RAY_ADDRESS=auto is what Ray reads). Workers of
#     a `ray start` cluster inherit the environment of `ray start`, not of this shell, so verl_main_ppo passes the
#     variables the workers need (VERL_USE_EXTERNAL_MODULES: our plug-ins; GUIDE_API_BASE / GUIDE_MODEL when set)
#     through the job's Ray runtime_env (verl merges ray_kwargs.ray_init.runtime_env into its ray.init), so they
#     reach every worker of the job on every node. Secrets (GUIDE_API_KEY, OPENAI_API_KEY) are not put on a command
#     line: export them before `ray start` on every node.
#   sft_trainer: run the launcher on every node with NNODES, NODE_RANK (0..NNODES-1) and MASTER_ADDR (node 0's
#     address; MASTER_PORT default 29500): torchrun's c10d rendezvous then joins them. NNODES=1 (the default) is
#     torchrun --standalone.
# LORA_RANK / LORA_ALPHA / LORA_TARGET_MODULES: LoRA in every launcher (scripts/lib/lora.sh)
source "$(dirname "${BASH_SOURCE[0]}")/lora.sh"

# _lora_first LORA_ARRAY_NAME ARGS...: sets WITH_LORA to ARGS with the LoRA overrides placed before the other
# overrides (which then win over them) but after hydra's flags (--config-path ...): hydra's argparse takes one run of
# overrides, so overrides on both sides of a flag are refused.
_lora_first() {
  local -n _lora=$1
  shift
  local flags=() rest=()
  while (($#)); do
    if [[ "$1" == -* ]]; then
      flags+=("$1")
      # hydra's flags that take a value (as "--flag value"); every other flag (-m, --resolve, --info, -h ...) is alone
      case "$1" in
        -cp | --config-path | -cn | --config-name | -cd | --config-dir | -c | --cfg | -p | --package | --experimental-rerun)
          (($# < 2)) || { shift; flags+=("$1"); } ;;
      esac
    else
      rest+=("$1")
    fi
    shift
  done
  WITH_LORA=("${flags[@]}" "${_lora[@]}" "${rest[@]}")
}

_verl_dry_run() {
  case "${VERL_SCORE_COMPOSE_ONLY:-0}" in
    1) exec python -m verl_score.config_check "$@" ;;
    args) exec python -c 'import json, sys; print(json.dumps(sys.argv[1:]))' "$@" ;;
  esac
}

# The hydra overrides that put the workers' environment into the job's Ray runtime_env (see the header).
_ray_worker_env_args() {
  local var
  RAY_ENV_ARGS=()
  local var value
  for var in VERL_USE_EXTERNAL_MODULES GUIDE_API_BASE GUIDE_MODEL; do
    [[ -n "${!var:-}" ]] || continue
    # single-quoted for hydra: a comma list (verl splits this variable on commas) would otherwise be a sweep, and
    # true / null / 1 would stop being strings
    value=${!var//\\/\\\\}
    value=${value//\'/\\\'}
    RAY_ENV_ARGS+=("+ray_kwargs.ray_init.runtime_env.env_vars.$var='$value'")
  done
  return 0
}

verl_main_ppo() {
  _ray_worker_env_args
  # LoRA overrides first: the launcher's own and the user's extra overrides come later and win
  _lora_first LORA_MAIN_PPO_ARGS "$@"
  set -- "${WITH_LORA[@]}"
  _verl_dry_run main_ppo "$@" "${RAY_ENV_ARGS[@]}"
  # Preflight: the dry run's checks (node shape, run length, objective) before Ray and the GPUs start, so a refused
  # config names its key and fix instead of failing inside verl's start-up. VERL_SCORE_PREFLIGHT=0 skips it (the CPU
  # launchers: their trainer runs the same checks at start-up, and a CPU test run need not compose twice).
  # A launcher's start-up hook (the SMART guide: scripts/lib/smart_guide.sh) reads the run's composed config from
  # VERL_SCORE_COMPOSED_CONFIG (config_check's JSON), never a second copy of a settings file, so it checks exactly
  # what the run will use, command-line overrides included; with a hook the config is composed even without preflight.
  if [[ "${VERL_SCORE_PREFLIGHT:-1}" == 1 || -n "${VERL_PRE_LAUNCH_HOOK:-}" ]]; then
    VERL_SCORE_COMPOSED_CONFIG=$(mktemp "${TMPDIR:-/tmp}/verl_score_composed.XXXXXX")
    export VERL_SCORE_COMPOSED_CONFIG
    python -m verl_score.config_check main_ppo "$@" "${RAY_ENV_ARGS[@]}" >"$VERL_SCORE_COMPOSED_CONFIG"
  fi
  # a launcher's own start-up work that must wait for the preflight (the SMART guide server: scripts/lib/smart_guide.sh)
  [[ -z "${VERL_PRE_LAUNCH_HOOK:-}" ]] || "$VERL_PRE_LAUNCH_HOOK"
  # read by the hook only: one temporary file per launch, not left behind
  [[ -z "${VERL_SCORE_COMPOSED_CONFIG:-}" ]] || { rm -f "$VERL_SCORE_COMPOSED_CONFIG"; unset VERL_SCORE_COMPOSED_CONFIG; }
  python -m verl.trainer.main_ppo "$@" "${RAY_ENV_ARGS[@]}"
}

# torchrun's node arguments: one node standalone, several through a c10d rendezvous at MASTER_ADDR:MASTER_PORT.
_torchrun_node_args() {
  local nnodes="${NNODES:-1}"
  if [[ "$nnodes" == 1 ]]; then
    TORCHRUN_NODE_ARGS=(--standalone --nnodes=1)
    return 0
  fi
  : "${MASTER_ADDR:?NNODES=$nnodes needs MASTER_ADDR (the address of node 0) and NODE_RANK on every node}"
  : "${NODE_RANK:?NNODES=$nnodes needs NODE_RANK (0..$((nnodes - 1))) on every node}"
  TORCHRUN_NODE_ARGS=(--nnodes="$nnodes" --node-rank="$NODE_RANK" --rdzv-backend=c10d
                      --rdzv-endpoint="$MASTER_ADDR:${MASTER_PORT:-29500}" --rdzv-id="${RDZV_ID:-verl_score_sft}")
}

verl_sft_trainer() {
  # LoRA SFT is refused, not silently exported wrong: verl's checkpoint manager writes huggingface/ from the peft
  # model's state dict (base_model.model.*.base_layer.weight, lora_A/B), which the next stage would load as a model
  # with every base weight missing (randomly initialised, a warning only). Train the SFT stages fully.
  if ((${#LORA_SFT_ARGS[@]})); then
    echo "error: LORA_RANK=$LORA_RANK with an SFT launcher: verl's SFT export (checkpoints/global_step_N/huggingface) would hold the adapter's peft keys, which the next stage loads as a model with random base weights. Fix: unset LORA_RANK for SFT (LoRA is for the main_ppo launchers)" >&2
    exit 2
  fi
  _verl_dry_run sft_trainer "$@"
  _torchrun_node_args
  torchrun "${TORCHRUN_NODE_ARGS[@]}" --nproc_per_node="${NPROC_PER_NODE:-1}" -m verl.trainer.sft_trainer "$@"
}
