"""One case of the peer bench: gl and each installed peer on the same inputs, checked, then timed.

:func:`case_methods` builds the methods of a case (gl's methods, the XLA ``copy`` roofline,
each peer mapped by :mod:`peer_maps`, run on a :class:`TorchRuntime`); :func:`run_case` checks
every method against gl's first (:func:`check`; that one against the float64 Numba loop,
:func:`numba_ref`) and times them in interleaved rounds (:func:`gl.bench.time_rounds`), giving
the rows that ``benchmarks/peers.py`` writes. Tolerances and dtypes: :mod:`peer_precision`.
"""
from __future__ import annotations

import importlib
import os
import statistics
import sys

import numpy as np

import jax
import jax.numpy as jnp

import gl
from gl import bench, kernels

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_maps  # noqa: E402  (benchmarks/peer_maps.py)
from peer_precision import TOL, case_bytes, check_dtype, round_bf16, tol_for  # noqa: E402


class TorchRuntime:
    """Peers' arrays as torch tensors on ``device`` (CUDA for the peers' kernels; ``"cpu"``
    for their torch references in the tests); ``grad`` by ``torch.autograd.grad``."""

    name = "torch"

    def __init__(self, device="cuda"):
        import torch  # lazily: an optional dependency (pip install .[peers])
        if device == "cuda" and not torch.cuda.is_available():
            raise ImportError("torch sees no CUDA device")
        self.torch, self.device = torch, device

    def to_dev(self, x, grad=False, dtype="float32"):
        """``x`` on the device; ``dtype="bfloat16"``: as a bfloat16 tensor (``x`` rounds)."""
        t = self.torch.from_numpy(np.ascontiguousarray(x)).to(self.device)
        if dtype == "bfloat16":
            t = t.to(self.torch.bfloat16)
        return t.requires_grad_(grad) if grad else t

    def to_host(self, t):
        t = t.detach()
        return (t.float() if t.dtype == self.torch.bfloat16 else t).cpu().numpy()

    def sync(self, out):
        if self.device == "cuda":
            self.torch.cuda.synchronize()

    def grad(self, f, w):
        """``(*inputs) -> d sum(f(*inputs)·w) / d inputs`` (inputs made with ``grad=True``)."""
        return lambda *xs: self.torch.autograd.grad((f(*xs) * w).sum(), xs)

    def copy(self, *xs):
        out = xs[0].float() if xs[0].dtype == self.torch.bfloat16 else xs[0]  # y: float32
        for x in xs[1:]:
            out = out + (x.real + x.imag if x.is_complex() else x)
        return out

    def free(self):
        if self.device == "cuda":
            self.torch.cuda.empty_cache()


def max_rel(x, ref) -> float:
    """``max|x − ref| / max|ref|`` over all elements (a tuple: over all its arrays)."""
    if isinstance(ref, (tuple, list)):
        num = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) for a, b in zip(x, ref))
        return num / max(max(float(np.max(np.abs(b))) for b in ref), 1e-300)
    x, ref = np.asarray(x), np.asarray(ref)
    if x.shape != ref.shape:
        raise ValueError(f"x: expected shape {ref.shape}, got {x.shape}")
    return float(np.max(np.abs(x - ref))) / max(float(np.max(np.abs(ref))), 1e-300)


def gl_fn(family, gate, mode, impl):
    """gl's ``y`` on gl's inputs of a case (SISO: ``(B, L, D)``; ``"head"``: ``a`` broadcast)."""
    def f(q, k, v, a):
        if family == "siso":
            e = lambda x: x[..., None]
            return gl.gate_loop(e(q), e(k), e(v), e(a), mode=mode, impl=impl, real=True)[..., 0]
        if a.shape != q.shape and a.dtype == jnp.bfloat16:
            # gl computes in float32 anyway; broadcast after the cast, or the gradient of the
            # broadcast sums over d_k in bfloat16 (measured at (1, 4096, 2, 64): gradients
            # 1.1e-2 off their float32 values, against 3e-3 with the cast first)
            a = a.astype(jnp.float32)
        return gl.gate_loop(q, k, v, jnp.broadcast_to(a, q.shape), mode=mode, impl=impl,
                            real=True)
    return f


