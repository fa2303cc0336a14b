#!/usr/bin/env bash
# Twenty-fourth GPU call (2026-11-24): Triton's own software pipeliner (num_stages > 1: the loads
# of later loop iterations copied asynchronously into shared memory) instead of our register
# prefetch. Call 23's chunk sizes fit a per-chunk wait of about 1-2 us (the loaded memory
# latency): 0.83 / 0.55 / 0.51 ms at chunks of 4 / 8 / 16 steps at (16, 4096, 624).
# Run at commit fd81838; the num_stages option was removed again in 3273c1f (it lost).
set -uo pipefail
export LIMIT=190
c() { echo "{\"block_d\":$1,\"chunk\":$2,\"num_warps\":$3,\"segments\":$4,\"prefetch\":$5,\"num_stages\":$6${7:-}}"; }
b=',"bf16":true'
bash tools/gpu_sweep.sh stages 16,4096,624 "[$(c 128 16 4 1 true 1),$(c 128 16 4 1 false 2),$(c 128 16 4 1 false 3),$(c 128 8 4 1 false 3),$(c 128 8 4 1 false 4),$(c 64 8 2 1 false 3),$(c 128 16 4 1 true 1 $b),$(c 128 16 4 1 false 3 $b),$(c 128 8 4 1 false 4 $b)]"
bash tools/gpu_sweep.sh stages 8,65536,64 "[$(c 64 8 2 128 true 1),$(c 64 8 2 128 false 3),$(c 64 16 2 64 false 3),$(c 64 8 1 128 false 3),$(c 64 8 1 128 true 1 $b),$(c 64 8 1 128 false 3 $b)]"
bash tools/gpu_sweep.sh stages 32,2048,1024 "[$(c 128 16 4 1 true 1),$(c 128 16 4 1 false 3),$(c 128 8 4 1 false 3)]"
