#!/usr/bin/env bash
# Twenty-sixth GPU call (2026-11-24): the SISO part of the bench at the shapes
# ((16, 4096, 640) in place of (16, 4096, 624)) with the bfloat16 tiles of calls 23-24.
set -uo pipefail
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
export GL_BENCH_LOOKBACK='{"T": 16, "block_d": 64, "window": 8}'
timeout 570 python3 -m gl.bench --shapes "16,4096,640;8,65536,64;32,2048,1024" --repeats 7 \
  --json "$OUT/gpu_siso.json" 2>&1 | grep -v Warning | tee "$OUT/bench_siso.log"
