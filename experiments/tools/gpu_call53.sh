#!/usr/bin/env bash
# GPU call 53 (H100): Nsight Compute on call 52's windowed scan at (8, 65536, 64), caches kept
# between kernels (--cache-control none): per kernel its time, DRAM bytes and L2 hit rate, to tell
# whether the outputs kernel read k, v, a from L2 and what a window's kernels cost (item 23).
set -uo pipefail
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
M=gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum,lts__t_sector_hit_rate.pct,sm__warps_active.avg.pct_of_peak_sustained_active
for spec in "8192,64 16" "2048,32 64"; do
  set -- $spec
  echo "== windows, segments $1 (skip the first run's $2 kernels)"
  timeout 200 "$NCU" --clock-control none --cache-control none -k regex:gl_siso --launch-skip $2 --launch-count 8 \
    --metrics $M python3 tools/window_probe.py --once 8,65536,64 $1 2>&1 \
    | grep -E "gl_siso|duration|bytes|hit_rate|warps_active|ran "
done | tee "$OUT/ncu_window_h100.log"
