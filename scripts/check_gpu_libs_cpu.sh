#!/usr/bin/env bash
# Does our code run on the GPU set's library versions? CI runs the CPU set (transformers 5.10.4, numpy 2.4.6, ...);
# the GPU sets pin others (sglang: transformers 5.8.1, numpy 2.3.5, openai 2.6.1, ...). This builds a second CPU
# virtualenv = the CPU lock with every library the GPU set also has moved to the GPU set's version, then runs the unit
# suite (everything not marked integration) and one short CPU `main_ppo` (SCoRe Stage I + Stage II + validation,
# tests/training/test_score_behaviour.py::test_stage_schedule_and_metrics_end_to_end) in it. Too slow for CI (figures in README, "On a GPU cluster"); run it after
# changing a pin:
#
#   bash scripts/check_gpu_libs_cpu.sh            # ENGINE=sglang (default) | vllm; VENV=.venv-gpulibs
#   RUN_PREFIX=/work/heavy bash scripts/...      # RUN_PREFIX: a command prefix for the two test runs only (a job-slot
#                                                # wrapper on a shared machine); set-up runs outside it
#
# Stays on the CPU set: torch (PyPI has no CPU build of the GPU sets' torch 2.11.0, only CUDA wheels; 2.13.0 is the
# tested CPU build) and torchcodec (built against one torch). Extra arguments go to the unit-suite pytest.
# Exit status: pytest's; 3 when the package index cannot be reached (nothing was checked).
set -euo pipefail
cd "$(dirname "$0")/.."
ENGINE="${ENGINE:-sglang}"
VENV="${VENV:-.venv-gpulibs}"
WORK="$VENV/gpu-libs-$ENGINE"
T0=$SECONDS
lap() { echo "[gpu-libs] $1: $((SECONDS - T0)) s since start"; }

[[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
# shellcheck disable=SC1091
source "$VENV/bin/activate"
pip_q() {  # quiet pip, minus this machine's noise about missing local index folders; failures still fail
  local log rc=0
  log=$(pip install -q --disable-pip-version-check "$@" 2>&1) || rc=$?
  grep -vE "^WARNING: Location .* is ignored" <<<"$log" || true
  return "$rc"
}
pip_q -U "pip>=24.1"

# 1. The GPU set, as the README's command resolves it today (pip's dry run; nothing installed).
mkdir -p "$WORK"
rc=0; python scripts/check_gpu_install.py "$ENGINE" --out "$WORK" || rc=$?
if [[ $rc == 3 ]]; then echo "[gpu-libs] SKIP: package index unreachable, nothing checked" >&2; exit 3; fi
[[ $rc == 0 ]] || exit "$rc"
lap "resolved"

# 2. requirements.lock with the GPU set's versions of every library both sets contain.
python - "$WORK/$ENGINE.json" requirements.lock "$WORK/requirements.lock" <<'PY'
import json, re, sys
report, lock, out = sys.argv[1:]
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
gpu = {norm(i["metadata"]["name"]): i["metadata"]["version"] for i in json.load(open(report))["install"]}
keep_cpu = {"torch", "torchcodec"}  # no CPU build of the GPU torch on PyPI; torchcodec is built against one torch
lines, moved = [], []
for line in open(lock):
    m = re.match(r"([A-Za-z0-9_.\-]+)(\[[^\]]*\])?==(\S+)", line)
    if m and norm(m[1]) in gpu and gpu[norm(m[1])] != m[3] and norm(m[1]) not in keep_cpu:
        moved.append(f"{m[1]} {m[3]} -> {gpu[norm(m[1])]}")
        line = f"{m[1]}{m[2] or ''}=={gpu[norm(m[1])]}\n"
    lines.append(line)
open(out, "w").writelines(lines)
print("[gpu-libs] moved to the GPU set's version:", "; ".join(moved) or "nothing")
PY

# 3. Install it like scripts/setup.sh does (CPU torch first, then everything pinned, no resolution).
pip_q torch==2.13.0
pip_q -c constraints.txt --no-deps -r "$WORK/requirements.lock"
pip_q --no-deps -r requirements-assets.txt
pip_q --no-deps --no-build-isolation -e .
pip check || echo "[gpu-libs] (pip check above: the CPU-only extras' own pins against the GPU set's versions)"
python -c "import importlib.metadata as m; print('[gpu-libs] installed:', *(f'{p} {m.version(p)}' for p in
  ('torch', 'transformers', 'numpy', 'openai', 'verl', 'tokenizers')))"
lap "installed"

# 4. The offline assets built with this transformers, in their own cache (the CPU venv's stay untouched).
export VERL_SCORE_CACHE="$PWD/$VENV/verl-score-cache"
python -m verl_score.assets build
lap "assets built"

# 5. Unit suite, then one short CPU main_ppo.
export VERL_SCORE_CPU_THREADS="${VERL_SCORE_CPU_THREADS:-1}" PYTHONPATH="$PWD"
status=0
# shellcheck disable=SC2086  # RUN_PREFIX is a command prefix
${RUN_PREFIX:-} python -m pytest -q -p no:cacheprovider -m "not integration" --durations=5 "$@" tests || status=$?
lap "unit suite done (exit $status)"
# shellcheck disable=SC2086
${RUN_PREFIX:-} python -m pytest -q -p no:cacheprovider \
  tests/training/test_score_behaviour.py::test_stage_schedule_and_metrics_end_to_end || status=$?
lap "main_ppo done"
exit "$status"
