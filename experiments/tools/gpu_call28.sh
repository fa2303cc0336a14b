#!/usr/bin/env bash
# Twenty-eighth GPU call (2026-11-24): the SISO forward without load/store masks where the tiles
# cover L and D exactly (all three bench shapes), against the same kernel with masks forced
# (option masked=True), default tiles, float32 and bfloat16, one run per shape.
set -uo pipefail
export LIMIT=150
b=',"bf16":true'
bash tools/gpu_sweep.sh exact 16,4096,640 "[{\"masked\":true},{},{\"masked\":true$b},{${b#,}}]"
bash tools/gpu_sweep.sh exact 8,65536,64 "[{\"masked\":true},{},{\"masked\":true$b},{${b#,}}]"
bash tools/gpu_sweep.sh exact 32,2048,1024 "[{\"masked\":true},{}]"
