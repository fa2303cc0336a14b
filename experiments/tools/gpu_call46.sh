#!/usr/bin/env bash
# GPU call 46 (H100): what the complex-y rows of calls 34 and 45 measured. tools/gpu_mh_ablate.py
# returned complex y as complex64, so its times include XLA's merge of the kernel's two y planes
# (lax.complex, one more pass over 2 x 134 MB in and 268 MB out); the bench takes .real, which
# drops the merge. Here, in one run: complex y with and without the merge, at float16x3 and
# BF16x3 products, the merge alone, and the best tile options of call 34, kernel only.
set -uo pipefail
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
c='"complex_y": true'
v="[{$c}, {$c, \"out\": \"real\"}, {\"merge\": true}, {$c, \"precision\": \"BF16_BF16_F32_X3\"},
  {$c, \"out\": \"real\", \"precision\": \"BF16_BF16_F32_X3\"}, {$c, \"out\": \"real\", \"blocks\": 4, \"segments\": 8},
  {$c, \"out\": \"real\", \"segments\": 8}]"
timeout 420 python3 tools/gpu_mh_ablate.py 16,4096,8,64 7 "$v" 2>&1 | grep -v Warning | tee "$OUT/mh_complex_y3_h100.log"
