#!/usr/bin/env bash
# Eighteenth GPU call (2026-11-24): the multi-head part of the bench with gate_loop(real=True)
# (Re y from the fused kernels) and the complex-y kernel row beside it; merged with call 17.
set -uo pipefail
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
timeout 500 python3 -m gl.bench --shapes "" --mh "16,4096,8,64" --repeats 5 --json "$OUT/gpu_mh.json" 2>&1 \
  | grep -v Warning | tee "$OUT/bench_mh.log"
