#!/usr/bin/env bash
# Twenty-fifth GPU call (2026-11-24): the issue's first SISO shape is (16, 4096, 640); the bench had
# used (16, 4096, 624) since its first commit. Both, default tiles, float32 and bfloat16, in one run:
# does D (rows of 2560 bytes, 128-byte aligned, against 2496, 64-byte aligned) change the picture?
set -uo pipefail
export LIMIT=150
c() { echo "{\"block_d\":128,\"chunk\":16,\"num_warps\":4,\"segments\":1,\"prefetch\":true${1:-}}"; }
for s in 16,4096,640 16,4096,624; do
  bash tools/gpu_sweep.sh d640 $s "[$(c),$(c ',"bf16":true'),{\"block_d\":128,\"chunk\":8,\"num_warps\":4,\"segments\":1,\"prefetch\":true}]"
done
