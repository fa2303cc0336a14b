#!/usr/bin/env bash
# Eighth GPU call (2026-11-23): one gathered load per step instead of one row per sub-block,
# summaries of G - 1 segments, sub-blocks and chunks of 32 swept; Nsight Compute on the gathered kernel.
set -uo pipefail
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
V='[{"rows_by":"gather"},{"rows_by":"gather","blocks":2},{"rows_by":"gather","blocks":1},{"rows_by":"gather","blocks":8},
{"rows_by":"gather","chunk":32,"blocks":8},{"rows_by":"gather","chunk":32,"blocks":4},{"rows_by":"gather","segments":8},
{"rows_by":"gather","precision":"BF16_BF16_F32_X3"},{"rows_by":"gather","precision":"DEFAULT"},{"blocks":2}]'
timeout 330 python3 tools/gpu_mh_ablate.py 16,4096,8,64 5 "$V" 2>&1 | grep -v Warning | tee "$OUT/sweep.log"
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
timeout 200 "$NCU" --clock-control none -k regex:gl_mh --launch-count 2 \
  --section SpeedOfLight --section LaunchStats --section Occupancy --section MemoryWorkloadAnalysis \
  python3 tools/gpu_mh_ablate.py --once 16,4096,8,64 '{"rows_by":"gather"}' > "$OUT/ncu_gather.txt" 2>&1
echo "ncu rc $?"; grep -E "gl_mh|Duration|Registers Per|Spilling Requests  |Block Limit Registers|Achieved Occ" "$OUT/ncu_gather.txt"
