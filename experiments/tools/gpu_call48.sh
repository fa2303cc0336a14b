#!/usr/bin/env bash
# GPU call 48 (H100): Nsight Compute on the fused multi-head kernels for Re y and for complex y
# (both launches each: summary, outputs; the merge into complex64 is not a gl_mh kernel, so it is
# not profiled): registers, spills, instructions and warp stalls, to see where complex y's extra
# 0.2 ms goes (bench notes, items 19-21).
set -uo pipefail
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
# no CUDA graphs: ncu cannot profile the conditional nodes of the lax.cond between f16x3 and tf32x3
export XLA_FLAGS=--xla_gpu_enable_command_buffer=
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
for name in re_y complex_y; do
  cfg='{}'; [ $name = complex_y ] && cfg='{"complex_y": true}'
  timeout 240 "$NCU" --clock-control none -k regex:gl_mh --launch-count 2 \
    --section SpeedOfLight --section LaunchStats --section Occupancy --section MemoryWorkloadAnalysis \
    --section InstructionStats --section WarpStateStats --section ComputeWorkloadAnalysis \
    python3 tools/gpu_mh_ablate.py --once 16,4096,8,64 "$cfg" > "$OUT/ncu_mh_$name.txt" 2>&1
  echo "== $name ($cfg): ncu rc $?"
  grep -E "gl_mh|Duration|Registers Per|Spilling Requests|Local Memory|Achieved Occ|Executed Instructions  |Issue Slots Busy|Stall|Warp Cycles Per Issued|Shared Memory  " "$OUT/ncu_mh_$name.txt" | grep -v "^==PROF" | cut -c1-160
done 2>&1 | tee "$OUT/ncu_mh_h100.log"
