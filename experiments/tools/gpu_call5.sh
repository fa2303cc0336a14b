#!/usr/bin/env bash
# Fifth GPU call (2026-11-23): check and time the look-back scan; if it passed, the bench times it
# too (GL_BENCH_LOOKBACK); then the SISO part of the final bench (the multi-head part: gpu_call6.sh).
set -uo pipefail
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
timeout 130 python3 tools/gpu_lookback.py "8,65536,64;16,4096,624;32,2048,1024" \
  '[{"T":16,"block_d":64,"window":8},{"T":16,"block_d":32,"window":16},{"T":8,"block_d":64,"window":8}]' 5 \
  2>&1 | tee "$OUT/lookback.log"
best=$(grep '^BEST ' "$OUT/lookback.log" | cut -c6-)
export GL_BENCH_LOOKBACK="$best"
timeout 430 python3 -m gl.bench --shapes "16,4096,624;8,65536,64;32,2048,1024" --repeats 7 \
  --json "$OUT/gpu_siso.json" 2>&1 | tee "$OUT/bench_siso.log"
timeout 90 python3 tools/gpu_mh.py 16,4096,8,64 3 2>&1 | tee "$OUT/mh_check.log"
