#!/usr/bin/env bash
# Tenth GPU call (2026-11-23): programs that own a block of d_k channels (block_k; partial
# outputs summed), to cut registers per thread; Nsight Compute on block_k = 32.
set -uo pipefail
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
V='[{"blocks":2},{"block_k":32},{"block_k":32,"blocks":2},{"block_k":32,"segments":2},{"block_k":32,"blocks":2,"segments":2},
{"block_k":32,"num_warps":2},{"block_k":32,"blocks":2,"num_warps":2},{"block_k":16},{"block_k":16,"blocks":2,"segments":2},
{"block_k":32,"st":true},{"block_k":32,"precision":"BF16_BF16_F32_X3"}]'
timeout 330 python3 tools/gpu_mh_ablate.py 16,4096,8,64 7 "$V" 2>&1 | grep -v Warning | tee "$OUT/sweep.log"
bash tools/gpu_mh_ncu.sh '{"block_k":32}' "$OUT/ncu_bk32.txt"
