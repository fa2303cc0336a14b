#!/usr/bin/env bash
# Nsight Compute on one variant of the fused multi-head kernel (both launches: summary, outputs).
# Usage (on the GPU machine): tools/gpu_mh_ncu.sh '<overrides JSON>' OUT_FILE
set -uo pipefail
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
timeout 200 "$NCU" --clock-control none -k regex:gl_mh --launch-count 2 \
  --section SpeedOfLight --section LaunchStats --section Occupancy --section MemoryWorkloadAnalysis --section InstructionStats \
  python3 tools/gpu_mh_ablate.py --once 16,4096,8,64 "$1" > "$2" 2>&1
echo "ncu rc $?"
grep -E "gl_mh|Duration|Registers Per|Spilling Requests  |Block Limit Registers|Achieved Occ|  Executed Instructions  " "$2"
