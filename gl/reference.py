"""The CPU ground truth: eq. 7-8 as a plain loop, compiled with Numba.

Every mode of :func:`gl.gate_loop` is tested against :func:`gate_loop_reference`.
The loop is also a fast CPU path of its own: it is parallel over batch x heads
(``prange``) and its inner loops run over contiguous ``d_k``/``d_v``.
"""
from __future__ import annotations

import numba
import numpy as np

from ._checks import check_gate_loop_inputs


@numba.njit(parallel=True, cache=True)
def _loop(q, k, v, a, h, y):
    """q, k, a: (B, L, H, d_k); v: (B, L, H, d_v); h: (B, H, d_k, d_v), updated in place; y: (B, L, H, d_v).

    All arrays share one dtype, so no literal promotes the arithmetic to float64.
    """
    B, L, H, d_k = q.shape
    d_v = v.shape[-1]
    for bh in numba.prange(B * H):
        b = bh // H
        i = bh % H
        s = h[b, i]  # (d_k, d_v) view
        for n in range(L):
            for p in range(d_v):
                y[b, n, i, p] = 0
            for r in range(d_k):
                a_r = a[b, n, i, r]
                k_r = k[b, n, i, r]
                q_r = q[b, n, i, r]
                for p in range(d_v):
                    s[r, p] = a_r * s[r, p] + k_r * v[b, n, i, p]  # eq. 7
                    y[b, n, i, p] += q_r * s[r, p]  # eq. 8


def gate_loop_reference(q, k, v, a, *, h0=None, return_state=False, dtype=None):
    """Eq. 7-8 by a sequential loop on the CPU (Numba). NumPy in, NumPy out.

    Shapes as :func:`gl.gate_loop`: ``q, k, a``: ``(..., L, H, d_k)``, ``v``: ``(..., L, H, d_v)``,
    ``h0``: ``(..., H, d_k, d_v)``. Computes in the inputs' common dtype, or in ``dtype``
    when given (e.g. ``np.complex128`` for a ground truth). Returns ``y`` ``(..., L, H, d_v)``,
    and the final state too when ``return_state``.
    """
    check_gate_loop_inputs(q, k, v, a, h0, "auto")
    # NumPy's promotion, not JAX's: float64 inputs stay float64 even without jax x64.
    dt = np.dtype(dtype or np.result_type(*(np.asarray(x).dtype for x in (q, k, v, a, h0)
                                            if x is not None)))
    if dt not in (np.float32, np.float64, np.complex64, np.complex128):
        dt = np.dtype(np.complex64 if np.issubdtype(dt, np.complexfloating) else np.float32)
    q, k, v, a = (np.asarray(x).astype(dt) for x in (q, k, v, a))
    batch, (L, H, d_k), d_v = q.shape[:-3], q.shape[-3:], v.shape[-1]
    B = int(np.prod(batch, dtype=np.int64))
    flat = lambda x: np.ascontiguousarray(x.reshape((B,) + x.shape[len(batch):]))
    h = np.zeros((B, H, d_k, d_v), dt) if h0 is None else flat(np.asarray(h0).astype(dt)).copy()
    y = np.empty((B, L, H, d_v), dt)
    _loop(flat(q), flat(k), flat(v), flat(a), h, y)
    y = y.reshape(batch + (L, H, d_v))
    if return_state:
        return y, h.reshape(batch + (H, d_k, d_v))
    return y
