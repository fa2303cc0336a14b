#!/usr/bin/env bash
# GPU call 42 (H100): Nsight Compute on tools/cluster_scan.py at (8, 65536, 64): the kernel of calls
# 37-38, the lagged one at T = 32 and at T = 16 (where the rounds cost about 2.8 us without spills):
# duration, occupancy, and where warps stall.
set -uo pipefail
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
for cfg in '{}' '{"lag":true}' '{"lag":true,"T":16,"stages":4}' '{"lag":true,"seq":true}'; do
  echo "== $cfg"
  timeout 150 "$NCU" --clock-control none -k regex:mosaic --launch-count 1 \
    --section SpeedOfLight --section Occupancy --section LaunchStats --section WarpStateStats \
    python3 tools/cluster_once.py 8,65536,64 "$cfg" 2>&1 | grep -vE "^==PROF==|^    -{5}|^\s*$" \
    | grep -E "Duration|DRAM Throughput|Memory Throughput|Registers Per|Achieved Occupancy|Warp Cycles Per Issued|Stall|stall|cycles|Cluster|Grid Size|Block Size|Shared Memory" | head -40
done | tee "$OUT/cluster42_ncu_h100.log"