def jax_grad(f):
    """``(q, k, v, a, w) -> d sum(f(q, k, v, a)·w) / d(q, k, v, a)`` (``w`` an argument, not a
    constant baked into the compiled program)."""
    def g(q, k, v, a, w):
        return jax.grad(lambda *ys: jnp.sum(f(*ys) * w), argnums=(0, 1, 2, 3))(q, k, v, a)
    return g


def import_peer(peer):
    """The peer's function, or ``(None, reason)`` when it cannot be imported."""
    try:
        return getattr(importlib.import_module(peer.module), peer.attr), None
    except ImportError as e:
        return None, f"not installed ({e.name or e})"
    except Exception as e:  # e.g. accelerated_scan.warp compiles CUDA at import
        return None, f"import failed: {type(e).__name__}: {str(e).splitlines()[0][:120]}"



def case_methods(family, gate, shape, seed, gpu, runtime, dtype="float32"):
    """``(methods, rows, host)``: name -> ``dict(f, args, sync, check, meta)`` for the timed
    methods, the rows of peers that cannot run (not installed, no runtime), and gl's inputs
    as float32 NumPy arrays (with ``dtype="bfloat16"``: rounded to bfloat16, the values that
    gl and the peers are given as bfloat16 and that the checks refer to)."""
    check_dtype(family, dtype)
    host = peer_maps.gl_inputs(seed, family, gate, shape)
    w_host = np.random.default_rng(seed + 1).standard_normal(host[2].shape, np.float32)
    if dtype == "bfloat16":
        host, w_host = tuple(round_bf16(h) for h in host), round_bf16(w_host)
    x = tuple(jnp.asarray(h, jnp.bfloat16 if dtype == "bfloat16" else None) for h in host)
    w = jnp.asarray(w_host)
    kind = "parallel" if family == "siso" else "chunked"
    pairs = [(kind, "pallas" if gpu and kernels.available() else "xla"), ("auto", "auto")]
    jsync = jax.block_until_ready
    m, skipped = {}, []
    for mode, impl in pairs:
        name = f"gate_loop[{mode}]" if mode == "auto" else f"gate_loop[{mode}, {impl}]"
        f = gl_fn(family, gate, mode, impl)
        meta = dict(library="gl", layout="gl")
        m[("fwd", name)] = dict(f=jax.jit(f), args=x, sync=jsync, check="y", meta=meta)
        m[("fwd+bwd", name)] = dict(f=jax.jit(jax_grad(f)), args=x + (w,), sync=jsync,
                                    check="grad", meta=meta)
    m[("fwd", "copy")] = dict(f=jax.jit(lambda *xs: bench_copy(*xs)), args=x, sync=jsync,
                              check=None, meta=dict(library="xla", layout="gl"))
    for peer in peer_maps.peers_for(family, gate):
        op, why = import_peer(peer)
        if op is not None and runtime is None:
            op, why = None, "not installed (torch with CUDA)"
        meta = dict(library=peer.dist, layout=peer.layout)
        if op is None:
            skipped.append(dict(method=peer.name, status=why, **meta))
            continue
        p_host = peer.to_peer(*host)
        args = tuple(runtime.to_dev(h, dtype=dtype) for h in p_host)
        fwd = lambda *xs, op=op, peer=peer: peer.call(op, *xs)
        m[("fwd", peer.name)] = dict(f=fwd, args=args, sync=runtime.sync, check="y",
                                     meta=meta, peer=peer)
        if peer.grads_to_gl is not None and getattr(runtime, "grad", None) is not None:
            gargs = tuple(runtime.to_dev(h, grad=True, dtype=dtype) for h in p_host)
            # y has q's layout in every map (d_k = d_v): w goes over as q does
            w_p = runtime.to_dev(peer.to_peer(w_host, w_host, w_host, host[3])[0], dtype=dtype)
            m[("fwd+bwd", peer.name)] = dict(f=runtime.grad(fwd, w_p), args=gargs,
                                             sync=runtime.sync, check="grad", meta=meta,
                                             peer=peer)
    if runtime is not None and hasattr(runtime, "copy") and any("peer" in v for v in m.values()):
        t_args = tuple(runtime.to_dev(h, dtype=dtype) for h in host)
        m[("fwd", "copy[torch]")] = dict(f=runtime.copy, args=t_args, sync=runtime.sync,
                                         check=None, meta=dict(library="torch", layout="gl"))
    return m, skipped, host


