#!/usr/bin/env bash
# Twentieth GPU call (2026-11-24): Nsight Compute on the SISO forward at (8, 65536, 64): bytes
# read from DRAM and the L2 hit rate of the two-kernel scan and of the long-tile look-back (call 19),
# to tell whether the look-back's second walk over a tile is served by L2.
set -uo pipefail
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
M=gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum,lts__t_sector_hit_rate.pct,sm__warps_active.avg.pct_of_peak_sustained_active,launch__registers_per_thread
for cfg in '{}' '{"lookback": {"T": 128, "chunk": 8, "block_d": 64, "window": 8}}' '{"lookback": {"T": 256, "chunk": 8, "block_d": 64, "window": 8}}'; do
  echo "== $cfg"
  timeout 150 "$NCU" --clock-control none -k regex:gl_ --launch-skip 0 --launch-count 4 --metrics $M \
    python3 tools/gpu_siso_once.py 8,65536,64 "$cfg" 2>&1 | grep -E "gl_|duration|bytes|hit_rate|warps_active|registers|ran "
done | tee "$OUT/ncu_siso.log"
