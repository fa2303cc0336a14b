#!/usr/bin/env bash
# GPU call 49 (H100): summaries of parts of segments. Call 48's profile: the summary kernel's 384
# programs (3 of 4 segments x 128) at 2 per multiprocessor make 1.45 waves, its SMs idle a quarter
# of the time. With split = 2 it runs 768 programs of half the steps (2.9 waves) and the outputs
# kernel folds twice as many summaries. Re y and complex y (kernel only), split 1, 2, 4, and with
# 2 and 8 segments (2 segments, split 2: the summary kernel's 256 programs fit one wave) (tools/gpu_mh_ablate.py).
set -uo pipefail
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
c='"complex_y": true, "out": "real"'
v="[{\"split\": 2}, {\"split\": 4}, {\"segments\": 8, \"split\": 2}, {\"segments\": 2, \"split\": 2}, {\"segments\": 2, \"split\": 4},
  {$c}, {$c, \"split\": 2}, {$c, \"split\": 4}, {$c, \"segments\": 8, \"split\": 2},
  {$c, \"segments\": 2, \"split\": 2}, {$c, \"segments\": 2, \"split\": 4}]"
timeout 480 python3 tools/gpu_mh_ablate.py 16,4096,8,64 7 "$v" 2>&1 | grep -v Warning | tee "$OUT/mh_split_h100.log"
