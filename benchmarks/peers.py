"""``python benchmarks/peers.py``: gl against flash-linear-attention and accelerated-scan, one run.

For each shape and gate kind (multi-head: a real gate per key dimension, ``"key"``, or per
head, ``"head"``; SISO: ``"real"`` or ``"complex"``), in one process: the same random inputs
(``numpy.random.default_rng(seed)``) go to :func:`gl.gate_loop` and, converted by
:mod:`peer_maps` (exact maps, see there), to each peer that is installed (torch tensors on
CUDA). Every method is first run and checked: the peer's ``y`` (and, for ``fwd+bwd`` rows, its
gradients of ``sum(y·w)`` with respect to gl's ``q, k, v, a``) mapped back to gl's terms
against gl's first method, as ``max|x − ref| / max|ref|`` with the tolerances of ``TOL`` (fla's
chunked kernels multiply in TF32, 10-bit mantissas); gl's first method against the float64
Numba loop on batch row 0. Then every method is timed in interleaved rounds
(:func:`gl.bench.time_rounds`; torch rows synchronised with ``torch.cuda.synchronize``), and
each row gets its median ms, ``vs_copy`` (the same run's XLA elementwise pass over gl's input
bytes and ``y``, as ``gl.bench``'s ``copy`` row, divided by the row's ms) and, for peer rows,
``gl_speedup`` (the peer's ms over the fastest gl row of the same case and pass: > 1 means gl
is faster). A case that disagrees is still timed, with ``agrees: false``. A peer that is not
installed gives a row with status ``"not installed"``, never an error.

    XLA_PYTHON_CLIENT_PREALLOCATE=false python benchmarks/peers.py --json $OUT/peers.json

(the default shapes are issue 30's on a GPU, tiny ones on a CPU). ``--gates key,head`` and
``--siso-gates real,complex`` pick the gate kinds (default: all, in that order), so a device
call can run one case: ``--mh 16,4096,8,64 --gates head --siso ''``. ``--dtype bfloat16``
gives the multi-head inputs to gl and to the peers as bfloat16 (:data:`TOL_BF16`; every row
records its ``dtype`` and ``bytes``); the SISO family stays float32. JAX must not preallocate
the GPU (torch shares it): this script sets ``XLA_PYTHON_CLIENT_PREALLOCATE=false`` unless
the variable is set.
"""
from __future__ import annotations

import os

os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import argparse  # noqa: E402
import datetime  # noqa: E402
import importlib  # noqa: E402
import importlib.metadata  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

import gl  # noqa: E402
from gl import bench, kernels  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_maps  # noqa: E402  (benchmarks/peer_maps.py)

GPU_MH = [(16, 4096, 8, 64), (8, 16384, 8, 128)]
GPU_SISO = [(16, 4096, 640), (8, 65536, 64), (32, 2048, 1024)]
CPU_MH = [(2, 64, 2, 16)]
CPU_SISO = [(2, 64, 8)]
TOL = {"fwd": 2e-3, "fwd+bwd": 1e-2}
#: Peer rows with bfloat16 inputs (gl's rows keep ``TOL``: gl computes in float32). The peer
#: gets the same bf16-rounded values as gl, and fla's ``g = log a`` rounded to bf16 too; its
#: kernels then round intermediates to bf16 (8-bit mantissa, 2^-9 relative) where gl keeps
#: float32. Measured on the CPU with gl's XLA path at (1, 4096, 2, 64), (1, 4096, 1, 128) and
#: (1, 16384, 1, 128), both gate kinds, seed 0 (:func:`bf16_errors`): rounding g to bf16
#: moves y by 2.9e-4-5.4e-4; rounding every input once, 4.4e-3-6.6e-3; gl's whole chunked
#: algorithm computed in bfloat16 (``gl.chunked.gate_loop_chunked(..., dtype=bfloat16)``: bf16
#: state and gate products, a worse case than fla's float32 accumulation), at most 7.9e-3 in y
#: and 1.6e-2 in the gradients of sum(y·w). The tolerances are 2.5 times those worst cases.
TOL_BF16 = {"fwd": 2e-2, "fwd+bwd": 4e-2}
DTYPES = ("float32", "bfloat16")
DISTS = ("jax", "jaxlib", "numba", "torch", "triton", "flash-linear-attention", "fla-core",
         "accelerated-scan")


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


def _jax_grad(f):
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


def round_bf16(x):
    """``x`` rounded to bfloat16 (to nearest, ties to even), as float32."""
    return np.asarray(x).astype(jnp.bfloat16).astype(np.float32)


