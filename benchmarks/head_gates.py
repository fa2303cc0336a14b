"""``python benchmarks/head_gates.py``: one gate per head against the same gate on every key.

A gate per head, ``a`` of shape ``(B, L, H, 1)``, lets ``gl``'s XLA chunked mode build each chunk's
scores as one matmul and a ``(C, C)`` mask of products (:func:`gl.chunked.head_scores`); given
the same gate broadcast to ``(B, L, H, d)`` it runs the general tree of blocks. Both are checked
against the float64 Numba loop (batch row 0), then timed in interleaved rounds
(:func:`gl.bench.time_rounds`), forward and forward+backward (gradients of ``sum(y · w)`` in
``q, k, v, a``; the two gradients of ``a`` compared after summing the broadcast one over ``d``).
A ratio of one run, not a timed test. Prints a table; ``--json`` writes it with provenance.

    python benchmarks/head_gates.py --shape 4,2048,4,64 --repeats 7
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np

import gl
from gl import bench

TOL = {"fwd": 2e-5, "fwd+bwd": 2e-5}  #: relative error (norm) against the reference


def inputs(key, B, L, H, d):
    kq, kk, kv, ka, kw = jax.random.split(key, 5)
    q, k, v = (jax.random.normal(x, (B, L, H, d), jnp.float32) / np.sqrt(d) for x in (kq, kk, kv))
    a = jax.random.uniform(ka, (B, L, H, 1), jnp.float32, 0.9, 1.0)
    w = jax.random.normal(kw, (B, L, H, d), jnp.float32)
    return q, k, v, a, w


HEAD, BCAST = "per head, (B, L, H, 1)", "broadcast, (B, L, H, d)"
#: what a row's ``rel_err`` is (:func:`run` computes it)
REL_ERR = ("||x - x_ref|| / ||x_ref||; fwd: y on batch row 0 against the float64 Numba loop; "
           "fwd+bwd: each gradient of sum(y * w) in q, k, v, a against the broadcast path's (its "
           "a-gradient summed over d), so the broadcast fwd+bwd row is 0 by definition")


def methods(w):
    """(name, pass) -> fn of (q, k, v, a): the per-head path and the same gate broadcast."""
    head = lambda q, k, v, a: gl.gate_loop(q, k, v, a, mode="chunked", impl="xla")
    bcast = lambda q, k, v, a: gl.gate_loop(q, k, v, jnp.broadcast_to(a, q.shape),
                                            mode="chunked", impl="xla")
    grad = lambda f: jax.grad(lambda q, k, v, a: jnp.sum(f(q, k, v, a) * w), argnums=(0, 1, 2, 3))
    return {(HEAD, "fwd"): head, (BCAST, "fwd"): bcast,
            (HEAD, "fwd+bwd"): grad(head), (BCAST, "fwd+bwd"): grad(bcast)}


def run(shape, repeats=7, seed=0):
    """Check, then time; one row per (method, pass). The forward rows are checked against the
    Numba loop on batch row 0; the per-head gradients against the broadcast path's (its ``a``
    gradient summed over ``d``), so the broadcast fwd+bwd row is the reference (error 0)."""
    q, k, v, a, w = inputs(jax.random.key(seed), *shape)
    args = (q, k, v, a)
    y_ref = gl.gate_loop_reference(*(np.asarray(x[:1]) for x in args), dtype=np.float64)
    ready, out = {}, {}
    for key, fn in methods(w).items():
        f, out[key], _, n = bench.prepare(fn, args)
        ready[key] = (f, args, n)
    err = {(m, "fwd"): bench.rel_err(out[m, "fwd"][:1], y_ref) for m in (HEAD, BCAST)}
    err[BCAST, "fwd+bwd"] = 0.0
    err[HEAD, "fwd+bwd"] = max(bench.rel_err(x, y.sum(-1, keepdims=True) if x.shape != y.shape
                                             else y)
                               for x, y in zip(out[HEAD, "fwd+bwd"], out[BCAST, "fwd+bwd"]))
    ms = {key: float(np.median(t)) for key, t in bench.time_rounds(ready, repeats).items()}
    other = {HEAD: BCAST, BCAST: HEAD}
    return [dict(method=m, pass_=pas, ms=ms[m, pas], rel_err=err[m, pas],
                 agrees=bool(err[m, pas] <= TOL[pas]),
                 speedup_over_other=ms[other[m], pas] / ms[m, pas]) for m, pas in ms]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shape", default="4,2048,4,64", help="B,L,H,d")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--json")
    args = p.parse_args(argv)
    shape = tuple(int(x) for x in args.shape.split(","))
    if len(shape) != 4 or min(shape) < 1:
        p.error(f"--shape: expected four positive integers B,L,H,d, got {args.shape!r}")
    rows = run(shape, args.repeats)
    print(f"(B, L, H, d) = {shape}, {jax.devices()[0].device_kind}, {os.cpu_count()} CPUs")
    for r in rows:
        print(f"  {r['pass_']:8s} {r['method']:24s} {r['ms']:8.2f} ms  "
              f"x{r['speedup_over_other']:.2f} of the other  err {r['rel_err']:.1e}"
              f"{'' if r['agrees'] else '  DISAGREES'}")
    if args.json:
        prov = bench.provenance(args.repeats, rel_err=REL_ERR)
        prov["command"] = "python benchmarks/head_gates.py " + " ".join(
            sys.argv[1:] if argv is None else argv)
        with open(args.json, "w") as f:
            json.dump(dict(shape=list(shape), rows=rows, provenance=prov), f, indent=1)
    return rows


if __name__ == "__main__":
    main()
