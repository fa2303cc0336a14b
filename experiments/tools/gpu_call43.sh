#!/usr/bin/env bash
# GPU call 43 (H100): two warpgroups per program (wgs=2: each a virtual program with half the tile,
# its own hand-written TMA pipeline), after call 42's profile (one warpgroup per multiprocessor,
# bound by instruction latency). ptxas' report, then each configuration in its own process next
# to the copy, the listing and the default forward (tools/cluster_probe.py).
set -uo pipefail
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
F="^E11\|Source Location\|cuda_status\|^$\|^===\|^  File\|^    "
for cfg in '{"wgs":2}' '{"wgs":2,"T":16,"S":2,"stages":4}'; do
  echo "ptxas for $cfg"
  MOSAIC_GPU_DUMP_PTXAS=1 timeout 60 python3 tools/cluster_once.py 8,4096,64 "$cfg" 2>&1 \
    | grep -i "registers\|spill\|stack frame\|error" | head -6
done | tee "$OUT/cluster43_ptxas_h100.log"
timeout 100 python3 tools/cluster_probe.py 2,4096,64 '[{"C":2,"T":16,"S":2,"stages":2,"wgs":2}, {"C":8,"T":16,"S":2,"stages":3,"wgs":2}]' 2 \
  2>&1 | grep -v Warning | grep -v "$F" | cut -c1-500 | tee "$OUT/cluster43_small_h100.log"
for cfg in '{"C":16,"T":32,"S":4,"stages":2,"wgs":2}' '{"C":16,"T":32,"S":2,"stages":2,"wgs":2}' \
           '{"C":16,"T":16,"S":2,"stages":4,"wgs":2}' '{"C":8,"T":32,"S":4,"stages":2,"wgs":2}' \
           '{"C":16,"T":32,"S":4,"stages":2}'; do
  timeout 100 python3 tools/cluster_probe.py 8,65536,64 "[$cfg]" 7 2>&1 | grep -v Warning | grep -v "$F" | cut -c1-500
done | tee "$OUT/cluster43_h100.log"
