#!/usr/bin/env bash
# Eleventh GPU call (2026-11-23): in-kernel matmuls as three float16 products ("f16x3": each
# operand scaled by its largest magnitude, split in two float16 halves; "f16x3u": unscaled).
set -uo pipefail
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
V='[{"blocks":2},{"blocks":2,"precision":"f16x3"},{"blocks":2,"precision":"f16x3u"},{"precision":"f16x3"},
{"blocks":2,"precision":"f16x3","num_warps":2,"block_k":32},{"blocks":2,"precision":"f16x3","segments":2},
{"blocks":2,"precision":"f16x3","segments":8},{"blocks":1,"precision":"f16x3"},{"blocks":2,"precision":"BF16_BF16_F32_X3"}]'
timeout 400 python3 tools/gpu_mh_ablate.py 16,4096,8,64 7 "$V" 2>&1 | grep -v Warning | tee "$OUT/sweep.log"
