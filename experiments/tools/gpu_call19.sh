#!/usr/bin/env bash
# Nineteenth GPU call (2026-11-24): the look-back scan with long tiles walked twice (the second
# walk reading the tile again, from L2 while it is there: `chunk` option), checked twice and timed
# next to the two-kernel scan, the listing and the copy.
set -uo pipefail
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
timeout 290 python3 tools/gpu_lookback.py "8,65536,64;16,4096,624;32,2048,1024" \
  '[{"T":128,"chunk":8,"block_d":64,"window":8},{"T":256,"chunk":8,"block_d":64,"window":8},{"T":256,"chunk":16,"block_d":64,"window":8},{"T":512,"chunk":8,"block_d":32,"window":8},{"T":128,"chunk":8,"block_d":32,"window":8},{"T":256,"chunk":8,"block_d":128,"window":8},{"T":256,"chunk":8,"block_d":64,"window":8,"bf16":true}]' 5 \
  2>&1 | grep -v Warning | tee "$OUT/lookback2.log"
