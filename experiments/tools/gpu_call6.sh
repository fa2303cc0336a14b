#!/usr/bin/env bash
# Sixth GPU call (2026-11-23): check the compiled fused multi-head kernels, then the multi-head
# part of the bench with them (merged into gpu.json with the SISO run of gpu_call5.sh).
set -uo pipefail
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
timeout 200 python3 tools/gpu_mh_check.py 2>&1 | grep -v Warning | tee "$OUT/mh_check2.log"
# (this part ran in the first try of this call; the check above was then rerun alone)
timeout 330 python3 -m gl.bench --shapes "" --mh "16,4096,8,64" --repeats 5 --json "$OUT/gpu_mh.json" 2>&1 \
  | grep -v Warning | tee "$OUT/bench_mh.log"
