"""Time gl.sharded.gate_loop_sharded on a CPU mesh of host devices; write small JSON.

    python benchmarks/sharded_cpu.py --devices 4 --out gl/assets/mesh/cpu_mesh.json

The host device count is set (``XLA_FLAGS``) before JAX starts. Host "devices" are threads
of one process on the same cores: the run shows that the sharded operator compiles, runs and
agrees with one device, and what the exchange costs; it is not a measure of multi-GPU
scaling. Each case records the median of ``--repeats`` timed calls (after one compiling
call), the max relative error against the single-device ``gl.gate_loop`` and the bytes of
one block aggregate (:func:`gl.sharded.aggregate_bytes`).
"""
import argparse
import os
import sys

p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
p.add_argument("--devices", type=int, default=4)
p.add_argument("--shape", default="2,8192,4,4", help="B,L,H,d (d_k = d_v = d)")
p.add_argument("--repeats", type=int, default=7)
p.add_argument("--out", required=True)
args = p.parse_args()
os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={args.devices}"
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import datetime  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shlex  # noqa: E402
import time  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import gl  # noqa: E402
from gl import sharded  # noqa: E402


def median_ms(f, *xs):
    jax.block_until_ready(f(*xs))
    times = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        jax.block_until_ready(f(*xs))
        times.append((time.perf_counter() - t) * 1e3)
    return float(np.median(times))


b, length, h, d = (int(x) for x in args.shape.split(","))
r = np.random.default_rng(0)
q, k, v = (jnp.asarray(r.normal(size=(b, length, h, d)), jnp.float32) for _ in range(3))
a = jnp.asarray(r.uniform(0.9, 1, (b, length, h, d)), jnp.float32)
one = jax.jit(lambda *x: gl.gate_loop(*x, mode="chunked"))
y0 = one(q, k, v, a)
cases = [{"devices": 1, "combine": "none (gl.gate_loop)", "ms": median_ms(one, q, k, v, a),
          "max_rel_err": 0.0}]
n = 1
while n <= args.devices:
    mesh = sharded.local_mesh(n)
    for combine in ("allgather", "ppermute"):
        f = jax.jit(lambda *x, m=mesh, c=combine: sharded.gate_loop_sharded(
            *x, mesh=m, axis="seq", combine=c, mode="chunked"))
        err = float(jnp.abs(f(q, k, v, a) - y0).max() / jnp.abs(y0).max())
        cases.append({"devices": n, "combine": combine, "ms": median_ms(f, q, k, v, a),
                      "max_rel_err": err, "rounds": sharded.rounds(n, combine)})
    n *= 2
out = {
    "shape": [b, length, h, d, d], "dims": "B, L, H, d_k, d_v", "dtype": "float32",
    "mode_in_block": "chunked",
    "aggregate_bytes": sharded.aggregate_bytes(b, h, d, d, 4),
    "block_bytes_per_device": {str(c["devices"]): 4 * b * (length // c["devices"]) * h * 4 * d
                               for c in cases},
    "provenance": {
        "command": "python " + " ".join(shlex.quote(x) for x in sys.argv),
        "hardware": f"{platform.machine()} {os.cpu_count()} cpus, {args.devices} host devices",
        "jax": jax.__version__,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "note": "host devices share the same CPU cores: not a multi-GPU scaling measurement"},
    "cases": cases}
os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
with open(args.out, "w") as fh:
    json.dump(out, fh, indent=1)
print(json.dumps(cases))
