#!/usr/bin/env bash
# Twelfth GPU call (2026-11-23): "f16x3" with per-chunk scales (k, v, q ⊙ P, S, h each divided by
# its largest magnitude once per chunk), sub-blocks, transposed scores (scores_t) fixed.
set -uo pipefail
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
V='[{"blocks":2},{"blocks":2,"scores_t":true},{"scores_t":true},{"blocks":2,"precision":"f16x3"},{"blocks":2,"precision":"f16x3","scores_t":true},
{"precision":"f16x3"},{"precision":"f16x3","scores_t":true},{"blocks":2,"precision":"f16x3u"},{"blocks":2,"precision":"f16x3","segments":8},
{"blocks":2,"precision":"f16x3","block_k":32}]'
timeout 400 python3 tools/gpu_mh_ablate.py 16,4096,8,64 7 "$V" 2>&1 | grep -v Warning | tee "$OUT/sweep.log"
