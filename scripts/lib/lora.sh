# Sourced by scripts/lib/verl_entry.sh, so every main_ppo launcher (CPU and GPU) takes LoRA the same way (the SFT
# launchers refuse it: verl's SFT export would hold the adapter's peft keys, see verl_sft_trainer):
#   LORA_RANK=16 bash scripts/<launcher>.sh                 # LoRA of rank 16 on all linear layers, alpha 2 x rank
#   LORA_ALPHA=32 LORA_TARGET_MODULES=q_proj,v_proj ...     # own alpha / module names (comma list, or all-linear)
# Sets LORA_MAIN_PPO_ARGS / LORA_SFT_ARGS (empty when LORA_RANK is unset or 0); verl_entry.sh puts them BEFORE the
# launcher's own overrides, so an explicit hydra override (actor_rollout_ref.model.lora_alpha=...) still wins.
#
# The keys are verl 0.9.1's FSDP LoRA keys: actor_rollout_ref.model.lora_rank / lora_alpha / target_modules
# (model.lora.rank is Megatron's). With a rank, verl's trainer computes the reference policy as the actor with its
# adapter disabled (no second model) and syncs the rollout in adapter mode (model.lora.merge=False, set explicitly):
# the base weights once, then only lora_A / lora_B each step. The rollout serves the adapter itself: hfcpu merges it
# exactly into its fp32 copy of the base (docs/cpu.md, "LoRA"); SGLang / vLLM get enable_lora, max_lora_rank and the
# target modules from the same keys (verl's async_sglang_server.py / vllm_async_server.py). Nothing else changes:
# LoRA usually wants a larger actor learning rate than full fine-tuning, which the launchers do NOT raise for you.
#
# Alpha defaults to 2 x rank (scaling alpha/r = 2 at every rank, so a rank sweep does not also change the adapter's
# effective step size; at rank 8 it equals verl's own default of 16).
LORA_MAIN_PPO_ARGS=()
LORA_SFT_ARGS=()
if [[ -n "${LORA_RANK:-}" && "${LORA_RANK}" != 0 ]]; then
  if ! [[ "$LORA_RANK" =~ ^[1-9][0-9]*$ ]]; then
    echo "LORA_RANK=$LORA_RANK: the LoRA rank must be a positive integer (8, 16, 32 ...), or 0 / unset for full fine-tuning" >&2
    exit 2
  fi
  _lora_alpha="${LORA_ALPHA:-$((2 * LORA_RANK))}"
  if ! [[ "$_lora_alpha" =~ ^[0-9]*\.?[0-9]+$ ]] || [[ "$_lora_alpha" =~ ^0*\.?0*$ ]]; then
    echo "LORA_ALPHA=$_lora_alpha: the LoRA alpha must be a positive number (default 2 x LORA_RANK)" >&2
    exit 2
  fi
  _lora_targets="${LORA_TARGET_MODULES:-all-linear}"
  [[ "$_lora_targets" == all-linear ]] || _lora_targets="[${_lora_targets}]"   # q_proj,v_proj -> [q_proj,v_proj]
  LORA_MAIN_PPO_ARGS=(
    actor_rollout_ref.model.lora_rank="$LORA_RANK"
    actor_rollout_ref.model.lora_alpha="$_lora_alpha"
    actor_rollout_ref.model.target_modules="$_lora_targets"
    actor_rollout_ref.model.lora.merge=False
  )
  LORA_SFT_ARGS=(model.lora_rank="$LORA_RANK" model.lora_alpha="$_lora_alpha" model.target_modules="$_lora_targets")
  echo "[verl-score] LoRA rank $LORA_RANK, alpha $_lora_alpha, target modules $_lora_targets" >&2
  unset _lora_alpha _lora_targets
fi