def bench_copy(*xs):
    """The memory roofline: one elementwise pass over gl's inputs (complex: both planes),
    writing a float32 ``y`` as gl does (bfloat16 inputs are read as such)."""
    out = xs[0].astype(jnp.float32) if xs[0].dtype == jnp.bfloat16 else xs[0]
    for x in xs[1:]:
        out = out + (x.real + x.imag if jnp.iscomplexobj(x) else x)
    return out



def run_case(family, gate, shape, seed, repeats, gpu, runtime, log=print, dtype="float32"):
    """The rows of one case: checked first, then timed in interleaved rounds."""
    m, rows, host = case_methods(family, gate, shape, seed, gpu, runtime, dtype)
    nbytes = case_bytes(host, dtype)
    base = dict(shape=list(shape), family=family, gate=gate, dtype=dtype, bytes=nbytes)
    rows = [dict(base, pass_="fwd", **r) for r in rows]
    for r in rows:
        log(f"  {'':7s} {r['method']:40s} {r['status']}")
    ready, info, ref = {}, {}, {}
    for (pas, name), d in m.items():
        try:
            f, out, first_s, n = bench.prepare(d["f"], d["args"], jit=False, sync=d["sync"])
            err = check(pas, d, out, host, ref, runtime)
        except Exception as e:  # unsupported shape, out of memory: say so, keep going
            msg = f"failed: {type(e).__name__}: {str(e).splitlines()[0][:160]}" if str(e) \
                else f"failed: {type(e).__name__}"
            rows.append(dict(base, pass_=pas, method=name, status=msg, **d["meta"]))
            log(f"  {pas:7s} {name:40s} {msg}")
            continue
        ready[(pas, name)] = (f, d["args"], n, d["sync"])
        info[(pas, name)] = dict(compile_s=first_s, max_rel_err=err, **d["meta"])
    samples = bench.time_rounds(ready, repeats)
    times = {k: statistics.median(v) for k, v in samples.items()}
    copy = times.get(("fwd", "copy"))
    best = {p: min((ms for (q, nm), ms in times.items() if q == p and nm.startswith("gate_loop")),
                   default=None) for p in TOL}
    for (pas, name), ms in times.items():
        i = info[(pas, name)]
        err = i["max_rel_err"]
        tol = None if err is None else tol_for(pas, i["library"], dtype)
        row = dict(base, pass_=pas, method=name, status="ok", ms=ms, gbps=nbytes / ms / 1e6,
                   vs_copy=copy / ms if copy and pas == "fwd" else None,
                   gl_speedup=ms / best[pas] if best[pas] and i["library"] not in
                   ("gl", "xla", "torch") else None,
                   tol=tol, agrees=None if tol is None else bool(err <= tol),
                   spread=(max(samples[(pas, name)]) - min(samples[(pas, name)])) / ms, **i)
        rows.append(row)
        e = "" if err is None else f"  err {err:.1e}{'' if row['agrees'] else ' DISAGREES'}"
        c = "" if row["vs_copy"] is None else f"  {row['vs_copy']:5.2f} of copy"
        s = "" if row["gl_speedup"] is None else f"  gl x{row['gl_speedup']:.2f}"
        log(f"  {pas:7s} {name:40s} {ms:9.3f} ms{c}{s}{e}")
    if runtime is not None and hasattr(runtime, "free"):
        del m, ready
        runtime.free()
    return [{("pass" if k == "pass_" else k): v for k, v in r.items()} for r in rows]


