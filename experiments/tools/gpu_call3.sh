#!/usr/bin/env bash
# Third GPU call (2026-11-23): the look-back scan, then a tile sweep of chunk sizes and bfloat16.
set -uo pipefail
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
timeout 200 python3 tools/gpu_lookback.py "8,65536,64;16,4096,624;32,2048,1024" \
  '[{"T":16,"block_d":64,"window":8},{"T":32,"block_d":64,"window":8},{"T":16,"block_d":32,"window":16},{"T":16,"block_d":64,"window":8,"bf16":true}]' 5 \
  2>&1 | tee "$OUT/lookback.log"
LIMIT=150 bash tools/gpu_sweep.sh sweep5 16,4096,624 '[{"block_d":128,"segments":1,"num_warps":4,"chunk":16},
 {"block_d":64,"segments":1,"num_warps":2,"chunk":16}, {"block_d":64,"segments":1,"num_warps":2,"chunk":32},
 {"block_d":32,"segments":1,"num_warps":1,"chunk":32}, {"block_d":256,"segments":1,"num_warps":8,"chunk":16,"bf16":true},
 {"block_d":128,"segments":1,"num_warps":4,"chunk":32,"bf16":true}]' \
 32,2048,1024 '[{"block_d":512,"segments":1,"num_warps":8,"chunk":8,"bf16":true},
 {"block_d":256,"segments":1,"num_warps":4,"chunk":16,"bf16":true}, {"block_d":128,"segments":1,"num_warps":4,"chunk":16}]'
timeout 230 python3 -m gl.bench --shapes "" --mh "16,4096,8,64" --repeats 3 --json "$OUT/mh.json" 2>&1 | tee "$OUT/mh.log"
