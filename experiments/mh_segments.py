"""``python experiments/mh_segments.py``: the fused multi-head forward against its time segments.

Nsight Compute (``experiments/NOTES.md``, "Profiles of both multi-head kernels") found the
forward's outputs kernel at (16, 4096, 8, 64) with real gates at 0.65 of a wave: three programs
fit on an SM there, where :func:`gl.kernels.chunked.plan` counts two (``SLOTS``). This times
:func:`gl.kernels.chunked.gate_loop_mh` (float32, a real gate per key, the inputs of
``benchmarks/peers.py``) with ``segments`` 1, 2, 4, 8 and 16 (each with ``plan``'s split for
it) and the default, in interleaved rounds (:func:`gl.bench.time_rounds`), after checking
that every setting's output agrees with the default's (relative 1e-5). A ratio of one run,
never a timed test; on a CPU, the interpreter at a tiny shape.

    XLA_PYTHON_CLIENT_PREALLOCATE=false python3 experiments/mh_segments.py \\
        --shapes 16,4096,8,64 8,16384,8,128 --json $OUT/mh_segments.json
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys

import jax
import jax.numpy as jnp
import numpy as np

import gl.kernels.chunked as ck
from gl import bench

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "benchmarks"))
import peer_maps  # noqa: E402  (benchmarks/peer_maps.py)

TOL = 1e-5


def rows(shape, segments=(1, 2, 4, 8, 16), repeats=7):
    """One dict per setting: segments, split, ms (median), ms relative to the default, error."""
    interpret = jax.default_backend() == "cpu"
    q, k, v, a = (jnp.asarray(h) for h in peer_maps.gl_inputs(0, "multihead", "key", shape))
    B, L, H, d_k = q.shape
    n_vblocks = v.shape[-1] // min(v.shape[-1], 64)  # gate_loop_mh's default block_v
    default = ck.plan(B, H, n_vblocks, L)
    chunks = -(-L // ck.CHUNK)
    settings = {"default": {}}
    for g in segments:
        if g <= chunks:
            split = ck.plan(B, H, n_vblocks, L, segments=g)[1]
            settings[f"segments {g}"] = {"segments": g, "split": split}
    ready, outs = {}, {}
    for name, kw in settings.items():
        f = jax.jit(lambda q, k, v, a, kw=kw: ck.gate_loop_mh(q, k, v, a, interpret=interpret, **kw)[0])
        f, out, _, n = bench.prepare(f, (q, k, v, a), jit=False)
        ready[name], outs[name] = (f, (q, k, v, a), n), np.asarray(out)
    ms = {name: float(np.median(t)) for name, t in bench.time_rounds(ready, repeats).items()}
    ref = outs["default"]
    out = []
    for name, kw in settings.items():
        err = float(np.abs(outs[name] - ref).max() / np.abs(ref).max())
        out.append(dict(setting=name, segments=kw.get("segments", default[0]),
                        split=kw.get("split", default[1]), ms=ms[name],
                        vs_default=ms["default"] / ms[name], max_rel_err=err, agrees=err <= TOL))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shapes", nargs="+", default=None, help="B,L,H,d ... (default: 1,256,2,16 on a CPU)")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--json")
    args = p.parse_args(argv)
    shapes = args.shapes or (["1,256,2,16"] if jax.default_backend() == "cpu" else ["16,4096,8,64", "8,16384,8,128"])
    doc = {}
    for text in shapes:
        shape = tuple(int(s) for s in text.split(","))
        doc[text] = rows(shape, repeats=args.repeats)
        print(f"(B, L, H, d) = {shape}, {jax.devices()[0].device_kind}")
        for r in doc[text]:
            print(f"  {r['setting']:12s} G={r['segments']:2d} split={r['split']}  {r['ms']:8.3f} ms  "
                  f"x{r['vs_default']:.2f} of the default  err {r['max_rel_err']:.1e}"
                  f"{'' if r['agrees'] else '  DISAGREES'}")
        if args.json:  # after every shape, so a stopped run keeps what it measured
            prov = bench.provenance(args.repeats, max_rel_err="max|y - y_default| / max|y_default|")
            pathlib.Path(args.json).write_text(json.dumps(dict(shapes=doc, provenance=prov), indent=1))
    return doc


if __name__ == "__main__":
    main()
