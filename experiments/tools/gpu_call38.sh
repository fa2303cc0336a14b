#!/usr/bin/env bash
# GPU call 38 (H100): where tools/cluster_scan.py's rounds spend their time (tools/cluster_ablate.py):
# the kernel against itself without the round barrier, without the reads across the cluster, and
# without both, each variant in its own process next to the copy; at the best call-37 setting.
# (The kernel was then gl/pallas_cluster.py; it now lives in tools/cluster_scan.py.)
set -uo pipefail
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
for v in no_sync own_slot neither; do
  timeout 100 python3 tools/cluster_ablate.py $v '{"C":16,"T":32,"S":4,"stages":2}' 2>&1 | grep -v Warning \
    | grep -v "^E11\|Source Location\|cuda_status\|^$\|^===\|^  File\|^    " | cut -c1-500
done | tee "$OUT/cluster_ablate_h100.log"
