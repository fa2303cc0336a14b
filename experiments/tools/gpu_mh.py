"""Check and time the chunked multi-head mode on a GPU next to the associative scan over
outer products (over batch slices), interleaved (gl.bench timing).

Usage: python tools/gpu_mh.py B,L,H,d [rounds]
"""
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repository root

import jax
import numpy as np

import gl
from gl import bench, chunked

B, L, H, d = (int(x) for x in sys.argv[1].split(","))
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
print(jax.devices()[0].device_kind, jax.__version__, flush=True)
q, k, v, a = bench.mh_inputs(jax.random.key(0), B, L, H, d)
host = [np.asarray(x[:1]) for x in (q, k, v, a)]
y_ref = gl.gate_loop_reference(*host, dtype=np.complex128).real
fns = {}
f = jax.jit(lambda q, k, v, a: chunked.gate_loop_chunked(q, k, v, a)[0].real)
y = jax.block_until_ready(f(q, k, v, a))
print(f"chunked: err {bench.rel_err(np.asarray(y[:1]), y_ref):.2e}", flush=True)
fns["chunked"] = f
par = jax.jit(bench._sliced(lambda q, k, v, a: gl.gate_loop(q, k, v, a, mode="parallel").real, "batch"))
y = jax.block_until_ready(par(q, k, v, a))
print(f"parallel (over batch): err {bench.rel_err(np.asarray(y[:1]), y_ref):.2e}", flush=True)
fns["parallel (over batch)"] = par
fns["copy"] = jax.jit(lambda q, k, v, a: q + k + v + a.real + a.imag)
samples = {n: [] for n in fns}
for _ in range(rounds):
    for n, f in fns.items():
        samples[n].append(bench.burst_ms(f, (q, k, v, a), 3))
for n, s in samples.items():
    print(f"  {n:24s} {statistics.median(s):9.3f} ms", flush=True)
