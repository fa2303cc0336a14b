"""``python -m gl.bench``: time every way of computing GateLoop against the paper's listing.

For each shape, in one run: the paper's listing (:func:`gl.paper_gate_loop_operator`, the
baseline), each :func:`gl.gate_loop` mode that fits in memory (called with ``real=True``: every
row computes ``Re y``, the paper's model output), the Pallas SISO kernels
(:mod:`gl.pallas_scan`, GPU only), the Numba loop (:func:`gl.gate_loop_reference`, timed on the
host), forward+backward of the gradient paths, and an elementwise pass over the same bytes
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

:func:`goals` turns the rows into the pass/fail table of the performance goals.
Results: ``gl/assets/bench/{gpu,cpu}.json``, read back with :func:`load_results`.
"""
from __future__ import annotations

import argparse
import datetime
import importlib.resources
import json
import os
import platform
import re
import statistics
import sys
import time

import numpy as np

import jax
import jax.numpy as jnp

import gl
from gl import _checks

GPU_SISO = [(16, 4096, 640), (8, 65536, 64), (32, 2048, 1024)]  # the shapes of issue 5
GPU_MH = [(16, 4096, 8, 64)]
CPU_SISO = [(2, 1024, 32)]
CPU_MH = [(1, 128, 2, 8)]


def load_results(kind: str) -> dict:
    """The committed bench results ``"gpu"`` or ``"cpu"``: ``{"provenance": {...}, "rows": [...]}``."""
    if kind not in ("gpu", "cpu"):
        raise ValueError(f"kind: expected 'gpu' or 'cpu', got {kind!r}")
    path = importlib.resources.files("gl") / "assets" / "bench" / f"{kind}.json"
    return json.loads(path.read_text())


def burst_ms(fn, args, n):
    """Mean time in ms of ``n`` back-to-back calls ``fn(*args)``, blocked once at the end.

    On a GPU the calls queue up asynchronously, so this measures the device's time per call
    rather than Python's dispatch latency.
    """
    t = time.perf_counter()
    out = None
    for _ in range(n):
        out = fn(*args)
    jax.block_until_ready(out)
    return 1e3 * (time.perf_counter() - t) / n


def prepare(fn, args, jit=True, target_ms=20.0):
    """Compile and run ``fn(*args)`` once; return ``(f, out, first_s, n)``.

    ``f``: the (jitted) callable; ``out``: its output; ``first_s``: the first call's seconds,
    compilation included; ``n``: the calls per timing burst, enough for about ``target_ms``.
    """
    f = jax.jit(fn) if jit else fn
    t = time.perf_counter()
    out = jax.block_until_ready(f(*args))
    first_s = time.perf_counter() - t
    n = int(min(50, max(1, target_ms / max(burst_ms(f, args, 1), 1e-3))))
    return f, out, first_s, n


def time_rounds(ready, repeats):
    """Interleaved timing: ``ready`` maps names to ``(f, args, n)``; in each of ``repeats`` rounds
    every method runs one burst of ``n`` calls in turn. Returns name -> list of ms per call."""
    samples = {name: [] for name in ready}
    for _ in range(repeats):
        for name, (f, args, n) in ready.items():
            samples[name].append(burst_ms(f, args, n))
    return samples


def rel_err(x, ref) -> float:
    x, ref = np.asarray(x, np.complex128), np.asarray(ref, np.complex128)
    return float(np.linalg.norm((x - ref).ravel()) / max(np.linalg.norm(ref.ravel()), 1e-300))


_NCU_KERNEL = re.compile(r"^  (\S+) \(\d+, \d+, \d+\)x\(\d+, \d+, \d+\), Context", re.M)
_NCU_SCALE = {"ns": 1e-6, "us": 1e-3, "usecond": 1e-3, "ms": 1.0, "msecond": 1.0, "s": 1e3,
              "byte": 1e-6, "Kbyte": 1e-3, "Mbyte": 1.0, "Gbyte": 1e3}  # to ms and MB


