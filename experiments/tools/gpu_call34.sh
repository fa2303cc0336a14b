#!/usr/bin/env bash
# GPU call 34 (H100): the fused multi-head kernel with complex y (goal 3 missed at 9.69x): its
# tile options swept (blocks, segments, warps, block_v) next to the default Re-y kernel and the
# associative scan over batch slices, in one run (tools/gpu_mh_ablate.py).
set -uo pipefail
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
c='"complex_y": true'
timeout 500 python3 tools/gpu_mh_ablate.py 16,4096,8,64 5 "[{$c}, {$c, \"blocks\": 1}, {$c, \"blocks\": 4},
  {$c, \"segments\": 2}, {$c, \"segments\": 8}, {$c, \"num_warps\": 8}, {$c, \"num_warps\": 8, \"segments\": 2},
  {$c, \"block_v\": 32}, {$c, \"blocks\": 1, \"segments\": 8}, {$c, \"blocks\": 4, \"segments\": 8}]" \
  2>&1 | grep -v Warning | tee "$OUT/mh_complex_y_h100.log"
