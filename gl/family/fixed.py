"""Family members with a FIXED transition: S4D, S5, LRU, RetNet (GateLoop section 3.1).

Their ``a_n = A`` is the same at every step: a time-invariant recurrence, the special case
GateLoop generalizes (eq. 10-11). Every function here is ``f(x, params) -> Mapped``
(:class:`gl.family.common.Mapped`), ``x``: ``(..., L, D)`` real; every ``init_*`` is
``init(seed, d_model, heads=2, d_state=4) -> params`` (NumPy float64/complex128).
"""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from .. import gates
from .common import (Mapped, broadcast_steps, cast, check_div, check_params, check_range,
                     check_x, dim, merge_heads, rng_of, split_heads)


def _zoh(Lambda, delta):
    """Zero-order hold of a diagonal ``ẋ = Λx + Bu``: ``Ā = exp(ΔΛ)``, ``B̄/B = (Ā − 1)/Λ``."""
    A_bar = jnp.exp(delta * Lambda)
    return A_bar, (A_bar - 1) / Lambda


def _check_ct(model, p, N_name="Lambda"):
    check_range(model, N_name, p[N_name], lambda v: v.real < 0, "Re Λ < 0 (a stable system)")
    check_range(model, "delta", p["delta"], lambda v: v > 0, "a step Δ > 0")


def s4d(x, params):
    """S4D (Gu et al. 2022, "On the parameterization and initialization of diagonal state
    space models", eq. 4-6 and the ZOH of section 2): ``D`` independent SISO systems of ``N``
    complex states each, ``x'_n = Ā x_{n-1} + B̄ u_n``, ``y_n = 2 Re(C x_n) + D u_n``
    (the factor 2: the conjugate half of the spectrum is left out).

    params: ``Lambda`` ``(D, N)`` complex with ``Re Λ < 0``; ``B``, ``C`` ``(D, N)`` complex;
    ``D`` ``(D,)``; ``delta`` ``(D,)`` > 0 (the step Δ; S4D stores ``log Δ``).

    As GateLoop: ``H = D`` heads, ``d_k = N``, ``d_v = 1``; ``a_n = Ā``, ``k_n = B̄``,
    ``q_n = C`` (all constant: time-invariant), ``v_n = u_n``. Keeps everything; the
    ``2 Re`` and the skip ``D u`` are the read-out. GateLoop adds nothing S4D uses: its
    ``q, k, a`` could vary with the input, S4D's do not.
    """
    m = "s4d"
    x = check_x(m, x)
    D = x.shape[-1]
    N = dim(params, "Lambda", -1)
    want = {"Lambda": ((D, N), "complex"), "B": ((D, N), "complex"),
            "C": ((D, N), "complex"), "D": ((D,), "real"), "delta": ((D,), "real")}
    p = check_params(m, params, want)
    _check_ct(m, p)
    p = cast(p, x)
    A_bar, scale = _zoh(p["Lambda"], p["delta"][:, None])
    B_bar = scale * p["B"]
    a = broadcast_steps(A_bar, x, D, N)

    def out(y, _):
        return 2 * jnp.real(y[..., 0]) + p["D"] * x

    return Mapped(broadcast_steps(p["C"], x, D, N), broadcast_steps(B_bar, x, D, N),
                  x[..., None], a, out)


def init_s4d(seed, d_model, heads=2, d_state=4):
    """S4D-Lin: ``Λ_n = −1/2 + iπn``, Δ log-uniform in (0.001, 0.1)."""
    r = rng_of(seed)
    n = np.arange(d_state)
    Lam = np.broadcast_to(-0.5 + 1j * np.pi * n, (d_model, d_state)).copy()
    cn = lambda: (r.standard_normal((d_model, d_state))
                  + 1j * r.standard_normal((d_model, d_state))) / np.sqrt(2)
    return {"Lambda": Lam, "B": cn(), "C": cn(), "D": r.standard_normal(d_model),
            "delta": np.exp(r.uniform(np.log(1e-3), np.log(1e-1), d_model))}


