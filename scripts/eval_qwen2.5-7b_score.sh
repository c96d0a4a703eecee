#!/usr/bin/env bash
# Evaluate a SCoRe-trained Qwen2.5-7B checkpoint the way the paper does (greedy, 2 attempts, static instruction):
# start an SGLang (or vLLM) server on the checkpoint (GPU), wait until it answers, run `python -m verl_score.eval`,
# draw the plots, stop the server (also on error / Ctrl-C).
#
#   bash scripts/eval_qwen2.5-7b_score.sh /ckpt/global_step_300/hf ~/data/score_math/test.parquet   # CHECKPOINT PARQUET
#   MODEL_PATH=/ckpt/global_step_300/hf DATA=~/data/score_math/test.parquet bash scripts/eval_qwen2.5-7b_score.sh
#   ROLLOUT=vllm bash scripts/eval_qwen2.5-7b_score.sh /ckpt/hf                        # vLLM's OpenAI server
#   bash scripts/eval_qwen2.5-7b_score.sh /ckpt/hf --num-samples 16 --temperature 0.7  # §6.2 scaling
#
# Usage: eval_qwen2.5-7b_score.sh [CHECKPOINT [PARQUET]] [eval flags...]. The first two arguments that do not start
# with "-" are the checkpoint and the data (they override MODEL_PATH / DATA); everything else goes to
# `python -m verl_score.eval` (see its --help).
# CHECKPOINT must be a Hugging Face directory. A verl FSDP checkpoint is merged first:
#   python -m verl.model_merger merge --backend fsdp --local_dir CKPT/actor --target_dir CKPT/hf
#
# Environment (defaults):
#   MODEL_PATH        HF checkpoint dir (required unless given as the first argument)
#   DATA              $HOME/data/score_math/test.parquet (as in run_qwen2.5-7b_score.sh; any convert_parquet.py output)
#   OUT_DIR           outputs/eval/<basename of MODEL_PATH>-<basename of DATA without .parquet>
#   PORT              30000            HOST 127.0.0.1
#   TP                1                tensor parallel size of the server
#   SERVED_NAME       qwen2.5-7b-score
#   MAX_TOKENS        the eval CLI's   per attempt; unset = `python -m verl_score.eval`'s default, 1494: what
#                     default (1494)   attempt 1 gets in training (run_qwen2.5-7b_score.sh's 3072 response tokens
#                                      less the 83-token instruction turn, split over two attempts)
#   CONCURRENCY       64               episodes in flight
#   ROLLOUT           sglang           sglang | vllm: which server (scripts/lib/rollout.sh)
#   SERVER_PYTHON     python           interpreter with that engine installed (it may live in its own venv);
#                                      SGLANG_PYTHON is still read
#   SERVER_ARGS       ""               extra server flags, e.g. "--mem-fraction-static 0.8" (SGLang) or
#                                      "--gpu-memory-utilization 0.8" (vLLM); SGLANG_ARGS is still read
#   HEALTH_TIMEOUT    900              seconds to wait for the server (weights load + CUDA graph capture)
# Dry run: VERL_SCORE_COMPOSE_ONLY=args prints the eval command, then the server command, as one JSON list per line,
# and exits (no GPU, no data needed).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/rollout.sh