def read_ncu(text: str) -> list[tuple[str, dict]]:
    """The kernels of an Nsight Compute text report (``ncu`` with ``--section`` or ``--metrics``),
    in order: ``[(kernel name, {metric: value})]``, times in ms, bytes in MB, other units as given."""
    heads = list(_NCU_KERNEL.finditer(text))
    out = []
    for head, nxt in zip(heads, heads[1:] + [None]):
        metrics = {}
        for line in text[head.end():nxt.start() if nxt else len(text)].splitlines()[1:]:
            if hit := re.fullmatch(r"(.+?)\s{2,}(?:(\S+)\s+)?([\d,.]+)", line.strip()):  # name [unit] value
                metrics[hit[1]] = float(hit[3].replace(",", "")) * _NCU_SCALE.get(hit[2], 1.0)
        out.append((head[1], metrics))
    return out


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


def _modes(gpu=None):
    """The modes to time: every mode but ``"auto"`` (timed separately); ``"pallas"`` on a GPU only."""
    gpu = jax.default_backend() == "gpu" if gpu is None else gpu
    return [m for m in _checks.MODES if m != "auto" and (gpu or m != "pallas")]


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
    for mode in _modes(gpu) + ["auto"]:
        plan = _plan(mode, B, L, D, 1, 1, mem)
        skip = None if plan == "full" else "O(L^2) work or memory" if mode == "attention" else "does not fit"
        if mode == "recurrent" and gpu and L > 8192:
            skip = f"lax.scan over L={L} steps: too slow to time here"
        m[f"gate_loop[{mode}]"] = (
            lambda q, k, v, a, mode=mode: gl.gate_loop(e(q), e(k), e(v), e(a), mode=mode, real=True)[..., 0],
            (q, k, v, a), skip, "y")
    if gpu:
        from gl import pallas_scan, pallas_tma
        m["pallas_siso"] = (lambda q, k, v, a: pallas_scan.gate_loop_siso(q, k, v, a)[0], (q, k, v, a), None, "y")
        ar, ai = jnp.real(a), jnp.imag(a)
        m["pallas_siso[planar a]"] = (lambda q, k, v, ar, ai: pallas_scan.gate_loop_siso(q, k, v, (ar, ai))[0],
                                      (q, k, v, ar, ai), None, "y")
        bf = lambda x: x.astype(jnp.bfloat16)
        m["pallas_siso[bf16 planar]"] = (
            lambda q, k, v, ar, ai: pallas_scan.gate_loop_siso(q, k, v, (ar, ai))[0],
            tuple(bf(x) for x in (q, k, v, ar, ai)), None, "y")
        if pallas_scan.default_config(B, L, D, tma=pallas_tma.available())["backend"] == "tma":
            # the same run's Triton kernels, where the defaults above run the TMA forward
            for name, args in (("planar a", (q, k, v, ar, ai)), ("bf16 planar", tuple(bf(x) for x in (q, k, v, ar, ai)))):
                m[f"pallas_siso[{name}, triton]"] = (
                    lambda q, k, v, ar, ai: pallas_scan.gate_loop_siso(q, k, v, (ar, ai), backend="triton")[0],
                    args, None, "y")
        lookback = os.environ.get("GL_BENCH_LOOKBACK")  # a JSON config, once tools/gpu_lookback.py passed here
        if lookback:
            from gl import pallas_lookback
            cfg = json.loads(lookback)
            m["pallas_lookback[planar a]"] = (
                lambda q, k, v, ar, ai: pallas_lookback.gate_loop_siso_lookback(q, k, v, (ar, ai), **cfg)[0],
                (q, k, v, ar, ai), None, "y")
    host = [np.asarray(x) for x in (q, k, v, a)]
    m["numba_reference"] = (
        lambda q, k, v, a: gl.gate_loop_reference(q[..., None], k[..., None], v[..., None], a[..., None])[..., 0].real,
        host, None, "y")
    # forward + backward: d/d(q, k, v, a) of sum(Re(y) * w)
    w = jax.random.normal(jax.random.fold_in(key, 7), (B, L, D), jnp.float32)
    # "auto" picks "pallas" on a GPU: its gradient is then the same program as fwd+bwd[pallas]
    for mode in ["parallel", "parallel_vjp"] + (["pallas"] if gpu else ["auto"]):
        f = lambda q, k, v, a, mode=mode: gl.gate_loop(e(q), e(k), e(v), e(a), mode=mode, real=True)[..., 0]
        skip = None if _plan("parallel", B, L, D, 1, 1, mem, grad=True) == "full" else "does not fit"
        m[f"fwd+bwd[{mode}]"] = (_grad_of(f, w), (q, k, v, a), skip, "grad")
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
    for mode in _modes(gpu) + ["auto"]:
        plan = _plan(mode, B, L, H, d, d, mem)
        skip = None if plan else "does not fit"
        if mode == "recurrent" and gpu:
            skip = "lax.scan over outer-product states: too slow to time here"
        f = lambda q, k, v, a, mode=mode: gl.gate_loop(q, k, v, a, mode=mode, real=True)
        m[_label(f"gate_loop[{mode}]", plan)] = (_sliced(f, plan or "full"), (q, k, v, a), skip, "y")
    if gpu and gl.operator.pallas_available() and _checks.is_tile(d):
        from gl import pallas_chunked  # the fused kernels computing Re y only (the model's output)

        for prec in ("f16x3", "tf32x3", "bf16x3"):
            m[f"pallas_mh[{prec}, Re y]"] = (
                lambda q, k, v, a, prec=prec: pallas_chunked.gate_loop_mh(q, k, v, a, precision=prec)[0],
                (q, k, v, a), None, "y")
        # the kernel writing Re y and Im y; .real drops XLA's merge of the two planes into complex64,
        # which gate_loop(...) without real=True adds (0.19 ms at the bench shape: notes, item 20)
        m["pallas_mh[f16x3, complex y]"] = (
            lambda q, k, v, a: pallas_chunked.gate_loop_mh(q, k, v, a, complex_y=True)[0].real,
            (q, k, v, a), None, "y")
    host = [np.asarray(x) for x in (q, k, v, a)]
    m["numba_reference"] = (lambda q, k, v, a: gl.gate_loop_reference(q, k, v, a).real, host,
                            None if not gpu else "too slow at d_k = d_v = 64 on the host", "y")
    w = jax.random.normal(jax.random.fold_in(key, 7), (B, L, H, d), jnp.float32)
    for mode in ("parallel_vjp", "chunked"):  # autodiff through the scan over batch slices keeps every slice's residuals
        plan = _plan("parallel" if mode != "chunked" else "chunked", B, L, H, d, d, mem, grad=True)
        f = lambda q, k, v, a, mode=mode: gl.gate_loop(q, k, v, a, mode=mode, real=True)
        m[_label(f"fwd+bwd[{mode}]", plan)] = (_grad_of(_sliced(f, plan or "full"), w), (q, k, v, a),
                                              None if plan else "does not fit", "grad")
    m["copy"] = (lambda q, k, v, a: (q + k + v + a.real + a.imag), (q, k, v, a), None, None)

    def ref():
        return gl.gate_loop_reference(*(x[:1] for x in host), dtype=np.complex128).real

    return m, ref, B * L * H * d * (4 * 3 + 8 + 4)


