#!/usr/bin/env bash
# Twenty-third GPU call (2026-11-24): several channels per thread (block_d > 32 * num_warps),
# so that each thread loads 2 or 4 neighbouring channels with one vector load and walks as many
# independent chains. Call 22 (more chains per channel by sub-chunk rows) did not help; an older
# sweep (variants_gpu_2.log) had bfloat16 at (8, 65536, 64) 0.468 -> 0.350 ms from 1 to 2
# channels per thread. float32 and bfloat16 at the three SISO shapes.
set -uo pipefail
export LIMIT=190
c() { echo "{\"block_d\":$1,\"chunk\":$2,\"num_warps\":$3,\"segments\":$4,\"prefetch\":true${5:-}}"; }
b=',"bf16":true'
bash tools/gpu_sweep.sh vec 16,4096,624 "[$(c 128 16 4 1),$(c 64 8 1 1),$(c 128 8 2 1),$(c 128 4 1 1),$(c 256 4 2 1),$(c 64 4 1 1),$(c 128 16 4 1 $b),$(c 64 8 1 1 $b),$(c 128 8 2 1 $b),$(c 128 4 1 1 $b),$(c 64 16 1 1 $b)]"
bash tools/gpu_sweep.sh vec 8,65536,64 "[$(c 64 8 2 128),$(c 64 8 1 128),$(c 64 4 1 128),$(c 64 8 1 256),$(c 64 16 2 128 $b),$(c 64 16 1 256 $b),$(c 64 8 1 128 $b)]"
bash tools/gpu_sweep.sh vec 32,2048,1024 "[$(c 128 16 4 1),$(c 128 8 2 1),$(c 256 4 2 1),$(c 64 8 1 1),$(c 256 16 4 1 $b),$(c 128 8 2 1 $b)]"
