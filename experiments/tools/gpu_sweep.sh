#!/usr/bin/env bash
# Tile sweep of the Pallas SISO kernels on a GPU (forward fp32/bf16 and forward+backward), one
# shape per process, each under its own time limit (LIMIT seconds). Results and logs go to $OUT.
# Usage: OUT=dir bash tools/gpu_sweep.sh TAG SHAPE CONFIGS_JSON [SHAPE CONFIGS_JSON ...]
set -uo pipefail
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
tag=$1; shift
while [ $# -ge 2 ]; do
  timeout "${LIMIT:-280}" python3 -m gl.bench --variants --repeats 5 --shapes "$1" --configs "$2" \
    --json "$OUT/${tag}_${1//,/x}.json" 2>&1 | tee -a "$OUT/$tag.log"
  shift 2
done
nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,temperature.gpu,power.draw --format=csv | tee -a "$OUT/$tag.log"