def s5(x, params):
    """S5 (Smith et al. 2023, "Simplified state space layers", eq. 2-6): one MIMO system,
    ``P`` complex states shared by all ``D`` inputs: ``x_n = Λ̄ x_{n-1} + B̄ u_n``,
    ``y_n = Re(C x_n) + D ⊙ u_n``, ``Λ̄ = exp(ΛΔ)``, ``B̄ = Λ⁻¹(Λ̄ − I)B`` (ZOH, eq. 6).

    params: ``Lambda`` ``(P,)`` complex, ``Re Λ < 0``; ``B`` ``(P, D)`` and ``C``
    ``(D, P)`` complex; ``D`` ``(D,)``; ``delta`` ``(P,)`` > 0.

    As GateLoop: ``H = P`` SISO heads (``d_k = d_v = 1``), ``q = k = 1``, ``v_n = B̄ u_n``,
    ``a_n = Λ̄``. The MIMO mixing ``B``, ``C`` sits outside the recurrence (in ``v`` and
    the read-out), so GateLoop's form keeps all of S5. (S5's released code takes ``2 Re``
    with a conjugate-symmetric half spectrum; here ``C`` holds the whole spectrum.)
    """
    m = "s5"
    x = check_x(m, x)
    D = x.shape[-1]
    P = dim(params, "Lambda")
    want = {"Lambda": ((P,), "complex"), "B": ((P, D), "complex"), "C": ((D, P), "complex"),
            "D": ((D,), "real"), "delta": ((P,), "real")}
    p = check_params(m, params, want)
    _check_ct(m, p)
    p = cast(p, x)
    A_bar, scale = _zoh(p["Lambda"], p["delta"])
    B_bar = scale[:, None] * p["B"]
    v = jnp.einsum("...d,pd->...p", x.astype(B_bar.dtype), B_bar)[..., None]
    ones = jnp.ones(x.shape[:-1] + (P, 1), x.dtype)

    def out(y, _):
        return jnp.real(jnp.einsum("...p,dp->...d", y[..., 0], p["C"])) + p["D"] * x

    return Mapped(ones, ones, v, broadcast_steps(A_bar[:, None], x, P, 1), out)


def init_s5(seed, d_model, heads=2, d_state=4):
    """``P = d_state`` states, ``Λ_n = −1/2 + iπn`` (S4D-Lin, as S5's ablations), Δ log-uniform."""
    r = rng_of(seed)
    P = d_state
    cn = lambda *s: (r.standard_normal(s) + 1j * r.standard_normal(s)) / np.sqrt(2 * s[-1])
    return {"Lambda": -0.5 + 1j * np.pi * np.arange(P), "B": cn(P, d_model),
            "C": cn(d_model, P), "D": r.standard_normal(d_model),
            "delta": np.exp(r.uniform(np.log(1e-3), np.log(1e-1), P))}


def lru(x, params):
    """LRU (Orvieto et al. 2023, "Resurrecting recurrent neural networks", eq. 3-7):
    ``x_n = diag(λ) x_{n-1} + γ ⊙ (B u_n)``, ``y_n = Re(C x_n) + D ⊙ u_n`` with the
    exponential parameterization ``λ = exp(−exp(ν) + i exp(θ))`` (eq. 6) and the
    normalization ``γ = sqrt(1 − |λ|²)`` (section 3.3).

    params: ``nu_log``, ``theta_log`` ``(N,)``; ``B`` ``(N, D)`` and ``C`` ``(D, N)``
    complex; ``D`` ``(D,)``. Any real ``nu_log`` gives ``0 < |λ| < 1``.

    As GateLoop: ``H = N`` SISO heads, ``q = k = 1``, ``v_n = γ ⊙ B u_n``, ``a_n = λ``:
    :func:`gl.gates.transition` with magnitude ``"stable-exp"`` and phase ``"exp"``, the
    same polar form as GateLoop's eq. 24 with constant ``α, β``. The LRU's released code
    learns ``log γ`` from this starting value; here it is fixed to the formula.
    """
    m = "lru"
    x = check_x(m, x)
    D = x.shape[-1]
    N = dim(params, "nu_log")
    want = {"nu_log": ((N,), "real"), "theta_log": ((N,), "real"),
            "B": ((N, D), "complex"), "C": ((D, N), "complex"), "D": ((D,), "real")}
    p = cast(check_params(m, params, want), x)
    lam = gates.transition(p["nu_log"], p["theta_log"], "stable-exp", "exp")
    gamma = jnp.sqrt(1 - jnp.abs(lam) ** 2)
    v = gamma * jnp.einsum("...d,nd->...n", x.astype(p["B"].dtype), p["B"])
    ones = jnp.ones(x.shape[:-1] + (N, 1), x.dtype)

    def out(y, _):
        return jnp.real(jnp.einsum("...n,dn->...d", y[..., 0], p["C"])) + p["D"] * x

    return Mapped(ones, ones, v[..., None], broadcast_steps(lam[:, None], x, N, 1), out)


