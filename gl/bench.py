"""``python -m gl.bench``: time every way of computing GateLoop against the paper's listing.

For each shape, in one run: the paper's listing (:func:`gl.paper_gate_loop_operator`, the
baseline), each :func:`gl.gate_loop` ``(mode, impl)`` pair that fits in memory (called with
``real=True``: every row computes ``Re y``, the paper's model output; ``impl="pallas"`` on a GPU
only), the Numba loop (:func:`gl.gate_loop_reference`, timed on the host), forward+backward of the gradient paths, and an elementwise pass over the same bytes
(``y = q + k + v + Re a + Im a``: the memory roofline). Each row gives the median time, the
effective bandwidth (SISO: 24 bytes per element, float32 ``q, k, v``, complex64 ``a``, float32
``y``; multi-head: the bytes of ``q, k, v, a`` and real ``y``), the ratios ``vs_paper`` (listing
time / method time: > 1 is faster) and ``vs_copy`` (copy time / method time: the fraction of
the roofline), the first call's time (compilation) and the relative error
``‖y − y_ref‖ / ‖y_ref‖`` against the complex128 Numba reference on the first batch row
(for fwd+bwd rows: the gradients against those of the shape's first gradient method, autodiff
through the associative scan for SISO shapes).

Timing: every method is compiled and checked first; then, in each of ``repeats`` rounds, every
method is timed once in turn, as a burst of back-to-back calls (enough for about 20 ms) divided
by their number. A row's time is the median over rounds, so slow drifts of the machine hit all
methods alike. Methods whose inputs do not fit at once (the associative scan over
outer-product states, O(L²) attention) run over the batch (and heads) in slices with
``lax.map``: the same work, one slice in memory at a time; their names say so.

:func:`run` returns the rows; ``--json`` writes them. Other benchmark jobs (tile sweeps, the
performance goals, merging runs) are scripts under ``benchmarks/``. The committed results
``gl/assets/bench/{gpu,cpu}.json`` (and ``peers_h100.json``, ``benchmarks/peers.py``'s
comparison with other libraries) are read back with :func:`load_results`.
"""
from __future__ import annotations

import argparse
import datetime
import importlib.resources
import json
import os
import platform
import statistics
import sys

import jax
import jax.numpy as jnp
import numpy as np

import gl
from gl import kernels
from gl._checks import MODES, is_tile
from gl._flags import flag, shapes_flag
# the timing harness, also used as gl.bench.* by the scripts of benchmarks/ and experiments/
from gl.timing import burst_ms, grad_err, prepare, rel_err, time_rounds  # noqa: F401

GPU_SISO = [(16, 4096, 640), (8, 65536, 64), (32, 2048, 1024)]  # the shapes of issue 5
GPU_MH = [(16, 4096, 8, 64)]
CPU_SISO = [(2, 1024, 32)]
CPU_MH = [(1, 128, 2, 8)]
RESULT_KINDS = ("gpu", "cpu", "peers_h100", "acc_scan_check_h100", "head_gates_h100",
                "mh_dtype_h100")


def load_results(kind: str) -> dict:
    """A committed result of :data:`RESULT_KINDS`, ``{"provenance": {...}, "rows": [...]}``
    (``"mh_dtype_h100"``: ``"shapes"``), written by ``python -m gl.bench`` or its script."""
    if kind not in RESULT_KINDS:
        raise ValueError(f"kind: expected one of {RESULT_KINDS}, got {kind!r}")
    path = importlib.resources.files("gl") / "assets" / "bench" / f"{kind}.json"
    return json.loads(path.read_text())


def copy_planar(q, k, v, ar, ai):
    """The memory roofline on planar SISO inputs: one elementwise pass over the same bytes."""
    return q + k + v + ar + ai


def listing_planar(q, k, v, ar, ai):
    """The paper's associative-scan listing on planar SISO inputs ``(B, L, D)``: ``a = ar + i ai``
    joined inside the jit (XLA fuses it into the scan's first pass); returns ``Re y``."""
    return gl.paper_gate_loop_operator(k[..., None, None], v[..., None, None], q[..., None, None],
                                       jax.lax.complex(ar, ai)[..., None, None])[..., 0, 0].real