if [[ $# -gt 0 && "$1" != -* ]]; then MODEL_PATH="$1"; shift; fi
if [[ $# -gt 0 && "$1" != -* ]]; then DATA="$1"; shift; fi
if [[ -z "${MODEL_PATH:-}" ]]; then
  echo "usage: bash scripts/eval_qwen2.5-7b_score.sh CHECKPOINT [PARQUET] [eval flags...]" \
       "(or MODEL_PATH=CHECKPOINT DATA=PARQUET bash scripts/eval_qwen2.5-7b_score.sh [eval flags...]);" \
       "CHECKPOINT is a Hugging Face directory" >&2
  exit 2
fi
DATA="${DATA:-$HOME/data/score_math/test.parquet}"
PORT="${PORT:-30000}"
HOST="${HOST:-127.0.0.1}"
TP="${TP:-1}"
SERVED_NAME="${SERVED_NAME:-qwen2.5-7b-score}"
MAX_TOKENS="${MAX_TOKENS:-}"
CONCURRENCY="${CONCURRENCY:-64}"
SERVER_PYTHON="${SERVER_PYTHON:-${SGLANG_PYTHON:-python}}"
SERVER_ARGS="${SERVER_ARGS:-${SGLANG_ARGS:-}}"
HEALTH_TIMEOUT="${HEALTH_TIMEOUT:-900}"
OUT_DIR="${OUT_DIR:-outputs/eval/$(basename "$MODEL_PATH")-$(basename "$DATA" .parquet)}"
BASE_URL="http://$HOST:$PORT"
rollout_server_cmd "$SERVER_PYTHON" "$MODEL_PATH" "$HOST" "$PORT" "$TP" "$SERVED_NAME"
# shellcheck disable=SC2206  # SERVER_ARGS is a list of flags
SERVER_CMD+=($SERVER_ARGS)
EVAL_CMD=(python -m verl_score.eval --data "$DATA" --base-url "$BASE_URL/v1" --model "$SERVED_NAME"
          ${MAX_TOKENS:+--max-tokens "$MAX_TOKENS"} --concurrency "$CONCURRENCY" --out-dir "$OUT_DIR" "$@")
if [[ "${VERL_SCORE_COMPOSE_ONLY:-0}" == args ]]; then
  python -c 'import json, sys; print(json.dumps(sys.argv[1:]))' "${EVAL_CMD[@]}"
  exec python -c 'import json, sys; print(json.dumps(sys.argv[1:]))' "${SERVER_CMD[@]}"
fi

[[ -f "$DATA" ]] || { echo "DATA=$DATA not found (make it with data_preprocess/convert_parquet.py)" >&2; exit 1; }
mkdir -p "$OUT_DIR"
SERVER_LOG="$OUT_DIR/${ROLLOUT}_server.log"

# The server runs in its own session (process group): stopping it means signalling the whole group, since SGLang's
# launcher leaves scheduler / detokenizer children behind on a plain kill of the parent (vLLM: engine core workers).
SERVER_PID=""
stop_server() {
  [[ -n "$SERVER_PID" ]] || return 0
  kill -TERM -- "-$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 1 60); do
    kill -0 -- "-$SERVER_PID" 2>/dev/null || break
    sleep 0.5
  done
  kill -KILL -- "-$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
  echo "server stopped"
}
trap stop_server EXIT
trap 'exit 130' INT TERM

echo "starting $ROLLOUT on $MODEL_PATH (port $PORT, tp $TP); log: $SERVER_LOG"
setsid "${SERVER_CMD[@]}" >"$SERVER_LOG" 2>&1 &
SERVER_PID=$!

# Ready = /health answers 200 AND one real generation works (health can be up before the first forward pass).
# A server started with --api-key needs the key: it is read from $VERL_SCORE_EVAL_API_KEY (the eval CLI's default
# --api-key-env) and handed to curl on stdin, never on its command line.
probe() {  # probe URL [JSON body]
  local auth=""
  [[ -n "${VERL_SCORE_EVAL_API_KEY:-}" ]] && auth="header = \"Authorization: Bearer $VERL_SCORE_EVAL_API_KEY\""
  if [[ $# -gt 1 ]]; then
    printf '%s\n' "$auth" | curl -sf -o /dev/null -K - -H 'Content-Type: application/json' -d "$2" "$1"
  else
    printf '%s\n' "$auth" | curl -sf -o /dev/null -K - "$1"
  fi
}
HELLO="{\"model\": \"$SERVED_NAME\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"max_tokens\": 1}"
ready=0
deadline=$((SECONDS + HEALTH_TIMEOUT))
while (( SECONDS < deadline )); do
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "$ROLLOUT server exited early; log tail:" >&2; tail -n 40 "$SERVER_LOG" >&2; exit 1
  fi
  if probe "$BASE_URL/health" && probe "$BASE_URL/v1/chat/completions" "$HELLO"; then
    ready=1; break
  fi
  sleep 2
done
if (( ! ready )); then
  echo "$ROLLOUT server not ready after ${HEALTH_TIMEOUT}s; log tail:" >&2; tail -n 40 "$SERVER_LOG" >&2; exit 1
fi
echo "server ready at $BASE_URL"

status=0
"${EVAL_CMD[@]}" || status=$?
if [[ -f "$OUT_DIR/samples.jsonl" ]]; then
  python -m verl_score.eval.plots eval --samples "$OUT_DIR/samples.jsonl" --out "$OUT_DIR/plots" || status=$?
fi
exit "$status"
