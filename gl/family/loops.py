"""Each family member's equations as its paper writes them: plain NumPy loops over time.

Independent of GateLoop: nothing here imports :func:`gl.gate_loop` or the mappings of
:mod:`gl.family`; each loop carries the model's own state in the model's own layout
(S4D even uses its convolution kernel). They are the ground truth the mappings are tested
against, in the dtype of ``x`` (float64 for the tests' tight tolerances). Signature
``loop(x, params) -> (..., L, D)``, the same ``params`` as :data:`gl.family.INITS` makes.
"""
from __future__ import annotations

import numpy as np

GLA_TAU, RGLRU_C = 16.0, 8.0  # restated from the papers, not imported


def _sig(z):
    return 1 / (1 + np.exp(-z))


def _softplus(z):
    return np.logaddexp(0, z)


def _flat(x):
    """``(..., L, D) -> (B, L, D)`` and a function that restores the leading dims."""
    x = np.asarray(x)
    lead = x.shape[:-2]
    return x.reshape((-1,) + x.shape[-2:]), lambda y: y.reshape(lead + y.shape[1:])


def s4d(x, p):
    """S4D as a convolution (its eq. 6): ``K_ℓ = 2 Re Σ_n C_n B̄_n Ā_n^ℓ``, ``y = K * u + D u``."""
    xb, back = _flat(x)
    L = xb.shape[1]
    A_bar = np.exp(p["delta"][:, None] * p["Lambda"])
    B_bar = (A_bar - 1) / p["Lambda"] * p["B"]
    K = np.stack([2 * np.real(np.sum(p["C"] * B_bar * A_bar ** l, -1)) for l in range(L)])
    y = np.zeros_like(xb)
    for n in range(L):
        for m in range(n + 1):
            y[:, n] += K[n - m] * xb[:, m]
    return back(y + p["D"] * xb)


def s5(x, p):
    """S5: ``x_n = Λ̄ x_{n-1} + B̄ u_n``, ``y_n = Re(C x_n) + D u_n`` (ZOH)."""
    xb, back = _flat(x)
    A_bar = np.exp(p["Lambda"] * p["delta"])
    B_bar = ((A_bar - 1) / p["Lambda"])[:, None] * p["B"]
    s = np.zeros((xb.shape[0], len(A_bar)), complex)
    y = np.zeros_like(xb)
    for n in range(xb.shape[1]):
        s = A_bar * s + xb[:, n] @ B_bar.T
        y[:, n] = np.real(s @ p["C"].T) + p["D"] * xb[:, n]
    return back(y)


def lru(x, p):
    """LRU: ``λ = exp(−exp(ν) + i exp(θ))``, ``γ = sqrt(1 − |λ|²)``,
    ``x_n = λ x_{n-1} + γ (B u_n)``, ``y_n = Re(C x_n) + D u_n``."""
    xb, back = _flat(x)
    lam = np.exp(-np.exp(p["nu_log"]) + 1j * np.exp(p["theta_log"]))
    gamma = np.sqrt(1 - np.abs(lam) ** 2)
    s = np.zeros((xb.shape[0], len(lam)), complex)
    y = np.zeros_like(xb)
    for n in range(xb.shape[1]):
        s = lam * s + gamma * (xb[:, n] @ p["B"].T)
        y[:, n] = np.real(s @ p["C"].T) + p["D"] * xb[:, n]
    return back(y)


