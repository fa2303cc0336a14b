"""Check and time the fused multi-head kernel (gl.pallas_chunked) on a GPU: tile variants
next to the XLA chunked mode, the associative scan over outer products (over batch slices)
and a copy of the same bytes, interleaved (gl.bench timing).

Usage: python tools/gpu_mh_kernel.py B,L,H,d [rounds] [variants JSON]
variants: a list of {"block_v": .., "num_warps": .., "precision": "HIGHEST" | "TF32_TF32_F32_X3" | ...}
"""
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repository root

import jax
import numpy as np
from jax import lax

import gl
from gl import bench, chunked
from gl.kernels import chunked as pallas_chunked

B, L, H, d = (int(x) for x in sys.argv[1].split(","))
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
variants = json.loads(sys.argv[3]) if len(sys.argv) > 3 else [{}]
print(jax.devices()[0].device_kind, jax.__version__, flush=True)
q, k, v, a = bench.mh_inputs(jax.random.key(0), B, L, H, d)
host = [np.asarray(x[:1]) for x in (q, k, v, a)]
y_ref = gl.gate_loop_reference(*host, dtype=np.complex128).real
ready = {}


def add(name, fn):
    t = time.perf_counter()
    try:
        f, y, first, n = bench.prepare(fn, (q, k, v, a))
    except Exception as e:  # a variant that does not compile is reported, not fatal
        print(f"{name}: FAILED {type(e).__name__}: {str(e)[:300]}", flush=True)
        return
    err = bench.rel_err(np.asarray(y[:1]), y_ref) if name != "copy" else float("nan")
    print(f"{name}: first call {first:.1f} s, err {err:.2e}, {bench.burst_ms(f, (q, k, v, a), n):.3f} ms",
          flush=True)
    ready[name] = (f, (q, k, v, a), n)


for var in variants:
    var = dict(var)
    prec = var.pop("precision", "HIGHEST")
    p = getattr(lax.Precision, prec, None) or getattr(lax.DotAlgorithmPreset, prec)
    add(f"kernel {var} {prec}",
        lambda q, k, v, a, var=var, p=p: pallas_chunked.gate_loop_mh(q, k, v, a, precision=p, **var)[0])
add("chunked (XLA)", lambda q, k, v, a: chunked.gate_loop_chunked(q, k, v, a)[0].real)
add("parallel (over batch)", bench._sliced(lambda q, k, v, a: gl.gate_loop(q, k, v, a, mode="parallel").real, "batch"))
add("copy", lambda q, k, v, a: q + k + v + a.real + a.imag)
samples = bench.time_rounds(ready, rounds)
base = statistics.median(samples["parallel (over batch)"]) if "parallel (over batch)" in samples else None
for n, s in samples.items():
    m = statistics.median(s)
    print(f"  {n:60s} {m:9.3f} ms  x{(base / m) if base else float('nan'):7.2f} vs associative scan", flush=True)
