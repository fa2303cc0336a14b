#!/usr/bin/env bash
# Fifteenth GPU call (2026-11-24): the SISO forward with 1-4 chunks loaded ahead (prefetch depth),
# float32 and bfloat16, at the three bench shapes, next to the listing and the copy (one run per shape).
# The prefetch depth (an int) existed only for this call and call 16 (commit 17b5861); it lost
# (gl/assets/bench/NOTES.md item 10) and was removed: prefetch is a bool again.
set -uo pipefail
export LIMIT=190
A='{"block_d":128,"chunk":16,"segments":1,"num_warps":4'
B='{"block_d":256,"chunk":16,"segments":1,"num_warps":8'
S='{"block_d":64,"chunk":8,"segments":128,"num_warps":2'
bash tools/gpu_sweep.sh prefetch 16,4096,624 "[$A,\"prefetch\":1},$A,\"prefetch\":2},$A,\"prefetch\":3},{\"block_d\":128,\"chunk\":8,\"segments\":1,\"num_warps\":4,\"prefetch\":4},$A,\"prefetch\":1,\"bf16\":true},$A,\"prefetch\":2,\"bf16\":true},$A,\"prefetch\":3,\"bf16\":true},$B,\"prefetch\":2,\"bf16\":true}]" \
  8,65536,64 "[$S,\"prefetch\":1},$S,\"prefetch\":2},$S,\"prefetch\":4},{\"block_d\":64,\"chunk\":16,\"segments\":128,\"num_warps\":2,\"prefetch\":2},$S,\"prefetch\":1,\"bf16\":true},$S,\"prefetch\":2,\"bf16\":true}]" \
  32,2048,1024 "[$A,\"prefetch\":1},$A,\"prefetch\":2},$A,\"prefetch\":3},$B,\"prefetch\":1,\"bf16\":true},$B,\"prefetch\":2,\"bf16\":true},$A,\"prefetch\":2,\"bf16\":true}]"
