"""Each mapping against its own loop: the measured error, and a table over shapes.

``python -m gl.family.check`` prints each model's worst relative error over a small grid
of shapes and seeds, in float64 and float32, against the float64 loop of
:mod:`gl.family.loops`.
"""
from __future__ import annotations

import itertools

import jax
import numpy as np

from . import INITS, run
from ..timing import rel_err
from .loops import LOOPS


def cast_params(p: dict, dtype) -> dict:
    """Real arrays to ``dtype``, complex ones to the matching complex dtype; ints kept."""
    c = np.result_type(dtype, np.complex64)
    return {n: (v.astype(c if np.iscomplexobj(v) else dtype) if isinstance(v, np.ndarray)
                else v) for n, v in p.items()}


def run_jit(name: str, x, params, mode: str = "recurrent"):
    """:func:`gl.family.run` under one ``jax.jit`` (one compilation instead of one per
    operation; the parameters are constants, so their range checks still run)."""
    return jax.jit(lambda z: run(name, z, params, mode=mode))(x)


def errors(name: str, x, params, mode: str = "recurrent", dtypes=("float64", "float32")):
    """Relative errors of the mapping, run through :func:`gl.gate_loop` (``mode``) in each
    of ``dtypes``, against the float64 loop of the published equations: a tuple in the
    order of ``dtypes``. ``"recurrent"`` compiles fastest on a CPU; every mode computes
    the same recurrence."""
    x = np.asarray(x, np.float64)
    ref = LOOPS[name](x, params)
    out = []
    for dt in dtypes:
        with jax.enable_x64(dt == "float64"):
            y = run_jit(name, x.astype(dt), cast_params(params, np.dtype(dt)), mode)
            out.append(rel_err(y, ref))
    return tuple(out)


def worst_errors(names=None, seeds=(0, 1), shapes=((1, 9, 4, 1, 2), (2, 33, 8, 2, 4))):
    """``{name: (worst f64, worst f32)}`` over ``seeds`` × ``shapes`` (batch, L, D, heads,
    d_state); inputs standard normal, parameters from :data:`gl.family.INITS`."""
    out = {}
    for name in names or LOOPS:
        worst = [0.0, 0.0]
        for seed, (B, L, D, H, N) in itertools.product(seeds, shapes):
            x = np.random.default_rng(seed).standard_normal((B, L, D))
            e = errors(name, x, INITS[name](seed, D, heads=H, d_state=N))
            worst = [max(w, v) for w, v in zip(worst, e)]
        out[name] = tuple(worst)
    return out


if __name__ == "__main__":  # pragma: no cover - a report, run by hand
    print(f"{'model':10s} {'float64':>9s} {'float32':>9s}")
    for n, (a, b) in worst_errors().items():
        print(f"{n:10s} {a:9.1e} {b:9.1e}")
