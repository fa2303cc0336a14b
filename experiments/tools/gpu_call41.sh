#!/usr/bin/env bash
# GPU call 41 (H100): is the lagged kernel slow for its registers? ptxas' report (register count,
# spills; MOSAIC_GPU_DUMP_PTXAS) for four variants of tools/cluster_scan.py, then the variants that
# fold one program's aggregate at a time (seq=True: fewer live registers), each timed in its own
# process next to the copy, the listing and the default forward (tools/cluster_probe.py).
set -uo pipefail
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
F="^E11\|Source Location\|cuda_status\|^$\|^===\|^  File\|^    "
for cfg in '{}' '{"lag":true}' '{"lag":true,"seq":true}' '{"lag":true,"push":true,"seq":true,"T":16,"stages":3}'; do
  echo "ptxas for $cfg"
  MOSAIC_GPU_DUMP_PTXAS=1 timeout 60 python3 -c "
import sys, json; sys.path.insert(0, 'tools')
import jax, jax.numpy as jnp, cluster_scan
x = jnp.ones((8, 4096, 64), jnp.float32); h = jnp.zeros((8, 64), jnp.float32)
jax.block_until_ready(cluster_scan.forward(x, x, x, x, x, h, h, **json.loads('$cfg')))" 2>&1 \
    | grep -i "registers\|spill\|stack frame" | head -6
done | tee "$OUT/cluster41_ptxas_h100.log"
for cfg in '{"C":16,"T":32,"S":4,"stages":2,"lag":true,"seq":true}' '{"C":16,"T":32,"S":4,"stages":2,"seq":true}' \
           '{"C":16,"T":16,"S":4,"stages":3,"lag":true,"push":true,"seq":true}' '{"C":16,"T":16,"S":4,"stages":3,"push":true,"seq":true}' \
           '{"C":16,"T":16,"S":4,"stages":4,"lag":true}'; do
  timeout 100 python3 tools/cluster_probe.py 8,65536,64 "[$cfg]" 7 2>&1 | grep -v Warning | grep -v "$F" | cut -c1-500
done | tee "$OUT/cluster41_h100.log"
