#!/usr/bin/env bash
# GPU call 32 (H100): with the TMA forward as the Hopper default, the GPU-relevant test files on
# the GPU itself (the kernels compiled, not interpreted, wherever a test does not ask for the
# interpreter), then goal 4 at (16, 4096, 640) again in two separate processes (defaults =
# TMA, and the Triton kernels), to see how much the 1.61 of call 31 moves between runs.
set -uo pipefail
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
timeout 300 python3 -m pytest -q -p no:cacheprovider -x tests/test_pallas_tma.py tests/test_auto.py \
  tests/test_operator.py tests/test_model.py 2>&1 | tail -8 | tee "$OUT/gpu_tests.log"
cfg='[{}, {"bf16": true}, {"backend": "triton"}, {"backend": "triton", "bf16": true}]'
for run in 1 2; do
  timeout 120 python3 -m gl.bench --variants --repeats 7 --shapes "16,4096,640" --configs "$cfg" \
    --json "$OUT/g4_run$run.json" 2>&1 | grep -v "^    compiled" | tee -a "$OUT/g4_h100.log"
done
