"""The GateLoop recurrence (eq. 7-9) in its recurrent and parallel forms.

Shapes follow :func:`gl.gate_loop`: ``q, k, a``: ``(..., L, H, d_k)``;
``v``: ``(..., L, H, d_v)``; state ``h``: ``(..., H, d_k, d_v)``.
These functions assume checked inputs; :func:`gl.gate_loop` checks them.
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
from jax import lax


def binary_operator(e_i, e_j):
    """The associative operator of eq. 13 on leaf pairs ``(a, kv)``.

    ``(p1, p2) • (q1, q2) = (p1 ⊙ q1, q1 ⊙ p2 + q2)``: ``e_i`` is the earlier
    element, ``e_j`` the later one. Arrays broadcast elementwise.
    """
    a_i, kv_i = e_i
    a_j, kv_j = e_j
    return a_j * a_i, a_j * kv_i + kv_j


def outer_kv(k, v):
    """``k_nᵀ v_n`` per step and head: ``(..., L, H, d_k) x (..., L, H, d_v) -> (..., L, H, d_k, d_v)``."""
    return k[..., :, None] * v[..., None, :]


def read_out(q, h):
    """``y_n = q_n h_n`` (eq. 8): ``(..., H, d_k) x (..., H, d_k, d_v) -> (..., H, d_v)``.

    An elementwise product and a sum, not a matmul: on a GPU this keeps full
    float32 precision (no TF32).
    """
    return jnp.sum(q[..., :, None] * h, axis=-2)


def empty_sequence(q, v, h0, dtype):
    """The result for ``L = 0``: ``y`` ``(..., 0, H, d_v)`` and ``h0`` (zeros if None) as ``h_L``.

    An associative scan and a gather of the last step need at least one step; every mode
    returns this instead (the recurrent one gets it from ``lax.scan`` directly).
    """
    batch, (L, H, d_k), d_v = q.shape[:-3], q.shape[-3:], v.shape[-1]
    assert L == 0, L
    h = jnp.zeros(batch + (H, d_k, d_v), dtype) if h0 is None else h0.astype(dtype)
    return jnp.zeros(batch + (0, H, d_v), dtype), h


@partial(jax.jit, static_argnames=("dtype",))  # one program, also called eagerly
def gate_loop_recurrent(q, k, v, a, h0=None, dtype=None):
    """Eq. 7-8 step by step with ``jax.lax.scan``: O(L) work, O(L) depth.

    Returns ``(y, h_L)`` with ``y``: ``(..., L, H, d_v)`` and ``h_L``: ``(..., H, d_k, d_v)``.
    """
    dtype = dtype or jnp.result_type(q, k, v, a)
    batch, (L, H, d_k), d_v = q.shape[:-3], q.shape[-3:], v.shape[-1]
    h = jnp.zeros(batch + (H, d_k, d_v), dtype) if h0 is None else h0.astype(dtype)
    xs = tuple(jnp.moveaxis(x.astype(dtype), -3, 0) for x in (q, k, v, a))

    def step(h, x):
        q_n, k_n, v_n, a_n = x
        h = a_n[..., :, None] * h + k_n[..., :, None] * v_n[..., None, :]  # eq. 7
        return h, read_out(q_n, h)  # eq. 8

    h, ys = lax.scan(step, h, xs)
    return jnp.moveaxis(ys, 0, -3), h


@partial(jax.jit, static_argnames=("dtype",))  # one program, also called eagerly
def gate_loop_parallel(q, k, v, a, h0=None, dtype=None):
    """Eq. 12-13: an associative scan over leaves ``(a_n, k_nᵀ v_n)``.

    ``jax.lax.associative_scan`` is the work-efficient odd/even recursion: about ``2L``
    applications of the operator (O(L) work) in about ``2 log2 L`` rounds (O(log L) depth);
    the paper's O(L log L) is the bound of the Hillis-Steele scan (chapter 4 counts both).

    ``h0`` enters as ``a_1 h0`` added to the first leaf. Returns ``(y, h_L)`` (for ``L = 0``,
    :func:`empty_sequence`).
    """
    dtype = dtype or jnp.result_type(q, k, v, a)
    if q.shape[-3] == 0:
        return empty_sequence(q, v, h0, dtype)
    q, k, v, a = (x.astype(dtype) for x in (q, k, v, a))
    kv = outer_kv(k, v)  # (..., L, H, d_k, d_v)
    a = a[..., None]  # broadcast over d_v
    if h0 is not None:
        kv = kv.at[..., 0, :, :, :].add(a[..., 0, :, :, :] * h0.astype(dtype))
    _, h = lax.associative_scan(binary_operator, (a, kv), axis=kv.ndim - 4)
    return read_out(q, h), h[..., -1, :, :, :]


def paper_gate_loop_operator(k, v, q, a):
    """The listing of section 3.2, as printed, with one repair.

    Shapes as the listing implies: ``k``: ``(B, L, ..., d_k, 1)``, ``v``: ``(B, L, ..., 1, d_v)``,
    ``q``: ``(B, L, ..., 1, d_k)``, ``a``: ``(B, L, ..., d_k, 1)``; the scan runs over axis 1.
    Repair: ``kv`` is cast to ``a``'s dtype (``associative_scan`` needs one dtype when ``a``
    is complex and ``k, v`` are real). Like the printed listing, it returns ``y``.
    """

    def binary_operator(e_i, e_j):
        a_i, kv_i = e_i
        a_j, kv_j = e_j
        return a_j * a_i, a_j * kv_i + kv_j

    kv = jnp.matmul(k, v).astype(jnp.result_type(k, v, a))
    _, y = lax.associative_scan(binary_operator, (a, kv), axis=1)
    y = jnp.matmul(q, y)
    return y
