"""``python experiments/mh_bwd_bench.py``: the multi-head backward, today's against the Pallas one.

In one process, on the inputs of ``benchmarks/peers.py`` (``peer_maps.gl_inputs``: ``q, k, v``
normal / sqrt(d), a real gate per key in (0.9, 1), no ``h0``) and a loss ``sum(y · w)``:

* ``fwd+bwd gate_loop_mh``: :func:`gl.kernels.chunked.gate_loop_mh` (the fused forward) with
  its backward of today, autodiff through :func:`gl.chunked.gate_loop_chunked`, recomputed;
* ``bwd xla``: that backward alone (the pullback of ``gl.chunked``, forward recomputed);
* with ``--fused-bwd``: ``fwd+bwd gate_loop_mh_fused`` (the same forward, the backward of
  ``experiments/pallas_mh_bwd.py``) and ``bwd pallas`` (its kernels alone; also with the
  states of every 4th chunk saved, ``state_stride=4``);
* with ``--mm-bwd``: ``fwd+bwd gate_loop_mh_mm`` and ``bwd pallas mm`` (the matmul-form backward of
  ``experiments/pallas_mh_bwd_mm.py``, 4 and 2 sub-blocks per chunk, ``num_warps=8``, IEEE float32
  matmuls; and 4 and 2 sub-blocks with TF32x3 matmuls) next to the per-step ``bwd pallas`` at ``num_warps=8``;
* with ``--fla``: fla's ``chunk_gla`` forward+backward (``peer_maps``'s map, torch on CUDA),
  when installed.

Every row's gradients are checked first, as ``max|x − ref| / max|ref|`` against the
``gate_loop_mh`` row (tolerance 1e-4; fla's 1e-2, ``peer_precision.TOL``, TF32). Then all rows
are timed in interleaved rounds (:func:`gl.bench.time_rounds`, median ms). A ratio of one run,
never a timed test. On a CPU the kernels run in the Pallas interpreter (small shapes only).

    XLA_PYTHON_CLIENT_PREALLOCATE=false python experiments/mh_bwd_bench.py --fused-bwd --fla \\
        --shape 16,4096,8,64 --json $OUT/mh_bwd.json

``--once 2,tf32x3`` makes one untimed call of one matmul-form backward, for a profiler.
"""
from __future__ import annotations

import os

os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # torch shares the GPU

import argparse  # noqa: E402
import json  # noqa: E402
import pathlib  # noqa: E402
import sys  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import gl.chunked  # noqa: E402
import gl.kernels.chunked  # noqa: E402
from gl import bench  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))
import peer_maps  # noqa: E402  (benchmarks/peer_maps.py)
from experiments import pallas_mh_bwd, pallas_mh_bwd_mm  # noqa: E402
from peer_cases import TorchRuntime, import_peer, max_rel  # noqa: E402
from peer_precision import TOL  # noqa: E402

TOL_GL = 1e-4  #: gl rows against gate_loop_mh's gradients (both float32)


