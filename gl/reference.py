"""The CPU ground truth: eq. 7-8 as a plain loop, compiled with Numba.

Every mode of :func:`gl.gate_loop` is tested against :func:`gate_loop_reference`.
The loop is also a fast CPU path of its own:

- it is parallel over batch x heads (``prange``) and its inner loops run over contiguous
  ``d_v``; the SISO case (``d_k = d_v = 1``) has its own loop with channels innermost
  (contiguous, SIMD-friendly), parallel over batch and, when the batch is smaller than the
  thread count, blocks of channels;
- the paper's case, real ``q, k, v`` with a complex gate ``a``, keeps the state *planar*
  (real and imaginary parts in two float arrays): the inner loops are then plain float
  arithmetic that LLVM vectorizes fully (on interleaved complex numbers it needs shuffles,
  and the loop ran about half as fast);
- small problems run a serial twin (no thread start-up, no barrier);
- the Python wrapper checks and plans once per shape and dtype (cached), so a call costs a
  few microseconds besides the loop.

No ``fastmath`` (no reassociation, no FMA contraction): every path does the arithmetic of
eq. 7-8 in its order, ``h = a*h + k*v`` then ``y = q*h`` (summed over ``d_k`` in order), so the
paths agree with each other bit for bit on finite numbers (up to the sign of a zero) and with
a plain Python loop to rounding. The planar form *is* Numba's complex product, written out:
``a*h = (a.re*h.re - a.im*h.im) + i(a.re*h.im + a.im*h.re)``.
"""
from __future__ import annotations

import functools

import numba
import numpy as np
from numba import uint64

from ._checks import check_bool, check_gate_loop_inputs, compute_dtype, dtype_arg

# Offsets into a row are unsigned: Numba wraps negative indices (i < 0 -> i + n), and a
# signed offset that LLVM cannot prove non-negative keeps the inner loop from vectorizing.


