#!/usr/bin/env bash
# GPU call 55 (H100): as call 54 at windows of 2048 steps (32 segments) and 4096 (32 segments),
# windows whose k, v, a (16.8 and 33.6 MB) fit the 50 MB L2; the window kernels of the second run.
set -uo pipefail
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
M=gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum,lts__t_sector_hit_rate.pct
for cfg in 2048,32 4096,32; do
  echo "== windows, segments $cfg"
  timeout 280 "$NCU" --clock-control none --cache-control none --launch-count 520 --metrics $M \
    python3 tools/window_probe.py --once 8,65536,64 $cfg 2>&1 \
    | grep -vE "^==PROF==|^ *-|Section|Metric Name|Warning" | grep -A4 -E "gl_siso|wrapped_slice" | tail -65
done | tee "$OUT/ncu_window3_h100.log"
