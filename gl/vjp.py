"""Eq. 12-13 with a hand-written backward pass: the gradient of a linear recurrence is a reverse one.

Forward (eq. 7-8): ``h_n = a_n ⊙ h_{n-1} + k_nᵀ v_n``, ``y_n = q_n h_n``, by the associative
scan of :func:`gl.scan.gate_loop_parallel`. Backward, with ``ȳ_n`` the cotangent of ``y_n`` and
``h̄_L`` that of the returned final state, the cotangent of the state obeys the same recurrence
run backwards in time::

    g_n = a_{n+1} ⊙ g_{n+1} + q_nᵀ ȳ_n        (g_L gets + h̄_L)

and then, elementwise (sums over ``d_v`` for ``q̄, ā, k̄``, over ``d_k`` for ``v̄``)::

    q̄_n = Σ_p ȳ_n[p] h_n[:, p]     ā_n = Σ_p g_n[:, p] h_{n-1}[:, p]
    k̄_n = Σ_p g_n[:, p] v_n[p]     v̄_n = Σ_k g_n[k, :] k_n[k]     h̄_0 = a_1 ⊙ g_1

Every map here is complex-bilinear, so JAX's convention (a VJP is the transpose of the
linearisation, with no complex conjugation) gives these formulas without ``conj``. Real
inputs get the real part of their cotangent from the cast in front of this function.
The backward pass is one reverse associative scan plus elementwise work: it saves only
``h`` (which the forward computes anyway), where autodiff through ``associative_scan``
keeps and transposes every level of the scan tree.

Only reverse mode is defined (``jax.custom_vjp``): for forward mode (``jax.jvp``,
``jax.jacfwd``) use ``gl.gate_loop(..., mode="recurrent")`` or :func:`gl.scan.gate_loop_parallel`
(autodiff through the scan).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from .scan import binary_operator, empty_sequence, outer_kv, read_out


@jax.jit  # one program per shape, also when called eagerly (not one per scan operation)
def _forward(q, k, v, a, h0):
    """Return ``(y, h)`` with ``h`` the states of every step ``(..., L, H, d_k, d_v)``."""
    kv = outer_kv(k, v)
    a_ = a[..., None]
    kv = kv.at[..., 0, :, :, :].add(a_[..., 0, :, :, :] * h0)
    _, h = lax.associative_scan(binary_operator, (a_, kv), axis=kv.ndim - 4)
    return read_out(q, h), h


@jax.custom_vjp
def scan_with_vjp(q, k, v, a, h0):
    """Eq. 7-8 by associative scan with the backward pass above; all inputs of one dtype.

    ``q, k, a``: ``(..., L, H, d_k)``; ``v``: ``(..., L, H, d_v)``; ``h0``: ``(..., H, d_k, d_v)``.
    Returns ``(y, h_L)``: ``(..., L, H, d_v)`` and ``(..., H, d_k, d_v)``.
    """
    y, h = _forward(q, k, v, a, h0)
    return y, h[..., -1, :, :, :]


def _fwd(q, k, v, a, h0):
    y, h = _forward(q, k, v, a, h0)
    return (y, h[..., -1, :, :, :]), (q, k, v, a, h0, h)


@jax.jit
def _bwd(res, cts):
    q, k, v, a, h0, h = res
    y_bar, hL_bar = cts
    t = h.ndim - 4  # the time axis
    src = q[..., :, None] * y_bar[..., None, :]  # q_nᵀ ȳ_n: (..., L, H, d_k, d_v)
    src = src.at[..., -1, :, :, :].add(hL_bar)
    ones = jnp.ones_like(a[..., :1, :, :])
    a_next = jnp.concatenate([a[..., 1:, :, :], ones], axis=-3)[..., None]  # a_{n+1}
    _, g = lax.associative_scan(binary_operator, (a_next, src), reverse=True, axis=t)
    h_prev = jnp.concatenate([h0[..., None, :, :, :], h[..., :-1, :, :, :]], axis=t)
    q_bar = jnp.sum(y_bar[..., None, :] * h, axis=-1)
    a_bar = jnp.sum(g * h_prev, axis=-1)
    if a.shape[-1] != a_bar.shape[-1]:  # one gate per head, (..., L, H, 1): broadcast over d_k
        a_bar = jnp.sum(a_bar, axis=-1, keepdims=True)
    k_bar = jnp.sum(g * v[..., None, :], axis=-1)
    v_bar = jnp.sum(g * k[..., :, None], axis=-2)
    h0_bar = a[..., 0, :, :][..., None] * g[..., 0, :, :, :]
    return q_bar, k_bar, v_bar, a_bar, h0_bar


scan_with_vjp.defvjp(_fwd, _bwd)


def gate_loop_parallel_vjp(q, k, v, a, h0=None, dtype=None):
    """:func:`gl.scan.gate_loop_parallel` with the hand-written backward pass; returns ``(y, h_L)``.

    Casts every input to ``dtype`` (the inputs' common dtype when omitted) before the scan.
    For ``L = 0``, :func:`gl.scan.empty_sequence`.
    """
    dtype = dtype or jnp.result_type(q, k, v, a)
    if q.shape[-3] == 0:
        return empty_sequence(q, v, h0, dtype)
    q, k, v, a = (x.astype(dtype) for x in (q, k, v, a))
    batch, (H, d_k), d_v = q.shape[:-3], q.shape[-2:], v.shape[-1]
    h0 = jnp.zeros(batch + (H, d_k, d_v), dtype) if h0 is None else h0.astype(dtype)
    return scan_with_vjp(q, k, v, a, h0)