@numba.njit(parallel=True, cache=True)
def _loop(q, k, v, a, h, y):
    """Eq. 7-8, any dtypes: q, k, a: (B, L, H, d_k); v: (B, L, H, d_v); h: (B, H, d_k, d_v), updated in place; y: (B, L, H, d_v).

    Real arrays share one float dtype and complex ones the matching complex dtype, so no
    literal promotes the arithmetic to float64. Parallel over batch x heads.
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


@numba.njit(parallel=True, cache=True)
def _loop_planar(q, k, v, a, h, y):
    """Eq. 7-8 for real q, k, v and complex a, h, y (shapes as :func:`_loop`), state planar.

    Per batch x head, the state lives in two float ``(d_k, d_v)`` arrays and ``y``'s row in two
    float ``(d_v,)`` accumulators; the inner loops over ``d_v`` are float arithmetic.
    """
    B, L, H, d_k = q.shape
    d_v = v.shape[-1]
    for bh in numba.prange(B * H):
        b = bh // H
        i = bh % H
        hr = np.empty((d_k, d_v), q.dtype)
        hi = np.empty((d_k, d_v), q.dtype)
        yr = np.empty(d_v, q.dtype)
        yi = np.empty(d_v, q.dtype)
        for r in range(d_k):
            for p in range(d_v):
                hr[r, p] = h[b, i, r, p].real
                hi[r, p] = h[b, i, r, p].imag
        for n in range(L):
            vn = v[b, n, i]
            for p in range(d_v):
                yr[p] = 0
                yi[p] = 0
            for r in range(d_k):
                ar, ai = a[b, n, i, r].real, a[b, n, i, r].imag
                k_r = k[b, n, i, r]
                q_r = q[b, n, i, r]
                hr_r, hi_r = hr[r], hi[r]
                for p in range(d_v):
                    re = ar * hr_r[p] - ai * hi_r[p] + k_r * vn[p]  # eq. 7
                    im = ar * hi_r[p] + ai * hr_r[p]
                    hr_r[p] = re
                    hi_r[p] = im
                    yr[p] += q_r * re  # eq. 8
                    yi[p] += q_r * im
            yn = y[b, n, i]
            for p in range(d_v):
                yn[p] = complex(yr[p], yi[p])
        for r in range(d_k):
            for p in range(d_v):
                h[b, i, r, p] = complex(hr[r, p], hi[r, p])


@numba.njit(parallel=True, cache=True)
def _loop_siso(q, k, v, a, h, y, nblk):
    """The SISO case (``d_k = d_v = 1``), any dtypes: arrays ``(B, L, H)``, ``h``: ``(B, H)``.

    Parallel over batch x ``nblk`` blocks of channels; for each step the inner loop runs over
    the block's contiguous channels. Same arithmetic, in the same order, as :func:`_loop`.
    """
    B, L, H = q.shape
    w = (H + nblk - 1) // nblk  # channels per block
    for task in numba.prange(B * nblk):
        b = task // nblk
        c0 = (task % nblk) * w
        i0, m = uint64(c0), uint64(max(0, min(w, H - c0)))
        s = np.empty(m, h.dtype)
        for j in range(m):
            s[j] = h[b, i0 + j]
        for n in range(L):
            qn, kn, vn, an, yn = q[b, n], k[b, n], v[b, n], a[b, n], y[b, n]
            for j in range(m):
                i = i0 + j
                s[j] = an[i] * s[j] + kn[i] * vn[i]  # eq. 7
                yn[i] = qn[i] * s[j]  # eq. 8
        for j in range(m):
            h[b, i0 + j] = s[j]


@numba.njit(parallel=True, cache=True)
def _loop_siso_planar(q, k, v, a, h, y, nblk):
    """:func:`_loop_siso` for real q, k, v and complex a, h, y, with a planar state (float arithmetic)."""
    B, L, H = q.shape
    w = (H + nblk - 1) // nblk
    for task in numba.prange(B * nblk):
        b = task // nblk
        c0 = (task % nblk) * w
        i0, m = uint64(c0), uint64(max(0, min(w, H - c0)))
        hr = np.empty(m, q.dtype)
        hi = np.empty(m, q.dtype)
        for j in range(m):
            hr[j] = h[b, i0 + j].real
            hi[j] = h[b, i0 + j].imag
        for n in range(L):
            qn, kn, vn, an, yn = q[b, n], k[b, n], v[b, n], a[b, n], y[b, n]
            for j in range(m):
                i = i0 + j
                ar, ai = an[i].real, an[i].imag
                re = ar * hr[j] - ai * hi[j] + kn[i] * vn[i]  # eq. 7
                im = ar * hi[j] + ai * hr[j]
                hr[j] = re
                hi[j] = im
                yn[i] = complex(qn[i] * re, qn[i] * im)  # eq. 8
        for j in range(m):
            h[b, i0 + j] = complex(hr[j], hi[j])


# The same loops without threads: for small problems a parallel region's start-up and its
# barrier (waiting for the slowest thread on a busy machine) cost more than the work.
_loop_serial = numba.njit(cache=True)(_loop.py_func)
_loop_planar_serial = numba.njit(cache=True)(_loop_planar.py_func)
_loop_siso_serial = numba.njit(cache=True)(_loop_siso.py_func)
_loop_siso_planar_serial = numba.njit(cache=True)(_loop_siso_planar.py_func)
PARALLEL_MIN_WORK = 1 << 20  # multiply-adds (B·L·H·d_k·d_v) from which the loops use threads
_LOOPS = {  # (siso, planar) -> (parallel loop, serial loop)
    (False, False): (_loop, _loop_serial),
    (False, True): (_loop_planar, _loop_planar_serial),
    (True, False): (_loop_siso, _loop_siso_serial),
    (True, True): (_loop_siso_planar, _loop_siso_planar_serial),
}


@functools.lru_cache(maxsize=512)
def _plan(dtype, *key):
    """Check the inputs and choose dtypes and loop, once per shape and dtype of ``q, k, v, a, h0``.

    ``dtype``: the argument of :func:`gate_loop_reference`; ``key``: shape, dtype of ``q``, of ``k``,
    ``v``, ``a``, then of ``h0`` if given. Failed checks raise (and are not cached).
    """
    specs = tuple(zip(key[::2], key[1::2])) + (None,) * (5 - len(key) // 2)
    standin = lambda s: None if s is None else np.broadcast_to(np.zeros((), s[1]), s[0])  # no memory
    check_gate_loop_inputs(*(standin(s) for s in specs))
    # NumPy's promotion, not JAX's: float64 inputs stay float64 even without jax x64;
    # bfloat16/float16 count as float32, as in gl.gate_loop (NumPy cannot promote bfloat16).
    dt = dtype_arg(dtype or np.result_type(*(compute_dtype(s[1]) for s in specs if s is not None)),
                   zip(("q", "k", "v", "a", "h0"), (s and s[1] for s in specs)))
    # Real inputs stay real when dt is complex (a real times a complex number is the same
    # arithmetic as after casting it to complex, for finite values): no conversion pass, fewer bytes.
    rdt = np.finfo(dt).dtype
    to = tuple(dt if np.issubdtype(s[1], np.complexfloating) else rdt for s in specs[:4])
    (*batch, L, H, d_k), d_v = specs[0][0], specs[2][0][-1]
    B = int(np.prod(batch, dtype=np.int64))
    siso = d_k == 1 and d_v == 1
    planar = dt.kind == "c" and to[3] == dt and all(t == rdt for t in to[:3])
    loops = _LOOPS[siso, planar]
    return dt, to, tuple(batch), (B, L, H, d_k, d_v), siso, loops


def gate_loop_reference(q, k, v, a, *, h0=None, return_state=False, dtype=None):
    """Eq. 7-8 by a sequential loop on the CPU (Numba). NumPy in, NumPy out.

    Shapes as :func:`gl.gate_loop`: ``q, k, a``: ``(..., L, H, d_k)``, ``v``: ``(..., L, H, d_v)``,
    ``h0``: ``(..., H, d_k, d_v)``. Computes in the inputs' common dtype (complex of the
    inputs' precision when any is complex), or in ``dtype`` when given (e.g. ``np.complex128``
    for a ground truth); half precision (float16, as inputs or ``dtype``) computes in float32
    or complex64, as :func:`gl.gate_loop` does (:func:`gl._checks.compute_dtype`: a long
    recurrence in 10 or 8 mantissa bits loses its state); so does bfloat16 (inputs, e.g. JAX
    arrays, or ``dtype``). Returns ``y`` ``(..., L, H, d_v)``, and the final state
    ``(..., H, d_k, d_v)`` too (a pair) when ``return_state``. ``L = 0`` gives an empty ``y``
    and ``h0`` (or zeros) as the state.

    Raises:
      TypeError: ``dtype`` is not one of the accepted floats or complexes (NumPy's long double
        included), or is real while an input is complex (casting would drop the imaginary
        part); an input is not a float/complex array, or is a long double
        (``float128``/``complex256``, which :func:`gl.gate_loop` cannot take either); or
        ``return_state`` is not a bool.
      ValueError: the shapes disagree (:func:`gl.gate_loop`'s rules).
    """
    # Written for a small per-call cost: at the CI shapes the loop itself takes 10-40 us.
    check_bool("return_state", return_state)
    if not (type(q) is type(k) is type(v) is type(a) is np.ndarray and (h0 is None or type(h0) is np.ndarray)):
        check_gate_loop_inputs(q, k, v, a, h0)  # lists, JAX arrays: checked as given
        q, k, v, a = (np.asarray(x) for x in (q, k, v, a))
        h0 = None if h0 is None else np.asarray(h0)
    if np.shape(a)[-1:] == (1,) and np.shape(a)[:-1] == np.shape(q)[:-1]:
        a = np.broadcast_to(a, np.shape(q))  # one gate per head (..., L, H, 1): per key here
    key = (q.shape, q.dtype, k.shape, k.dtype, v.shape, v.dtype, a.shape, a.dtype)
    dt, to, batch, (B, L, H, d_k, d_v), siso, (parallel, serial) = (
        _plan(dtype, *key) if h0 is None else _plan(dtype, *key, h0.shape, h0.dtype))
    fk, fv = ((B, L, H), (B, L, H)) if siso else ((B, L, H, d_k), (B, L, H, d_v))
    # No copy where an input already has its dtype and is C-contiguous.
    q, k, v, a = (np.ascontiguousarray(q, to[0]), np.ascontiguousarray(k, to[1]),
                  np.ascontiguousarray(v, to[2]), np.ascontiguousarray(a, to[3]))
    if q.shape != fk:
        q, k, v, a = q.reshape(fk), k.reshape(fk), v.reshape(fv), a.reshape(fk)
    h = np.zeros((B, H, d_k, d_v), dt) if h0 is None else np.array(h0, dt, order="C").reshape(B, H, d_k, d_v)
    y = np.empty((B, L, H, d_v), dt)
    big = B * L * H * d_k * d_v >= PARALLEL_MIN_WORK
    if siso:  # channel blocks only where the batch gives fewer tasks than threads
        nblk = max(1, min(H, -(-numba.get_num_threads() // max(B, 1)))) if big else 1
        (parallel if big else serial)(q, k, v, a, h.reshape(B, H), y.reshape(B, L, H), nblk)
    else:
        (parallel if big else serial)(q, k, v, a, h, y)
    if batch != (B,):
        y, h = y.reshape(batch + (L, H, d_v)), h.reshape(batch + (H, d_k, d_v))
    return (y, h) if return_state else y
