#!/usr/bin/env bash
# Fourteenth GPU call (2026-11-24): after removing the options that lost (scores_t, block_k,
# num_stages, f16x3u), the compiled kernels checked again and the default timed once more.
set -uo pipefail
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
timeout 200 python3 tools/gpu_mh_check.py 2>&1 | grep -v Warning | tee "$OUT/mh_check4.log"
timeout 200 python3 tools/gpu_mh_ablate.py 16,4096,8,64 5 '[{"precision":"TF32_TF32_F32_X3"}]' 2>&1 | grep -v Warning | tee "$OUT/sweep.log"
