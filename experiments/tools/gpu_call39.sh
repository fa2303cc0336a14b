#!/usr/bin/env bash
# GPU call 39 (H100): tools/cluster_scan.py with the correction one round late (lag=True: the round
# barrier's wait overlaps the next tile's scan, y stored by hand one step late) against the kernel of
# calls 37-38 (lag=False), each configuration in its own process next to the copy, the listing and the
# default forward (tools/cluster_probe.py); then the lagged kernel without the reads across the
# cluster (tools/cluster_ablate.py own_slot).
set -uo pipefail
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
F="^E11\|Source Location\|cuda_status\|^$\|^===\|^  File\|^    "
timeout 100 python3 tools/cluster_probe.py 2,4096,64 '[{"C":2,"T":8,"stages":2,"lag":true}, {"C":8,"T":16,"stages":4,"lag":true}]' 2 \
  2>&1 | grep -v Warning | grep -v "$F" | cut -c1-500 | tee "$OUT/cluster39_small_h100.log"
for cfg in '{"C":16,"T":32,"S":4,"stages":2,"lag":true}' '{"C":16,"T":32,"S":4,"stages":2}' \
           '{"C":16,"T":16,"S":4,"stages":4,"lag":true}' '{"C":16,"T":32,"S":1,"stages":2,"lag":true}' \
           '{"C":16,"T":16,"S":2,"stages":3,"lag":true}' '{"C":8,"T":32,"S":4,"stages":2,"lag":true}' \
           '{"C":16,"T":32,"S":4,"stages":3,"lag":true,"bf16":true}'; do
  timeout 100 python3 tools/cluster_probe.py 8,65536,64 "[$cfg]" 7 2>&1 | grep -v Warning | grep -v "$F" | cut -c1-500
done | tee "$OUT/cluster39_h100.log"
timeout 100 python3 tools/cluster_ablate.py own_slot '{"C":16,"T":32,"S":4,"stages":2,"lag":true}' 2>&1 | grep -v Warning \
  | grep -v "$F" | cut -c1-500 | tee "$OUT/cluster39_ablate_h100.log"
