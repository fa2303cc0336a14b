"""``python -m gl.bench``: time every way of computing GateLoop against the paper's listing.

For each shape, in one run: the paper's listing (:func:`gl.paper_gate_loop_operator`, the
baseline), each :func:`gl.gate_loop` mode that fits in memory, the Pallas SISO kernel
(:mod:`gl.pallas_scan`, GPU only), the Numba loop (:func:`gl.gate_loop_reference`, timed on the
host), forward+backward of the gradient paths, and an elementwise pass over the same bytes
(``y = q + k + v + Re a + Im a``: the memory roofline). Each row gives the median time, the
effective bandwidth (SISO: 24 bytes per element, float32 ``q, k, v``, complex64 ``a``, float32
``y``; multi-head: the bytes of ``q, k, v, a`` and real ``y``), the ratios ``vs_paper`` (listing
time / method time: > 1 is faster) and ``vs_copy`` (copy time / method time: the fraction of
the roofline), and the relative error ``‖y − y_ref‖ / ‖y_ref‖`` against the complex128 Numba
reference on the first batch row.

Results: ``gl/assets/bench/{gpu,cpu}.json``, read back with :func:`load_results`.
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
import time

import numpy as np

import jax
import jax.numpy as jnp

import gl
from gl import _checks

GPU_SISO = [(16, 4096, 624), (8, 65536, 64), (32, 2048, 1024)]
GPU_MH = [(16, 4096, 8, 64)]
CPU_SISO = [(2, 1024, 32)]
CPU_MH = [(1, 128, 2, 8)]


def load_results(kind: str) -> dict:
    """The committed bench results ``"gpu"`` or ``"cpu"``: ``{"provenance": {...}, "rows": [...]}``."""
    if kind not in ("gpu", "cpu"):
        raise ValueError(f"kind: expected 'gpu' or 'cpu', got {kind!r}")
    path = importlib.resources.files("gl") / "assets" / "bench" / f"{kind}.json"
    return json.loads(path.read_text())


def time_fn(fn, *args, repeats=10, warmup=2):
    """Median wall time in ms of ``fn(*args)`` (results blocked until ready), after warm-up."""
    for _ in range(warmup):
        jax.block_until_ready(fn(*args))
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn(*args))
        ts.append(time.perf_counter() - t)
    return 1e3 * statistics.median(ts)


def rel_err(x, ref) -> float:
    x, ref = np.asarray(x, np.complex128), np.asarray(ref, np.complex128)
    return float(np.linalg.norm((x - ref).ravel()) / max(np.linalg.norm(ref.ravel()), 1e-300))


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


def _modes():
    return [m for m in _checks.MODES if m != "auto"]


def _mem_bytes():
    try:
        return jax.devices()[0].memory_stats()["bytes_limit"]
    except Exception:  # CPU: no memory_stats
        return 8 * 2**30


def _fits(mode, B, L, H, dk, dv, mem):
    """Rough peak bytes of a mode; the associative scan keeps ~6 copies of the complex state."""
    if mode == "attention":
        if jax.default_backend() == "cpu" and B * H * L * L * max(dk, dv) > 2**22:
            return False  # O(L^2) work: seconds per call on a CPU
        need = 4 * B * H * L * L * 8 + B * L * H * dk * dv * 8
    elif mode in ("parallel", "listing"):
        need = 6 * B * L * H * dk * dv * 8
    else:
        need = 8 * B * L * H * (dk + dv) * 8
    return need < 0.6 * mem


def siso_methods(B, L, D, key, gpu, mem):
    """name -> (fn, args, skip reason) for a SISO shape ``(B, L, D)``; first batch row checked."""
    q, k, v, a = siso_inputs(key, B, L, D)
    e = lambda x: x[..., None]  # (B, L, D) -> (B, L, H=D, 1)
    m = {}
    m["paper_listing"] = (
        lambda q, k, v, a: gl.paper_gate_loop_operator(k[..., None, None], v[..., None, None],
                                                       q[..., None, None], a[..., None, None])[..., 0, 0].real,
        (q, k, v, a), None)
    for mode in _modes() + ["auto"]:
        skip = None if _fits(mode, B, L, D, 1, 1, mem) else "O(L^2) does not fit" if mode == "attention" else "does not fit"
        if mode == "recurrent" and gpu and L > 8192:
            skip = f"lax.scan over L={L} steps: too slow to time here"
        m[f"gate_loop[{mode}]"] = (
            lambda q, k, v, a, mode=mode: gl.gate_loop(e(q), e(k), e(v), e(a), mode=mode)[..., 0].real,
            (q, k, v, a), skip)
    if gpu:
        from gl import pallas_scan
        m["pallas_siso"] = (lambda q, k, v, a: pallas_scan.gate_loop_siso(q, k, v, a)[0], (q, k, v, a), None)
        ar, ai = jnp.real(a), jnp.imag(a)
        m["pallas_siso[planar a]"] = (lambda q, k, v, ar, ai: pallas_scan.gate_loop_siso(q, k, v, (ar, ai))[0],
                                      (q, k, v, ar, ai), None)
        bf = lambda x: x.astype(jnp.bfloat16)
        m["pallas_siso[bf16 planar]"] = (
            lambda q, k, v, ar, ai: pallas_scan.gate_loop_siso(q, k, v, (ar, ai))[0].astype(jnp.float32),
            tuple(bf(x) for x in (q, k, v, ar, ai)), None)
    host = [np.asarray(x) for x in (q, k, v, a)]
    m["numba_reference"] = (
        lambda q, k, v, a: gl.gate_loop_reference(q[..., None], k[..., None], v[..., None], a[..., None])[..., 0].real,
        host, None)
    # forward + backward: d/d(q,k,v,a) of sum(y * w)
    w = jax.random.normal(jax.random.fold_in(key, 7), (B, L, D), jnp.float32)

    def grad_of(f):
        def g(q, k, v, a):
            return jax.grad(lambda *xs: jnp.sum(f(*xs) * w), argnums=(0, 1, 2, 3))(q, k, v, a)
        return g

    bwd = ["parallel", "auto"] + (["chunked"] if "chunked" in _modes() else [])
    for mode in bwd:
        f = lambda q, k, v, a, mode=mode: gl.gate_loop(e(q), e(k), e(v), e(a), mode=mode)[..., 0].real
        skip = None if _fits("parallel", B, L, D, 1, 1, mem / 3) else "does not fit"
        m[f"fwd+bwd[{mode}]"] = (grad_of(f), (q, k, v, a), skip)
    m["copy"] = (lambda q, k, v, a: q + k + v + a.real + a.imag, (q, k, v, a), None)

    def ref():
        y = gl.gate_loop_reference(*(x[:1, ..., None] for x in host), dtype=np.complex128)[..., 0].real
        return y

    return m, ref, B * L * D * 24


def mh_methods(B, L, H, d, key, gpu, mem):
    q, k, v, a = mh_inputs(key, B, L, H, d)
    m = {}
    m["paper_listing"] = (
        lambda q, k, v, a: gl.paper_gate_loop_operator(k[..., :, None], v[..., None, :], q[..., None, :],
                                                       a[..., :, None])[..., 0, :].real,
        (q, k, v, a), None if _fits("listing", B, L, H, d, d, mem) else "does not fit")
    for mode in _modes():
        skip = None if _fits(mode, B, L, H, d, d, mem) else "does not fit"
        if mode == "recurrent" and gpu:
            skip = "lax.scan over outer-product states: too slow to time here"
        m[f"gate_loop[{mode}]"] = (
            lambda q, k, v, a, mode=mode: gl.gate_loop(q, k, v, a, mode=mode).real, (q, k, v, a), skip)
    host = [np.asarray(x) for x in (q, k, v, a)]
    m["numba_reference"] = (lambda q, k, v, a: gl.gate_loop_reference(q, k, v, a).real, host,
                            None if not gpu else "too slow at d_k = d_v = 64 on the host")
    m["copy"] = (lambda q, k, v, a: (q + k + v + a.real + a.imag), (q, k, v, a), None)

    def ref():
        return gl.gate_loop_reference(*(x[:1] for x in host), dtype=np.complex128).real

    return m, ref, B * L * H * d * (4 * 3 + 8 + 4)


def run(siso_shapes, mh_shapes, repeats=10, log=print, seed=0):
    """Run the bench; return ``{"provenance": ..., "rows": [...]}``."""
    gpu = jax.default_backend() == "gpu"
    mem = _mem_bytes()
    key = jax.random.key(seed)
    rows = []
    for shape in siso_shapes:
        log(f"SISO (B, L, D) = {shape}")
        m, ref, nbytes = siso_methods(*shape, key, gpu, mem)
        _run_checked(rows, shape, m, ref, nbytes, repeats, log)
    for shape in mh_shapes:
        log(f"multi-head (B, L, H, d_k = d_v) = {shape}")
        m, ref, nbytes = mh_methods(*shape, key, gpu, mem)
        _run_checked(rows, shape, m, ref, nbytes, repeats, log)
    dev = jax.devices()[0]
    prov = dict(
        command="python -m gl.bench " + " ".join(sys.argv[1:]),
        hardware=(getattr(dev, "device_kind", "") + f"; host: {platform.processor() or platform.machine()}, "
                  f"{os.cpu_count()} CPUs"),
        device_kind=getattr(dev, "device_kind", ""),
        backend=jax.default_backend(),
        jax=jax.__version__,
        numba=__import__("numba").__version__,
        python=platform.python_version(),
        date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        repeats=repeats,
        bytes_per_element="SISO: 24 (float32 q, k, v; complex64 a; float32 y), the same for every method",
        max_rel_err="||y - y_ref|| / ||y_ref|| on batch row 0 vs the complex128 Numba loop; "
                    "null for fwd+bwd and copy",
    )
    return dict(provenance=prov, rows=rows)


def _run_checked(rows, shape, methods, ref, nbytes, repeats, log):
    """Time ``methods`` (name -> (fn, args, skip reason)); append rows with ratios and errors.

    Each method runs on the whole batch; its error is measured on batch row 0 against ``ref()``.
    """
    y_ref = ref()
    times, errs = {}, {}
    for name, (fn, args, skip) in methods.items():
        if skip:
            log(f"  {name:28s} skipped: {skip}")
            continue
        try:
            if name == "numba_reference":
                f = fn
                ms = time_fn(f, *args, repeats=max(3, repeats // 3), warmup=1)
            else:
                f = jax.jit(fn)
                t = time.perf_counter()
                jax.block_until_ready(f(*args))
                compile_s = time.perf_counter() - t
                ms = time_fn(f, *args, repeats=repeats)
            err = None
            if not (name.startswith("fwd+bwd") or name == "copy"):
                out = np.asarray(f(*args))
                err = rel_err(out[:1], y_ref)
        except Exception as e:  # out of memory or unsupported: say so, keep going
            log(f"  {name:28s} failed: {type(e).__name__}: {str(e).splitlines()[0][:160]}")
            continue
        times[name], errs[name] = ms, err
        if name != "numba_reference":
            log(f"    ({name}: first call {compile_s:.1f} s)")
    base, copy = times.get("paper_listing"), times.get("copy")
    for name, ms in times.items():
        row = dict(shape=list(shape), method=name, ms=ms, gbps=nbytes / ms / 1e6,
                   vs_paper=(base / ms) if base else None, vs_copy=(copy / ms) if copy else None,
                   max_rel_err=errs[name])
        rows.append(row)
        e = "" if errs[name] is None else f"  rel err {errs[name]:.1e}"
        log(f"  {name:28s} {ms:9.3f} ms {row['gbps']:8.1f} GB/s  x{row['vs_paper'] or 0:5.2f} listing"
            f"  {row['vs_copy'] or 0:5.2f} of copy{e}")


def variants(shapes, configs, repeats=10, interpret=False, log=print):
    """Time Pallas tile configurations (dicts of :func:`gl.pallas_scan.gate_loop_siso` options)
    on SISO shapes next to the listing and the copy; return rows with errors vs the Numba loop."""
    from gl import pallas_scan
    key, rows = jax.random.key(1), []
    for shape in shapes:
        q, k, v, a = siso_inputs(key, *shape)
        host = [np.asarray(x[:1, ..., None]) for x in (q, k, v, a)]
        y_ref = gl.gate_loop_reference(*host, dtype=np.complex128)[..., 0].real
        copy = time_fn(jax.jit(lambda q, k, v, a: q + k + v + a.real + a.imag), q, k, v, a, repeats=repeats)
        paper = time_fn(jax.jit(lambda q, k, v, a: gl.paper_gate_loop_operator(
            k[..., None, None], v[..., None, None], q[..., None, None], a[..., None, None]).real), q, k, v, a,
            repeats=repeats)
        log(f"{shape}: copy {copy:.3f} ms, listing {paper:.3f} ms, default {pallas_scan.default_config(shape[0], shape[1], shape[2])}")
        ar, ai = jnp.real(a), jnp.imag(a)
        for cfg in configs:
            cfg = dict(cfg)
            bf16 = cfg.pop("bf16", False)
            args = (q, k, v, ar, ai)
            if bf16:
                args = tuple(x.astype(jnp.bfloat16) for x in args)
            f = jax.jit(lambda q, k, v, ar, ai, cfg=cfg: pallas_scan.gate_loop_siso(
                q, k, v, (ar, ai), interpret=interpret, **cfg)[0])
            try:
                t = time.perf_counter()
                y = np.asarray(f(*args)[:1], np.float64)
                comp = time.perf_counter() - t
                ms = time_fn(f, *args, repeats=repeats)
            except Exception as e:
                log(f"  {cfg} bf16={bf16} failed: {type(e).__name__}: {str(e)[:300]}")
                continue
            err = rel_err(y, y_ref)
            rows.append(dict(shape=list(shape), config=dict(cfg, bf16=bf16), ms=ms, copy_ms=copy,
                             paper_ms=paper, max_rel_err=err, compile_s=comp))
            log(f"  {str(cfg):70s} bf16={bf16:d} {ms:8.3f} ms  x{paper / ms:5.2f} listing  "
                f"{copy / ms:5.2f} of copy  err {err:.1e}  first call {comp:.1f} s")
    return rows


VARIANTS = (
    [dict(block_d=bd, chunk=16, segments=s, prefetch=True) for bd in (32, 64, 128) for s in (1, 4, 16, 64)]
    + [dict(block_d=32, chunk=16, segments=1, prefetch=False), dict(block_d=64, chunk=16, segments=16, prefetch=False)]
    + [dict(block_d=64, chunk=8, segments=1, prefetch=True), dict(block_d=64, chunk=8, segments=16, prefetch=True)]
)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m gl.bench", description=__doc__.splitlines()[0])
    p.add_argument("--json", help="write the results here (e.g. gl/assets/bench/gpu.json)")
    p.add_argument("--shapes", help="SISO shapes 'B,L,D;B,L,D' (replaces the defaults; no multi-head)")
    p.add_argument("--quick", action="store_true", help="fewer repeats, first SISO shape only")
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--variants", action="store_true", help="time Pallas tile configurations instead")
    args = p.parse_args(argv)
    if args.variants:
        shapes = ([tuple(int(x) for x in s.split(",")) for s in args.shapes.split(";")]
                  if args.shapes else GPU_SISO)
        cfgs = VARIANTS + [dict(bf16=True), dict(bf16=True, segments=1)]
        rows = variants(shapes, cfgs, repeats=args.repeats or 10)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(dict(rows=rows, jax=jax.__version__,
                               device_kind=jax.devices()[0].device_kind), f, indent=1)
        return rows
    gpu = jax.default_backend() == "gpu"
    siso, mh = (GPU_SISO, GPU_MH) if gpu else (CPU_SISO, CPU_MH)
    if args.shapes:
        siso, mh = [tuple(int(x) for x in s.split(",")) for s in args.shapes.split(";")], []
    repeats = args.repeats or (3 if args.quick else 10)
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
