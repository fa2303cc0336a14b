#!/usr/bin/env bash
# GPU call 51 (H100): gl.pallas_chunked.plan (segments and summary parts by the count of step
# times, item 22) against the rule it replaced (segments until 512 programs, no parts) at four
# other multi-head shapes (B, L, H, d): per shape, the kernel with plan's choice (the default)
# and with the old rule's segments, interleaved with the associative scan (tools/gpu_mh_ablate.py).
set -uo pipefail
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
for spec in "4,16384,8,64 16" "32,4096,8,64 2" "8,2048,8,64 8" "16,4096,4,128 4"; do
  set -- $spec
  python3 -c "from gl.pallas_chunked import plan; B, L, H, d = $1; print('shape', ($1), 'plan', plan(B, H, max(d // 64, 1), L), 'old rule: segments', $2)"
  timeout 150 python3 tools/gpu_mh_ablate.py "$1" 5 "[{\"segments\": $2, \"split\": 1}]" 2>&1 | grep -v Warning
done | tee "$OUT/mh_plan_h100.log"
