# Sourced by every launcher: how verl is invoked.
#   verl_main_ppo ARGS...      python -m verl.trainer.main_ppo ARGS...
#   verl_sft_trainer ARGS...   torchrun (NPROC_PER_NODE, default 1) -m verl.trainer.sft_trainer ARGS...
# Dry runs, which need no GPU, model weights or data (they end the script):
#   VERL_SCORE_COMPOSE_ONLY=1     compose the same config and validate it against verl's schema (config_check)
#   VERL_SCORE_COMPOSE_ONLY=args  print the entry point and its arguments as JSON (tests compose them in-process)
_verl_dry_run() {
  case "${VERL_SCORE_COMPOSE_ONLY:-0}" in
    1) exec python -m verl_score.config_check "$@" ;;
    args) exec python -c 'import json, sys; print(json.dumps(sys.argv[1:]))' "$@" ;;
  esac
}

verl_main_ppo() {
  _verl_dry_run main_ppo "$@"
  python -m verl.trainer.main_ppo "$@"
}

verl_sft_trainer() {
  _verl_dry_run sft_trainer "$@"
  torchrun --standalone --nnodes=1 --nproc_per_node="${NPROC_PER_NODE:-1}" -m verl.trainer.sft_trainer "$@"
}
