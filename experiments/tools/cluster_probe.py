"""Check and time tools/cluster_scan.py (time split over a thread-block cluster) on a Hopper GPU, next
to the default SISO forward (gl.kernels.siso_scan.gate_loop_siso), the paper's listing and the copy, in
interleaved rounds (gl.bench timing).

Usage: python3 tools/cluster_probe.py 'B,L,D;...' '[{"C":8,"T":16,"stages":4}, ...]' [rounds]

Every configuration runs twice with a random h0 (a race would move the error); y and the final
state are compared with the complex128 loop (gl.gate_loop_reference) on the first batch rows.
Exits 0 only if every float32 configuration ran with both errors under 2e-5.
"""
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repository root

import jax
import jax.numpy as jnp
import numpy as np

import gl
from gl import bench
from gl.kernels import siso_scan as pallas_scan

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster_scan  # noqa: E402  (tools/cluster_scan.py)

shapes = [tuple(int(x) for x in s.split(",")) for s in sys.argv[1].split(";")]
configs = json.loads(sys.argv[2])
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 5
print(jax.devices()[0].device_kind, jax.__version__, flush=True)
ok = True
for shape in shapes:
    B, L, D = shape
    q, k, v, a = bench.siso_inputs(jax.random.key(1), *shape)
    ar, ai = jnp.real(a), jnp.imag(a)
    kh = jax.random.split(jax.random.key(2))
    h0r, h0i = (jax.random.normal(x, (B, D), jnp.float32) for x in kh)
    nb = min(B, 2)
    host = [np.asarray(x[:nb, ..., None]) for x in (q, k, v, a)]
    h0 = (np.asarray(h0r[:nb]) + 1j * np.asarray(h0i[:nb]))[..., None, None]
    y_ref, h_ref = gl.gate_loop_reference(*host, h0=h0, dtype=np.complex128, return_state=True)
    y_ref, h_ref = y_ref[..., 0].real, h_ref[..., 0, 0]
    fns = {
        "copy": (bench.copy_planar, None),
        "listing": (bench.listing_planar, None),
        "default": (lambda q, k, v, ar, ai: pallas_scan.gate_loop_siso(q, k, v, (ar, ai))[0], None),
    }
    for cfg in configs:
        cfg = dict(cfg)
        bf16 = cfg.pop("bf16", False)
        why = cluster_scan.unsupported(B, L, D, cfg.get("C", 16), cfg.get("T", 32), cfg.get("stages", 2),
                                       2 if bf16 else 4, cfg.get("push", False))
        if why:
            print(f"  {cfg} skipped: {why}", flush=True)
            continue
        fns[json.dumps(dict(cfg, bf16=bf16))] = (
            lambda q, k, v, ar, ai, cfg=cfg: cluster_scan.forward(q, k, v, ar, ai, h0r, h0i, **cfg), bf16)
    ready = {}
    for name, (fn, bf16) in fns.items():
        args = (q, k, v, ar, ai)
        if bf16:
            args = tuple(x.astype(jnp.bfloat16) for x in args)
        try:
            f, out, comp, n = bench.prepare(fn, args)
            errs = []
            if name not in ("copy", "listing", "default"):
                for res in (out, f(*args)):  # twice: a race would move the error
                    y, _, hr, hi = res
                    errs.append(bench.rel_err(np.asarray(y[:nb], np.float64), y_ref))
                    errs.append(bench.rel_err(np.asarray(hr[:nb]) + 1j * np.asarray(hi[:nb]), h_ref))
                f0 = f
                f = lambda *xs, f0=f0: f0(*xs)[0]
        except Exception as e:
            print(f"  {name} failed: {type(e).__name__}: {str(e)[:1500]}", flush=True)
            ok = False
            continue
        if errs and not bf16 and not max(errs) < 2e-5:
            ok = False
        ready[name] = (f, args, n)
        print(f"  {name}: compiled in {comp:.1f} s, errors y, h_L (twice) {errs}", flush=True)
    t = {nm: statistics.median(x) for nm, x in bench.time_rounds(ready, rounds).items()}
    print(f"{shape}:", flush=True)
    for nm, ms in t.items():
        print(f"  {nm:55s} {ms:8.3f} ms  x{t['listing'] / ms:5.2f} listing  {t['copy'] / ms:5.2f} of copy",
              flush=True)
sys.exit(0 if ok else 1)