def _provenance(repeats):
    dev = jax.devices()[0]
    return dict(
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
        lookback_config=os.environ.get("GL_BENCH_LOOKBACK") or None,
        timing="median over rounds; in each round every method once, as a burst of back-to-back calls "
               "(about 20 ms) divided by their number",
        bytes_per_element="SISO: 24 (float32 q, k, v; complex64 a; float32 y), the same for every method",
        max_rel_err="||y - y_ref|| / ||y_ref|| on batch row 0 vs the complex128 Numba loop; for fwd+bwd "
                    "rows the gradients vs those of the shape's first fwd+bwd row (SISO: fwd+bwd[parallel], "
                    "autodiff through the associative scan; multi-head: fwd+bwd[parallel_vjp]); null for copy",
    )


def run(siso_shapes, mh_shapes, repeats=10, log=print, seed=0, only=None):
    """Run the bench; return ``{"provenance": ..., "rows": [...], "goals": [...]}``.

    ``only``: if given, the method names to run (e.g. ``["paper_listing", "copy"]``).
    """
    gpu = jax.default_backend() == "gpu"
    mem = _mem_bytes()
    key = jax.random.key(seed)
    rows = []
    for shape in siso_shapes:
        log(f"SISO (B, L, D) = {shape}")
        m, ref, nbytes = siso_methods(*shape, key, gpu, mem)
        _run_checked(rows, shape, _keep(m, only), ref, nbytes, repeats, log)
    for shape in mh_shapes:
        log(f"multi-head (B, L, H, d_k = d_v) = {shape}")
        m, ref, nbytes = mh_methods(*shape, key, gpu, mem)
        _run_checked(rows, shape, _keep(m, only), ref, nbytes, repeats, log)
    res = dict(provenance=_provenance(repeats), rows=rows)
    res["goals"] = goals(res)
    for g in res["goals"]:
        log(f"goal {g['goal']:<44s} {str(tuple(g['shape'])):20s} {g['measured']:8.3g} (target {g['target']})"
            f"  {'met' if g['met'] else 'MISSED'}")
    return res


