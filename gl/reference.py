"""The CPU ground truth: eq. 7-8 as a plain loop, compiled with Numba.

Every mode of :func:`gl.gate_loop` is tested against :func:`gate_loop_reference`.
The loop is also a fast CPU path of its own: it is parallel over batch x heads
(``prange``) and its inner loops run over contiguous ``d_k``/``d_v``; the SISO case
(``d_k = d_v = 1``) has its own loop with channels innermost (contiguous, SIMD-friendly);
small problems run a serial twin (no thread start-up); real inputs are not cast to complex
when only ``a`` is complex (same results, fewer bytes). No ``fastmath``: the loops keep the
arithmetic order of eq. 7-8, so they agree with a plain Python loop to rounding.
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


SISO_BLOCK = 128  # channels per parallel task of the SISO loop


@numba.njit(parallel=True, cache=True)
def _loop_siso(q, k, v, a, h, y):
    """The SISO case (``d_k = d_v = 1``) with channels innermost: arrays ``(B, L, H)``, ``h``: ``(B, H)``.

    Parallel over batch x blocks of ``SISO_BLOCK`` channels; for each step the inner loop runs
    over contiguous channels (SIMD-friendly). Same arithmetic, in the same order, as :func:`_loop`.
    """
    B, L, H = q.shape
    nblk = (H + SISO_BLOCK - 1) // SISO_BLOCK
    for task in numba.prange(B * nblk):
        b = task // nblk
        i0 = (task % nblk) * SISO_BLOCK
        i1 = min(i0 + SISO_BLOCK, H)
        s = h[b, i0:i1].copy()
        for n in range(L):
            qn, kn, vn, an, yn = q[b, n, i0:i1], k[b, n, i0:i1], v[b, n, i0:i1], a[b, n, i0:i1], y[b, n, i0:i1]
            for i in range(i1 - i0):
                s[i] = an[i] * s[i] + kn[i] * vn[i]  # eq. 7
                yn[i] = qn[i] * s[i]  # eq. 8
        h[b, i0:i1] = s


# The same loops without threads: for small problems a parallel region's start-up and its
# barrier (waiting for the slowest thread on a busy machine) cost more than the work.
_loop_serial = numba.njit(cache=True)(_loop.py_func)
_loop_siso_serial = numba.njit(cache=True)(_loop_siso.py_func)
PARALLEL_MIN_WORK = 1 << 20  # multiply-adds (B·L·H·d_k·d_v) from which the loops use threads


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
    # Real inputs stay real when dt is complex (a real times a complex number is the same
    # arithmetic as after casting it to complex, for finite values): no conversion pass, fewer bytes.
    rdt = np.finfo(dt).dtype
    conv = lambda x: np.asarray(x, dtype=dt if np.iscomplexobj(x) else rdt)
    q, k, v, a = (conv(x) for x in (q, k, v, a))
    batch, (L, H, d_k), d_v = q.shape[:-3], q.shape[-3:], v.shape[-1]
    B = int(np.prod(batch, dtype=np.int64))
    flat = lambda x: np.ascontiguousarray(x.reshape((B,) + x.shape[len(batch):]))
    h = np.zeros((B, H, d_k, d_v), dt) if h0 is None else flat(np.asarray(h0).astype(dt)).copy()
    y = np.empty((B, L, H, d_v), dt)
    big = B * L * H * d_k * d_v >= PARALLEL_MIN_WORK
    if d_k == 1 and d_v == 1:  # SISO: channels innermost
        sq = lambda x: flat(x)[..., 0]
        (_loop_siso if big else _loop_siso_serial)(sq(q), sq(k), sq(v), sq(a), h[..., 0, 0], y[..., 0])
    else:
        (_loop if big else _loop_serial)(flat(q), flat(k), flat(v), flat(a), h, y)
    y = y.reshape(batch + (L, H, d_v))
    if return_state:
        return y, h.reshape(batch + (H, d_k, d_v))
    return y
