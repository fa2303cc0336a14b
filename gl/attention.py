"""Surrogate attention (eq. 14-23): GateLoop as causal attention with relative decay.

Shapes follow :func:`gl.gate_loop`. The stable form never divides by a
cumulative product: it builds the relative decay
``D[n, m] = prod_{j=m+1..n} a_j`` (for ``n >= m``) from a masked cumulative sum of
``log|a_j|`` and of the phases, so it stays finite where eq. 19's ``Π⁻¹`` overflows.
"""
from __future__ import annotations

import jax.numpy as jnp
from jax import lax

HIGHEST = lax.Precision.HIGHEST


def causal_mask(L: int, dtype=bool):
    """``M`` of eq. 20: ``M[n, m] = 1`` if ``n >= m`` else 0, shape ``(L, L)``."""
    return jnp.tril(jnp.ones((L, L), dtype))


def segment_sum(x):
    """``S[..., n, m] = sum_{j=m+1..n} x[..., j]`` for ``n >= m`` (0 elsewhere).

    ``x``: ``(..., L)`` -> ``(..., L, L)``. A masked cumulative sum: each entry adds only
    the terms of its own segment, so no large prefix sums are subtracted.
    """
    L = x.shape[-1]
    xx = jnp.broadcast_to(x[..., :, None], x.shape + (L,))  # xx[..., j, m] = x_j
    xx = jnp.where(jnp.tril(jnp.ones((L, L), bool), -1), xx, 0)  # keep j > m
    return jnp.cumsum(xx, axis=-2)  # sum over j <= n


def _log_polar(a):
    """``(log|a|, phase)`` of ``a``: ``log|0| = -inf``, phase 0 there, gradients finite."""
    real = jnp.real(a) if jnp.iscomplexobj(a) else a
    tiny = jnp.finfo(real.dtype).tiny
    sq = jnp.real(a * jnp.conj(a)) if jnp.iscomplexobj(a) else a * a
    nonzero = sq > tiny
    # log|a| = -inf where a = 0: exp of any segment sum through it is exactly 0.
    # The inner where keeps the log's gradient finite there.
    log_mag = jnp.where(nonzero, 0.5 * jnp.log(jnp.where(nonzero, sq, 1)), -jnp.inf)
    if jnp.iscomplexobj(a):
        phase = jnp.angle(jnp.where(nonzero, a, 1))
    else:
        phase = None
    return log_mag, phase


def relative_decay(a):
    """``D[..., H, d_k, n, m] = prod_{j=m+1..n} a_j`` for ``n >= m``, else 0.

    ``a``: ``(..., L, H, d_k)``. This is ``Π_n / Π_m`` of eq. 14-17 computed without
    ``Π⁻¹``: ``exp(segment_sum(log|a|))`` times the phase factor (for real ``a``,
    the sign ``(-1)^(number of negative a_j)``).
    """
    a = jnp.moveaxis(a, -3, -1)  # (..., H, d_k, L)
    L = a.shape[-1]
    log_mag, phase = _log_polar(a)
    mask = causal_mask(L)
    mag = jnp.exp(jnp.where(mask, segment_sum(log_mag), -jnp.inf))
    if phase is not None:
        return mag * jnp.exp(1j * segment_sum(phase))
    negatives = segment_sum((a < 0).astype(a.dtype))
    return mag * (1 - 2 * jnp.mod(negatives, 2))


def _prefix_product(a):
    """``Π_n = prod_{j<=n} a_j`` (eq. 16) from cumulative log-magnitudes and phases; ``(..., L, H, d_k)``."""
    log_mag, phase = _log_polar(a)
    mag = jnp.exp(jnp.cumsum(log_mag, axis=-3))
    if phase is not None:
        return mag * jnp.exp(1j * jnp.cumsum(phase, axis=-3))
    return mag * (1 - 2 * jnp.mod(jnp.cumsum((a < 0).astype(a.dtype), axis=-3), 2))


def surrogate_scores(q, k, a):
    """The masked surrogate attention matrix ``(Q̄ K̄ᵀ) ⊙ M`` of eq. 21, computed stably.

    ``W[..., H, n, m] = sum_k q[n, k] D_k[n, m] k[m, k]``; shape ``(..., H, L, L)``.
    """
    return _weigh(q, relative_decay(a), k)


