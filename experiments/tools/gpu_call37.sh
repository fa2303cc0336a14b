#!/usr/bin/env bash
# GPU call 37 (H100): tools/cluster_scan.py after call 36 (correct, but 0.79-2.1 ms against 0.50 for the
# default: 2-6 us per round, growing with C and T). Now each tile is walked as S sub-tiles side by
# side (S independent chains per thread), the C neighbours' aggregates are all loaded before the
# fold, and the programs meet at a last cluster barrier before leaving (calls 35-36's launch
# failures at 6-8 stages: a program may have left while a neighbour still read its shared memory).
# Each configuration in its own process, timed next to the copy, the listing and the default.
# (The kernel was then gl/pallas_cluster.py; it now lives in tools/cluster_scan.py.)
set -uo pipefail
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
for cfg in '{"C":16,"T":32,"S":4,"stages":2}' '{"C":16,"T":32,"S":8,"stages":2}' '{"C":16,"T":16,"S":4,"stages":4}' \
           '{"C":8,"T":32,"S":4,"stages":2}' '{"C":16,"T":32,"S":1,"stages":2}' '{"C":16,"T":8,"S":2,"stages":8}' \
           '{"C":16,"T":32,"S":4,"stages":3,"bf16":true}' '{"C":16,"T":16,"S":4,"stages":6,"bf16":true}'; do
  timeout 100 python3 tools/cluster_probe.py 8,65536,64 "[$cfg]" 7 2>&1 | grep -v Warning \
    | grep -v "^E11\|Source Location\|cuda_status\|^$\|^===\|^  File\|^    " | cut -c1-500
done | tee "$OUT/cluster37_h100.log"