def _keep(methods, only):
    return methods if only is None else {name: val for name, val in methods.items() if name in only}


def _grad_err(out, base):
    num = sum(float(jnp.sum(jnp.abs(x - y) ** 2)) for x, y in zip(out, base))
    den = sum(float(jnp.sum(jnp.abs(y) ** 2)) for y in base)
    return (num / max(den, 1e-300)) ** 0.5


def _run_checked(rows, shape, methods, ref, nbytes, repeats, log, target_ms=20.0):
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
                err = _grad_err(out, base_grads)
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


def _ms(rows, shape, method):
    """The time of ``method`` (a name, or its prefix before `` (over``) at ``shape``, or None."""
    for r in rows:
        if tuple(r["shape"]) == tuple(shape) and r["method"].split(" (over")[0] == method:
            return r["ms"], r
    return None, None


def goals(res) -> list[dict]:
    """The performance goals as rows ``{goal, shape, measured, target, met, note}`` from bench rows.

    Each ``measured`` is a ratio of two times from the same run (or a compile time / an error).
    Goals whose rows are missing (e.g. the GPU kernels on a CPU) are left out.
    """
    rows, out = res["rows"], []
    shapes = list(dict.fromkeys(tuple(r["shape"]) for r in rows))

    def add(goal, shape, num, den, target, note=""):
        if num is not None and den is not None:
            out.append(dict(goal=goal, shape=list(shape), measured=num / den, target=target,
                            met=num / den >= target, note=note))

    for s in shapes:
        listing, _ = _ms(rows, s, "paper_listing")
        copy, _ = _ms(rows, s, "copy")
        fast, r = _ms(rows, s, "pallas_siso[planar a]")
        fp32 = fast  # the two-kernel scan, the bfloat16 comparison's float32 side
        name = "pallas_siso[planar a]"
        lb, rl = _ms(rows, s, "pallas_lookback[planar a]")
        if lb is not None and rl["max_rel_err"] is not None and rl["max_rel_err"] < 2e-5 and (fast is None or lb < fast):
            fast, r, name = lb, rl, "pallas_lookback[planar a]"
        add("1 SISO forward vs listing", s, listing, fast, 2.5, name)
        add("1 SISO forward vs listing, both planar a", s, _ms(rows, s, "paper_listing[planar a]")[0], fast, 2.5, name)
        add("1 SISO forward, fraction of copy", s, copy, fast, 0.75, name)
        if r is not None:
            out.append(dict(goal="1 compile time (s)", shape=list(s), measured=r["compile_s"], target="< 30",
                            met=r["compile_s"] < 30, note="first call, " + name))
            out.append(dict(goal="1 error vs complex128 loop", shape=list(s), measured=r["max_rel_err"],
                            target="< 2e-5", met=r["max_rel_err"] < 2e-5, note=name))
        ad, _ = _ms(rows, s, "fwd+bwd[parallel]")
        for custom in ("fwd+bwd[pallas]", "fwd+bwd[parallel_vjp]"):
            t, r = _ms(rows, s, custom)
            if ad is None or t is None:
                continue
            add("2 custom VJP vs autodiff", s, ad, t, 2.0, custom)
            if r["max_rel_err"] is not None:
                out.append(dict(goal="2 gradient error vs autodiff", shape=list(s), measured=r["max_rel_err"],
                                target="< 1e-4", met=r["max_rel_err"] < 1e-4, note=custom))
        if len(s) == 4:
            scan, attn = _ms(rows, s, "gate_loop[parallel]")[0], _ms(rows, s, "gate_loop[attention]")[0]
            for name in ("gate_loop[chunked]", "gate_loop[pallas]", "gate_loop[auto]", "pallas_mh[f16x3, Re y]",
                         "pallas_mh[tf32x3, Re y]", "pallas_mh[bf16x3, Re y]", "pallas_mh[f16x3, complex y]"):
                t, r = _ms(rows, s, name)
                if t is None:
                    continue
                add("3 chunked vs associative scan", s, scan, t, 10.0, name)
                add("3 chunked vs surrogate attention", s, attn, t, 5.0, name)
                out.append(dict(goal="3 error vs complex128 loop", shape=list(s), measured=r["max_rel_err"],
                                target="< 2e-5", met=r["max_rel_err"] < 2e-5, note=name))
            _, rg = _ms(rows, s, "fwd+bwd[chunked]")
            if rg is not None and rg["max_rel_err"] is not None:
                out.append(dict(goal="3 gradient error", shape=list(s), measured=rg["max_rel_err"], target="< 1e-4",
                                met=rg["max_rel_err"] < 1e-4, note="fwd+bwd[chunked] vs fwd+bwd[parallel_vjp]"))
        bf, r = _ms(rows, s, "pallas_siso[bf16 planar]")
        add("4 bf16 vs fp32 throughput", s, fp32, bf, 1.6, "pallas_siso[bf16 planar] vs [planar a]")
        if r is not None:
            out.append(dict(goal="4 bf16 error (documented)", shape=list(s), measured=r["max_rel_err"],
                            target="report", met=True, note="inputs rounded to bfloat16, fp32 accumulation"))
        nb, _ = _ms(rows, s, "numba_reference")
        if res["provenance"].get("backend") == "cpu":
            add("5 CPU Numba vs JAX associative scan", s, listing, nb, 2.0, "vs paper_listing")
            add("5 CPU Numba, fraction of copy", s, copy, nb, 0.5, "within 2x of the copy")
    return out


