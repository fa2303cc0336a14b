"""Matrix-memory members whose output needs more than ``q_n h_n``: mLSTM (a normalizer
state and a max-stabilizer) and RWKV-6 (a bonus on the current token).

Both are still GateLoop inside; the difference is a read-out outside the recurrence.
Every function is ``f(x, params) -> Mapped``; every ``init_*`` is
``init(seed, d_model, heads=2, d_state=4) -> params``.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .common import (Mapped, cast, check_div, check_params, check_x, dim, merge_heads,
                     n_heads, rng_of, split_heads)


def _w(r, rows, cols):
    return r.standard_normal((rows, cols)) / np.sqrt(rows)


def max_stabilizer(log_f, log_i):
    """mLSTM's stabilizer ``m_t = max(log f_t + m_{t-1}, log i_t)``, ``m_0 = 0``, as an
    associative scan over the sequence axis ``-2`` (a max-plus linear recurrence: the step
    ``m ↦ max(m + A, B)`` composes as ``(A₁, B₁)•(A₂, B₂) = (A₁+A₂, max(B₁+A₂, B₂))``).

    ``log_f``, ``log_i``: ``(..., L, H)``. Returns ``(m_{t-1}, m_t)``, both ``(..., L, H)``.
    """
    def op(e1, e2):
        return e1[0] + e2[0], jnp.maximum(e1[1] + e2[0], e2[1])

    A, B = lax.associative_scan(op, (log_f, log_i), axis=-2)
    m = jnp.maximum(A, B)  # max(m_0 + sum log f, B) with m_0 = 0
    m_prev = jnp.concatenate([jnp.zeros_like(m[..., :1, :]), m[..., :-1, :]], axis=-2)
    return m_prev, m


def head_norm(h, eps=1e-5):
    """xLSTM's per-head normalization of the cell's output (its layer's ``MultiHeadLayerNorm``
    without the affine part): zero mean, unit variance over the last axis ``d_v``.

    ``h``: ``(..., H, d_v)``. Returns the same shape."""
    mu = jnp.mean(h, -1, keepdims=True)
    return (h - mu) * lax.rsqrt(jnp.var(h, -1, keepdims=True) + eps)


def mlstm(x, params):
    """mLSTM (Beck et al. 2024, "xLSTM: extended long short-term memory", eq. 19-27):
    ``C_t = f_t C_{t-1} + i_t v_t k_tᵀ``, ``n_t = f_t n_{t-1} + i_t k_t``,
    ``h_t = o_t ⊙ C_t q_t / max(|n_tᵀ q_t|, 1)``, with ``i_t = exp(ĩ_t)`` (exponential
    input gate), ``f_t = σ(f̃_t)``, ``ĩ_t = x_t w_i + b_i``, ``f̃_t = x_t w_f + b_f``
    (one scalar each per head), ``o_t = σ(x_t W_o + b_o)``.

    params: ``heads`` (int); ``W_q``, ``W_k`` ``(D, H·d_k)``; ``W_v``, ``W_o`` ``(D, D)``;
    ``b_o`` ``(D,)``; ``w_i``, ``w_f`` ``(D, H)``; ``b_i``, ``b_f`` ``(H,)``; optional
    ``head_norm`` (bool, default False): normalize ``h̃_t = C_t q_t / max(·)`` per head
    (:func:`head_norm`) before the output gate, as xLSTM's layer does after the cell. Off,
    the output is eq. 19-27 exactly; :class:`gl.family.mixer.Mixer` turns it on (the
    language model at nanoGPT's GPU size did not train without it, best validation loss
    2.0-2.6; with it, 1.49: chapter 12 and its appendix).

    As GateLoop: the memory ``C_t`` is GateLoop's state (``h = k ⊗ v``, ``y = q h``) with
    ``a = f_t`` per head. The normalizer ``n_tᵀ q_t`` is a second GateLoop with the same
    ``q, k, a`` and ``v = 1``. ``i_t = exp(ĩ_t)`` is unbounded, so xLSTM stabilizes with
    ``m_t = max(log f_t + m_{t-1}, ĩ_t)`` (:func:`max_stabilizer`). Exact relation: with
    ``a'_t = exp(log f_t + m_{t-1} − m_t) ≤ 1`` and ``k'_t = exp(ĩ_t − m_t) k_t``, GateLoop's
    state is ``C'_t = e^{−m_t} C_t`` and ``n'_t = e^{−m_t} n_t``, hence
    ``C'_t q / max(|n'_tᵀ q|, e^{−m_t}) = C_t q / max(|n_tᵀ q|, 1)``: the same output,
    from gates that never exceed 1. This function returns that stabilized form.
    """
    mdl = "mlstm"
    x = check_x(mdl, x)
    D, HK = x.shape[-1], dim(params, "W_q", 1)
    H = n_heads(mdl, params, D)
    want = {"W_q": ((D, HK), "real"), "W_k": ((D, HK), "real"), "W_v": ((D, D), "real"),
            "W_o": ((D, D), "real"), "b_o": ((D,), "real"), "w_i": ((D, H), "real"),
            "w_f": ((D, H), "real"), "b_i": ((H,), "real"), "b_f": ((H,), "real")}
    p = cast(check_params(mdl, params, want), x)
    check_div(mdl, "params['W_q']", HK, H, np.shape(params['W_q']))
    q, k = (split_heads(x @ p[n], H) for n in ("W_q", "W_k"))
    v = split_heads(x @ p["W_v"], H)
    log_i = x @ p["w_i"] + p["b_i"]  # (..., L, H)
    log_f = -jax.nn.softplus(-(x @ p["w_f"] + p["b_f"]))  # log σ(f̃)
    m_prev, m = max_stabilizer(log_f, log_i)
    # both exponents are <= 0 exactly; the minimum removes rounding above 0 (m is a scan)
    a = jnp.broadcast_to(jnp.exp(jnp.minimum(log_f + m_prev - m, 0))[..., None], q.shape)
    k = jnp.exp(jnp.minimum(log_i - m, 0))[..., None] * k
    o = jax.nn.sigmoid(x @ p["W_o"] + p["b_o"])

    norm = head_norm if params.get("head_norm", False) else (lambda h: h)

    def out(y, y_n):  # y: C'q (..., L, H, d_v); y_n: n'ᵀq (..., L, H, 1)
        den = jnp.maximum(jnp.abs(y_n), jnp.exp(-m)[..., None])
        return o * merge_heads(norm(y / den))

    second = (q, k, jnp.ones(v.shape[:-1] + (1,), v.dtype), a)
    return Mapped(q, k, v, a, out, second)


def init_mlstm(seed, d_model, heads=2, d_state=4):
    check_div("init_mlstm", "d_model", d_model, heads)  # the values split into heads
    r = rng_of(seed)
    hk = heads * d_state
    return {"heads": heads, "W_q": _w(r, d_model, hk),
            "W_k": _w(r, d_model, hk) / np.sqrt(d_state), "W_v": _w(r, d_model, d_model),
            "W_o": _w(r, d_model, d_model), "b_o": r.standard_normal(d_model),
            "w_i": _w(r, d_model, heads), "w_f": _w(r, d_model, heads),
            "b_i": r.standard_normal(heads), "b_f": 3 + r.standard_normal(heads)}


def rwkv6(x, params):
    """RWKV-6 "Finch" time mixing (Peng et al. 2024, "Eagle and Finch", section 4):
    ``wkv_t = diag(u) k_tᵀ v_t + Σ_{i<t} diag(Π_{j=i+1}^{t−1} w_j) k_iᵀ v_i``,
    ``o_t = r_t · wkv_t``, with the data-dependent decay ``w_t = exp(−exp(d_t))``,
    ``d_t = λ_w + tanh(x_t W_w1) W_w2`` (a LoRA), ``r = x W_r``, ``k = x W_k``, ``v = x W_v``.

    params: ``heads`` (int); ``W_r``, ``W_k`` ``(D, H·d_k)``; ``W_v`` ``(D, D)``;
    ``lambda_w`` ``(H·d_k,)``; ``W_w1`` ``(D, R)``; ``W_w2`` ``(R, H·d_k)``;
    ``u`` ``(H, d_k)`` (the bonus).

    As GateLoop: RWKV reads the state BEFORE the current token, ``S_{t−1}``
    (``S_t = diag(w_t) S_{t−1} + k_tᵀ v_t``). Shifting ``k, v`` and ``w`` by one step,
    ``k'_t = k_{t−1}``, ``v'_t = v_{t−1}``, ``a'_t = w_{t−1}`` (``k'_1 = v'_1 = 0``,
    ``a'_1 = 1``), makes GateLoop's state ``h_t = S_{t−1}``, so ``q = r`` gives
    ``r_t S_{t−1}``. The bonus ``(r_t ⊙ u) · k_t · v_t`` is an extra diagonal term outside
    the recurrence: in surrogate attention the diagonal weight is ``Σ r u k`` instead of
    ``Σ r k``. GateLoop's final state here is ``S_{L−1}``. Dropped: token shift (ddlerp),
    GroupNorm and the output gate.
    """
    mdl = "rwkv6"
    x = check_x(mdl, x)
    D, HK, R = x.shape[-1], dim(params, "lambda_w"), dim(params, "W_w1", 1)
    H = n_heads(mdl, params, D)
    want = {"W_r": ((D, HK), "real"), "W_k": ((D, HK), "real"), "W_v": ((D, D), "real"),
            "lambda_w": ((HK,), "real"), "W_w1": ((D, R), "real"),
            "W_w2": ((R, HK), "real"), "u": ((H, HK // H), "real")}
    p = cast(check_params(mdl, params, want), x)
    check_div(mdl, "params['lambda_w']", HK, H, np.shape(params['lambda_w']))
    r, k = (split_heads(x @ p[n], H) for n in ("W_r", "W_k"))
    v = split_heads(x @ p["W_v"], H)
    w = split_heads(jnp.exp(-jnp.exp(p["lambda_w"] + jnp.tanh(x @ p["W_w1"]) @ p["W_w2"])),
                    H)

    def shift(z, first):
        pad = jnp.full_like(z[..., :1, :, :], first)
        return jnp.concatenate([pad, z[..., :-1, :, :]], axis=-3)

    bonus = jnp.sum(r * p["u"] * k, axis=-1, keepdims=True) * v  # (..., L, H, d_v)
    return Mapped(r, shift(k, 0), shift(v, 0), shift(w, 1),
                  lambda y, _: merge_heads(y + bonus))


def init_rwkv6(seed, d_model, heads=2, d_state=4, rank=2):
    check_div("init_rwkv6", "d_model", d_model, heads)  # the values split into heads
    r = rng_of(seed)
    hk = heads * d_state
    return {"heads": heads, "W_r": _w(r, d_model, hk), "W_k": _w(r, d_model, hk) / 2,
            "W_v": _w(r, d_model, d_model), "lambda_w": r.uniform(-3, 0, hk),
            "W_w1": _w(r, d_model, rank), "W_w2": _w(r, rank, hk),
            "u": r.standard_normal((heads, d_state))}
