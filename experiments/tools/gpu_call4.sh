#!/usr/bin/env bash
# Fourth GPU call (2026-11-23): the look-back scan; the chunked mode's matmul precisions; fp32/bf16 chunk sizes at (16, 4096, 624).
set -uo pipefail
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
timeout 200 python3 tools/gpu_lookback.py "8,65536,64;16,4096,624;32,2048,1024" \
  '[{"T":16,"block_d":64,"window":8},{"T":32,"block_d":64,"window":8},{"T":16,"block_d":32,"window":16},{"T":16,"block_d":64,"window":8,"bf16":true}]' 5 \
  2>&1 | tee "$OUT/lookback.log"
timeout 120 python3 tools/gpu_mh.py 16,4096,8,64 5 2>&1 | tee "$OUT/mh_precision.log"
LIMIT=130 bash tools/gpu_sweep.sh sweep6 16,4096,624 '[{"block_d":128,"segments":1,"num_warps":4,"chunk":8},
 {"block_d":128,"segments":1,"num_warps":4,"chunk":16}, {"block_d":64,"segments":1,"num_warps":2,"chunk":16},
 {"block_d":256,"segments":1,"num_warps":8,"chunk":16,"bf16":true}, {"block_d":128,"segments":1,"num_warps":4,"chunk":16,"bf16":true}]'
