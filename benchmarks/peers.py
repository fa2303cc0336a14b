"""``python benchmarks/peers.py``: gl against flash-linear-attention and accelerated-scan, one run.

For each shape and gate kind (multi-head: a real gate per key dimension, ``"key"``, or per
head, ``"head"``; SISO: ``"real"`` or ``"complex"``), in one process: the same random inputs
(``numpy.random.default_rng(seed)``) go to :func:`gl.gate_loop` and, converted by
:mod:`peer_maps` (exact maps, see there), to each peer that is installed (torch tensors on
CUDA). Every method is first run and checked: the peer's ``y`` (and, for ``fwd+bwd`` rows, its
gradients of ``sum(y·w)`` with respect to gl's ``q, k, v, a``) mapped back to gl's terms
against gl's first method, as ``max|x − ref| / max|ref|`` with the tolerances of
``peer_precision.TOL`` (fla's chunked kernels multiply in TF32, 10-bit mantissas); gl's first
method against the float64 Numba loop on batch row 0. Then every method is timed in
interleaved rounds (:func:`gl.bench.time_rounds`; torch rows synchronised with
``torch.cuda.synchronize``), and
each row gets its median ms, ``vs_copy`` (the same run's XLA elementwise pass over gl's input
bytes and ``y``, as ``gl.bench``'s ``copy`` row, divided by the row's ms) and, for peer rows,
``gl_speedup`` (the peer's ms over the fastest gl row of the same case and pass: > 1 means gl
is faster). A case that disagrees is still timed, with ``agrees: false``. A peer that is not
installed gives a row with status ``"not installed"``, never an error.

    XLA_PYTHON_CLIENT_PREALLOCATE=false python benchmarks/peers.py --json $OUT/peers.json

(the default shapes are issue 30's on a GPU, tiny ones on a CPU). ``--gates key,head`` and
``--siso-gates real,complex`` pick the gate kinds (default: all, in that order), so a device
call can run one case: ``--mh 16,4096,8,64 --gates head --siso ''``. ``--dtype bfloat16``
gives the multi-head inputs to gl and to the peers as bfloat16
(:data:`peer_precision.TOL_BF16`; every row records its ``dtype`` and ``bytes``); the SISO
family stays float32. JAX must not preallocate the GPU (torch shares it): this script sets
``XLA_PYTHON_CLIENT_PREALLOCATE=false`` unless the variable is set.

This module is the run and its command line (shapes, gate kinds, provenance, the JSON file);
one case's methods, checks and timing are :mod:`peer_cases`; tolerances and dtypes,
:mod:`peer_precision`; the maps to each peer's terms, :mod:`peer_maps`.
"""
from __future__ import annotations

import os

os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import argparse  # noqa: E402
import datetime  # noqa: E402
import importlib.metadata  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402

import jax  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_maps  # noqa: E402  (benchmarks/peer_maps.py)
from peer_cases import TorchRuntime, run_case  # noqa: E402  (benchmarks/peer_cases.py)
from peer_precision import DTYPES, TOL, TOL_BF16, check_dtype  # noqa: E402

GPU_MH, GPU_SISO = peer_maps.GPU_MH, peer_maps.GPU_SISO
CPU_MH = [(2, 64, 2, 16)]
CPU_SISO = [(2, 64, 8)]
DISTS = ("jax", "jaxlib", "numba", "torch", "triton", "flash-linear-attention", "fla-core",
         "accelerated-scan")


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
                  "gradients; peer_cases.bf16_errors); gl rows keep the float32 tolerance",
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