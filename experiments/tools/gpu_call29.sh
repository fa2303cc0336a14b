#!/usr/bin/env bash
# Twenty-ninth GPU call (2026-11-24): the SISO part of the bench again (as call 26) after call 28
# dropped the load/store masks where the tiles fit exactly (one pass below 32768 channels, and segments).
set -uo pipefail
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
export GL_BENCH_LOOKBACK='{"T": 16, "block_d": 64, "window": 8}'
timeout 570 python3 -m gl.bench --shapes "16,4096,640;8,65536,64;32,2048,1024" --repeats 7 \
  --json "$OUT/gpu_siso.json" 2>&1 | grep -v Warning | tee "$OUT/bench_siso.log"