def variants(shapes, configs, repeats=10, interpret=False, log=print):
    """Time Pallas tile configurations on SISO shapes next to the listing and the copy.

    ``configs``: dicts of :func:`gl.pallas_scan.gate_loop_siso` options, plus ``bf16=True``
    (inputs in bfloat16) or ``bwd=True`` (time forward + backward, next to autodiff through the
    associative scan). Timing as in :func:`run` (interleaved rounds of bursts). Returns rows with
    errors vs the Numba loop (forward) or vs autodiff (``bwd``).
    """
    from gl import pallas_scan, pallas_tma
    key, rows = jax.random.key(1), []
    for shape in shapes:
        q, k, v, a = siso_inputs(key, *shape)
        host = [np.asarray(x[:1, ..., None]) for x in (q, k, v, a)]
        y_ref = gl.gate_loop_reference(*host, dtype=np.complex128)[..., 0].real
        ar, ai = jnp.real(a), jnp.imag(a)
        w = jax.random.normal(jax.random.fold_in(key, 7), q.shape, jnp.float32)
        listing = lambda q, k, v, a: gl.paper_gate_loop_operator(
            k[..., None, None], v[..., None, None], q[..., None, None], a[..., None, None])[..., 0, 0].real
        e = lambda x: x[..., None]
        auto_grad = _grad_of(lambda q, k, v, a: gl.gate_loop(e(q), e(k), e(v), e(a), mode="parallel")[..., 0].real, w)
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
            fwd = lambda q, k, v, ar, ai, cfg=cfg: pallas_scan.gate_loop_siso(q, k, v, (ar, ai), interpret=interpret,
                                                                             **cfg)[0]
            if bwd:
                fwd = _grad_of(lambda q, k, v, a, cfg=cfg: pallas_scan.gate_loop_siso(
                    q, k, v, a, interpret=interpret, complex_y=True, **cfg)[0].real, w)
                args = (q, k, v, a)
            fns[i] = (fwd, args, cfg, bf16, bwd)
        ready, info = {}, {}
        for name, (fn, args, *extra) in fns.items():
            try:
                f, out, comp, n = prepare(fn, args)
            except Exception as ex:
                log(f"  {extra[:1]} failed: {type(ex).__name__}: {str(ex)[:300]}")
                continue
            if name == "fwd+bwd autodiff":
                base_grads = out
                err = None
            elif extra and extra[2]:
                err = _grad_err(out, base_grads)
            elif extra:
                err = rel_err(np.asarray(out[:1], np.float64), y_ref)
            else:
                err = None
            ready[name], info[name] = (f, args, n), (comp, err)
            log(f"    compiled {name}: {extra[0] if extra else ''} in {comp:.1f} s, err {err}")
            del out
        samples = time_rounds(ready, repeats)
        t = {name: statistics.median(x) for name, x in samples.items()}
        copy, paper, ad = t.get("copy"), t.get("listing"), t.get("fwd+bwd autodiff")
        log(f"{shape}: copy {copy:.3f} ms, listing {paper:.3f} ms, fwd+bwd autodiff {ad or float('nan'):.3f} ms, "
            f"default {pallas_scan.default_config(*shape, tma=pallas_tma.available())}")
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


