"""Earlier models as special cases of GateLoop (section 3.1, eq. 10-11).

* S4, S4D, LRU: one constant transition ``A`` per channel and no gates
  (``q = k = 1``): ``y_n = sum_m v_m A^{n-m}`` is a causal convolution of ``v`` with
  the filter ``(1, A, A^2, ..., A^{L-1})`` (eq. 10), computed here with an FFT.
* RetNet: data-controlled gates ``q_n, k_n`` but a fixed ``A = γ exp(iθ)``:
  ``y_n = q_n sum_m k_mᵀ v_m A^{n-m}`` (eq. 11), computed here as masked attention.

Both are written *without* :func:`gl.gate_loop`, so the book can check that
GateLoop with constant ``a`` reproduces them. Shapes follow :func:`gl.gate_loop`.
"""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jax import lax

HIGHEST = lax.Precision.HIGHEST


def _check_constant_a(a, want: tuple, name: str = "a"):
    shape = tuple(np.shape(a))
    if shape != want:
        raise ValueError(f"{name}: expected one constant transition per channel, shape {want}, got {shape}")


def decay_powers(a, L: int):
    """The filter of eq. 10: ``(A^0, A^1, ..., A^{L-1})``.

    ``a``: ``(H, d)`` (any float or complex dtype), ``L >= 1``. Returns ``(L, H, d)``.
    """
    if not isinstance(L, (int, np.integer)) or L < 1:
        raise ValueError(f"L: expected a positive integer, got {L!r}")
    a = jnp.asarray(a)
    steps = jnp.broadcast_to(a, (L - 1,) + a.shape)
    # A^n as a running product (exact at A = 0, where a power through log|A| is not)
    return jnp.concatenate([jnp.ones((1,) + a.shape, a.dtype), jnp.cumprod(steps, axis=0)], axis=0)


def lti_convolution(v, a):
    """Eq. 10 (S4, S4D, LRU): ``y_n = sum_{m<=n} v_m A^{n-m}``, a causal convolution via FFT.

    Args:
      v: values ``(..., L, H, d)``, float or complex.
      a: one constant transition per channel, ``(H, d)``.

    Returns ``y`` ``(..., L, H, d)``, complex when ``a`` or ``v`` is complex. Each of the
    ``H·d`` channels is a SISO recurrence of its own: this is :func:`gl.gate_loop` on
    ``v`` reshaped to ``(..., L, H·d, 1)`` with ``q = k = 1`` and ``a_n = A`` for all ``n``,
    computed in ``O(L log L)`` through the Fourier domain.
    """
    v, a = jnp.asarray(v), jnp.asarray(a)
    if v.ndim < 3:
        raise ValueError(f"v: expected at least 3 dimensions (..., L, H, d), got shape {v.shape}")
    L = v.shape[-3]
    _check_constant_a(a, v.shape[-2:])
    dtype = jnp.result_type(v, a, jnp.complex64)
    kernel = decay_powers(a, L).astype(dtype)  # (L, H, d)
    n_fft = 2 * L  # zero padding: the circular convolution of length 2L is the linear one
    y = jnp.fft.ifft(
        jnp.fft.fft(v.astype(dtype), n_fft, axis=-3) * jnp.fft.fft(kernel, n_fft, axis=0), axis=-3
    )[..., :L, :, :]
    if not (jnp.iscomplexobj(v) or jnp.iscomplexobj(a)):
        y = y.real
    return y


def retnet_retention(q, k, v, a):
    """Eq. 11 (RetNet): ``y_n = q_n sum_{m<=n} k_mᵀ v_m A^{n-m}`` with a fixed ``A``.

    Args:
      q, k: gates ``(..., L, H, d_k)``.
      v: values ``(..., L, H, d_v)``.
      a: the fixed transition ``A = γ exp(iθ)``, ``(H, d_k)``.

    Returns ``y`` ``(..., L, H, d_v)``. Computed as causal attention with the decay matrix
    ``D[n, m] = A^{n-m}`` (``n >= m``), ``O(L^2)``, in the spirit of RetNet's parallel form.
    """
    q, k, v, a = (jnp.asarray(x) for x in (q, k, v, a))
    if q.ndim < 3 or q.shape != k.shape:
        raise ValueError(f"k: expected the shape of q (..., L, H, d_k) = {q.shape}, got {k.shape}")
    if v.shape[:-1] != q.shape[:-1]:
        raise ValueError(f"v: expected leading (..., L, H) = {q.shape[:-1]}, got shape {v.shape}")
    L = q.shape[-3]
    _check_constant_a(a, q.shape[-2:])
    dtype = jnp.result_type(q, k, v, a)
    n = jnp.arange(L)
    diff = n[:, None] - n[None, :]  # (L, L): n - m
    powers = decay_powers(a, L).astype(dtype)  # (L, H, d_k)
    D = jnp.where((diff >= 0)[:, :, None, None], powers[jnp.maximum(diff, 0)], 0)  # (L, L, H, d_k)
    # scores[..., n, m, H] = sum_r q_n[r] A_r^{n-m} k_m[r]
    scores = jnp.einsum("...nhr,nmhr,...mhr->...nmh", q.astype(dtype), D, k.astype(dtype),
                        precision=HIGHEST)
    return jnp.einsum("...nmh,...mhp->...nhp", scores, v.astype(dtype), precision=HIGHEST)


def constant_transition(a, L: int, batch: tuple = ()):
    """Broadcast one transition per channel, ``(H, d_k)``, to ``a_n = A`` for all steps.

    Returns ``(*batch, L, H, d_k)``: the ``a`` argument of :func:`gl.gate_loop` that turns
    GateLoop into S4/S4D/LRU (with ``q = k = 1``) or RetNet (with data-controlled ``q, k``).
    """
    a = jnp.asarray(a)
    if a.ndim != 2:
        raise ValueError(f"a: expected shape (H, d_k), got {a.shape}")
    return jnp.broadcast_to(a, tuple(batch) + (L,) + a.shape)
