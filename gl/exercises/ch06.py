"""Checkers for chapter 6, "The family tree".

Each checker runs the student's function on fresh random inputs (``seed=None``) against
the model's own published loop (:mod:`gl.family.loops`), raises ``AssertionError`` saying
what is wrong (which input, expected vs got), and prints one line on success.
"""
from __future__ import annotations

import numpy as np

from ..family import INITS
from ..family.loops import rglru as rglru_loop
from ..operator import gate_loop

__all__ = ["check_rglru_mapping"]


def _sig(z):
    return 1 / (1 + np.exp(-z))


def check_rglru_mapping(fn, seed=None):
    """Check ``fn(x, params) -> (q, k, v, a)``: Griffin's RG-LRU written as GateLoop.

    ``x``: ``(L, D)`` float64; ``params``: ``W_a``, ``W_x`` ``(D, D)``, ``b_a``, ``b_x``,
    ``Lambda`` ``(D,)`` (as :func:`gl.family.init_rglru`). Expected: ``D`` SISO heads, so
    ``q, k, v, a`` of shape ``(L, D, 1)``, with ``gl.gate_loop(q, k, v, a)[..., 0]`` equal
    to the RG-LRU's ``h_t`` (``c = 8``). Tolerance: relative error ``1e-4`` (the run is
    float32).
    """
    rng = np.random.default_rng(seed)
    for L, D in ((9, 3), (40, 5)):
        x = rng.standard_normal((L, D))
        p = INITS["rglru"](rng, D)
        got = fn(x, p)
        if not (isinstance(got, (tuple, list)) and len(got) == 4):
            raise AssertionError(f"L={L}, D={D}: expected a tuple (q, k, v, a), got "
                                 f"{type(got).__name__}")
        q, k, v, a = (np.asarray(z) for z in got)
        for name, z in zip("qkva", (q, k, v, a)):
            if z.shape != (L, D, 1):
                raise AssertionError(f"L={L}, D={D}: {name}: expected shape (L, D, 1) = "
                                     f"{(L, D, 1)} (D SISO heads), got {z.shape}")
        r_t = _sig(x @ p["W_a"] + p["b_a"])
        a_want = _sig(p["Lambda"]) ** (8.0 * r_t)
        bad = np.abs(a[..., 0] - a_want) > 1e-5 + 1e-4 * np.abs(a_want)
        if bad.any():
            t, d = (int(i) for i in np.argwhere(bad)[0])
            hint = (" (is c = 8 in the exponent?)"
                    if np.allclose(a[..., 0], _sig(p["Lambda"]) ** r_t, rtol=1e-4) else "")
            raise AssertionError(f"L={L}, D={D}: a[{t}, {d}, 0]: expected σ(Λ)^(c r_t) = "
                                 f"{a_want[t, d]:.6g}, got {a[t, d, 0]:.6g}{hint}")
        want = rglru_loop(x, p)
        y = np.asarray(gate_loop(*(z.astype(np.float32) for z in (q, k, v, a))))[..., 0]
        err = np.linalg.norm(y - want) / np.linalg.norm(want)
        if err > 1e-4:
            kv = q[..., 0] * k[..., 0] * v[..., 0]
            i_t = _sig(x @ p["W_x"] + p["b_x"])
            hint = (" q·k·v should be sqrt(1 − a_t²) · i_t · x_t: the LRU's normalization"
                    " made data-dependent" if np.allclose(kv, i_t * x, rtol=1e-4) else
                    " the transition is right; check what q_t k_t v_t adds each step")
            raise AssertionError(f"L={L}, D={D}: relative error of h against the RG-LRU "
                                 f"loop is {err:.2e} (tolerance 1e-4);{hint}")
    print("check_rglru_mapping: GateLoop with your (q, k, v, a) is the RG-LRU "
          "(L=9 and L=40).")
