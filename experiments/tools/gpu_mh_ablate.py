"""Where the fused multi-head kernel's time goes: time it with stages left out (``ablate``,
wrong results, for differences only) and with other settings, interleaved with the full
kernel and the associative scan (gl.bench timing). ``--once`` runs the default kernel a few
times and exits: the program to hand to Nsight Compute.

Usage: python tools/gpu_mh_ablate.py B,L,H,d [rounds] [variants JSON] | --once B,L,H,d [overrides JSON]
variants: a list of overrides of gl.kernels.chunked._forward's options, e.g.
  [{"ablate": ["steps"]}, {"blocks": 2}, {"precision": "BF16_BF16_F32_X6"}, {"precision": "f16x3"}]
  plus two keys of this tool: {"out": "real"} times ``Re y`` of the kernel's output only (with
  complex_y, XLA then drops the merge of the two planes into complex64, as in the bench), and
  {"merge": true} times that merge alone (``lax.complex`` of two planes of y's shape).
The options tried and dropped in gl/assets/bench/mh_kernel2_h100.log (num_stages, scores_t,
block_k, the unscaled "f16x3u") exist in the kernel of commit a9f2b01 only; "gauss" (three real
matmuls per complex product of complex y, calls 44-45) in commit 9db1b1a only, "pair" (Re S and
Im S summed as one stacked tile per step, call 47) in commit 338a78a only.
"""
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repository root

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

import gl
from gl import bench
from gl.kernels import chunked as pallas_chunked

once = sys.argv[1] == "--once"
argv = sys.argv[2:] if once else sys.argv[1:]
B, L, H, d = (int(x) for x in argv[0].split(","))
rounds = int(argv[1]) if len(argv) > 1 and not once else 5
variants = json.loads(argv[2]) if len(argv) > 2 else []
print(jax.devices()[0].device_kind, jax.__version__, flush=True)
q, k, v, a = bench.mh_inputs(jax.random.key(0), B, L, H, d)
h0 = jnp.zeros((B, H, d, d), jnp.complex64)
BASE = dict(complex_y=False, interpret=False, block_v=min(d, 64), num_warps=4, precision="f16x3",
            segments=None, blocks=2, ablate=())


def kernel(out=None, merge=False, **over):
    if merge:  # what complex y's merge of its two planes costs alone (results meaningless)
        return lambda q, k, v, a: lax.complex(v, q)
    opts = {**BASE, **over}
    p = opts["precision"]
    opts["precision"] = p if p == "f16x3" else (getattr(lax.Precision, p, None) or getattr(lax.DotAlgorithmPreset, p))
    opts["ablate"] = tuple(opts["ablate"])
    if out == "real":
        return lambda q, k, v, a: pallas_chunked._forward(q, k, v, a, h0, **opts)[0].real
    return lambda q, k, v, a: pallas_chunked._forward(q, k, v, a, h0, **opts)[0]


if once:  # argv[1], if given: a JSON object of overrides
    f = jax.jit(kernel(**(json.loads(argv[1]) if len(argv) > 1 else {})))
    for _ in range(3):
        f(q, k, v, a).block_until_ready()
    print("ran the default kernel 3 times", flush=True)
    sys.exit(0)

host = [np.asarray(x[:1]) for x in (q, k, v, a)]
y_ref = gl.gate_loop_reference(*host, dtype=np.complex128).real
ready = {}


def add(name, fn):
    try:
        f, y, first, n = bench.prepare(fn, (q, k, v, a))
    except Exception as e:  # a variant that does not compile is reported, not fatal
        print(f"{name}: FAILED {type(e).__name__}: {str(e)[:300]}", flush=True)
        return
    err = bench.rel_err(np.asarray(y[:1]), y_ref)
    print(f"{name}: first call {first:.1f} s, err {err:.2e}, {bench.burst_ms(f, (q, k, v, a), n):.3f} ms", flush=True)
    ready[name] = (f, (q, k, v, a), n)


add("kernel (default)", kernel())
for var in variants:
    add(f"kernel {json.dumps(var)}", kernel(**var))
add("parallel (over batch)", bench._sliced(lambda q, k, v, a: gl.gate_loop(q, k, v, a, mode="parallel").real, "batch"))
samples = bench.time_rounds(ready, rounds)
base = statistics.median(samples["parallel (over batch)"]) if "parallel (over batch)" in samples else None
full = statistics.median(samples["kernel (default)"]) if "kernel (default)" in samples else None
for n, s in samples.items():
    m = statistics.median(s)
    print(f"  {n:70s} {m:8.3f} ms  {m - full if full else float('nan'):+8.3f} vs default"
          f"  x{(base / m) if base else float('nan'):6.2f} vs associative scan", flush=True)
