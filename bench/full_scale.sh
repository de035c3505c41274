#!/usr/bin/env bash
# The whole workflow at ELAsTiCC2 size on one GPU node, in one call (issue 13, item 4):
# 32 models x 40 chunk pairs x ~4,000 objects (5.1 M objects; the real set's per-model chunk sizes
# are not known here, so every model gets OBJECTS), mock -> convert -> tensorize -> train (1 GPU)
# -> calibrate -> evaluate -> plots, with --cores = the node's CPUs. Records wall, CPU and peak RSS
# per stage and job (Snakemake benchmark files), GPU memory (nvidia-smi every second), disk use,
# the dry-run time of the 2,597-job DAG and the learning-curve point; everything lands in
# bench/figures/ (and $OUT/ when set, for the device tool).
#
#   bash bench/full_scale.sh                      # full size, GPU node (~10 min on 16 cores + H100/H200)
#   CHUNKS=4 OBJECTS=100 EPOCHS=1 GPUS=0 NAME=cpu_test bash bench/full_scale.sh   # CPU test, small
#   KEEP=1 bash bench/full_scale.sh               # continue a run cut short (same WORKDIR): only what is missing
#
# Knobs (environment): CHUNKS (40), OBJECTS (4000 per chunk), EPOCHS (8: an epoch of the capped
# training set, <= 40,000 per leaf, takes ~10-20 s on an H100/H200), GPUS (1), CORES ($(nproc)),
# WORKDIR (/tmp/elasticc_full: needs ~40 GB free at full size), NAME (gpu_full), REF (worktree: the
# files as they are; a git ref such as HEAD runs that commit), PY (the Python with the package and
# Snakemake: .venv/bin/python if present, else python3).
set -euo pipefail
cd "$(dirname "$0")/.."

CHUNKS=${CHUNKS:-40}
OBJECTS=${OBJECTS:-4000}
EPOCHS=${EPOCHS:-8}
GPUS=${GPUS:-1}
CORES=${CORES:-$(nproc)}
WORKDIR=${WORKDIR:-/tmp/elasticc_full}
NAME=${NAME:-gpu_full}
REF=${REF:-worktree}
PY=${PY:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}
FIG=bench/figures
mkdir -p "$WORKDIR" "$FIG"
LOG="$FIG/scale_${NAME}.log"
exec > >(tee "$LOG") 2>&1

echo "== $(date -u +%FT%TZ) host $(hostname), $CORES cores, $(free -g | awk '/Mem/{print $2}') GiB RAM, commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "== layout: 32 models x $CHUNKS chunks x $OBJECTS objects per chunk, $EPOCHS epochs, train.gpus $GPUS"
df -h "$WORKDIR" | tail -1

GPULOG="$WORKDIR/gpu_memory.csv"
SMI_PID=""
if [ "$GPUS" -gt 0 ] && command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
    nvidia-smi --query-gpu=timestamp,memory.used,utilization.gpu --format=csv,noheader,nounits -l 1 >"$GPULOG" &
    SMI_PID=$!
fi
cleanup() { [ -n "$SMI_PID" ] && kill "$SMI_PID" 2>/dev/null || true; }
trap cleanup EXIT

# 1. the DAG of the full layout (dry run), local and with the SLURM profile
"$PY" bench/scale.py dag --chunks "$CHUNKS" --cores "$CORES" --workdir "$WORKDIR" --ref "$REF" --name "$NAME"

# 2. the run itself (one size); stage table, exponents need >= 2 sizes (see bench/scale.py sizes)
KEEP_ARG=()
[ -n "${KEEP:-}" ] && KEEP_ARG=(--keep)
"$PY" bench/scale.py sizes --objects "$OBJECTS" --chunks "$CHUNKS" --cores "$CORES" --gpus "$GPUS" \
    --max-epochs "$EPOCHS" --workdir "$WORKDIR" --name "$NAME" --ref "$REF" --plots "$FIG" "${KEEP_ARG[@]}"

cleanup
if [ -s "$GPULOG" ]; then
    awk -F', ' '{if ($2 > m) m = $2; if ($3 > 0) {u += $3; n++}} END {printf "GPU memory peak %d MiB (nvidia-smi, whole device); mean utilisation while busy %.0f %%\n", m, (n ? u / n : 0)}' "$GPULOG"
    cp "$GPULOG" "$FIG/scale_${NAME}_gpu_memory.csv"
fi
grep -h "GPU\|cuda\|precision" "$WORKDIR/results_${CHUNKS}x${OBJECTS}/logs/train.log" | head -5 || true
du -sh "$WORKDIR/results_${CHUNKS}x${OBJECTS}"/* 2>/dev/null || true
if [ -n "${OUT:-}" ]; then cp "$FIG"/scale_"${NAME}"* "$FIG"/*_"${NAME}".png "$OUT"/ 2>/dev/null || true; fi
echo "== done $(date -u +%FT%TZ)"
