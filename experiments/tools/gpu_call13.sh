#!/usr/bin/env bash
# Thirteenth GPU call (2026-11-23): the compiled fused kernels checked with the new defaults
# ("f16x3", 2 sub-blocks), then the multi-head part of the bench (merged into gpu.json).
set -uo pipefail
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
timeout 200 python3 tools/gpu_mh_check.py 2>&1 | grep -v Warning | tee "$OUT/mh_check3.log"
timeout 330 python3 -m gl.bench --shapes "" --mh "16,4096,8,64" --repeats 5 --json "$OUT/gpu_mh.json" 2>&1 \
  | grep -v Warning | tee "$OUT/bench_mh.log"
