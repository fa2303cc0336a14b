#!/usr/bin/env bash
# GPU call 47 (H100): complex y's in-register steps with the two per-step sums (Re S and Im S)
# taken as one reduction of a stacked (C, d_k, 2) tile, one layout change per step instead of two
# (pair=True), against the default; kernel only (out real, as the bench), with call 34's best
# tile options beside them, and the stages left out once more (tools/gpu_mh_ablate.py).
# Runs at commit 338a78a only: the pair option was dropped after this call (bench notes, item 21).
set -uo pipefail
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
c='"complex_y": true, "out": "real"'
v="[{$c}, {$c, \"pair\": true}, {$c, \"segments\": 8}, {$c, \"pair\": true, \"segments\": 8},
  {$c, \"blocks\": 4, \"segments\": 8}, {$c, \"pair\": true, \"blocks\": 4, \"segments\": 8},
  {$c, \"ablate\": [\"steps\"]}, {$c, \"pair\": true, \"ablate\": [\"steps\"]}]"
timeout 480 python3 tools/gpu_mh_ablate.py 16,4096,8,64 7 "$v" 2>&1 | grep -v Warning | tee "$OUT/mh_pair_h100.log"