def check_dtype(family, dtype):
    if dtype not in DTYPES:
        raise ValueError(f"dtype: expected one of {DTYPES}, got {dtype!r}")
    if dtype != "float32" and family != "multihead":
        raise ValueError(f"dtype: {dtype} is for the multi-head family only, got {family!r}")


def case_bytes(host, dtype):
    """gl's input bytes (``dtype``; a complex ``a`` as complex64) plus a float32 ``y``."""
    size = 2 if dtype == "bfloat16" else 4
    return sum(h.size * (h.itemsize if np.iscomplexobj(h) else size) for h in host) + \
        host[2].size * 4


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
        m[("fwd+bwd", name)] = dict(f=jax.jit(_jax_grad(f)), args=x + (w,), sync=jsync,
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


def tol_for(pas, library, dtype):
    """A checked row's tolerance: :data:`TOL_BF16` for a peer given bfloat16 inputs, else
    :data:`TOL` (gl computes in float32 whatever its inputs)."""
    return TOL_BF16[pas] if dtype == "bfloat16" and library not in ("gl", "xla", "torch") \
        else TOL[pas]


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
    grads = lambda g, xs: tuple(jax_to_host(t) for t in _jax_grad(g)(*xs, w))
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


def versions() -> dict:
    out = {}
    for d in DISTS:
        try:
            out[d] = importlib.metadata.version(d)
        except importlib.metadata.PackageNotFoundError:
            out[d] = None
    return out


def provenance(repeats, seed, runtime, dtype="float32", argv=None) -> dict:
    dev = jax.devices()[0]
    cuda = None
    if runtime is not None and getattr(runtime, "device", None) == "cuda":
        cuda = runtime.torch.cuda.get_device_name(0)
    return dict(
        command=" ".join(["python benchmarks/peers.py"]
                         + list(sys.argv[1:] if argv is None else argv)),
        hardware=f"{getattr(dev, 'device_kind', '')}; host: {platform.machine()}, "
                 f"{os.cpu_count()} CPUs",
        device_kind=getattr(dev, "device_kind", ""), torch_device=cuda,
        backend=jax.default_backend(), python=platform.python_version(), jax=jax.__version__,
        versions=versions(),
        dtype=f"multi-head inputs {dtype} (gl and peers); SISO float32"
              + ("; gl computes and returns float32, its state float32" if dtype != "float32"
                 else ""),
        bytes_per_element="each row's bytes / elements of y: gl's inputs in the row's dtype and "
                          "a float32 y, the same for every row of a case (float32: multi-head "
                          "'key' and SISO 'real' 20, 'head' 16 + 4/d_k, SISO 'complex' 24; "
                          "bfloat16: 'key' 12, 'head' 10 + 2/d_k)",
        date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        repeats=repeats, seed=seed, peer_runtime=None if runtime is None else runtime.name,
        timing="median over rounds; in each round every method once, as a burst of "
               "back-to-back calls (about 20 ms) divided by their number; torch rows end "
               "each burst with torch.cuda.synchronize()",
        max_rel_err="max|x - ref| / max|ref| in gl's terms; ref: gl's first method (its own "
                    "row: row 0 against the float64 Numba loop; fwd+bwd: the gradients of "
                    "sum(y*w) in q, k, v, a)",
        tolerance=f"{TOL}: fla's chunked kernels multiply in TF32 (10-bit mantissa); peer "
                  f"rows with bfloat16 inputs {TOL_BF16}: 2.5 times the error of gl's chunked "
                  "algorithm computed all in bfloat16 on the CPU (7.9e-3 in y, 1.6e-2 in the "
                  "gradients; peers.bf16_errors); gl rows keep the float32 tolerance",
        vs_copy="same-run XLA copy over gl's input bytes (in the row's dtype) plus a float32 "
                "y, divided by the row's ms (fwd rows only)",
        gl_speedup="peer ms / fastest gl ms of the same case and pass (> 1: gl faster)")


def parse_shapes(text, dims, what):
    """``'B,L,D;B,L,D'`` -> tuples of ``dims`` positive ints (``''`` -> none)."""
    out = []
    for s in filter(None, text.split(";")):
        try:
            t = tuple(int(n) for n in s.split(","))
        except ValueError:
            t = ()
        if len(t) != dims or min(t) < 1:
            raise ValueError(f"{what}: expected {dims} positive integers per shape "
                             f"separated by ',', got {s!r}")
        out.append(t)
    return out


def parse_gates(text, family, flag):
    """``'key,head'`` -> the gate kinds of ``family`` named, in order, each once."""
    valid = peer_maps.GATES[family]
    names = [s.strip() for s in text.split(",")]
    if not text.strip() or any(n not in valid for n in names):
        other = {"--gates": "--siso-gates", "--siso-gates": "--gates"}[flag]
        raise ValueError(f"{flag}: expected a comma-separated subset of {', '.join(valid)} "
                         f"(the other family's gate kinds go to {other}), got {text!r}")
    return tuple(dict.fromkeys(names))


def run(mh, siso, repeats=10, seed=0, runtime="auto", log=print, out=None, gates=None,
        dtype="float32", argv=None) -> dict:
    """The peer bench: ``{"provenance": ..., "rows": [...]}``. ``runtime``: ``"auto"`` (torch
    on CUDA if importable, else None: peers are then "not installed"), None or an object.
    ``out``: a path rewritten after every case (``provenance.complete`` false until the end),
    so a run cut off by a time limit keeps the cases it finished. ``gates``: family -> the gate
    kinds to run, in order (a family not named: all of :data:`peer_maps.GATES`). ``dtype``:
    the multi-head inputs' dtype (SISO: float32). ``argv``: the command line to record
    (default ``sys.argv[1:]``)."""
    gates = dict(peer_maps.GATES, **(gates or {}))
    for family, kinds in gates.items():
        for g in kinds:
            peer_maps.peers_for(family, g)  # checks the pair
    check_dtype("multihead", dtype)
    if runtime == "auto":
        try:
            runtime = TorchRuntime()
        except Exception as e:  # ImportError, or torch's CUDA libraries failing to load
            log(f"peers: {e}")
            runtime = None
    gpu, rows = jax.default_backend() == "gpu", []
    for family, shapes in (("multihead", mh), ("siso", siso)):
        dt = dtype if family == "multihead" else "float32"
        for shape in shapes:
            for gate in gates[family]:
                log(f"{family} {shape} gate={gate} dtype={dt}")
                rows += run_case(family, gate, shape, seed, repeats, gpu, runtime, log, dt)
                if out:
                    write(out, dict(provenance=dict(provenance(repeats, seed, runtime, dtype, argv),
                                                    complete=False), rows=rows))
    res = dict(provenance=dict(provenance(repeats, seed, runtime, dtype, argv), complete=True),
               rows=rows)
    if out:
        write(out, res)
        log(f"wrote {out}")
    return res


def write(path, res):
    with open(path, "w") as f:
        json.dump(res, f, indent=1)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python benchmarks/peers.py",
                                description=__doc__.splitlines()[0])
    p.add_argument("--json", help="write the results here (rewritten after every case)")
    p.add_argument("--mh", help="multi-head shapes 'B,L,H,d;...' ('' for none)")
    p.add_argument("--siso", help="SISO shapes 'B,L,D;...' ('' for none)")
    p.add_argument("--gates", default="key,head",
                   help="multi-head gate kinds, comma-separated, run in this order: 'key' (a "
                        "gate per key dimension: fla chunk_gla, fused_recurrent_gla), 'head' "
                        "(one per head: fla chunk_simple_gla); default 'key,head'")
    p.add_argument("--siso-gates", default="real,complex",
                   help="SISO gate kinds, comma-separated, run in this order: 'real' (fla "
                        "chunk_hgrn, accelerated_scan warp/scalar), 'complex' (accelerated_scan "
                        "complex); default 'real,complex'")
    p.add_argument("--dtype", choices=DTYPES, default="float32",
                   help="the multi-head inputs' dtype, for gl and the peers alike (SISO stays "
                        "float32). bfloat16: q, k, v, a (and fla's g = log a) are given as "
                        "bfloat16; gl accepts them, casts them to float32 (on the GPU one XLA "
                        "pass before its kernels, inside its timed call), computes in float32, "
                        "state included, and returns a float32 y (gl/_checks.py compute_dtype); "
                        "its gradients come back bfloat16, as the inputs. The checks refer to "
                        "gl's float32 result on the same bf16-rounded values (row 0: the "
                        f"float64 Numba loop); peer rows use {TOL_BF16}, gl rows {TOL}")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    gpu = jax.default_backend() == "gpu"
    try:
        mh = parse_shapes(args.mh, 4, "--mh") if args.mh is not None else (
            GPU_MH if gpu else CPU_MH)
        siso = parse_shapes(args.siso, 3, "--siso") if args.siso is not None else (
            GPU_SISO if gpu else CPU_SISO)
        gates = dict(multihead=parse_gates(args.gates, "multihead", "--gates"),
                     siso=parse_gates(args.siso_gates, "siso", "--siso-gates"))
    except ValueError as e:
        p.error(str(e))
    if args.repeats < 1:
        p.error(f"--repeats: expected a positive integer, got {args.repeats}")
    return run(mh, siso, repeats=args.repeats, seed=args.seed, out=args.json, gates=gates,
               dtype=args.dtype, argv=sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    main()
