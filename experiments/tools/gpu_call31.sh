#!/usr/bin/env bash
# Thirty-first GPU call (2026-11-24): the SISO part of the bench after call 30, with the TMA forward
# (gl/pallas_tma.py) as the default on a Hopper GPU where it runs (one pass, D a multiple of 128)
# and the same run's Triton kernels beside it.
set -uo pipefail
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
export GL_BENCH_LOOKBACK='{"T": 16, "block_d": 64, "window": 8}'
timeout 570 python3 -m gl.bench --shapes "16,4096,640;8,65536,64;32,2048,1024" --repeats 7 \
  --json "$OUT/gpu_siso.json" 2>&1 | grep -v Warning | tee "$OUT/bench_siso.log"