def _weigh(q, D, k):
    """``sum_k q[n, k] D_k[n, m] k[m, k]`` -> ``(..., H, L, L)`` (elementwise: full precision)."""
    qt = jnp.moveaxis(q, -3, -1)  # (..., H, d_k, L)
    kt = jnp.moveaxis(k, -3, -1)
    return jnp.sum(qt[..., :, None] * D * kt[..., None, :], axis=-3)


def surrogate_attention(q, k, v, a, h0=None, dtype=None):
    """Eq. 17-21 in O(L²) with a stable relative decay. Returns ``(y, h_L)``.

    ``y``: ``(..., L, H, d_v)``; ``h_L``: ``(..., H, d_k, d_v)``.
    """
    dtype = dtype or jnp.result_type(q, k, v, a)
    q, k, v, a = (x.astype(dtype) for x in (q, k, v, a))
    D = relative_decay(a)  # (..., H, d_k, L, L)
    qt = jnp.moveaxis(q, -3, -1)  # (..., H, d_k, L)
    kt = jnp.moveaxis(k, -3, -1)
    vt = jnp.moveaxis(v, -3, -2)  # (..., H, L, d_v)
    W = _weigh(q, D, k)  # (..., H, L, L), eq. 21 before V
    y = jnp.matmul(W, vt, precision=HIGHEST)  # (..., H, L, d_v)
    # final state: h_L[k, v] = sum_m D_k[L, m] k[m, k] v[m, v]
    h = jnp.matmul(D[..., -1, :] * kt, vt, precision=HIGHEST)  # (..., H, d_k, d_v)
    if h0 is not None:
        h0 = h0.astype(dtype)
        Pi = jnp.moveaxis(_prefix_product(a), -3, -1)  # (..., H, d_k, L)
        y = y + jnp.einsum("...kn,...kv->...nv", qt * Pi, h0, precision=HIGHEST)
        h = h + Pi[..., -1, None] * h0
    return jnp.moveaxis(y, -2, -3), h


def surrogate_attention_naive(q, k, v, a):
    """Eq. 16-21 exactly as written: ``Q̄ = Q ⊙ Π``, ``K̄ = K ⊙ Π⁻¹``, ``Y = (Q̄ K̄ᵀ ⊙ M) V``.

    For teaching only. ``Π_n`` shrinks geometrically when ``|a| < 1``; once it underflows,
    ``Π⁻¹`` is ``inf`` and the output turns into ``inf``/``nan``. Use
    :func:`surrogate_attention` (or :func:`gl.gate_loop` with ``mode="attention"``).
    """
    dtype = jnp.result_type(q, k, v, a)
    q, k, v, a = (x.astype(dtype) for x in (q, k, v, a))
    Pi = jnp.cumprod(a, axis=-3)  # eq. 16
    Q_bar, K_bar = q * Pi, k / Pi  # eq. 18-19
    Qt, Kt, Vt = (jnp.moveaxis(x, -3, -2) for x in (Q_bar, K_bar, v))  # (..., H, L, d)
    scores = jnp.matmul(Qt, jnp.swapaxes(Kt, -1, -2), precision=HIGHEST)  # (..., H, L, L)
    scores = scores * causal_mask(scores.shape[-1], scores.dtype)  # eq. 20
    return jnp.moveaxis(jnp.matmul(scores, Vt, precision=HIGHEST), -2, -3)  # eq. 21


def surrogate_softmax_attention(q, k, v, a, scale=None):
    """Eq. 22-23: softmax over the real part of the decay-weighted scores, causally masked.

    ``Y = Softmax(M_{-inf}(Re(Q̄ K̄ᵀ)) * scale) V``; ``scale`` defaults to ``1/sqrt(d_k)``.
    With complex inputs the scores are complex; softmax needs real logits, so this takes
    their real part (the paper leaves this choice open). Shapes as :func:`gl.gate_loop`.
    """
    import jax  # local: keep module import light

    dtype = jnp.result_type(q, k, v, a)
    q, k, v, a = (x.astype(dtype) for x in (q, k, v, a))
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    W = jnp.real(surrogate_scores(q, k, a)) * scale  # (..., H, L, L)
    L = W.shape[-1]
    W = jnp.where(causal_mask(L), W, -jnp.inf)  # eq. 22
    P = jax.nn.softmax(W, axis=-1)
    vt = jnp.moveaxis(v, -3, -2)
    return jnp.moveaxis(jnp.matmul(P.astype(v.dtype), vt, precision=HIGHEST), -2, -3)
