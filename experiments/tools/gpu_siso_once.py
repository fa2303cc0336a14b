"""Run one SISO forward kernel once at one shape (for Nsight Compute), after a warm-up call.

Usage: python tools/gpu_siso_once.py B,L,D '{"lookback": {...}}' | '{}' (the two-kernel default)
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repository root

import jax
import jax.numpy as jnp

from gl import bench, pallas_lookback
from gl.kernels import siso_scan as pallas_scan

shape = tuple(int(x) for x in sys.argv[1].split(","))
cfg = json.loads(sys.argv[2])
q, k, v, a = bench.siso_inputs(jax.random.key(1), *shape)
ar, ai = jnp.real(a), jnp.imag(a)
if "lookback" in cfg:
    f = jax.jit(lambda *x: pallas_lookback.gate_loop_siso_lookback(x[0], x[1], x[2], (x[3], x[4]), **cfg["lookback"])[0])
else:
    f = jax.jit(lambda *x: pallas_scan.gate_loop_siso(x[0], x[1], x[2], (x[3], x[4]), **cfg)[0])
f(q, k, v, ar, ai).block_until_ready()
f(q, k, v, ar, ai).block_until_ready()
print("ran", shape, cfg)
