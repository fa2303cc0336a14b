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

(the default shapes are issue 30's on a GPU, tiny ones on a CPU). JAX must not preallocate
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

    def to_dev(self, x, grad=False):
        t = self.torch.from_numpy(np.ascontiguousarray(x)).to(self.device)
        return t.requires_grad_(grad) if grad else t

    def to_host(self, t):
        return t.detach().cpu().numpy()

    def sync(self, out):
        if self.device == "cuda":
            self.torch.cuda.synchronize()

    def grad(self, f, w):
        """``(*inputs) -> d sum(f(*inputs)·w) / d inputs`` (inputs made with ``grad=True``)."""
        return lambda *xs: self.torch.autograd.grad((f(*xs) * w).sum(), xs)

    def copy(self, *xs):
        out = xs[0]
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


def case_methods(family, gate, shape, seed, gpu, runtime):
    """``(methods, rows)``: name -> ``dict(f, args, sync, check, meta)`` for the timed methods,
    and the rows of peers that cannot run (not installed, no runtime)."""
    host = peer_maps.gl_inputs(seed, family, gate, shape)
    x = tuple(jnp.asarray(h) for h in host)
    w_host = np.random.default_rng(seed + 1).standard_normal(host[2].shape, np.float32)
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
        args = tuple(runtime.to_dev(h) for h in p_host)
        fwd = lambda *xs, op=op, peer=peer: peer.call(op, *xs)
        m[("fwd", peer.name)] = dict(f=fwd, args=args, sync=runtime.sync, check="y",
                                     meta=meta, peer=peer)
        if peer.grads_to_gl is not None and getattr(runtime, "grad", None) is not None:
            gargs = tuple(runtime.to_dev(h, grad=True) for h in p_host)
            # y has q's layout in every map (d_k = d_v): w goes over as q does
            w_p = runtime.to_dev(peer.to_peer(w_host, w_host, w_host, host[3])[0])
            m[("fwd+bwd", peer.name)] = dict(f=runtime.grad(fwd, w_p), args=gargs,
                                             sync=runtime.sync, check="grad", meta=meta,
                                             peer=peer)
    if runtime is not None and hasattr(runtime, "copy") and any("peer" in v for v in m.values()):
        t_args = tuple(runtime.to_dev(h) for h in host)
        m[("fwd", "copy[torch]")] = dict(f=runtime.copy, args=t_args, sync=runtime.sync,
                                         check=None, meta=dict(library="torch", layout="gl"))
    return m, skipped, host


def bench_copy(*xs):
    """The memory roofline: one elementwise pass over gl's inputs (complex: both planes)."""
    out = xs[0]
    for x in xs[1:]:
        out = out + (x.real + x.imag if jnp.iscomplexobj(x) else x)
    return out


def run_case(family, gate, shape, seed, repeats, gpu, runtime, log=print):
    """The rows of one case: checked first, then timed in interleaved rounds."""
    m, rows, host = case_methods(family, gate, shape, seed, gpu, runtime)
    base = dict(shape=list(shape), family=family, gate=gate)
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
    nbytes = sum(h.nbytes for h in host) + host[2].nbytes  # inputs + float32 y
    best = {p: min((ms for (q, nm), ms in times.items() if q == p and nm.startswith("gate_loop")),
                   default=None) for p in TOL}
    for (pas, name), ms in times.items():
        i = info[(pas, name)]
        err, tol = i["max_rel_err"], TOL[pas] if i["max_rel_err"] is not None else None
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
    to_host = (lambda t: np.asarray(t)) if "peer" not in d else runtime.to_host
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


def provenance(repeats, seed, runtime) -> dict:
    dev = jax.devices()[0]
    cuda = None
    if runtime is not None and getattr(runtime, "device", None) == "cuda":
        cuda = runtime.torch.cuda.get_device_name(0)
    return dict(
        command=" ".join(["python benchmarks/peers.py"] + sys.argv[1:]),
        hardware=f"{getattr(dev, 'device_kind', '')}; host: {platform.machine()}, "
                 f"{os.cpu_count()} CPUs",
        device_kind=getattr(dev, "device_kind", ""), torch_device=cuda,
        backend=jax.default_backend(), python=platform.python_version(), jax=jax.__version__,
        versions=versions(),
        bytes_per_element="gl's inputs and a float32 y, the same for every row of a case "
                          "(multi-head 'key' and SISO 'real': 20; SISO 'complex': 24)",
        date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        repeats=repeats, seed=seed, peer_runtime=None if runtime is None else runtime.name,
        timing="median over rounds; in each round every method once, as a burst of "
               "back-to-back calls (about 20 ms) divided by their number; torch rows end "
               "each burst with torch.cuda.synchronize()",
        max_rel_err="max|x - ref| / max|ref| in gl's terms; ref: gl's first method (its own "
                    "row: row 0 against the float64 Numba loop; fwd+bwd: the gradients of "
                    "sum(y*w) in q, k, v, a)",
        tolerance=f"{TOL}: fla's chunked kernels multiply in TF32 (10-bit mantissa)",
        vs_copy="same-run XLA copy over gl's input bytes plus float32 y, divided by the "
                "row's ms (fwd rows only)",
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


def run(mh, siso, repeats=10, seed=0, runtime="auto", log=print, out=None) -> dict:
    """The peer bench: ``{"provenance": ..., "rows": [...]}``. ``runtime``: ``"auto"`` (torch
    on CUDA if importable, else None: peers are then "not installed"), None or an object.
    ``out``: a path rewritten after every case (``provenance.complete`` false until the end),
    so a run cut off by a time limit keeps the cases it finished."""
    if runtime == "auto":
        try:
            runtime = TorchRuntime()
        except Exception as e:  # ImportError, or torch's CUDA libraries failing to load
            log(f"peers: {e}")
            runtime = None
    gpu, rows = jax.default_backend() == "gpu", []
    for family, shapes in (("multihead", mh), ("siso", siso)):
        for shape in shapes:
            for gate in peer_maps.GATES[family]:
                log(f"{family} {shape} gate={gate}")
                rows += run_case(family, gate, shape, seed, repeats, gpu, runtime, log)
                if out:
                    write(out, dict(provenance=dict(provenance(repeats, seed, runtime),
                                                    complete=False), rows=rows))
    res = dict(provenance=dict(provenance(repeats, seed, runtime), complete=True), rows=rows)
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
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    gpu = jax.default_backend() == "gpu"
    try:
        mh = parse_shapes(args.mh, 4, "--mh") if args.mh is not None else (
            GPU_MH if gpu else CPU_MH)
        siso = parse_shapes(args.siso, 3, "--siso") if args.siso is not None else (
            GPU_SISO if gpu else CPU_SISO)
    except ValueError as e:
        p.error(str(e))
    if args.repeats < 1:
        p.error(f"--repeats: expected a positive integer, got {args.repeats}")
    return run(mh, siso, repeats=args.repeats, seed=args.seed, out=args.json)


if __name__ == "__main__":
    main()