def siso_inputs(key, B, L, D):
    """Real float32 ``q, k, v`` and complex64 ``a`` with ``|a|`` in (0.9, 1), phase in (−π, π)."""
    kq, kk, kv, km, kp = jax.random.split(key, 5)
    q, k, v = (jax.random.normal(kk_, (B, L, D), jnp.float32) for kk_ in (kq, kk, kv))
    mag = jax.random.uniform(km, (B, L, D), jnp.float32, 0.9, 1.0)
    ph = jax.random.uniform(kp, (B, L, D), jnp.float32, -np.pi, np.pi)
    return q, k, v, jax.lax.complex(mag * jnp.cos(ph), mag * jnp.sin(ph))


def mh_inputs(key, B, L, H, d):
    kq, kk, kv, km, kp = jax.random.split(key, 5)
    q, k, v = (jax.random.normal(kk_, (B, L, H, d), jnp.float32) / np.sqrt(d) for kk_ in (kq, kk, kv))
    mag = jax.random.uniform(km, (B, L, H, d), jnp.float32, 0.9, 1.0)
    ph = jax.random.uniform(kp, (B, L, H, d), jnp.float32, -np.pi, np.pi)
    return q, k, v, jax.lax.complex(mag * jnp.cos(ph), mag * jnp.sin(ph))


def _pairs(gpu, siso):
    """The ``(mode, impl)`` pairs to time: every mode with XLA, and on a GPU the Pallas pair of
    the shape (``"parallel"`` for SISO, ``"chunked"`` for multi-head); ``"auto"`` is timed too."""
    pairs = [(m, "xla") for m in MODES if m != "auto"]
    if gpu and kernels.available():
        pairs.append(("parallel" if siso else "chunked", "pallas"))
    return pairs + [("auto", "auto")]


def _name(what, mode, impl):
    return f"{what}[{mode}]" if mode == "auto" else f"{what}[{mode}, {impl}]"


def _mem_bytes():
    try:
        return jax.devices()[0].memory_stats()["bytes_limit"]
    except Exception:  # CPU: no memory_stats
        return 8 * 2**30


def _need(mode, B, L, H, dk, dv):
    """Rough peak bytes of a mode; the associative scan keeps ~6 copies of the complex state."""
    if mode == "attention":  # the (d_k, L, L) relative decay and two float temporaries of its size
        return 3 * B * H * dk * L * L * 8 + B * L * H * dk * dv * 8
    if mode in ("parallel", "listing"):
        return 6 * B * L * H * dk * dv * 8
    return 8 * B * L * H * (dk + dv) * 8


def _plan(mode, B, L, H, dk, dv, mem, grad=False):
    """``"full"``, ``"batch"`` (``lax.map`` over batch rows), ``"batch×heads"`` or ``None`` (skip)."""
    if mode == "attention" and B * H * L * L * dk > (2e11 if jax.default_backend() == "gpu" else 2**22):
        return None  # O(L² d_k) work: seconds per call
    budget = 0.6 * mem / (3 if grad else 1)
    for plan, (b, h) in (("full", (B, H)), ("batch", (1, H)), ("batch×heads", (1, 1))):
        if _need(mode, b, L, h, dk, dv) < budget:
            return plan
    return None


def _sliced(f, plan):
    """``f(q, k, v, a) -> y`` run whole (``"full"``) or over slices of batch (and heads) by ``lax.map``."""
    if plan == "full":
        return f

    def over_batch(q, k, v, a):
        return jax.lax.map(lambda xs: f(*(x[None] for x in xs))[0], (q, k, v, a))

    if plan == "batch":
        return over_batch

    def over_batch_heads(q, k, v, a):
        B, L, H = q.shape[:3]
        fl = lambda x: jnp.moveaxis(x, 2, 1).reshape((B * H, L, 1, x.shape[-1]))
        y = over_batch(*(fl(x) for x in (q, k, v, a)))  # (B·H, L, 1, d_v)
        return jnp.moveaxis(y.reshape((B, H, L, y.shape[-1])), 1, 2)

    return over_batch_heads


def _label(name, plan):
    return name if plan in (None, "full") else f"{name} (over {plan})"