def init_lru(seed, d_model, heads=2, d_state=4):
    """The LRU's ring init: ``|λ|²`` uniform on (0.9², 0.999²), i.e. uniform over the ring's
    area as the LRU draws it, and the phase uniform on (0.01, π/10)."""
    r = rng_of(seed)
    N = d_state
    mag = r.uniform(0.9 ** 2, 0.999 ** 2, N) ** 0.5
    cn = lambda *s: (r.standard_normal(s) + 1j * r.standard_normal(s)) / np.sqrt(2 * s[-1])
    return {"nu_log": np.log(-np.log(mag)), "theta_log": np.log(r.uniform(0.01, np.pi / 10, N)),
            "B": cn(N, d_model), "C": cn(d_model, N), "D": r.standard_normal(d_model)}


def retnet(x, params):
    """RetNet retention (Sun et al. 2023, "Retentive network", eq. 1-6): per head
    ``S_n = γ S_{n-1} + K_nᵀ V_n``, ``o_n = Q_n S_n`` with ``Q_n = (X W_Q)_n Θ_n``,
    ``K_n = (X W_K)_n Θ̄_n``, ``Θ_n = e^{inθ}``; a fixed scalar ``γ`` per head.

    params: ``W_Q``, ``W_K`` ``(D, H·d_k)``; ``W_V`` ``(D, D)``; ``gamma`` ``(H,)`` in (0, 1);
    ``theta`` ``(d_k,)`` real. Returns ``Re o`` with the heads concatenated.

    As GateLoop: ``q = X W_Q``, ``k = X W_K``, ``v = X W_V`` and the rotation moved into the
    transition, ``a = γ_h e^{iθ}`` (eq. 11 of GateLoop): ``Θ_n Θ̄_m = e^{i(n−m)θ}``.
    Dropped (outside the mixer): the ``d_k^{-1/2}`` key scale (fold it into ``W_K``), the
    GroupNorm and the swish output gate. RetNet's released code rotates pairs of real
    dimensions (xPos) instead of taking ``Re`` of this complex form.
    """
    m = "retnet"
    x = check_x(m, x)
    D = x.shape[-1]
    H = dim(params, "gamma")
    dk = dim(params, "theta")
    check_div(m, "x", D, max(H, 1))
    want = {"W_Q": ((D, H * dk), "real"), "W_K": ((D, H * dk), "real"),
            "W_V": ((D, D), "real"), "gamma": ((H,), "real"), "theta": ((dk,), "real")}
    p = check_params(m, params, want)
    check_range(m, "gamma", p["gamma"], lambda g: (g > 0) & (g < 1), "a decay 0 < γ < 1")
    p = cast(p, x)
    q, k = (split_heads(x @ p[w], H) for w in ("W_Q", "W_K"))
    v = split_heads(x @ p["W_V"], H)
    A = p["gamma"][:, None] * jnp.exp(1j * p["theta"])[None, :]  # (H, d_k)
    return Mapped(q, k, v, broadcast_steps(A, x, H, dk),
                  lambda y, _: merge_heads(jnp.real(y)))


def init_retnet(seed, d_model, heads=2, d_state=4):
    """``γ_h = 1 − 2^{−5−h}`` and ``θ_r = 10000^{−r/d_k}`` (RetNet section 2.2)."""
    check_div("init_retnet", "d_model", d_model, heads)
    r = rng_of(seed)
    dk = d_state
    w = lambda c: r.standard_normal((d_model, c)) / np.sqrt(d_model)
    return {"W_Q": w(heads * dk), "W_K": w(heads * dk) / np.sqrt(dk), "W_V": w(d_model),
            "gamma": 1 - 2.0 ** (-5 - np.arange(heads)),
            "theta": 10000.0 ** (-np.arange(dk) / dk)}
