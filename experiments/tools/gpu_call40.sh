#!/usr/bin/env bash
# GPU call 40 (H100): call 39 showed the lagged kernel at 0.79 of the copy without the reads across
# the cluster (own_slot) but 1.03 ms with them. Here each program instead stores its aggregate into
# every program's shared memory (push=True) and folds from its own copy; lagged and not, each in its
# own process next to the copy, the listing and the default forward; then the lagged push kernel
# without the stores across the cluster (own_slot: each program writes only its own copy).
set -uo pipefail
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
F="^E11\|Source Location\|cuda_status\|^$\|^===\|^  File\|^    "
timeout 100 python3 tools/cluster_probe.py 2,4096,64 '[{"C":2,"T":8,"stages":2,"lag":true,"push":true},
  {"C":8,"T":16,"stages":3,"lag":true,"push":true}, {"C":8,"T":16,"stages":3,"push":true}]' 2 \
  2>&1 | grep -v Warning | grep -v "$F" | cut -c1-500 | tee "$OUT/cluster40_small_h100.log"
for cfg in '{"C":16,"T":16,"S":4,"stages":3,"lag":true,"push":true}' '{"C":16,"T":16,"S":2,"stages":2,"lag":true,"push":true}' \
           '{"C":16,"T":16,"S":4,"stages":3,"push":true}' '{"C":8,"T":16,"S":4,"stages":3,"lag":true,"push":true}' \
           '{"C":16,"T":32,"S":4,"stages":2,"lag":true,"push":true,"bf16":true}' \
           '{"C":16,"T":16,"S":4,"stages":4,"lag":true,"push":true,"bf16":true}'; do
  timeout 100 python3 tools/cluster_probe.py 8,65536,64 "[$cfg]" 7 2>&1 | grep -v Warning | grep -v "$F" | cut -c1-500
done | tee "$OUT/cluster40_h100.log"
timeout 100 python3 tools/cluster_ablate.py own_slot '{"C":16,"T":16,"S":4,"stages":3,"lag":true,"push":true}' 2>&1 \
  | grep -v Warning | grep -v "$F" | cut -c1-500 | tee "$OUT/cluster40_ablate_h100.log"
