#!/usr/bin/env bash
# GPU call 45 (H100): where complex y's extra time goes in the fused multi-head kernel. Call 44
# found three real matmuls per complex product (gauss) no faster than four, so the matmuls are
# not the cost; here each stage is left out (ablate; wrong results, differences only) of the
# Re-y kernel and of the complex-y kernel (four products, gauss false) in one run, with complex y
# at BF16x3 products beside them (tools/gpu_mh_ablate.py).
# Runs at commit 9db1b1a only: the gauss option was dropped after calls 44-45 (bench notes, item 19).
set -uo pipefail
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
c='"complex_y": true, "gauss": false'
v="[{\"ablate\": [\"steps\"]}, {\"ablate\": [\"cross\"]}, {\"ablate\": [\"y\"]}, {\"ablate\": [\"state\"]},
  {$c}, {\"complex_y\": true}, {$c, \"ablate\": [\"steps\"]}, {$c, \"ablate\": [\"cross\"]}, {$c, \"ablate\": [\"y\"]},
  {$c, \"ablate\": [\"state\"]}, {$c, \"precision\": \"BF16_BF16_F32_X3\"}, {\"precision\": \"BF16_BF16_F32_X3\"}]"
timeout 420 python3 tools/gpu_mh_ablate.py 16,4096,8,64 7 "$v" 2>&1 | grep -v Warning | tee "$OUT/mh_complex_y2_h100.log"
