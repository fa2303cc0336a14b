#!/usr/bin/env bash
# GPU call 54 (H100): as call 53, every kernel of the run (call 53's name filter matched only the
# summary kernels), at windows of 8192 steps with 64 segments.
set -uo pipefail
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
M=gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum,lts__t_sector_hit_rate.pct
timeout 300 "$NCU" --clock-control none --cache-control none --launch-count 200 --metrics $M \
  python3 tools/window_probe.py --once 8,65536,64 8192,64 2>&1 \
  | grep -vE "^==PROF==|^ *-|Section|Metric Name" | tee "$OUT/ncu_window2_h100.log"
