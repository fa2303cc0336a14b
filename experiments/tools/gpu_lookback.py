"""Check and time the single-pass look-back scan (gl.pallas_lookback) on a GPU, next to the
two-kernel scan, the paper's listing and the copy, in interleaved rounds (gl.bench timing).

Usage: python tools/gpu_lookback.py 'B,L,D;...' '[{"T":16,"block_d":64,"window":8}, ...]' [rounds]

Exits 0 only if every float32 configuration ran at every shape with an error under 2e-5 (twice,
so that a race would show), and then prints ``BEST {config}``: the configuration whose worst
time relative to the two-kernel scan over the shapes is smallest.
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
from gl import bench, pallas_lookback
from gl.kernels import siso_scan as pallas_scan

shapes = [tuple(int(x) for x in s.split(",")) for s in sys.argv[1].split(";")]
configs = json.loads(sys.argv[2])
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 5
print(jax.devices()[0].device_kind, jax.__version__, flush=True)
ok, rel_time = True, {}
for shape in shapes:
    q, k, v, a = bench.siso_inputs(jax.random.key(1), *shape)
    ar, ai = jnp.real(a), jnp.imag(a)
    host = [np.asarray(x[:1, ..., None]) for x in (q, k, v, a)]
    y_ref = gl.gate_loop_reference(*host, dtype=np.complex128)[..., 0].real
    fns = {
        "copy": (bench.copy_planar, None),
        "listing": (bench.listing_planar, None),
        "two-kernel default": (lambda q, k, v, ar, ai: pallas_scan.gate_loop_siso(q, k, v, (ar, ai))[0], None),
    }
    for cfg in configs:
        cfg = dict(cfg)
        bf16 = cfg.pop("bf16", False)
        fns[json.dumps(dict(cfg, bf16=bf16))] = (
            lambda q, k, v, ar, ai, cfg=cfg: pallas_lookback.gate_loop_siso_lookback(q, k, v, (ar, ai), **cfg)[0], bf16)
    ready = {}
    for name, (fn, bf16) in fns.items():
        args = (q, k, v, ar, ai)
        if bf16:
            args = tuple(x.astype(jnp.bfloat16) for x in args)
        try:
            f, y, _, n = bench.prepare(fn, args)
            err = bench.rel_err(np.asarray(y[:1], np.float64), y_ref) if name != "copy" else None
            y2 = np.asarray(f(*args)[:1], np.float64)  # a second run: a race would move the error
            err2 = bench.rel_err(y2, y_ref) if name != "copy" else None
        except Exception as e:
            print(f"  {name} failed: {type(e).__name__}: {str(e)[:400]}", flush=True)
            ok = False
            continue
        if bf16 is False and not (err < 2e-5 and err2 < 2e-5):
            ok = False
        ready[name] = (f, args, n)
        print(f"  checked {name}: err {err} / {err2}", flush=True)
    samples = bench.time_rounds(ready, rounds)
    t = {name: statistics.median(x) for name, x in samples.items()}
    print(f"{shape}: copy {t.get('copy', 0):.3f} ms, listing {t.get('listing', 0):.3f} ms", flush=True)
    for name, ms in t.items():
        print(f"  {name:60s} {ms:8.3f} ms  x{t['listing'] / ms:5.2f} listing  {t['copy'] / ms:5.2f} of copy",
              flush=True)
        if name.startswith("{") and '"bf16": false' in name:
            rel_time.setdefault(name, []).append(ms / t["two-kernel default"])
if ok and rel_time:
    best = min(rel_time, key=lambda n: max(rel_time[n]))
    cfg = json.loads(best)
    cfg.pop("bf16")
    print("BEST " + json.dumps(cfg), flush=True)
sys.exit(0 if ok else 1)
