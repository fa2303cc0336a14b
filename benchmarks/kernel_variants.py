"""Time the Pallas kernels' own variants on a GPU, next to the listing, the Numba loop and the copy.

``python benchmarks/kernel_variants.py [--json OUT]``: on :data:`gl.bench.GPU_SISO` the SISO scan
with a complex ``a``, with ``a`` in planar form, in bfloat16, and the Triton kernels where the
defaults run the TMA forward; on :data:`gl.bench.GPU_MH` the fused multi-head kernel in each
matmul precision and with a complex ``y``. Timing, errors and ratios as in ``python -m gl.bench``
(:func:`gl.bench.run_checked`). Needs a GPU.
"""
from __future__ import annotations

import argparse
import json

import jax
import jax.numpy as jnp
import numpy as np

import gl
from gl import bench


def siso_variants(B, L, D, key):
    """name -> (fn, args, skip, check) of the SISO kernel variants, with the listing and copy."""
    from gl.kernels import siso_scan, siso_tma

    q, k, v, a = bench.siso_inputs(key, B, L, D)
    m = {"paper_listing": (bench.listing_planar, (q, k, v, jnp.real(a), jnp.imag(a)), None, "y")}
    m["pallas_siso"] = (lambda q, k, v, a: siso_scan.gate_loop_siso(q, k, v, a)[0], (q, k, v, a), None, "y")
    ar, ai = jnp.real(a), jnp.imag(a)
    m["pallas_siso[planar a]"] = (lambda q, k, v, ar, ai: siso_scan.gate_loop_siso(q, k, v, (ar, ai))[0],
                                  (q, k, v, ar, ai), None, "y")
    bf = lambda x: x.astype(jnp.bfloat16)
    m["pallas_siso[bf16 planar]"] = (
        lambda q, k, v, ar, ai: siso_scan.gate_loop_siso(q, k, v, (ar, ai))[0],
        tuple(bf(x) for x in (q, k, v, ar, ai)), None, "y")
    if siso_scan.default_config(B, L, D, tma=siso_tma.available())["backend"] == "tma":
        # the same run's Triton kernels, where the defaults above run the TMA forward
        for name, args in (("planar a", (q, k, v, ar, ai)), ("bf16 planar", tuple(bf(x) for x in (q, k, v, ar, ai)))):
            m[f"pallas_siso[{name}, triton]"] = (
                lambda q, k, v, ar, ai: siso_scan.gate_loop_siso(q, k, v, (ar, ai), backend="triton")[0],
                args, None, "y")
    m["copy"] = (bench.copy_planar, (q, k, v, ar, ai), None, None)
    host = [np.asarray(x[:1, ..., None]) for x in (q, k, v, a)]
    ref = lambda: gl.gate_loop_reference(*host, dtype=np.complex128)[..., 0].real
    return m, ref, B * L * D * 24


def mh_variants(B, L, H, d, key):
    """name -> (fn, args, skip, check) of the multi-head kernel variants, with the copy."""
    q, k, v, a = bench.mh_inputs(key, B, L, H, d)
    m = {}
    from gl.kernels import chunked as pallas_chunked  # the fused kernels computing Re y only

    for prec in ("f16x3", "tf32x3", "bf16x3"):
        m[f"pallas_mh[{prec}, Re y]"] = (
            lambda q, k, v, a, prec=prec: pallas_chunked.gate_loop_mh(q, k, v, a, precision=prec)[0],
            (q, k, v, a), None, "y")
    # the kernel writing Re y and Im y; .real drops XLA's merge of the two planes into complex64
    m["pallas_mh[f16x3, complex y]"] = (
        lambda q, k, v, a: pallas_chunked.gate_loop_mh(q, k, v, a, complex_y=True)[0].real,
        (q, k, v, a), None, "y")
    m["copy"] = (lambda q, k, v, a: q + k + v + a.real + a.imag, (q, k, v, a), None, None)
    host = [np.asarray(x[:1]) for x in (q, k, v, a)]
    ref = lambda: gl.gate_loop_reference(*host, dtype=np.complex128).real
    return m, ref, B * L * H * d * (4 * 3 + 8 + 4)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--json", help="write the rows here")
    args = p.parse_args(argv)
    if jax.default_backend() != "gpu":
        raise SystemExit("benchmarks/kernel_variants.py times the Pallas kernels: it needs a GPU")
    key, rows = jax.random.key(0), []
    for shape in bench.GPU_SISO:
        print(f"SISO (B, L, D) = {shape}")
        bench.run_checked(rows, shape, *siso_variants(*shape, key), args.repeats, print)
    for shape in bench.GPU_MH:
        print(f"multi-head (B, L, H, d) = {shape}")
        bench.run_checked(rows, shape, *mh_variants(*shape, key), args.repeats, print)
    res = dict(provenance=bench.provenance(args.repeats, **bench.BENCH_NOTES), rows=rows)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
    return res


if __name__ == "__main__":
    main()
