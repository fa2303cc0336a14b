#!/usr/bin/env bash
# Seventeenth GPU call (2026-11-24): the SISO part of the bench again, now that gate_loop rows
# ask for Re y with real=True (the kernels skip Im y); look-back config as in call 5.
set -uo pipefail
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
export GL_BENCH_LOOKBACK='{"T": 16, "block_d": 64, "window": 8}'
timeout 560 python3 -m gl.bench --shapes "16,4096,624;8,65536,64;32,2048,1024" --repeats 7 \
  --json "$OUT/gpu_siso.json" 2>&1 | grep -v Warning | tee "$OUT/bench_siso.log"
