"""Probe: the two-kernel SISO scan run window by window in time, so that the second kernel's reads
of ``k, v, a`` could come from the L2 cache the first kernel just filled (bench notes item 23).

Each window of ``Lw`` steps is its own set of arrays (no slicing copies), and the windows are
chained through the final state: window ``w`` starts from window ``w - 1``'s ``h_L``. Per window,
``gl.kernels.siso_scan._forward`` runs its summary kernel and its outputs kernel (plus XLA's slice of
``h_L``). Timed in interleaved rounds (gl.bench) against the copy, the paper's listing and the
library's default forward over the whole sequence; ``y`` is compared with the default's.

Usage: python3 tools/window_probe.py B,L,D '[[Lw, segments], ...]' [rounds]
       python3 tools/window_probe.py --once B,L,D Lw,segments   (run twice, for Nsight Compute)
"""
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repository root

import jax
import jax.numpy as jnp
import numpy as np

from gl import bench
from gl.kernels import siso_scan as pallas_scan

once = sys.argv[1] == "--once"
argv = sys.argv[2:] if once else sys.argv[1:]
B, L, D = (int(x) for x in argv[0].split(","))
configs = [[int(x) for x in argv[1].split(",")]] if once else json.loads(argv[1])
rounds = int(argv[2]) if len(argv) > 2 else 5
print(jax.devices()[0].device_kind, jax.__version__, flush=True)
q, k, v, a = bench.siso_inputs(jax.random.key(1), B, L, D)
ar, ai = jnp.real(a), jnp.imag(a)
full = (q, k, v, ar, ai)
default = lambda q, k, v, ar, ai: pallas_scan.gate_loop_siso(q, k, v, (ar, ai))[0]


def windowed(Lw, segments):
    W = L // Lw
    kw = dict(ctype="float32", interpret=False, block_d=64, chunk=8, segments=segments, prefetch=True,
              num_warps=2, complex_y=False, save_ck=False, masked=False, backend="triton", stages=1)

    def f(*xs):
        hr = hi = jnp.zeros((B, D), jnp.float32)
        ys = []
        for w in range(W):
            y, _, hr, hi, _ = pallas_scan._forward(*xs[5 * w:5 * w + 5], hr, hi, **kw)
            ys.append(y)
        return ys
    return f, W


def window_args(Lw):  # every window its own arrays: copies made here, outside the timed function
    return tuple(jnp.array(x[:, w * Lw:(w + 1) * Lw]) for w in range(L // Lw) for x in full)


if once:
    (Lw, segments), = configs
    f = jax.jit(windowed(Lw, segments)[0])
    args = window_args(Lw)
    jax.block_until_ready(f(*args))
    jax.block_until_ready(f(*args))
    print("ran", (B, L, D), Lw, segments, flush=True)
    sys.exit(0)
ready = {}
for name, fn in (("copy", bench.copy_planar), ("listing", bench.listing_planar), ("default", default)):
    f, out, comp, n = bench.prepare(fn, full)
    ready[name] = (f, full, n)
    if name == "default":
        y_def = np.asarray(out)
    print(f"  {name}: compiled in {comp:.1f} s", flush=True)
ok = True
for Lw, segments in configs:
    name = f"windows of {Lw}, {segments} segments"
    f, W = windowed(Lw, segments)
    args = window_args(Lw)
    try:
        fj, out, comp, n = bench.prepare(f, args)
    except Exception as e:
        print(f"  {name} failed: {type(e).__name__}: {str(e)[:800]}", flush=True)
        ok = False
        continue
    err = bench.rel_err(np.concatenate([np.asarray(y) for y in out], axis=1), y_def)
    ok = ok and err < 1e-5
    print(f"  {name}: compiled in {comp:.1f} s, error against the default {err:.2e}", flush=True)
    ready[name] = (fj, args, n)
t = {nm: statistics.median(x) for nm, x in bench.time_rounds(ready, rounds).items()}
print(f"{(B, L, D)}:", flush=True)
for nm, ms in t.items():
    print(f"  {nm:40s} {ms:8.3f} ms  x{t['listing'] / ms:5.2f} listing  {t['copy'] / ms:5.2f} of copy", flush=True)
sys.exit(0 if ok else 1)
