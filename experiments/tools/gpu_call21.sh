#!/usr/bin/env bash
# Twenty-first GPU call (2026-11-24): Nsight Compute on the SISO forward at (16, 4096, 624) (one
# pass, 80 programs of 128 channels) and at (32, 2048, 1024) (the shape at 0.97 of the copy):
# DRAM bytes and throughput, occupancy, and where warps stall.
set -uo pipefail
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
for shape in 16,4096,624 32,2048,1024; do
  echo "== $shape"
  timeout 200 "$NCU" --clock-control none -k regex:gl_siso --launch-count 1 \
    --section SpeedOfLight --section Occupancy --section LaunchStats --section WarpStateStats --section MemoryWorkloadAnalysis \
    python3 tools/gpu_siso_once.py $shape '{}' 2>&1 | grep -vE "^==PROF==|^    -{5}|^\s*$" | grep -E "gl_siso|Duration|DRAM Throughput|Memory Throughput|Registers Per|Achieved Occupancy|Theoretical Occupancy|Waves Per SM|Warp Cycles Per Issued|Stall|stall|cycles|Block Limit|L2 Hit|Mem Busy|Max Bandwidth|Grid Size|Block Size" | head -60
done | tee "$OUT/ncu_siso2.log"
