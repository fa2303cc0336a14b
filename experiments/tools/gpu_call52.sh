#!/usr/bin/env bash
# GPU call 52 (H100): the two-kernel SISO scan window by window in time at (8, 65536, 64), so that
# the outputs kernel could read k, v, a from L2 (tools/window_probe.py, bench notes item 23).
set -uo pipefail
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
timeout 500 python3 tools/window_probe.py 8,65536,64 \
  '[[1024, 8], [1024, 16], [2048, 8], [2048, 16], [2048, 32], [4096, 16], [4096, 32], [8192, 32], [8192, 64]]' 7 \
  2>&1 | grep -v Warning | tee "$OUT/window_h100.log"