def gl_methods(q, k, v, a, w, interpret, fused, mm=False):
    """name -> (f, args): jitted functions returning gradients ``(dq, dk, dv, da)``."""
    mh = lambda *x: gl.kernels.chunked.gate_loop_mh(*x, interpret=interpret)[0]
    fz = lambda *x: pallas_mh_bwd.gate_loop_mh_fused(*x, interpret=interpret)[0]
    grad = lambda f: jax.jit(jax.grad(lambda q, k, v, a, w: jnp.sum(f(q, k, v, a) * w), argnums=(0, 1, 2, 3)))
    h0 = jnp.zeros(q.shape[:1] + q.shape[2:] + v.shape[-1:], jnp.float32)

    def xla_bwd(q, k, v, a, w):
        _, pull = jax.vjp(gl.chunked.gate_loop_chunked, q, k, v, a, h0)
        return pull((w, jnp.zeros_like(h0)))[:4]

    def pallas_bwd(q, k, v, a, w, stride=1):
        return pallas_mh_bwd.gate_loop_mh_bwd_pallas(q, k, v, a, h0, w, interpret=interpret,
                                                     state_stride=stride)[:4]

    m = {"fwd+bwd gate_loop_mh": grad(mh), "bwd xla": jax.jit(xla_bwd)}
    if fused:
        m.update({"fwd+bwd gate_loop_mh_fused": grad(fz), "bwd pallas": jax.jit(pallas_bwd),
                  "bwd pallas, state_stride 4": jax.jit(lambda *x: pallas_bwd(*x, stride=4))})
    if mm:
        mmz = lambda *x: pallas_mh_bwd_mm.gate_loop_mh_mm(*x, interpret=interpret)[0]
        mm_bwd = lambda q, k, v, a, w, blocks=4, precision="fp32": pallas_mh_bwd_mm.gate_loop_mh_bwd_mm(
            q, k, v, a, h0, w, interpret=interpret, num_warps=8, blocks=blocks, precision=precision)[:4]
        m.update({"fwd+bwd gate_loop_mh_mm": grad(mmz), "bwd pallas mm": jax.jit(mm_bwd),
                  "bwd pallas mm, blocks 2": jax.jit(lambda *x: mm_bwd(*x, blocks=2)),
                  "bwd pallas mm, tf32x3": jax.jit(lambda *x: mm_bwd(*x, precision="tf32x3")),
                  "bwd pallas mm, blocks 2, tf32x3": jax.jit(lambda *x: mm_bwd(*x, blocks=2, precision="tf32x3")),
                  "bwd pallas per-step, num_warps 8": jax.jit(lambda q, k, v, a, w: pallas_mh_bwd.gate_loop_mh_bwd_pallas(
                      q, k, v, a, h0, w, interpret=interpret, num_warps=8)[:4])})
    return {name: (f, (q, k, v, a, w)) for name, f in m.items()}


def fla_method(host, w_host):
    """``(f, args, sync, to_gl)`` for fla's chunk_gla forward+backward, or ``(None, why)``."""
    peer = next(p for p in peer_maps.PEERS if p.name == "fla.chunk_gla")
    op, why = import_peer(peer)
    if op is None:
        return None, why
    try:
        rt = TorchRuntime()
    except ImportError as e:
        return None, f"not installed ({e})"
    p_host = peer.to_peer(*host)
    args = tuple(rt.to_dev(h, grad=True) for h in p_host)
    w_p = rt.to_dev(peer.to_peer(w_host, w_host, w_host, host[3])[0])
    f = rt.grad(lambda *xs: peer.call(op, *xs), w_p)
    to_gl = lambda out: peer.grads_to_gl([rt.to_host(t) for t in out], host)
    return (f, args, rt.sync, to_gl), None


def host_inputs(shape, seed=0):
    """``(q, k, v, a, w)`` as NumPy arrays: ``benchmarks/peers.py``'s inputs (a real gate per
    key) and the loss weights ``w`` of ``sum(y * w)``."""
    host = peer_maps.gl_inputs(seed, "multihead", "key", shape)
    return tuple(host) + (np.random.default_rng(seed + 1).standard_normal(host[2].shape, np.float32),)


def run(shape, repeats=5, seed=0, fused=True, fla=False, log=print, mm=False):
    interpret = jax.default_backend() == "cpu"
    *host, w_host = host_inputs(shape, seed)
    x = tuple(jnp.asarray(h) for h in host) + (jnp.asarray(w_host),)
    ready, grads, rows = {}, {}, []
    for name, (f, args) in gl_methods(*x, interpret, fused, mm).items():
        f, out, first_s, n = bench.prepare(f, args, jit=False)
        ready[name], grads[name] = (f, args, n), [np.asarray(g) for g in out]
        log(f"  {name}: first call {first_s:.1f} s")
    tol = {name: TOL_GL for name in ready}
    if fla:
        got, why = fla_method(host, w_host)
        if got is None:
            rows.append(dict(method="fla.chunk_gla fwd+bwd", status=why))
        else:
            f, args, sync, to_gl = got
            f, out, first_s, n = bench.prepare(f, args, jit=False, sync=sync)
            ready["fwd+bwd fla.chunk_gla"] = (f, args, n, sync)
            grads["fwd+bwd fla.chunk_gla"], tol["fwd+bwd fla.chunk_gla"] = to_gl(out), TOL["fwd+bwd"]
    ref = grads["fwd+bwd gate_loop_mh"]
    ms = {k: float(np.median(t)) for k, t in bench.time_rounds(ready, repeats).items()}
    for name in ready:
        err = max_rel(grads[name], ref)
        rows.append(dict(method=name, ms=ms[name], max_rel_err=err, tol=tol[name],
                         agrees=bool(err <= tol[name]),
                         vs_fwd_bwd_gate_loop_mh=ms["fwd+bwd gate_loop_mh"] / ms[name]))
    return rows


