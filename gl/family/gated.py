"""Family members with a DATA-CONTROLLED transition: GLA, HGRN, Mamba (S6), Mamba-2 (SSD),
Griffin's RG-LRU, and GateLoop itself (eq. 24).

Each ``a_n`` is computed from the input ``x_n``: GateLoop's central idea. Every function
is ``f(x, params) -> Mapped`` (:class:`gl.family.common.Mapped`), ``x``: ``(..., L, D)``
real; every ``init_*`` is ``init(seed, d_model, heads=2, d_state=4) -> params``.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .. import gates
from .common import (Mapped, cast, check_div, check_params, check_range, check_x, dim,
                     merge_heads, n_heads, rng_of, split_heads)

#: GLA's gate temperature ``τ`` (Yang et al. 2024, section 4.1): ``α = σ(·)^{1/τ}``.
GLA_TAU = 16.0
#: Griffin's RG-LRU exponent ``c`` (De et al. 2024, section 2.4): ``a_t = a^{c r_t}``.
RGLRU_C = 8.0


def _sqrt0(x):
    """``sqrt(x)`` for ``x >= 0`` with gradient 0, not inf, at ``x = 0`` (where RG-LRU's
    ``r_t`` underflows to 0, ``a_t = 1`` and ``k = sqrt(1 - a_t²) = 0``)."""
    pos = x > 0
    return jnp.where(pos, jnp.sqrt(jnp.where(pos, x, 1)), 0)


def _w(r, rows, cols):
    return r.standard_normal((rows, cols)) / np.sqrt(rows)


def gla(x, params):
    """Gated linear attention (Yang et al. 2024, "Gated linear attention transformers with
    hardware-efficient training", section 4.1): ``S_t = (α_tᵀ 1) ⊙ S_{t-1} + k_tᵀ v_t``,
    ``o_t = q_t S_t``, ``α_t = σ(x_t W_α1 W_α2 + b_α)^{1/τ}``, ``τ = 16``.

    params: ``W_Q``, ``W_K`` ``(D, H·d_k)``; ``W_V`` ``(D, D)``; ``W_a1`` ``(D, r)``;
    ``W_a2`` ``(r, H·d_k)``; ``b_a`` ``(H·d_k,)``.

    As GateLoop: exactly its form with a real ``a = α`` per key dimension (``d_k`` gates
    per head, broadcast over ``d_v``). Drops GateLoop's phase. GLA's output gate and
    normalization sit outside the mixer and are left out.
    """
    m = "gla"
    x = check_x(m, x)
    D, HK, R = x.shape[-1], dim(params, "b_a"), dim(params, "W_a1", 1)
    want = {"W_Q": ((D, HK), "real"), "W_K": ((D, HK), "real"), "W_V": ((D, D), "real"),
            "W_a1": ((D, R), "real"), "W_a2": ((R, HK), "real"), "b_a": ((HK,), "real")}
    H = n_heads(m, params, D)
    p = cast(check_params(m, params, want), x)
    check_div(m, "params['b_a']", HK, H, np.shape(params['b_a']))
    q, k = (split_heads(x @ p[w], H) for w in ("W_Q", "W_K"))
    # σ(z)^{1/τ} in log space, as GLA's own code does: the power's gradient at σ(z) = 0
    # (z below about -87.3 in float32, where XLA flushes σ(z) to 0) is 0 · inf = NaN
    alpha = jnp.exp(jax.nn.log_sigmoid(x @ p["W_a1"] @ p["W_a2"] + p["b_a"]) / GLA_TAU)
    return Mapped(q, k, split_heads(x @ p["W_V"], H), split_heads(alpha, H),
                  lambda y, _: merge_heads(y))


def init_gla(seed, d_model, heads=2, d_state=4, rank=2):
    check_div("init_gla", "d_model", d_model, heads)  # the values split into heads
    r = rng_of(seed)
    hk = heads * d_state
    return {"heads": heads, "W_Q": _w(r, d_model, hk), "W_K": _w(r, d_model, hk) / 2,
            "W_V": _w(r, d_model, d_model), "W_a1": _w(r, d_model, rank),
            "W_a2": _w(r, rank, hk), "b_a": r.standard_normal(hk)}


def hgrn(x, params):
    """HGRN (Qin et al. 2023, "Hierarchically gated recurrent neural network for sequence
    modeling", section 3.1): ``h_t = λ_t ⊙ h_{t-1} + (1 − λ_t) ⊙ c_t`` with the forget gate
    bounded below, ``λ_t = γ + (1 − γ) ⊙ μ_t``, ``μ_t = σ(x_t W_μ + b_μ)``,
    ``c_t = SiLU(x_t W_c + b_c)``.

    params: ``W_mu``, ``W_c`` ``(D, D)``; ``b_mu``, ``b_c`` ``(D,)``; ``lower`` ``(D,)``: the
    lower bound ``γ`` in ``[0, 1)`` (HGRN gives layer ``k`` the ``k``-th entry of a cumulative
    softmax over layers, so upper layers remember longer; here it is one layer's value).

    As GateLoop: ``D`` SISO heads, ``a = λ_t`` (real, in ``[γ, 1)``), ``k = 1 − λ_t``,
    ``v = c_t``, ``q = 1``. HGRN ties the input gate to the forget gate (``k = 1 − a``);
    GateLoop does not. This is the real HGRN; HGRN's first version also rotates by a
    fixed phase, and its output gate and norm sit outside the mixer.
    """
    m = "hgrn"
    x = check_x(m, x)
    D = x.shape[-1]
    want = {"W_mu": ((D, D), "real"), "W_c": ((D, D), "real"), "b_mu": ((D,), "real"),
            "b_c": ((D,), "real"), "lower": ((D,), "real")}
    p = check_params(m, params, want)
    check_range(m, "lower", p["lower"], lambda g: (g >= 0) & (g < 1), "a bound 0 <= γ < 1")
    p = cast(p, x)
    lam = p["lower"] + (1 - p["lower"]) * jax.nn.sigmoid(x @ p["W_mu"] + p["b_mu"])
    c = jax.nn.silu(x @ p["W_c"] + p["b_c"])
    return Mapped(jnp.ones_like(x)[..., None], (1 - lam)[..., None], c[..., None],
                  lam[..., None], lambda y, _: y[..., 0])


def init_hgrn(seed, d_model, heads=2, d_state=4):
    r = rng_of(seed)
    return {"W_mu": _w(r, d_model, d_model), "W_c": _w(r, d_model, d_model),
            "b_mu": r.standard_normal(d_model), "b_c": r.standard_normal(d_model) / 4,
            "lower": r.uniform(0.0, 0.9, d_model)}


def mamba(x, params):
    """Mamba's selective SSM S6 (Gu & Dao 2023, "Mamba: linear-time sequence modeling with
    selective state spaces", eq. 2a-2b and Algorithm 2): per channel ``d``,
    ``h_t = Ā_t h_{t-1} + B̄_t x_t``, ``y_t = C_t h_t + D x_t`` with
    ``Δ_t = softplus(x_t W_Δ + b_Δ)``, ``Ā_t = exp(Δ_t A)``, ``B̄_t = Δ_t B_t``,
    ``B_t = x_t W_B``, ``C_t = x_t W_C``.

    params: ``A`` ``(D, N)`` real and < 0 (Mamba stores ``log(−A)``); ``W_B``, ``W_C``
    ``(D, N)``; ``W_delta`` ``(D, D)``; ``b_delta``, ``D`` ``(D,)``.

    As GateLoop: ``H = D`` heads of ``d_k = N``, ``d_v = 1``: ``a = exp(Δ_t A)`` (real,
    per state), ``k = Δ_t B_t``, ``q = C_t`` (shared by the channels), ``v = x_t``.
    ``B̄ = ΔB`` is the simplification of Mamba's code (the paper's eq. 4 gives ZOH for
    ``B`` too). Dropped: Mamba's short convolution and ``SiLU(z)`` gate (outside the SSM),
    the low rank of ``W_Δ``.
    """
    m = "mamba"
    x = check_x(m, x)
    D, N = x.shape[-1], dim(params, "A", -1)
    want = {"A": ((D, N), "real"), "W_B": ((D, N), "real"), "W_C": ((D, N), "real"),
            "W_delta": ((D, D), "real"), "b_delta": ((D,), "real"), "D": ((D,), "real")}
    p = check_params(m, params, want)
    check_range(m, "A", p["A"], lambda v: v < 0, "A < 0 (a decaying state)")
    p = cast(p, x)
    delta = jax.nn.softplus(x @ p["W_delta"] + p["b_delta"])[..., None]  # (..., L, D, 1)
    B, C = x @ p["W_B"], x @ p["W_C"]  # (..., L, N)
    k = delta * B[..., None, :]
    q = jnp.broadcast_to(C[..., None, :], k.shape)
    return Mapped(q, k, x[..., None], jnp.exp(delta * p["A"]),
                  lambda y, _: y[..., 0] + p["D"] * x)


def init_mamba(seed, d_model, heads=2, d_state=4):
    """S4D-Real: ``A_n = −(n + 1)``; ``Δ`` near ``softplus(b)``, ``b`` around log-uniform steps."""
    r = rng_of(seed)
    dt = np.exp(r.uniform(np.log(1e-3), np.log(1e-1), d_model))
    return {"A": -np.broadcast_to(np.arange(1.0, d_state + 1), (d_model, d_state)).copy(),
            "W_B": _w(r, d_model, d_state), "W_C": _w(r, d_model, d_state),
            "W_delta": _w(r, d_model, d_model) / 4, "b_delta": dt + np.log(-np.expm1(-dt)),
            "D": r.standard_normal(d_model)}


def mamba2(x, params):
    """Mamba-2's SSD layer (Dao & Gu 2024, "Transformers are SSMs", eq. 1-2 with the scalar
    ``A`` of section 7): per head ``h_t = a_t h_{t-1} + (Δ_t B_t)ᵀ x_t``,
    ``y_t = C_t h_t + D x_t``, ``a_t = exp(Δ_t A_h)``, ``Δ_t = softplus(x_t W_Δ + b_Δ)``.

    params: ``heads`` (int); ``A`` ``(H,)`` < 0; ``W_B``, ``W_C`` ``(D, N)`` (one group,
    shared by all heads); ``W_delta`` ``(D, H)``; ``b_delta``, ``D`` ``(H,)``.
    The head dimension is ``P = D / H``: ``x`` split into heads is the value.

    As GateLoop: ``d_k = N``, ``d_v = P``, one scalar ``a_t`` per head broadcast over
    ``d_k`` (GateLoop allows one per key dimension), ``k = Δ_t B_t``, ``q = C_t``,
    ``v = x_t``. Dropped: the input projection, the short convolution, the gate and norm.
    """
    m = "mamba2"
    x = check_x(m, x)
    D, N = x.shape[-1], dim(params, "W_B", -1)
    H = n_heads(m, params, D)
    want = {"A": ((H,), "real"), "W_B": ((D, N), "real"), "W_C": ((D, N), "real"),
            "W_delta": ((D, H), "real"), "b_delta": ((H,), "real"), "D": ((H,), "real")}
    p = check_params(m, params, want)
    check_range(m, "A", p["A"], lambda v: v < 0, "A < 0 (a decaying state)")
    p = cast(p, x)
    delta = jax.nn.softplus(x @ p["W_delta"] + p["b_delta"])[..., None]  # (..., L, H, 1)
    B, C = x @ p["W_B"], x @ p["W_C"]
    k = delta * B[..., None, :]
    xs = split_heads(x, H)
    a = jnp.broadcast_to(jnp.exp(delta * p["A"][:, None]), k.shape)
    return Mapped(jnp.broadcast_to(C[..., None, :], k.shape), k, xs, a,
                  lambda y, _: merge_heads(y + p["D"][:, None] * xs))


def init_mamba2(seed, d_model, heads=2, d_state=4):
    check_div("init_mamba2", "d_model", d_model, heads)  # the values split into heads
    r = rng_of(seed)
    dt = np.exp(r.uniform(np.log(1e-3), np.log(1e-1), heads))
    return {"heads": heads, "A": -r.uniform(1, 16, heads), "W_B": _w(r, d_model, d_state),
            "W_C": _w(r, d_model, d_state), "W_delta": _w(r, d_model, heads) / 4,
            "b_delta": dt + np.log(-np.expm1(-dt)), "D": r.standard_normal(heads)}


def rglru(x, params):
    """Griffin's RG-LRU (De et al. 2024, "Griffin: mixing gated linear recurrences with local
    attention", section 2.4, eq. 1-4): ``r_t = σ(W_a x_t + b_a)``, ``i_t = σ(W_x x_t + b_x)``,
    ``a_t = a^{c r_t}`` with ``a = σ(Λ)`` and ``c = 8``,
    ``h_t = a_t ⊙ h_{t-1} + sqrt(1 − a_t²) ⊙ (i_t ⊙ x_t)``.

    params: ``W_a``, ``W_x`` ``(D, D)`` (block-diagonal in Griffin; dense here);
    ``b_a``, ``b_x``, ``Lambda`` ``(D,)``. ``a_t`` is computed in log space,
    ``log a_t = −c · softplus(−Λ) · r_t``, as Griffin does.

    As GateLoop: ``D`` SISO heads, ``a = a_t`` (real, in (0, 1)),
    ``k = sqrt(1 − a_t²)`` (the LRU's normalization made data-dependent), ``v = i_t ⊙ x_t``,
    ``q = 1``. Keeps everything; drops GateLoop's phase and output gate.
    """
    m = "rglru"
    x = check_x(m, x)
    D = x.shape[-1]
    want = {"W_a": ((D, D), "real"), "W_x": ((D, D), "real"), "b_a": ((D,), "real"),
            "b_x": ((D,), "real"), "Lambda": ((D,), "real")}
    p = cast(check_params(m, params, want), x)
    r_t = jax.nn.sigmoid(x @ p["W_a"] + p["b_a"])
    i_t = jax.nn.sigmoid(x @ p["W_x"] + p["b_x"])
    log_a = -RGLRU_C * jax.nn.softplus(-p["Lambda"]) * r_t
    a = jnp.exp(log_a)
    k = _sqrt0(-jnp.expm1(2 * log_a))  # sqrt(1 - a²) without cancellation near a = 1
    return Mapped(jnp.ones_like(x)[..., None], k[..., None], (i_t * x)[..., None],
                  a[..., None], lambda y, _: y[..., 0])


def init_rglru(seed, d_model, heads=2, d_state=4):
    """``a^c`` uniform in (0.9, 0.999) (Griffin section 2.4)."""
    r = rng_of(seed)
    a = r.uniform(0.9, 0.999, d_model) ** (1 / RGLRU_C)
    return {"W_a": _w(r, d_model, d_model), "W_x": _w(r, d_model, d_model),
            "b_a": r.standard_normal(d_model), "b_x": r.standard_normal(d_model),
            "Lambda": np.log(a / (1 - a))}


def gateloop(x, params):
    """GateLoop (Katsch 2023, eq. 7-8 and 24; the model of section 4 and App. C):
    ``q, k, v, α, β`` are linear projections of ``x``,
    ``a_n = σ(α_n) exp(i β_n)`` (:func:`gl.gates.transition`, ``"sigmoid"``, ``"identity"``)
    and the output is ``Re y`` with the heads concatenated.

    params: ``heads`` (int); ``W_q``, ``W_k``, ``W_alpha``, ``W_beta`` ``(D, H·d_k)``;
    ``W_v`` ``(D, D)``.

    The general member: data-controlled, complex, one transition per key dimension.
    The paper's output gate and norm sit outside the mixer.
    """
    m = "gateloop"
    x = check_x(m, x)
    D, HK = x.shape[-1], dim(params, "W_q", 1)
    H = n_heads(m, params, D)
    want = {n: ((D, HK), "real") for n in ("W_q", "W_k", "W_alpha", "W_beta")}
    want["W_v"] = ((D, D), "real")
    p = cast(check_params(m, params, want), x)
    check_div(m, "params['W_q']", HK, H, np.shape(params['W_q']))
    q, k, alpha, beta = (split_heads(x @ p[n], H) for n in ("W_q", "W_k", "W_alpha", "W_beta"))
    a = gates.transition(alpha, beta, "sigmoid", "identity")
    return Mapped(q, k, split_heads(x @ p["W_v"], H), a,
                  lambda y, _: merge_heads(jnp.real(y)))


def init_gateloop(seed, d_model, heads=2, d_state=4):
    check_div("init_gateloop", "d_model", d_model, heads)  # the values split into heads
    r = rng_of(seed)
    hk = heads * d_state
    out = {n: _w(r, d_model, hk) for n in ("W_q", "W_k", "W_alpha", "W_beta")}
    return {"heads": heads, **out, "W_v": _w(r, d_model, d_model)}
