"""Sweep the tile options of the SISO Pallas scan on a GPU, next to the listing and the copy.

``python benchmarks/siso_tiles.py [--shapes 'B,L,D;...'] [--configs JSON] [--json OUT]``: every
configuration of :data:`VARIANTS` (or ``--configs``, a JSON list of
:func:`gl.kernels.siso_scan.gate_loop_siso` option dicts, plus ``bf16``/``bwd`` flags) timed with
:mod:`gl.bench`'s interleaved rounds; the rows go to ``--json``. The sweeps behind
:func:`gl.kernels.siso_scan.default_config` were run this way (``experiments/NOTES.md``).
"""
from __future__ import annotations

import argparse
import json
import statistics

import jax
import jax.numpy as jnp
import numpy as np

import gl
from gl import bench


def variants(shapes, configs, repeats=10, interpret=False, log=print):
    """Time Pallas tile configurations on SISO shapes next to the listing and the copy.

    ``configs``: dicts of :func:`gl.kernels.siso_scan.gate_loop_siso` options, plus ``bf16=True``
    (inputs in bfloat16) or ``bwd=True`` (time forward + backward, next to autodiff through the
    associative scan). Timing as in :func:`gl.bench.run` (interleaved rounds of bursts). Returns rows with
    errors vs the Numba loop (forward) or vs autodiff (``bwd``).
    """
    from gl.kernels import siso_scan, siso_tma
    key, rows = jax.random.key(1), []
    for shape in shapes:
        q, k, v, a = bench.siso_inputs(key, *shape)
        host = [np.asarray(x[:1, ..., None]) for x in (q, k, v, a)]
        y_ref = gl.gate_loop_reference(*host, dtype=np.complex128)[..., 0].real
        ar, ai = jnp.real(a), jnp.imag(a)
        w = jax.random.normal(jax.random.fold_in(key, 7), q.shape, jnp.float32)
        listing = lambda q, k, v, a: gl.paper_gate_loop_operator(
            k[..., None, None], v[..., None, None], q[..., None, None], a[..., None, None])[..., 0, 0].real
        e = lambda x: x[..., None]
        auto_grad = bench._grad_of(lambda q, k, v, a: gl.gate_loop(e(q), e(k), e(v), e(a), mode="parallel")[..., 0].real, w)
        fns = {"copy": (lambda q, k, v, a: q + k + v + a.real + a.imag, (q, k, v, a)),
               "listing": (listing, (q, k, v, a))}
        if any(cfg.get("bwd") for cfg in configs):
            fns["fwd+bwd autodiff"] = (auto_grad, (q, k, v, a))
        for i, cfg in enumerate(configs):
            cfg = dict(cfg)
            bf16, bwd = cfg.pop("bf16", False), cfg.pop("bwd", False)
            args = (q, k, v, ar, ai)
            if bf16:
                args = tuple(x.astype(jnp.bfloat16) for x in args)
            fwd = lambda q, k, v, ar, ai, cfg=cfg: siso_scan.gate_loop_siso(q, k, v, (ar, ai), interpret=interpret,
                                                                             **cfg)[0]
            if bwd:
                fwd = bench._grad_of(lambda q, k, v, a, cfg=cfg: siso_scan.gate_loop_siso(
                    q, k, v, a, interpret=interpret, complex_y=True, **cfg)[0].real, w)
                args = (q, k, v, a)
            fns[i] = (fwd, args, cfg, bf16, bwd)
        ready, info = {}, {}
        for name, (fn, args, *extra) in fns.items():
            try:
                f, out, comp, n = bench.prepare(fn, args)
            except Exception as ex:
                log(f"  {extra[:1]} failed: {type(ex).__name__}: {str(ex)[:300]}")
                continue
            if name == "fwd+bwd autodiff":
                base_grads = out
                err = None
            elif extra and extra[2]:
                err = bench.grad_err(out, base_grads)
            elif extra:
                err = bench.rel_err(np.asarray(out[:1], np.float64), y_ref)
            else:
                err = None
            ready[name], info[name] = (f, args, n), (comp, err)
            log(f"    compiled {name}: {extra[0] if extra else ''} in {comp:.1f} s, err {err}")
            del out
        samples = bench.time_rounds(ready, repeats)
        t = {name: statistics.median(x) for name, x in samples.items()}
        copy, paper, ad = t.get("copy"), t.get("listing"), t.get("fwd+bwd autodiff")
        log(f"{shape}: copy {copy:.3f} ms, listing {paper:.3f} ms, fwd+bwd autodiff {ad or float('nan'):.3f} ms, "
            f"default {siso_scan.default_config(*shape, tma=siso_tma.available())}")
        for name in t:
            if name in ("copy", "listing", "fwd+bwd autodiff"):
                continue
            _, _, cfg, bf16, bwd = fns[name]
            comp, err = info[name]
            ms = t[name]
            row = dict(shape=list(shape), config=dict(cfg, bf16=bf16, bwd=bwd), ms=ms, copy_ms=copy, paper_ms=paper,
                       autodiff_ms=ad, max_rel_err=err, compile_s=comp,
                       spread=(max(samples[name]) - min(samples[name])) / ms)
            rows.append(row)
            ratio = f"x{ad / ms:5.2f} autodiff" if bwd else f"x{paper / ms:5.2f} listing  {copy / ms:5.2f} of copy"
            log(f"  {str(cfg):72s} bf16={bf16:d} bwd={bwd:d} {ms:8.3f} ms  {ratio}  err {err:.1e}  "
                f"first call {comp:.1f} s")
    return rows


VARIANTS = (
    [dict(block_d=bd, chunk=16, segments=s, prefetch=True) for bd in (32, 64, 128) for s in (1, 4, 16, 64)]
    + [dict(block_d=32, chunk=16, segments=1, prefetch=False), dict(block_d=64, chunk=16, segments=16, prefetch=False)]
    + [dict(block_d=64, chunk=8, segments=1, prefetch=True), dict(block_d=64, chunk=8, segments=16, prefetch=True)]
)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shapes", help="SISO shapes 'B,L,D;B,L,D' (default: gl.bench.GPU_SISO)")
    p.add_argument("--configs", help="a JSON list of option dicts (default: VARIANTS)")
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--json", help="write the rows here")
    args = p.parse_args(argv)
    shapes = ([tuple(int(x) for x in s.split(",")) for s in args.shapes.split(";")]
              if args.shapes else bench.GPU_SISO)
    cfgs = json.loads(args.configs) if args.configs else VARIANTS + [dict(bf16=True), dict(bwd=True)]
    rows = variants(shapes, cfgs, repeats=args.repeats)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(rows=rows, jax=jax.__version__, device_kind=jax.devices()[0].device_kind), f, indent=1)
    return rows


if __name__ == "__main__":
    main()
