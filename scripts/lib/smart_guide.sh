# SMART-SCoRe's guide for a launcher run (sourced by scripts/run_qwen2.5-7b_score.sh when GUIDANCE=smart).
# Picks the guide named in configs/guidance/smart.yaml, in this order:
#   GUIDE_MODEL_PATH=<hf dir>  serve that checkpoint for the run with SGLang on GUIDE_GPUS (required, e.g. "7"; keep
#                              those GPUs out of the training pool: CUDA_VISIBLE_DEVICES=0,...,6 GPUS_PER_NODE=7) on
#                              GUIDE_PORT (default 30010); stopped when the launcher exits; sets GUIDE_API_BASE
#   GUIDE_API_BASE=<url>/v1    an OpenAI-compatible server that is already up (GUIDE_MODEL, GUIDE_API_KEY)
#   neither                    the policy guides itself (backend auto -> policy)
# Then a start-up check (python -m verl_score.teacher.guidance --check): a guide endpoint that does not answer
# stops the launch with a message (GUIDE_ON_UNREACHABLE=stop, the default) or is reported and the run trains with
# the static instruction, every such turn counted (GUIDE_ON_UNREACHABLE=fallback).
# Dry runs (VERL_SCORE_COMPOSE_ONLY) start and probe nothing.

if [[ "${VERL_SCORE_COMPOSE_ONLY:-0}" == "0" ]]; then
  if [[ -n "${GUIDE_MODEL_PATH:-}" ]]; then
    : "${GUIDE_GPUS:?GUIDE_MODEL_PATH needs GUIDE_GPUS (the GPU ids that serve the guide, outside the training pool)}"
    GUIDE_PORT="${GUIDE_PORT:-30010}"
    mkdir -p "${RUN_DIR:-runs}"
    CUDA_VISIBLE_DEVICES="$GUIDE_GPUS" python -m sglang.launch_server --model-path "$GUIDE_MODEL_PATH" \
      --host 127.0.0.1 --port "$GUIDE_PORT" --served-model-name guide \
      >"${RUN_DIR:-runs}/guide_server.log" 2>&1 &
    GUIDE_SERVER_PID=$!
    trap 'kill "$GUIDE_SERVER_PID" 2>/dev/null || true' EXIT
    export GUIDE_API_BASE="http://127.0.0.1:$GUIDE_PORT/v1" GUIDE_MODEL=guide
    for _ in $(seq 1 "${GUIDE_START_TIMEOUT_S:-600}"); do
      curl -sf "$GUIDE_API_BASE/models" >/dev/null 2>&1 && break
      kill -0 "$GUIDE_SERVER_PID" 2>/dev/null || { echo "guide server died; see ${RUN_DIR:-runs}/guide_server.log" >&2; exit 1; }
      sleep 1
    done
  fi
  python -m verl_score.teacher.guidance --check configs/guidance/smart.yaml
fi