def retnet(x, p, real=True):
    """RetNet's recurrent form: ``Q_n = X W_Q e^{inθ}``, ``K_n = X W_K e^{−inθ}``,
    ``S_n = γ S_{n-1} + K_nᵀ V_n``, ``o_n = Q_n S_n``; returns ``Re o`` (``o`` itself
    without ``real``)."""
    xb, back = _flat(x)
    H, dk = len(p["gamma"]), len(p["theta"])
    Bt, L, D = xb.shape
    Q = (xb @ p["W_Q"]).reshape(Bt, L, H, dk)
    K = (xb @ p["W_K"]).reshape(Bt, L, H, dk)
    V = (xb @ p["W_V"]).reshape(Bt, L, H, D // H)
    S = np.zeros((Bt, H, dk, D // H), complex)
    y = np.zeros((Bt, L, H, D // H), float if real else complex)
    for n in range(L):
        th = np.exp(1j * n * p["theta"])
        Qn, Kn = Q[:, n] * th, K[:, n] * np.conj(th)
        S = p["gamma"][:, None, None] * S + Kn[..., :, None] * V[:, n, :, None, :]
        o = np.einsum("bhk,bhkv->bhv", Qn, S)
        y[:, n] = np.real(o) if real else o
    return back(y.reshape(Bt, L, D))


def _heads(xb, W, H):
    Bt, L = xb.shape[:2]
    return (xb @ W).reshape(Bt, L, H, -1)


def gla(x, p):
    """GLA: ``S_t = (α_tᵀ 1) ⊙ S_{t-1} + k_tᵀ v_t``, ``o_t = q_t S_t``,
    ``α_t = σ(x W_α1 W_α2 + b_α)^{1/16}``."""
    xb, back = _flat(x)
    H = p["heads"]
    q, k, v = (_heads(xb, p[n], H) for n in ("W_Q", "W_K", "W_V"))
    al = (_sig(xb @ p["W_a1"] @ p["W_a2"] + p["b_a"]) ** (1 / GLA_TAU))
    al = al.reshape(q.shape)
    S = np.zeros(q.shape[:1] + (H, q.shape[-1], v.shape[-1]))
    y = np.zeros(v.shape)
    for t in range(xb.shape[1]):
        G = al[:, t, :, :, None] * np.ones(v.shape[-1])  # α_tᵀ 1
        S = G * S + np.einsum("bhk,bhv->bhkv", k[:, t], v[:, t])
        y[:, t] = np.einsum("bhk,bhkv->bhv", q[:, t], S)
    return back(y.reshape(xb.shape))


def hgrn(x, p):
    """HGRN: ``λ_t = γ + (1 − γ) σ(x W_μ + b_μ)``, ``c_t = SiLU(x W_c + b_c)``,
    ``h_t = λ_t h_{t-1} + (1 − λ_t) c_t``."""
    xb, back = _flat(x)
    h = np.zeros((xb.shape[0], xb.shape[2]))
    y = np.zeros_like(xb)
    for t in range(xb.shape[1]):
        lam = p["lower"] + (1 - p["lower"]) * _sig(xb[:, t] @ p["W_mu"] + p["b_mu"])
        z = xb[:, t] @ p["W_c"] + p["b_c"]
        h = lam * h + (1 - lam) * z * _sig(z)
        y[:, t] = h
    return back(y)


def mamba(x, p):
    """S6: ``Δ = softplus(x W_Δ + b_Δ)``, ``h_t = exp(ΔA) h_{t-1} + Δ B_t x_t``,
    ``y_t = C_t h_t + D x_t`` per channel (``h``: ``(D, N)``)."""
    xb, back = _flat(x)
    h = np.zeros((xb.shape[0],) + p["A"].shape)
    y = np.zeros_like(xb)
    for t in range(xb.shape[1]):
        u = xb[:, t]
        dl = _softplus(u @ p["W_delta"] + p["b_delta"])  # (B, D)
        Bt, Ct = u @ p["W_B"], u @ p["W_C"]  # (B, N)
        h = np.exp(dl[..., None] * p["A"]) * h + (dl * u)[..., None] * Bt[:, None, :]
        y[:, t] = np.einsum("bdn,bn->bd", h, Ct) + p["D"] * u
    return back(y)


def mamba2(x, p):
    """SSD: per head ``h_t = exp(Δ_t A_h) h_{t-1} + Δ_t B_t x_tᵀ``,
    ``y_t = C_tᵀ h_t + D_h x_t`` (``h``: ``(N, P)``)."""
    xb, back = _flat(x)
    H = p["heads"]
    Bs, L, D = xb.shape
    xs = xb.reshape(Bs, L, H, D // H)
    h = np.zeros((Bs, H, p["W_B"].shape[1], D // H))
    y = np.zeros_like(xs)
    for t in range(L):
        u = xb[:, t]
        dl = _softplus(u @ p["W_delta"] + p["b_delta"])  # (B, H)
        Bt, Ct = u @ p["W_B"], u @ p["W_C"]  # (B, N)
        h = (np.exp(dl * p["A"])[..., None, None] * h
             + dl[..., None, None] * Bt[:, None, :, None] * xs[:, t, :, None, :])
        y[:, t] = np.einsum("bhnp,bn->bhp", h, Ct) + p["D"][:, None] * xs[:, t]
    return back(y.reshape(Bs, L, D))


def rglru(x, p):
    """RG-LRU: ``a_t = σ(Λ)^{c r_t}``, ``h_t = a_t h_{t-1} + sqrt(1 − a_t²)(i_t x_t)``."""
    xb, back = _flat(x)
    a_base = _sig(p["Lambda"])
    h = np.zeros((xb.shape[0], xb.shape[2]))
    y = np.zeros_like(xb)
    for t in range(xb.shape[1]):
        u = xb[:, t]
        r, i = _sig(u @ p["W_a"] + p["b_a"]), _sig(u @ p["W_x"] + p["b_x"])
        a = a_base ** (RGLRU_C * r)
        h = a * h + np.sqrt(1 - a ** 2) * (i * u)
        y[:, t] = h
    return back(y)


def mlstm(x, p, stabilized=False):
    """mLSTM, unstabilized: ``C_t = f_t C_{t-1} + i_t v_t k_tᵀ``, ``n_t = f_t n_{t-1} + i_t k_t``,
    ``h_t = o_t ⊙ C_t q_t / max(|n_tᵀ q_t|, 1)``, ``i = exp(ĩ)``, ``f = σ(f̃)``.

    With ``stabilized``, xLSTM's stabilized form instead: ``m_t = max(log f_t + m_{t-1}, ĩ_t)``,
    ``i'_t = exp(ĩ_t − m_t)``, ``f'_t = exp(log f_t + m_{t-1} − m_t)`` in place of ``i, f``, and
    the denominator ``max(|n_tᵀ q_t|, exp(−m_t))``. Both give the same output.
    """
    xb, back = _flat(x)
    H = p["heads"]
    q, k, v = (_heads(xb, p[n], H) for n in ("W_q", "W_k", "W_v"))
    Bs, L = xb.shape[:2]
    C = np.zeros((Bs, H, v.shape[-1], q.shape[-1]))  # v kᵀ: (d_v, d_k), as the paper
    nrm = np.zeros((Bs, H, q.shape[-1]))
    m = np.zeros((Bs, H))
    y = np.zeros(v.shape)
    for t in range(L):
        u = xb[:, t]
        it, ft = u @ p["w_i"] + p["b_i"], u @ p["w_f"] + p["b_f"]
        log_f = np.log(_sig(ft))
        if stabilized:
            m_new = np.maximum(log_f + m, it)
            i_g, f_g, floor = np.exp(it - m_new), np.exp(log_f + m - m_new), np.exp(-m_new)
            m = m_new
        else:
            i_g, f_g, floor = np.exp(it), _sig(ft), np.ones((Bs, H))
        C = (f_g[..., None, None] * C
             + i_g[..., None, None] * v[:, t, :, :, None] * k[:, t, :, None, :])
        nrm = f_g[..., None] * nrm + i_g[..., None] * k[:, t]
        num = np.einsum("bhvk,bhk->bhv", C, q[:, t])
        den = np.maximum(np.abs(np.einsum("bhk,bhk->bh", nrm, q[:, t])), floor)
        y[:, t] = num / den[..., None]
    o = _sig(xb @ p["W_o"] + p["b_o"])
    return back(o * y.reshape(xb.shape))


def rwkv6(x, p):
    """RWKV-6: ``o_t = r_t (S_{t-1} + diag(u) k_tᵀ v_t)``, ``S_t = diag(w_t) S_{t-1} + k_tᵀ v_t``,
    ``w_t = exp(−exp(λ_w + tanh(x W_w1) W_w2))``."""
    xb, back = _flat(x)
    H = p["heads"]
    r, k, v = (_heads(xb, p[n], H) for n in ("W_r", "W_k", "W_v"))
    w = np.exp(-np.exp(p["lambda_w"] + np.tanh(xb @ p["W_w1"]) @ p["W_w2"])).reshape(r.shape)
    S = np.zeros(r.shape[:1] + (H, r.shape[-1], v.shape[-1]))
    y = np.zeros(v.shape)
    for t in range(xb.shape[1]):
        kv = k[:, t, :, :, None] * v[:, t, :, None, :]
        y[:, t] = np.einsum("bhk,bhkv->bhv", r[:, t], S + p["u"][..., None] * kv)
        S = w[:, t, :, :, None] * S + kv
    return back(y.reshape(xb.shape))


def gateloop(x, p):
    """GateLoop (eq. 7-8, 24): ``a_n = σ(α_n) e^{iβ_n}``, ``h_n = a_n h_{n-1} + k_nᵀ v_n``,
    ``y_n = Re(q_n h_n)``."""
    xb, back = _flat(x)
    H = p["heads"]
    q, k, v, al, be = (_heads(xb, p[n], H) for n in ("W_q", "W_k", "W_v", "W_alpha", "W_beta"))
    a = _sig(al) * np.exp(1j * be)
    h = np.zeros(q.shape[:1] + (H, q.shape[-1], v.shape[-1]), complex)
    y = np.zeros(v.shape)
    for n in range(xb.shape[1]):
        h = a[:, n, :, :, None] * h + k[:, n, :, :, None] * v[:, n, :, None, :]
        y[:, n] = np.real(np.einsum("bhk,bhkv->bhv", q[:, n], h))
    return back(y.reshape(xb.shape))


LOOPS = {"s4d": s4d, "s5": s5, "lru": lru, "retnet": retnet, "gla": gla, "hgrn": hgrn,
         "mamba": mamba, "mamba2": mamba2, "rglru": rglru, "mlstm": mlstm, "rwkv6": rwkv6,
         "gateloop": gateloop}
