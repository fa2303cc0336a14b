#!/usr/bin/env bash
# GPU call 57 (H100): Nsight Compute on call 56's persistent look-back at (8, 65536, 64): DRAM bytes,
# L2 hit rate and active warps, to tell whether fewer tiles in flight let the second walk read L2.
set -uo pipefail
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
M=gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum,lts__t_sector_hit_rate.pct,sm__warps_active.avg.pct_of_peak_sustained_active,dram__throughput.avg.pct_of_peak_sustained_elapsed
c='"chunk": 8, "block_d": 64, "window": 8'
for p in '"T": 128' '"T": 128, "programs": 132' '"T": 128, "programs": 264' '"T": 64, "programs": 1056'; do
  cfg="{\"lookback\": {$p, $c}}"
  echo "== $cfg"
  timeout 120 "$NCU" --clock-control none -k regex:gl_lookback --launch-skip 1 --launch-count 1 --metrics $M \
    python3 tools/gpu_siso_once.py 8,65536,64 "$cfg" 2>&1 | grep -E "gl_|duration|bytes|hit_rate|warps_active|throughput|ran "
done | tee "$OUT/ncu_lookback3_h100.log"