def check(pas, d, out, host, ref, runtime):
    """The error of one method's output in gl's terms; the first gl method is the reference."""
    if d["check"] is None:
        return None
    to_host = jax_to_host if "peer" not in d else runtime.to_host
    if d["check"] == "y":
        y = d["peer"].y_to_gl(to_host(out), host) if "peer" in d else np.asarray(out)
        if "y" not in ref:  # gl's first method: against the float64 Numba loop on row 0
            ref["y"] = y
            return max_rel(y[:1], numba_ref(host))
        return max_rel(y, ref["y"])
    g = tuple(to_host(t) for t in out)
    g = d["peer"].grads_to_gl(g, host) if "peer" in d else g
    if "g" not in ref:
        ref["g"] = g
        return 0.0
    return max_rel(g, ref["g"])


def jax_to_host(t):
    """A JAX array as NumPy; bfloat16 (gl's gradients for bfloat16 inputs) as float32."""
    x = np.asarray(t)
    return x.astype(np.float32) if x.dtype == jnp.bfloat16 else x


def bf16_errors(shape, gate, seed=0):
    """What bfloat16 does to y and its gradients, measured with gl's XLA path on the CPU (the
    basis of :data:`TOL_BF16`): ``max_rel`` against gl's float32 computation on the same
    bf16-rounded inputs of a multi-head case, for ``log_gate`` (``a = exp(bf16(log a))``, as
    fla is given ``g``), ``inputs`` (float32 inputs against their bf16 rounding) and
    ``all_bf16`` / ``all_bf16_grads`` (``gl.chunked.gate_loop_chunked`` with
    ``dtype=bfloat16``, state included); ``f64`` is gl's own error against the Numba loop."""
    from gl.chunked import gate_loop_chunked
    h = peer_maps.gl_inputs(seed, "multihead", gate, shape)
    hb = tuple(round_bf16(x) for x in h)
    xb = tuple(jnp.asarray(x, jnp.bfloat16) for x in hb)
    f = gl_fn("multihead", gate, "chunked", "xla")
    bf = lambda q, k, v, a: gate_loop_chunked(q, k, v, jnp.broadcast_to(a, q.shape),
                                              dtype=jnp.bfloat16)[0].astype(jnp.float32)
    w = jnp.asarray(round_bf16(np.random.default_rng(seed + 1).standard_normal(h[2].shape)))
    grads = lambda g, xs: tuple(jax_to_host(t) for t in jax_grad(g)(*xs, w))
    y = jax_to_host(f(*xb))
    a_g = jnp.asarray(np.exp(round_bf16(np.log(hb[3]))))
    return dict(f64=max_rel(y[:1], numba_ref(hb)),
                log_gate=max_rel(jax_to_host(f(*xb[:3], a_g)), y),
                inputs=max_rel(y, jax_to_host(f(*h))),
                all_bf16=max_rel(jax_to_host(bf(*xb)), y),
                all_bf16_grads=max_rel(grads(bf, xb), grads(f, xb)))


def numba_ref(host):
    """Row 0 of ``Re y`` by :func:`gl.gate_loop_reference` in float64/complex128."""
    q, k, v, a = (h[:1] for h in host)
    if q.ndim == 3:  # SISO (B, L, D) -> (B, L, D, 1)
        y = gl.gate_loop_reference(q[..., None], k[..., None], v[..., None], a[..., None],
                                   dtype=np.complex128 if np.iscomplexobj(a) else np.float64)
        return np.real(y[..., 0])
    a = np.ascontiguousarray(np.broadcast_to(a, q.shape))
    return np.real(gl.gate_loop_reference(q, k, v, a, dtype=np.float64))

