#!/usr/bin/env bash
# Every GPU check and benchmark of the project, in one go (about 2 minutes on an H100 or H200; the
# timeouts below cap it at 7, prediction included).
#
#   bash bench/gpu_check.sh            # from anywhere; figures also go to $OUT/gpu_figures.txt when OUT is set
#
# On a machine without CUDA it runs a short CPU throughput measurement and skips the GPU parts,
# saying so. Python: the repository's .venv when it works (torch, lightning, pyarrow, yaml),
# else python3; the package is used from src/ (no install needed). Every figure is printed on
# a line starting with FIGURE.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
FIG=""
if [ -n "${OUT:-}" ]; then
    mkdir -p "$OUT"
    FIG="$OUT/gpu_figures.txt"
    : >"$FIG"
fi
export PYTHONPATH="$ROOT/src${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1

figure() {  # figure LINE: print it and keep it
    echo "FIGURE $*"
    if [ -n "$FIG" ]; then echo "$*" >>"$FIG"; fi
}

# --- which python -------------------------------------------------------------------------
NEEDS="import torch, lightning, numpy, pyarrow, yaml"
PY=""
for cand in "$ROOT/.venv/bin/python" python3 python; do  # first one with CUDA, else first that works
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c "$NEEDS; assert torch.cuda.is_available()" >/dev/null 2>&1; then
        PY=$cand; break
    fi
done
if [ -z "$PY" ]; then
    for cand in "$ROOT/.venv/bin/python" python3 python; do
        if command -v "$cand" >/dev/null 2>&1 && "$cand" -c "$NEEDS" >/dev/null 2>&1; then PY=$cand; break; fi
    done
fi
if [ -z "$PY" ]; then
    echo "no python with torch, lightning, numpy, pyarrow and yaml found (tried .venv/bin/python, python3, python)" >&2
    exit 1
fi
read -r TORCH_VERSION HAS_CUDA < <("$PY" -c "import torch; print(torch.__version__, int(torch.cuda.is_available()))")
echo "== python: $PY, torch $TORCH_VERSION, cuda $HAS_CUDA"
command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L
figure "gpu_check python=$PY torch=$TORCH_VERSION cuda=$HAS_CUDA host=$(hostname)"
FIGARG=()
if [ -n "$FIG" ]; then FIGARG=(--figures "$FIG"); fi
START=$SECONDS

# --- training throughput (issue 5) -------------------------------------------------------
if [ "$HAS_CUDA" = 1 ]; then
    echo "== training throughput on the GPU (bench/train_throughput.py)"
    timeout 240 "$PY" bench/train_throughput.py --device cuda --scenarios elasticc uniform500 \
        --objects 150000 --steps 120 --warmup 20 \
        --variants 32-true:auto 32-true:auto:mp25 32-true:pack bf16-mixed:auto bf16-mixed:auto:mp25 bf16-mixed:auto:rnn16 "${FIGARG[@]}" \
        || figure "train_throughput FAILED or timed out (exit $?)"
else
    echo "SKIP GPU training throughput: no CUDA device; a short CPU measurement instead"
    timeout 300 "$PY" bench/train_throughput.py --device cpu --threads 1 --scenarios fixed100 \
        --objects 1500 --steps 2 --warmup 1 --batch-size 256 "${FIGARG[@]}" \
        || figure "train_throughput (cpu) FAILED or timed out (exit $?)"
fi

# --- GPU tests ------------------------------------------------------------------------------
if [ "$HAS_CUDA" = 1 ]; then
    echo "== GPU tests"
    if "$PY" -c "import pytest" >/dev/null 2>&1; then
        timeout 120 "$PY" -m pytest -q -p no:cacheprovider -p no:warnings workflow_tests/test_model.py workflow_tests/test_train.py -k "cuda or gpu"
        figure "gpu_tests test_model+test_train -k cuda/gpu exit=$?"
    else
        figure "gpu_tests SKIPPED: pytest missing"
    fi
else
    echo "SKIP GPU tests: no CUDA device"
fi

# --- prediction throughput (added by the prediction stage) ---------------------------------
[ "$HAS_CUDA" = 1 ] && { echo "== prediction latency and throughput on the GPU (bench/predict.py)"; timeout 60 "$PY" bench/predict.py --device cuda --calls 200 --rounds 10 "${FIGARG[@]}" || figure "predict (cuda) FAILED or timed out (exit $?)"; }

echo "== gpu_check done in $((SECONDS - START)) s"
if [ -n "$FIG" ]; then echo "figures written to $FIG"; fi
