#!/usr/bin/env bash
# Twenty-second GPU call (2026-11-24): the one-pass SISO forward with sub-chunk rows (`rows` option
# of gl.pallas_scan: several independent chains per channel, combined by eq. 13 on chip) at
# (16, 4096, 624), float32 and bfloat16, next to the one-row kernel (the default).
# Run at commit fd81838; the rows and num_stages options were removed again in 3273c1f (they lost).
set -uo pipefail
export LIMIT=270
c() { echo "{\"block_d\":$1,\"chunk\":$2,\"rows\":$3,\"num_warps\":$4,\"segments\":1,\"prefetch\":true${5:-}}"; }
bash tools/gpu_sweep.sh rows_f32 16,4096,624 "[$(c 128 16 1 4),$(c 32 8 4 4),$(c 32 4 4 4),$(c 64 8 2 4),$(c 32 4 8 8),$(c 128 8 4 4),$(c 64 8 4 8)]"
bash tools/gpu_sweep.sh rows_bf16 16,4096,624 "[$(c 128 16 1 4 ',"bf16":true'),$(c 32 8 4 4 ',"bf16":true'),$(c 32 16 4 4 ',"bf16":true'),$(c 64 8 4 8 ',"bf16":true')]"
