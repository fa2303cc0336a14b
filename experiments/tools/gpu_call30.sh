#!/usr/bin/env bash
# GPU call 30 (H100): the TMA forward (gl/pallas_tma.py) tested on the GPU, then a sweep of its
# tile options (chunk steps per tile, stages in flight) next to the Triton kernel, float32 and
# bfloat16, at the two one-pass bench shapes. Logs and JSON under $OUT.
set -uo pipefail
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
python3 -m pytest -q -p no:cacheprovider tests/test_pallas_tma.py 2>&1 | tail -5 | tee "$OUT/tma_tests.log"
t() { echo "{\"backend\":\"tma\",\"chunk\":$1,\"stages\":$2${3:-}}"; }
cfg="[{\"backend\":\"triton\"},$(t 8 4),$(t 8 6),$(t 16 3),$(t 16 4),$(t 32 2),$(t 4 8)"
cfg="$cfg,{\"backend\":\"triton\",\"bf16\":true},$(t 16 4 ,\"bf16\":true),$(t 16 6 ,\"bf16\":true),$(t 32 2 ,\"bf16\":true)"
cfg="$cfg,$(t 32 3 ,\"bf16\":true),$(t 32 4 ,\"bf16\":true),$(t 64 2 ,\"bf16\":true),$(t 8 8 ,\"bf16\":true)]"
echo "$cfg" | python3 -c "import json,sys; print(len(json.load(sys.stdin)), 'configs')"
LIMIT=270 bash tools/gpu_sweep.sh tma "16,4096,640" "$cfg" "32,2048,1024" "$cfg"