def run_once(shape, spec, seed=0):
    """One call of one matmul-form backward, for a profiler (``ncu -k regex:gl_mh_bwd_mm``):
    ``spec`` is ``"BLOCKS,PRECISION"`` (e.g. ``"2,tf32x3"``); returns ``max|dq|`` (the result
    is waited for)."""
    blocks, precision = spec.split(",")
    interpret = jax.default_backend() == "cpu"
    q, k, v, a, w = (jnp.asarray(x) for x in host_inputs(shape, seed))
    h0 = jnp.zeros(q.shape[:1] + q.shape[2:] + v.shape[-1:], jnp.float32)
    f = jax.jit(lambda *x: pallas_mh_bwd_mm.gate_loop_mh_bwd_mm(
        *x, h0, w, interpret=interpret, num_warps=8, blocks=int(blocks), precision=precision)[0])
    return float(jnp.abs(f(q, k, v, a)).max())


def parse_shape(parser, text, gpu_default, cpu_default="1,64,2,16"):
    """``--shape B,L,H,d`` as a tuple; without one, ``gpu_default`` (``cpu_default`` on a CPU,
    where the kernels run in the Pallas interpreter). A bad value is a usage error."""
    text = text or (cpu_default if jax.default_backend() == "cpu" else gpu_default)
    try:
        shape = tuple(int(s) for s in text.split(","))
    except ValueError:
        shape = ()
    if len(shape) != 4 or min(shape) < 1:
        parser.error(f"--shape: expected four positive integers B,L,H,d, got {text!r}")
    return shape


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shape", default=None, help="B,L,H,d (default 16,4096,8,64; 1,64,2,16 on a CPU)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--fused-bwd", action="store_true", help="add the Pallas backward's rows")
    p.add_argument("--mm-bwd", action="store_true", help="add the matmul-form Pallas backward's rows")
    p.add_argument("--fla", action="store_true", help="add fla chunk_gla forward+backward")
    p.add_argument("--json")
    p.add_argument("--once", metavar="BLOCKS,PRECISION", help="only one call of the matmul-form "
                   "backward (e.g. 2,tf32x3), untimed: for Nsight Compute")
    args = p.parse_args(argv)
    shape = parse_shape(p, args.shape, "16,4096,8,64")
    if args.once:
        print(f"once {args.once} at {shape}: max|dq| = {run_once(shape, args.once):.4g}")
        return []
    rows = run(shape, args.repeats, fused=args.fused_bwd, fla=args.fla, mm=args.mm_bwd)
    print(f"(B, L, H, d) = {shape}, {jax.devices()[0].device_kind}")
    for r in rows:
        if "ms" not in r:
            print(f"  {r['method']:28s} {r['status']}")
            continue
        print(f"  {r['method']:28s} {r['ms']:9.3f} ms  x{r['vs_fwd_bwd_gate_loop_mh']:.2f} of fwd+bwd "
              f"gate_loop_mh  err {r['max_rel_err']:.1e}{'' if r['agrees'] else '  DISAGREES'}")
    if args.json:
        prov = bench.provenance(args.repeats, max_rel_err=(
            "max|g - g_ref| / max|g_ref| over the gradients of sum(y * w) in q, k, v, a; g_ref: "
            "fwd+bwd gate_loop_mh (autodiff through gl.chunked)"))
        cmd = "python experiments/mh_bwd_bench.py " + " ".join(sys.argv[1:] if argv is None else argv)
        pathlib.Path(args.json).write_text(json.dumps(dict(shape=list(shape), rows=rows, command=cmd,
                                                           provenance=prov), indent=1))
    return rows


if __name__ == "__main__":
    main()
