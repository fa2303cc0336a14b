#!/usr/bin/env bash
# Ninth GPU call (2026-11-23): the scores kept transposed (st: a step's new scores land in the
# layout its row sums come in), with 1-8 sub-blocks; Nsight Compute on the transposed kernel.
set -uo pipefail
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
V='[{"st":true},{"st":true,"blocks":2},{"st":true,"blocks":1},{"st":true,"blocks":8},{"blocks":2},
{"st":true,"segments":8},{"st":true,"blocks":2,"segments":8},
{"st":true,"precision":"BF16_BF16_F32_X3"},{"st":true,"blocks":2,"precision":"BF16_BF16_F32_X3"}]'
timeout 330 python3 tools/gpu_mh_ablate.py 16,4096,8,64 7 "$V" 2>&1 | grep -v Warning | tee "$OUT/sweep.log"
bash tools/gpu_mh_ncu.sh '{"st":true}' "$OUT/ncu_st.txt"
