"""``python experiments/mh_bwd_sweep.py``: the Pallas multi-head backward's launch settings.

Issue 30 item 3 asks, where the Pallas backward (``experiments/pallas_mh_bwd.py``) does not beat
the XLA one, for the profile that explains why. This script gives the two halves of that:

* ``--sweep``: every setting of ``num_warps`` x ``state_stride`` x ``segments`` timed in one run
  (interleaved rounds, median ms, :func:`gl.bench.time_rounds`) beside the XLA backward, each
  checked first against it (``max|g - g_xla| / max|g_xla|`` <= 1e-4);
* ``--once``: one setting run twice and synchronised, for Nsight Compute
  (``ncu -k regex:gl_mh_bwd ... python experiments/mh_bwd_sweep.py --once``).

A ratio of one run, never a timed test. On a CPU the kernels run in the Pallas interpreter
(small shapes only).

    python experiments/mh_bwd_sweep.py --shape 8,16384,8,128 --sweep --json $OUT/sweep.json
"""
from __future__ import annotations

import os

os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import argparse  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import pathlib  # noqa: E402
import sys  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import gl.chunked  # noqa: E402
from gl import bench  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))
import peer_maps  # noqa: E402  (benchmarks/peer_maps.py)
from experiments import pallas_mh_bwd  # noqa: E402
from experiments.mh_bwd_bench import parse_shape  # noqa: E402

TOL = 1e-4  #: each setting's gradients against the XLA backward's (both float32)


def inputs(shape, seed=0):
    """``(q, k, v, a, dy, h0)`` on the device: ``peer_maps.gl_inputs`` and a normal ``dy``."""
    q, k, v, a = (jnp.asarray(x) for x in peer_maps.gl_inputs(seed, "multihead", "key", shape))
    dy = jnp.asarray(np.random.default_rng(seed + 1).standard_normal(v.shape, np.float32))
    h0 = jnp.zeros(q.shape[:1] + q.shape[2:] + v.shape[-1:], jnp.float32)
    return q, k, v, a, dy, h0


def pallas(interpret, num_warps, stride, segments):
    """The Pallas backward at one setting, jitted: ``(q, k, v, a, dy, h0) -> (dq, dk, dv, da)``."""
    return jax.jit(lambda q, k, v, a, dy, h0: pallas_mh_bwd.gate_loop_mh_bwd_pallas(
        q, k, v, a, h0, dy, interpret=interpret, num_warps=num_warps, state_stride=stride,
        segments=segments)[:4])


def xla(q, k, v, a, dy, h0):
    """The XLA backward: the pullback of :func:`gl.chunked.gate_loop_chunked` (forward recomputed)."""
    _, pull = jax.vjp(gl.chunked.gate_loop_chunked, q, k, v, a, h0)
    return pull((dy, jnp.zeros_like(h0)))[:4]


def sweep(shape, warps=(4, 8), strides=(1, 4), segments=(None, 4, 8), repeats=5, log=print):
    interpret = jax.default_backend() == "cpu"
    x = inputs(shape)
    methods = {"bwd xla": (jax.jit(xla), x)}
    for nw, st, sg in itertools.product(warps, strides, segments):
        methods[f"bwd pallas nw{nw} stride{st} seg{sg or 'plan'}"] = (pallas(interpret, nw, st, sg), x)
    ready, grads, rows = {}, {}, []
    for name, (f, args) in methods.items():
        try:
            f, out, first_s, n = bench.prepare(f, args, jit=False)
        except Exception as e:  # a setting the kernel refuses (e.g. more segments than chunks)
            rows.append(dict(method=name, status=f"{type(e).__name__}: {str(e)[:200]}"))
            continue
        ready[name], grads[name] = (f, args, n), [np.asarray(g) for g in out]
        log(f"  {name}: first call {first_s:.1f} s")
    ref = grads["bwd xla"]
    ms = {k: float(np.median(t)) for k, t in bench.time_rounds(ready, repeats).items()}
    for name in ready:
        err = max(float(np.max(np.abs(g - r)) / np.max(np.abs(r))) for g, r in zip(grads[name], ref))
        rows.append(dict(method=name, ms=ms[name], max_rel_err=err, agrees=bool(err <= TOL),
                         vs_xla=ms["bwd xla"] / ms[name]))
    return rows


def once(shape, num_warps, stride, segments):
    interpret = jax.default_backend() == "cpu"
    f = pallas(interpret, num_warps, stride, segments)
    x = inputs(shape)
    for _ in range(2):
        jax.block_until_ready(f(*x))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shape", default=None, help="B,L,H,d (default 8,16384,8,128; 1,64,2,16 on a CPU)")
    p.add_argument("--sweep", action="store_true")
    p.add_argument("--once", default=None, metavar="NW,STRIDE,SEG", help="e.g. 4,1,0 (SEG 0: the plan)")
    p.add_argument("--warps", default="4,8", help="num_warps values")
    p.add_argument("--strides", default="1,4", help="state_stride values")
    p.add_argument("--segments", default="0,4,8", help="segments values (0: the plan)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--json")
    args = p.parse_args(argv)
    shape = parse_shape(p, args.shape, "8,16384,8,128")
    if args.once:
        nw, st, sg = (int(s) for s in args.once.split(","))
        return once(shape, nw, st, sg or None)
    ints = lambda t: tuple(int(s) for s in t.split(","))
    rows = sweep(shape, ints(args.warps), ints(args.strides), tuple(s or None for s in ints(args.segments)),
                 repeats=args.repeats)
    print(f"(B, L, H, d) = {shape}, {jax.devices()[0].device_kind}")
    for r in rows:
        print(f"  {r['method']:34s} " + (f"{r['ms']:9.3f} ms  x{r['vs_xla']:.3f} of xla  err "
                                         f"{r['max_rel_err']:.1e}" if "ms" in r else r["status"]))
    if args.json:
        cmd = "python experiments/mh_bwd_sweep.py " + " ".join(sys.argv[1:] if argv is None else argv)
        prov = bench.provenance(args.repeats, max_rel_err="max|g - g_xla| / max|g_xla| over dq, dk, dv, da")
        pathlib.Path(args.json).write_text(json.dumps(dict(shape=list(shape), rows=rows, command=cmd,
                                                           provenance=prov), indent=1))
    return rows


if __name__ == "__main__":
    main()
