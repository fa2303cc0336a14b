#!/usr/bin/env bash
# GPU call 50 (H100), two runs: (1) the compiled multi-head kernels against the complex128 loop
# with the new defaults (segments 2 and split summaries at the bench shape; tools/gpu_mh_check.py),
# (2) the multi-head part of the bench with them (as call 18), merged into gpu.json with call 31.
# Usage: tools/gpu_call50.sh check | bench
set -uo pipefail
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
if [ "$1" = check ]; then
  timeout 560 python3 tools/gpu_mh_check.py 2>&1 | grep -v Warning | tee "$OUT/mh_check_split_h100.log"
else
  timeout 560 python3 -m gl.bench --shapes "" --mh "16,4096,8,64" --repeats 5 --json "$OUT/gpu_mh.json" 2>&1 \
    | grep -v Warning | tee "$OUT/bench_mh.log"
fi