def _grad_of(f, w):
    """d/d(q, k, v, a) of ``sum(f(q, k, v, a) * w)``: one forward and one backward pass."""
    def g(q, k, v, a):
        return jax.grad(lambda *xs: jnp.sum(f(*xs) * w), argnums=(0, 1, 2, 3))(q, k, v, a)
    return g


def siso_methods(B, L, D, key, gpu, mem):
    """name -> (fn, args, skip reason, check) for a SISO shape ``(B, L, D)``.

    ``check``: ``"y"`` (compared with the complex128 Numba loop on batch row 0), ``"grad"``
    (compared with the gradients of ``fwd+bwd[parallel]``, autodiff through the associative
    scan) or ``None``.
    """
    q, k, v, a = siso_inputs(key, B, L, D)
    e = lambda x: x[..., None]  # (B, L, D) -> (B, L, H=D, 1)
    m = {}
    m["paper_listing"] = (
        lambda q, k, v, a: gl.paper_gate_loop_operator(k[..., None, None], v[..., None, None],
                                                       q[..., None, None], a[..., None, None])[..., 0, 0].real,
        (q, k, v, a), None, "y")
    # the same listing handed a in planar form (XLA fuses lax.complex into the scan's first pass):
    # the like-for-like baseline of the planar kernels
    m["paper_listing[planar a]"] = (listing_planar, (q, k, v, jnp.real(a), jnp.imag(a)), None, "y")
    for mode, impl in _pairs(gpu, True):
        plan = _plan(mode, B, L, D, 1, 1, mem)
        skip = None if plan == "full" else "O(L^2) work or memory" if mode == "attention" else "does not fit"
        if mode == "recurrent" and gpu and L > 8192:
            skip = f"lax.scan over L={L} steps: too slow to time here"
        m[_name("gate_loop", mode, impl)] = (
            lambda q, k, v, a, mode=mode, impl=impl: gl.gate_loop(e(q), e(k), e(v), e(a), mode=mode, impl=impl,
                                                                  real=True)[..., 0],
            (q, k, v, a), skip, "y")
    host = [np.asarray(x) for x in (q, k, v, a)]
    m["numba_reference"] = (
        lambda q, k, v, a: gl.gate_loop_reference(q[..., None], k[..., None], v[..., None], a[..., None])[..., 0].real,
        host, None, "y")
    # forward + backward: d/d(q, k, v, a) of sum(Re(y) * w)
    w = jax.random.normal(jax.random.fold_in(key, 7), (B, L, D), jnp.float32)
    # the baseline: autodiff through lax.associative_scan (gl.scan), then the reverse-scan VJP
    # of mode="parallel" (impl "xla", and "pallas" on a GPU; "auto" picks one of them)
    skip = None if _plan("parallel", B, L, D, 1, 1, mem, grad=True) == "full" else "does not fit"
    autodiff = lambda q, k, v, a: gl.scan.gate_loop_parallel(e(q), e(k), e(v), e(a), None, jnp.complex64)[0][..., 0].real
    m["fwd+bwd[parallel, autodiff]"] = (_grad_of(autodiff, w), (q, k, v, a), skip, "grad")
    for impl in ["xla"] + (["pallas"] if gpu and kernels.available() else []):
        f = lambda q, k, v, a, impl=impl: gl.gate_loop(e(q), e(k), e(v), e(a), mode="parallel", impl=impl,
                                                       real=True)[..., 0]
        m[f"fwd+bwd[parallel, {impl}]"] = (_grad_of(f, w), (q, k, v, a), skip, "grad")
    m["copy"] = (lambda q, k, v, a: q + k + v + a.real + a.imag, (q, k, v, a), None, None)

    def ref():
        y = gl.gate_loop_reference(*(x[:1, ..., None] for x in host), dtype=np.complex128)[..., 0].real
        return y

    return m, ref, B * L * D * 24


