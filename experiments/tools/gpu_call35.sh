#!/usr/bin/env bash
# GPU call 35 (H100): tools/cluster_scan.py (time split over a thread-block cluster, one pass) checked
# against the complex128 loop and timed next to the default forward, the listing and the copy
# (tools/cluster_probe.py): first a small shape, then (8, 65536, 64), where goal 1 is missed.
# (The kernel was then gl/pallas_cluster.py, before its S sub-tiles and its last barrier; it now lives in
# tools/cluster_scan.py, so rerunning this runs the later kernel, with S = 4 by default.)
set -uo pipefail
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
timeout 120 python3 tools/cluster_probe.py 2,4096,64 '[{"C":2,"T":8,"stages":2}, {"C":8,"T":16,"stages":4}]' 2 \
  2>&1 | grep -v Warning | tee "$OUT/cluster35_small_h100.log"
timeout 420 python3 tools/cluster_probe.py 8,65536,64 '[{"C":8,"T":16,"stages":4}, {"C":16,"T":16,"stages":4},
  {"C":8,"T":32,"stages":2}, {"C":16,"T":32,"stages":2}, {"C":16,"T":8,"stages":8}, {"C":4,"T":16,"stages":4},
  {"C":16,"T":32,"stages":3,"bf16":true}]' 7 2>&1 | grep -v Warning | tee "$OUT/cluster35_h100.log"
