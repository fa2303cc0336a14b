#!/usr/bin/env bash
# GPU call 44 (H100): complex y of the fused multi-head kernel with its complex products from
# three real matmuls (Gauss; `gauss` option of gl.pallas_chunked._forward, the new default)
# against four, next to the Re-y kernel and the associative scan (tools/gpu_mh_ablate.py); then
# the multi-head part of the bench (goal 3) again, to be merged into gl/assets/bench/gpu.json.
# Runs at commit 9db1b1a only: the gauss option was dropped after calls 44-45 (bench notes, item 19).
set -uo pipefail
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
c='"complex_y": true'
timeout 240 python3 tools/gpu_mh_ablate.py 16,4096,8,64 7 "[{$c}, {$c, \"gauss\": false},
  {$c, \"blocks\": 4, \"segments\": 8}, {$c, \"blocks\": 4, \"segments\": 8, \"gauss\": false}]" \
  2>&1 | grep -v Warning | tee "$OUT/mh_gauss_h100.log"
timeout 330 python3 -m gl.bench --shapes "" --mh 16,4096,8,64 --repeats 5 --json "$OUT/gpu_mh.json" \
  2>&1 | grep -v Warning | tee "$OUT/bench_mh.log"
