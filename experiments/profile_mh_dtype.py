"""Why gl's multi-head forward is slower with bfloat16 inputs than with float32 (issue 30 item 4).

gl casts bfloat16 ``q, k, v, a`` to float32 before its Pallas kernel (``gl/_checks.py``
``compute_dtype``), so the hypothesis is: bfloat16 time = the cast + the float32 kernel.
This script times, in one process on one device, the pieces of that sum with the inputs of
``benchmarks/peers.py`` (``peer_maps.gl_inputs``, gate per key dimension):

* ``fwd[float32]``: ``gl.gate_loop(..., mode="chunked", impl="pallas")`` on float32 inputs;
* ``fwd[bfloat16]``: the same call on the bfloat16-rounded inputs given as bfloat16;
* ``cast``: the cast alone, ``bfloat16 -> float32`` of the four inputs (one jitted call);
* ``copy[float32]``: a copy of the float32 inputs' bytes (the memory roofline of the cast).

``--profile`` instead runs one warm call of ``--dtype`` between ``cudaProfilerStart`` and
``cudaProfilerStop`` (through PyTorch's binding), for Nsight Compute with
``--profile-from-start off``: the report then holds that call's kernels only, in order.

    python3 experiments/profile_mh_dtype.py --shape 16,4096,8,64 --json OUT.json
    ncu --profile-from-start off --section SpeedOfLight --section LaunchStats \\
        --metrics dram__bytes_read.sum,dram__bytes_write.sum \\
        python3 experiments/profile_mh_dtype.py --profile --dtype bfloat16
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "benchmarks"))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import gl  # noqa: E402
import peer_maps  # noqa: E402


def inputs(shape, dtype, seed=0):
    """gl's multi-head inputs (gate per key dimension); bfloat16: rounded, given as bfloat16."""
    host = peer_maps.gl_inputs(seed, "multihead", "key", shape)
    if dtype == "bfloat16":
        return tuple(jnp.asarray(h, jnp.bfloat16) for h in host)
    return tuple(jnp.asarray(h) for h in host)


def forward(impl):
    return jax.jit(lambda q, k, v, a: gl.gate_loop(q, k, v, a, mode="chunked", impl=impl,
                                                   real=True))


def ms(f, args, repeats):
    """Median wall time of ``f(*args)`` in ms, after one warm call."""
    jax.block_until_ready(f(*args))
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(f(*args))
        out.append((time.perf_counter() - t) * 1e3)
    return statistics.median(out), min(out), max(out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shape", default="16,4096,8,64")
    p.add_argument("--impl", default="pallas" if jax.default_backend() == "gpu" else "xla")
    p.add_argument("--repeats", type=int, default=21)
    p.add_argument("--profile", action="store_true")
    p.add_argument("--dtype", default="bfloat16", choices=["float32", "bfloat16"])
    p.add_argument("--json")
    args = p.parse_args(argv)
    shape = tuple(int(s) for s in args.shape.split(","))
    f = forward(args.impl)
    if args.profile:
        import torch  # only for its cudaProfilerStart / Stop binding
        x = inputs(shape, args.dtype)
        jax.block_until_ready(f(*x))
        torch.cuda.synchronize()
        torch.cuda.profiler.start()
        jax.block_until_ready(f(*x))
        torch.cuda.profiler.stop()
        print(f"profiled one {args.dtype} forward at {shape}")
        return
    x32, xbf = inputs(shape, "float32"), inputs(shape, "bfloat16")
    cast = jax.jit(lambda *xs: tuple(t.astype(jnp.float32) for t in xs))
    copy = jax.jit(lambda *xs: tuple(t * 1 for t in xs))  # reads and writes every byte once
    # the float32 call on exactly the rounded values, so y agrees with the bfloat16 call
    xr = cast(*xbf)
    y_bf, y_r = np.asarray(f(*xbf)), np.asarray(f(*xr))
    err = float(np.max(np.abs(y_bf - y_r)) / np.max(np.abs(y_r)))
    rows = {}
    for name, fn, a in [("fwd[float32]", f, x32), ("fwd[bfloat16]", f, xbf), ("cast", cast, xbf),
                        ("copy[float32]", copy, x32), ("fwd[float32, rounded]", f, xr)]:
        med, lo, hi = ms(fn, a, args.repeats)
        rows[name] = dict(ms=round(med, 4), min=round(lo, 4), max=round(hi, 4))
        print(f"{name:24s} {med:8.3f} ms  (min {lo:.3f}, max {hi:.3f})")
    pred = rows["fwd[float32]"]["ms"] + rows["cast"]["ms"]
    print(f"float32 forward + cast = {pred:.3f} ms against the bfloat16 forward "
          f"{rows['fwd[bfloat16]']['ms']:.3f} ms; y(bf16 call) vs y(float32 call, same values): {err:.1e}")
    res = dict(shape=list(shape), impl=args.impl, repeats=args.repeats, rows=rows,
               predicted_bf16_ms=round(pred, 4), y_rel_err=err,
               device=str(jax.devices()[0].device_kind), jax=jax.__version__,
               command="python3 experiments/profile_mh_dtype.py " + " ".join(sys.argv[1:]))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=1)


if __name__ == "__main__":
    main()
