#!/usr/bin/env bash
# Seventh GPU call (2026-11-23, new session): where the fused multi-head kernel's time goes.
# Stages left out and other settings (tools/gpu_mh_ablate.py), then Nsight Compute on the default.
set -uo pipefail
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
V='[{"ablate":["steps"]},{"ablate":["cross"]},{"ablate":["y"]},{"ablate":["state"]},{"ablate":["rows"]},
{"ablate":["steps","cross","y","state"]},{"blocks":2},{"precision":"BF16_BF16_F32_X6"},{"precision":"DEFAULT"},
{"num_stages":2},{"num_warps":8}]'
timeout 300 python3 tools/gpu_mh_ablate.py 16,4096,8,64 5 "$V" 2>&1 | grep -v Warning | tee "$OUT/ablate.log"
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
echo "ncu: $NCU"
timeout 240 "$NCU" --clock-control none -k regex:gl_mh --launch-count 2 \
  --section SpeedOfLight --section LaunchStats --section Occupancy --section WarpStateStats \
  --section SchedulerStats --section InstructionStats --section MemoryWorkloadAnalysis --section ComputeWorkloadAnalysis \
  python3 tools/gpu_mh_ablate.py --once 16,4096,8,64 > "$OUT/ncu.txt" 2>&1
echo "ncu rc $?"; grep -v "^==PROF==" "$OUT/ncu.txt" | grep -v Warning | head -400
