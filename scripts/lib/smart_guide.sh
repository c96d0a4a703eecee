# SMART-SCoRe's guide for a launcher run (sourced by scripts/run_qwen2.5-7b_score.sh when GUIDANCE=smart).
# Picks the guide named in configs/guidance/smart.yaml, in this order:
#   GUIDE_MODEL_PATH=<hf dir>  serve that checkpoint for the run with SGLang on GUIDE_GPUS (default: the node's last
#                              GPU) on GUIDE_PORT (default 30010); those GPUs leave the training pool (training runs on
#                              the others through CUDA_VISIBLE_DEVICES, trainer.n_gpus_per_node = what is left); the
#                              server runs in its own process group and the whole group is stopped when the launcher
#                              exits (SGLang's scheduler / detokenizer children would otherwise keep the GPU)
#   GUIDE_API_BASE=<url>/v1    an OpenAI-compatible server that is already up (GUIDE_MODEL, GUIDE_API_KEY)
#   neither                    the policy guides itself (backend auto -> policy)
# Node shape with a served guide: the batch must split over the GPUs left. Unless TRAIN_BATCH is set, the launcher
# takes the largest batch <= the config's whose rollouts split over them in whole micro-batches (8 GPUs, guide on 1:
# MATH 128 -> 126 prompts), and rollout TP 1 when ROLLOUT_TP is unset and 2 does not divide; it prints what it chose.
# A shape that still cannot divide (an explicit TRAIN_BATCH or ROLLOUT_TP) is refused at start-up by the config check
# (verl_score/training/validate.py check_node_shape). A served guide is one node only: on several nodes serve it
# outside the training pool and pass GUIDE_API_BASE.
# Then a start-up check (python -m verl_score.teacher.guidance --check <the run's composed config>): a guide endpoint that does not answer
# stops the launch with a message (GUIDE_ON_UNREACHABLE=stop, the default) or is reported and the run trains with
# the static instruction, every such turn counted (GUIDE_ON_UNREACHABLE=fallback).
# Dry runs (VERL_SCORE_COMPOSE_ONLY) compute the shape but start and probe nothing (the start is a hook that
# verl_main_ppo runs after its preflight).
# Reads from the launcher: GPUS_PER_NODE, NNODES, TASK_BATCH, ROLLOUT_N, MICRO_BATCHES; sets TRAIN_GPUS_PER_NODE,
# TRAIN_BATCH, ROLLOUT_TP and VERL_PRE_LAUNCH_HOOK.