def mh_methods(B, L, H, d, key, gpu, mem):
    """name -> (fn, args, skip reason, check) for a multi-head shape ``(B, L, H, d_k = d_v = d)``."""
    q, k, v, a = mh_inputs(key, B, L, H, d)
    m = {}
    listing = lambda q, k, v, a: gl.paper_gate_loop_operator(k[..., :, None], v[..., None, :], q[..., None, :],
                                                             a[..., :, None])[..., 0, :].real
    plan = _plan("listing", B, L, H, d, d, mem)
    m[_label("paper_listing", plan)] = (_sliced(listing, plan or "full"), (q, k, v, a),
                                        None if plan else "does not fit", "y")
    for mode, impl in _pairs(gpu and is_tile(d), False):
        plan = _plan(mode, B, L, H, d, d, mem)
        skip = None if plan else "does not fit"
        if mode == "recurrent" and gpu:
            skip = "lax.scan over outer-product states: too slow to time here"
        f = lambda q, k, v, a, mode=mode, impl=impl: gl.gate_loop(q, k, v, a, mode=mode, impl=impl, real=True)
        m[_label(_name("gate_loop", mode, impl), plan)] = (_sliced(f, plan or "full"), (q, k, v, a), skip, "y")
    host = [np.asarray(x) for x in (q, k, v, a)]
    m["numba_reference"] = (lambda q, k, v, a: gl.gate_loop_reference(q, k, v, a).real, host,
                            None if not gpu else "too slow at d_k = d_v = 64 on the host", "y")
    w = jax.random.normal(jax.random.fold_in(key, 7), (B, L, H, d), jnp.float32)
    for mode in ("parallel", "chunked"):  # XLA; autodiff through the scan would keep every level
        plan = _plan(mode, B, L, H, d, d, mem, grad=True)
        f = lambda q, k, v, a, mode=mode: gl.gate_loop(q, k, v, a, mode=mode, impl="xla", real=True)
        m[_label(f"fwd+bwd[{mode}, xla]", plan)] = (_grad_of(_sliced(f, plan or "full"), w), (q, k, v, a),
                                              None if plan else "does not fit", "grad")
    m["copy"] = (lambda q, k, v, a: (q + k + v + a.real + a.imag), (q, k, v, a), None, None)

    def ref():
        return gl.gate_loop_reference(*(x[:1] for x in host), dtype=np.complex128).real

    return m, ref, B * L * H * d * (4 * 3 + 8 + 4)


BENCH_NOTES = dict(  #: what :func:`run`'s rows mean (other scripts timing with this module: their own)
    bytes_per_element="SISO: 24 (float32 q, k, v; complex64 a; float32 y), the same for every method",
    max_rel_err="||y - y_ref|| / ||y_ref|| on batch row 0 vs the complex128 Numba loop; for fwd+bwd rows the "
    "gradients vs those of the shape's first fwd+bwd row (SISO: autodiff through the associative scan; "
    "multi-head: fwd+bwd[parallel, xla]); null for copy")


def provenance(repeats, **notes):
    """Device, versions, date, command, timing rule; ``notes``: what the caller's rows mean."""
    dev = jax.devices()[0]
    return dict(
        command=" ".join(["python -m gl.bench" if sys.argv[0].endswith("gl/bench.py") else sys.argv[0]] + sys.argv[1:]),
        hardware=(getattr(dev, "device_kind", "") + f"; host: {platform.processor() or platform.machine()}, "
                  f"{os.cpu_count()} CPUs"),
        device_kind=getattr(dev, "device_kind", ""), backend=jax.default_backend(),
        jax=jax.__version__, numba=__import__("numba").__version__, python=platform.python_version(),
        date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), repeats=repeats,
        timing="median over rounds; in each round every method once, as a burst of back-to-back calls "
               "(about 20 ms) divided by their number",
        **notes,
    )


def run(siso_shapes, mh_shapes, repeats=10, log=print, seed=0, only=None):
    """Run the bench; return ``{"provenance": ..., "rows": [...]}``.

    ``only``: if given, the method names to run (e.g. ``["paper_listing", "copy"]``).
    """
    gpu = jax.default_backend() == "gpu"
    mem = _mem_bytes()
    key = jax.random.key(seed)
    rows = []
    for shape in siso_shapes:
        log(f"SISO (B, L, D) = {shape}")
        m, ref, nbytes = siso_methods(*shape, key, gpu, mem)
        run_checked(rows, shape, _keep(m, only), ref, nbytes, repeats, log)
    for shape in mh_shapes:
        log(f"multi-head (B, L, H, d_k = d_v) = {shape}")
        m, ref, nbytes = mh_methods(*shape, key, gpu, mem)
        run_checked(rows, shape, _keep(m, only), ref, nbytes, repeats, log)
    return dict(provenance=provenance(repeats, **BENCH_NOTES), rows=rows)


