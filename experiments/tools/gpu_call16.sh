#!/usr/bin/env bash
# Sixteenth GPU call (2026-11-24): (16, 4096, 624) only (call 15 ran out of time compiling it):
# narrower channel blocks (more, smaller programs: 320 or 624 instead of 80 on 132
# Run at commit 17b5861 (prefetch as a depth); since removed, "prefetch": 2 now means True (1).
# multiprocessors) and a prefetch depth of 2, float32 and bfloat16.
set -uo pipefail
export LIMIT=280
c() { echo "{\"block_d\":$1,\"chunk\":16,\"segments\":1,\"num_warps\":$2,\"prefetch\":$3${4:-}}"; }
bash tools/gpu_sweep.sh narrow 16,4096,624 "[$(c 128 4 1),$(c 32 1 1),$(c 16 1 1),$(c 64 2 1),$(c 32 1 2),$(c 128 4 2),$(c 128 4 1 ',"bf16":true'),$(c 32 1 1 ',"bf16":true'),$(c 16 1 1 ',"bf16":true')]"