if [[ -n "${GUIDE_MODEL_PATH:-}" ]]; then
  if [[ "${NNODES:-1}" != 1 || -n "${RAY_ADDRESS:-}" ]]; then
    echo "GUIDE_MODEL_PATH serves the guide on this node and keeps its GPUs from training through" \
         "CUDA_VISIBLE_DEVICES, which a running Ray cluster (NNODES=${NNODES:-1}, RAY_ADDRESS=${RAY_ADDRESS:-}) does" \
         "not see: serve the guide outside the training pool (any OpenAI-compatible server) and pass" \
         "GUIDE_API_BASE instead" >&2
    exit 2
  fi
  IFS=',' read -r -a _node_gpus <<<"${CUDA_VISIBLE_DEVICES:-$(seq -s, 0 $((GPUS_PER_NODE - 1)))}"
  GUIDE_GPUS="${GUIDE_GPUS:-${_node_gpus[-1]}}"
  IFS=',' read -r -a _guide_gpus <<<"$GUIDE_GPUS"
  _train_gpus=()
  for _g in "${_node_gpus[@]}"; do
    [[ ",$GUIDE_GPUS," == *",$_g,"* ]] || _train_gpus+=("$_g")
  done
  for _g in "${_guide_gpus[@]}"; do
    [[ " ${_node_gpus[*]} " == *" $_g "* ]] || {
      echo "GUIDE_GPUS=$GUIDE_GPUS: GPU $_g is not one of this node's GPUs (${_node_gpus[*]})" >&2; exit 2; }
  done
  (( ${#_train_gpus[@]} > 0 )) || { echo "GUIDE_GPUS=$GUIDE_GPUS leaves no GPU for training" >&2; exit 2; }
  TRAIN_GPUS_PER_NODE=${#_train_gpus[@]}
  ROLLOUT_TP="${ROLLOUT_TP:-$(( TRAIN_GPUS_PER_NODE % 2 == 0 ? 2 : 1 ))}"
  if [[ -z "${TRAIN_BATCH:-}" ]]; then
    TRAIN_BATCH=$(python verl_score/training/node_shape.py fit "$TASK_BATCH" "$ROLLOUT_N" "$TRAIN_GPUS_PER_NODE" \
                  "${MICRO_BATCHES[@]}")
    (( TRAIN_BATCH > 0 )) || TRAIN_BATCH=$TASK_BATCH  # nothing fits: let the config check refuse with the numbers
  fi
  echo "[smart] guide on GPU(s) $GUIDE_GPUS; training on ${_train_gpus[*]} ($TRAIN_GPUS_PER_NODE GPUs):" \
       "data.train_batch_size=$TRAIN_BATCH (config: $TASK_BATCH), rollout TP $ROLLOUT_TP" >&2
fi

# Started by verl_main_ppo after its preflight (VERL_PRE_LAUNCH_HOOK, scripts/lib/verl_entry.sh): a config the check
# refuses never costs a guide start.
smart_guide_start() {
  if [[ -n "${GUIDE_MODEL_PATH:-}" ]]; then
    GUIDE_PORT="${GUIDE_PORT:-30010}"
    mkdir -p "${RUN_DIR:-runs}"
    CUDA_VISIBLE_DEVICES="$GUIDE_GPUS" setsid python -m sglang.launch_server --model-path "$GUIDE_MODEL_PATH" \
      --host 127.0.0.1 --port "$GUIDE_PORT" --served-model-name guide --tp "${#_guide_gpus[@]}" \
      >"${RUN_DIR:-runs}/guide_server.log" 2>&1 &
    GUIDE_SERVER_PID=$!
    _stop_guide() {  # the whole process group: SGLang's children hold the GPU after a plain kill of the parent
      kill -TERM -- "-$GUIDE_SERVER_PID" 2>/dev/null || return 0
      for _ in $(seq 1 30); do kill -0 -- "-$GUIDE_SERVER_PID" 2>/dev/null || return 0; sleep 1; done
      kill -KILL -- "-$GUIDE_SERVER_PID" 2>/dev/null || true
    }
    trap _stop_guide EXIT
    export CUDA_VISIBLE_DEVICES
    CUDA_VISIBLE_DEVICES=$(IFS=,; echo "${_train_gpus[*]}")
    export GUIDE_API_BASE="http://127.0.0.1:$GUIDE_PORT/v1" GUIDE_MODEL=guide
    local up=0
    for _ in $(seq 1 "${GUIDE_START_TIMEOUT_S:-600}"); do
      curl -sf "$GUIDE_API_BASE/models" >/dev/null 2>&1 && { up=1; break; }
      kill -0 "$GUIDE_SERVER_PID" 2>/dev/null || { echo "guide server died; see ${RUN_DIR:-runs}/guide_server.log" >&2; exit 1; }
      sleep 1
    done
    (( up )) || { echo "guide server not up after ${GUIDE_START_TIMEOUT_S:-600} s; see ${RUN_DIR:-runs}/guide_server.log" >&2; exit 1; }
  fi
  # the run's own guidance block, from the composed config (scripts/lib/verl_entry.sh), overrides included
  python -m verl_score.teacher.guidance --check "$VERL_SCORE_COMPOSED_CONFIG"
}
VERL_PRE_LAUNCH_HOOK=smart_guide_start
