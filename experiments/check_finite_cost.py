"""What the NaN/inf guard of the fused multi-head kernel costs on a GPU, as ratios in one run.

    python experiments/check_finite_cost.py [--json OUT] [--repeats 10]

:func:`gl.kernels.chunked.gate_loop_mh` checks, by default, that its inputs are finite
(``check_finite=True``: one ``isfinite`` pass over ``q, k, v, a, h0``, then ``lax.cond``) and
passes inputs with a NaN or inf to :mod:`gl.chunked`, which keeps them causal. This times the
kernel with and without the check beside :mod:`gl.bench`'s copy of the same bytes and its XLA
chunked mode, with :func:`gl.bench.run_checked` (every row checked against the Numba loop),
on the bench's multi-head shape and one with twice the sequence.
"""
from __future__ import annotations

import argparse
import json

import jax

from gl import bench
from gl.kernels import chunked


def methods(shape, key, mem):
    """The bench's rows of one shape that matter here, and the kernel without the check."""
    m, ref, nbytes = bench.mh_methods(*shape, key, True, mem)
    keep = {name: val for name, val in m.items()
            if name.startswith(("gate_loop[chunked", "copy"))}
    args = keep["copy"][1]
    keep["gate_loop_mh, check_finite=False"] = (
        lambda q, k, v, a: chunked.gate_loop_mh(q, k, v, a, check_finite=False)[0],
        args, None, "y")
    keep["gate_loop_mh, check_finite=True"] = (
        lambda q, k, v, a: chunked.gate_loop_mh(q, k, v, a)[0], args, None, "y")
    return keep, ref, nbytes


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--json")
    p.add_argument("--repeats", type=int, default=10)
    args = p.parse_args(argv)
    assert jax.default_backend() == "gpu", "the fused kernels run on a GPU"
    mem = jax.devices()[0].memory_stats()["bytes_limit"]
    key, rows = jax.random.key(0), []
    for shape in bench.GPU_MH + [(16, 8192, 8, 64)]:
        print(f"multi-head (B, L, H, d_k = d_v) = {shape}")
        m, ref, nbytes = methods(shape, key, mem)
        bench.run_checked(rows, shape, m, ref, nbytes, args.repeats, print)
    out = dict(provenance=bench.provenance(args.repeats, **bench.BENCH_NOTES), rows=rows)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
