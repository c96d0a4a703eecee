# Sourced by the GPU launchers: which rollout engine serves the policy, ROLLOUT=sglang (default) | vllm.
#
# Why one variable is enough: verl 0.9.1 runs both engines behind the same async server interface (token ids in,
# token ids + log-probs out), and our agent loops only talk to that interface, so they are engine-agnostic. Both
# engines read the same `actor_rollout_ref.rollout` schema (rollout.yaml: tensor_model_parallel_size,
# gpu_memory_utilization, max_model_len, ... apply to both); engine-only knobs go through
# `actor_rollout_ref.rollout.engine_kwargs.{sglang,vllm}` as extra overrides. Install the matching set:
# pip install -e ".[sglang]" or ".[vllm]" (README, "On a GPU cluster").
#
# Sets:  ROLLOUT_ARGS   hydra overrides for verl's main_ppo
#        rollout_server_cmd PYTHON MODEL HOST PORT TP NAME -> SERVER_CMD, the OpenAI-compatible server command
ROLLOUT="${ROLLOUT:-sglang}"
case "$ROLLOUT" in
  sglang|vllm) ;;
  *) echo "ROLLOUT must be sglang or vllm, got '$ROLLOUT'" >&2; exit 2 ;;
esac
ROLLOUT_ARGS=(actor_rollout_ref.rollout.name="$ROLLOUT")

rollout_server_cmd() {
  local py="$1" model="$2" host="$3" port="$4" tp="$5" name="$6"
  case "$ROLLOUT" in
    sglang) SERVER_CMD=("$py" -m sglang.launch_server --model-path "$model" --host "$host" --port "$port"
                        --tp "$tp" --served-model-name "$name") ;;
    vllm)   SERVER_CMD=("$py" -m vllm.entrypoints.openai.api_server --model "$model" --host "$host" --port "$port"
                        --tensor-parallel-size "$tp" --served-model-name "$name") ;;
  esac
}