def merge(results: list[dict]) -> dict:
    """One results dict from several runs on the same machine (e.g. the SISO and the multi-head
    shapes run as two commands): rows concatenated, provenance joined, goals recomputed."""
    kinds = {r["provenance"]["device_kind"] for r in results}
    if len(kinds) != 1:
        raise ValueError(f"results: expected runs on one kind of device, got {sorted(kinds)}")
    prov = dict(results[0]["provenance"])
    prov["command"] = " ; ".join(r["provenance"]["command"] for r in results)
    prov["date"] = " / ".join(r["provenance"]["date"] for r in results)
    prov["repeats"] = [r["provenance"]["repeats"] for r in results]
    prov["lookback_config"] = next((r["provenance"].get("lookback_config") for r in results
                                    if r["provenance"].get("lookback_config")), None)
    res = dict(provenance=prov, rows=[row for r in results for row in r["rows"]])
    res["goals"] = goals(res)
    return res


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m gl.bench", description=__doc__.splitlines()[0])
    p.add_argument("--json", help="write the results here (e.g. gl/assets/bench/gpu.json)")
    p.add_argument("--shapes", help="SISO shapes 'B,L,D;B,L,D' (replaces the defaults; no multi-head)")
    p.add_argument("--quick", action="store_true", help="fewer repeats, first SISO shape only")
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--mh", help="multi-head shapes 'B,L,H,d;...' (replaces the defaults)")
    p.add_argument("--variants", action="store_true", help="time Pallas tile configurations instead")
    p.add_argument("--configs", help="with --variants: a JSON list of option dicts (default: VARIANTS)")
    p.add_argument("--merge", nargs="+", metavar="JSON", help="merge result files (same device) into --json")
    args = p.parse_args(argv)
    if args.merge:
        res = merge([json.loads(open(f).read()) for f in args.merge])
        if args.json:
            with open(args.json, "w") as f:
                json.dump(res, f, indent=1)
        return res
    if args.variants:
        shapes = ([tuple(int(x) for x in s.split(",")) for s in args.shapes.split(";")]
                  if args.shapes else GPU_SISO)
        cfgs = json.loads(args.configs) if args.configs else VARIANTS + [dict(bf16=True), dict(bwd=True)]
        rows = variants(shapes, cfgs, repeats=args.repeats or 10)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(dict(rows=rows, jax=jax.__version__,
                               device_kind=jax.devices()[0].device_kind), f, indent=1)
        return rows
    gpu = jax.default_backend() == "gpu"
    siso, mh = (GPU_SISO, GPU_MH) if gpu else (CPU_SISO, CPU_MH)
    parse = lambda text: [tuple(int(x) for x in s.split(",")) for s in text.split(";") if s]
    if args.shapes is not None:
        siso, mh = parse(args.shapes), []
    if args.mh is not None:
        mh = parse(args.mh)
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