def _keep(methods, only):
    return methods if only is None else {name: val for name, val in methods.items() if name in only}


def run_checked(rows, shape, methods, ref, nbytes, repeats, log, target_ms=20.0):
    """Time ``methods`` (name -> (fn, args, skip reason, check)); append rows with ratios and errors.

    Every method is compiled, run and checked first; then ``repeats`` rounds time each method
    once in turn (a burst of back-to-back calls). Errors: see :func:`siso_methods`.
    """
    y_ref = ref()
    ready, errs, compile_s, base_grads = {}, {}, {}, None
    for name, (fn, args, skip, check) in methods.items():
        if skip:
            log(f"  {name:36s} skipped: {skip}")
            continue
        try:
            f, out, compile_s[name], n = prepare(fn, args, jit=name != "numba_reference", target_ms=target_ms)
            err = None
            if check == "y":
                err = rel_err(np.asarray(out[:1]), y_ref)
            elif check == "grad":
                if base_grads is None:  # the first gradient method is the baseline
                    base_grads = out
                err = grad_err(out, base_grads)
            del out
        except Exception as e:  # out of memory or unsupported: say so, keep going
            log(f"  {name:36s} failed: {type(e).__name__}: {str(e).splitlines()[0][:160]}")
            continue
        ready[name], errs[name] = (f, args, n), err
        log(f"    ({name}: first call {compile_s[name]:.1f} s, {n} calls per burst)")
    base_grads = None
    samples = time_rounds(ready, repeats)
    times = {name: statistics.median(ts) for name, ts in samples.items()}
    base = next((ms for name, ms in times.items() if name.split(" (over")[0] == "paper_listing"), None)
    copy = times.get("copy")
    for name, ms in times.items():
        row = dict(shape=list(shape), method=name, ms=ms, gbps=nbytes / ms / 1e6,
                   vs_paper=(base / ms) if base else None, vs_copy=(copy / ms) if copy else None,
                   max_rel_err=errs[name], compile_s=compile_s[name],
                   spread=(max(samples[name]) - min(samples[name])) / ms)
        rows.append(row)
        e = "" if errs[name] is None else f"  err {errs[name]:.1e}"
        log(f"  {name:36s} {ms:9.3f} ms {row['gbps']:8.1f} GB/s  x{row['vs_paper'] or 0:5.2f} listing"
            f"  {row['vs_copy'] or 0:5.2f} of copy{e}")


def parser():
    """The command line of ``python -m gl.bench``; a bad flag is a usage error saying what it
    expects."""
    p = argparse.ArgumentParser(prog="python -m gl.bench", description=__doc__.splitlines()[0])
    p.add_argument("--json", help="write the results here (e.g. gl/assets/bench/gpu.json)")
    p.add_argument("--shapes", type=shapes_flag("BLD"),
                   help="SISO shapes 'B,L,D;B,L,D': batch, sequence length, channels (d_k = d_v "
                        "= 1, D heads); replaces the defaults and runs no multi-head shape")
    p.add_argument("--quick", action="store_true",
                   help="3 repeats unless --repeats, first SISO shape only")
    p.add_argument("--repeats", type=flag(int, 1), default=None,
                   help="timing rounds per method, an int >= 1; the median is reported "
                        "(default 10, 3 with --quick)")
    p.add_argument("--mh", type=shapes_flag("BLHd"),
                   help="multi-head shapes 'B,L,H,d;...': batch, sequence length, heads, "
                        "d_k = d_v (replaces the defaults)")
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    gpu = jax.default_backend() == "gpu"
    siso, mh = (GPU_SISO, GPU_MH) if gpu else (CPU_SISO, CPU_MH)
    if args.shapes is not None:
        siso, mh = args.shapes, []
    if args.mh is not None:
        mh = args.mh
    repeats = args.repeats if args.repeats is not None else (3 if args.quick else 10)
    if args.quick:
        siso, mh = siso[:1], []
    res = run(siso, mh, repeats=repeats)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
        print(f"wrote {args.json}")
    return res


if __name__ == "__main__":
    main()
