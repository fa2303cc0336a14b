"""gl.theory.ssm: discretizations against closed-form ODE solutions, initializations, the kernel.

Tolerances: NumPy computes in complex128; "exact" comparisons use rtol 1e-10 (rounding of
sums of ~100 terms). Convergence orders are least-squares slopes of log error vs log Δ over
Δ = T/200 … T/3200 (coarser Δ is pre-asymptotic for Euler), accepted within ±0.1 of the theoretical order (1 or 2).
float32 JAX paths against the float64 NumPy ones: rtol 1e-5.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, strategies as st

import gl
from gl.theory import ssm
from conftest import loop_scan, rel_err

LAMBDAS = np.array([-0.5 + 2.0j, -1.0 + 0.0j, -0.2 - 5.0j])


def run_recurrence(A, B, x):
    """``h_n = A h_{n-1} + B x_n`` from ``h_0 = 0``; A, B ``(N,)``, x ``(L,)`` -> h ``(L, N)``."""
    return loop_scan(A, np.multiply.outer(x, B))


# ---------------------------------------------------------------- exactness of ZOH (eq. 5)
def step_response(lam, t, tau):
    """Closed form of ``h' = λh + H(t − τ)``, ``h(0) = 0``: ``(e^{λ(t−τ)} − 1)/λ`` for ``t > τ``."""
    s = np.maximum(t - tau, 0.0)
    return np.expm1(lam * s) / lam


def test_zoh_exact_for_piecewise_constant_input(rng):
    delta, L = 0.05, 120
    t = delta * np.arange(1, L + 1)
    # x(t) = Σ_j c_j H(t − τ_j) with jumps on the grid: constant on each step ((n−1)Δ, nΔ]
    jumps = rng.choice(L, size=6, replace=False)
    c = rng.standard_normal(6)
    tau = delta * jumps
    x = np.array([np.sum(c[tau < tn]) for tn in t])  # value on ((n−1)Δ, nΔ]
    A, B = ssm.discretize_zoh(LAMBDAS, np.ones(3), delta)
    h = run_recurrence(A, B, x)
    exact = sum(c_j * step_response(LAMBDAS[None, :], t[:, None], tau_j) for c_j, tau_j in zip(c, tau))
    np.testing.assert_allclose(h, exact, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- orders on a smooth input
def cos_response(lam, t, omega):
    """Closed form of ``h' = λh + cos(ωt)``, ``h(0) = 0``."""
    return 0.5 * ((np.exp(1j * omega * t) - np.exp(lam * t)) / (1j * omega - lam)
                  + (np.exp(-1j * omega * t) - np.exp(lam * t)) / (-1j * omega - lam))


def measured_order(discretize, T=2.0, omega=3.0, steps=(200, 400, 800, 1600, 3200)):
    errs, deltas = [], []
    for n in steps:
        delta = T / n
        A, B = discretize(LAMBDAS, np.ones(3), delta)
        x = np.cos(omega * delta * (np.arange(1, n + 1) - 0.5))  # midpoint of each step
        h_T = run_recurrence(A, B, x)[-1]
        errs.append(np.max(np.abs(h_T - cos_response(LAMBDAS, T, omega))))
        deltas.append(delta)
    return np.polyfit(np.log(deltas), np.log(errs), 1)[0]


@pytest.mark.parametrize(
    "discretize, order",
    [
        (ssm.discretize_zoh, 2.0),
        (ssm.discretize_bilinear, 2.0),
        (ssm.discretize_euler, 1.0),
        (lambda *a: ssm.discretize_euler(*a, kind="backward"), 1.0),
    ],
)
def test_convergence_order(discretize, order):
    slope = measured_order(discretize)
    assert abs(slope - order) < 0.1, f"measured order {slope:.3f}, expected {order}"


def test_zoh_matches_cos_response_sanity():
    # the closed form itself solves the ODE: central difference of h vs λh + cos(ωt)
    lam, omega, t, e = LAMBDAS, 3.0, 0.7, 1e-5
    dh = (cos_response(lam, t + e, omega) - cos_response(lam, t - e, omega)) / (2 * e)
    np.testing.assert_allclose(dh, lam * cos_response(lam, t, omega) + np.cos(omega * t), rtol=1e-8)


# ---------------------------------------------------------------- eq. 6 and stability
@pytest.mark.parametrize("discretize", [ssm.discretize_zoh, ssm.discretize_bilinear, ssm.discretize_euler])
def test_delta_to_zero_limit(discretize):
    """Eq. 6: (A, B) -> (I, 0) as Δ -> 0, and B/Δ -> B̄ (first order in Δ)."""
    B_bar = np.array([1.0, 2.0 - 1j, -0.5])
    for delta in [1e-3, 1e-5, 1e-7]:
        A, B = discretize(LAMBDAS, B_bar, delta)
        assert np.max(np.abs(A - 1)) <= 1.01 * delta * np.max(np.abs(LAMBDAS))
        np.testing.assert_allclose(B / delta, B_bar, rtol=10 * delta * np.max(np.abs(LAMBDAS)))


@given(
    re=st.floats(-50, -1e-3), im=st.floats(-100, 100), log_delta=st.floats(-7, 1),
)
def test_stable_for_negative_real_part(re, im, log_delta):
    lam, delta = np.array([complex(re, im)]), 10.0**log_delta
    for discretize in (ssm.discretize_zoh, ssm.discretize_bilinear,
                       lambda *a: ssm.discretize_euler(*a, kind="backward")):
        A, _ = discretize(lam, np.ones(1), delta)
        assert np.abs(A[0]) <= 1.0  # < 1 up to rounding when Δ|Re λ| is tiny
        if delta * -re > 1e-6:
            assert np.abs(A[0]) < 1.0
    # forward Euler: stable exactly when Δ < −2 Re λ / |λ|²
    A, _ = ssm.discretize_euler(lam, np.ones(1), delta)
    bound = -2 * re / abs(lam[0]) ** 2
    if delta < 0.99 * bound:
        assert np.abs(A[0]) < 1.0
    elif delta > 1.01 * bound:
        assert np.abs(A[0]) > 1.0


def test_shapes_and_jax_path():
    Lambda = np.stack([ssm.init_s4d_lin(4), ssm.init_s4d_inv(4)])  # (H=2, N=4)
    delta = ssm.log_spaced_delta(2)[:, None]  # (2, 1)
    B_bar = np.ones((2, 4, 3))  # d_x = 3
    for discretize in (ssm.discretize_zoh, ssm.discretize_bilinear, ssm.discretize_euler):
        A, B = discretize(Lambda, B_bar, delta)
        assert A.shape == (2, 4) and B.shape == (2, 4, 3) and A.dtype == np.complex128
        Aj, Bj = jax.jit(discretize)(jnp.asarray(Lambda, jnp.complex64), jnp.asarray(B_bar, jnp.float32),
                                     jnp.asarray(delta, jnp.float32))
        assert isinstance(Aj, jax.Array) and Aj.dtype == jnp.complex64
        np.testing.assert_allclose(np.asarray(Aj), A, rtol=1e-5)
        np.testing.assert_allclose(np.asarray(Bj), B, rtol=1e-5, atol=1e-9)


def test_delta_broadcast_with_several_inputs():
    """Δ (H, 1) against Λ (N,) and B̄ (N, d_x): A (H, N), B (H, N, d_x), row h discretized with Δ_h."""
    Lambda, B_bar, delta = ssm.init_s4d_lin(3), np.arange(6.0).reshape(3, 2), np.array([[0.1], [0.01]])
    for discretize in (ssm.discretize_zoh, ssm.discretize_bilinear, ssm.discretize_euler):
        A, B = discretize(Lambda, B_bar, delta)
        assert A.shape == (2, 3) and B.shape == (2, 3, 2)
        for h in range(2):
            A_h, B_h = discretize(Lambda, B_bar, float(delta[h, 0]))
            np.testing.assert_allclose(A[h], A_h, rtol=1e-14)
            np.testing.assert_allclose(B[h], B_h, rtol=1e-14)


def test_zoh_at_lambda_zero_is_integration():
    A, B = ssm.discretize_zoh(np.array([0.0, 1e-9]), np.ones(2), 0.3)
    np.testing.assert_allclose(A, [1.0, 1.0], rtol=1e-8)
    np.testing.assert_allclose(B, [0.3, 0.3], rtol=1e-8)


# ---------------------------------------------------------------- eq. 10 against gl.gate_loop
@pytest.mark.parametrize("L", [1, 17, 200])
def test_kernel_convolution_equals_gate_loop(rng, L):
    H = 3
    # float32/complex64 inputs, so the same values reach the FFT (complex128) and the loops
    a = (0.95 * np.exp(1j * rng.uniform(-np.pi, np.pi, H))).astype(np.complex64)  # constant per channel
    v = rng.standard_normal((L, H)).astype(np.float32)
    K = ssm.kernel(a[:, None].astype(np.complex128), 1.0, 1.0, L)  # (H, L): a^ℓ
    y_conv = ssm.causal_convolution(K, v.astype(np.float64))
    ones = np.ones((L, H, 1), np.float32)
    a_seq = np.broadcast_to(a, (L, H))[:, :, None]  # (L, H, 1): q = k = 1, SISO
    y_loop = gl.gate_loop(ones, ones, v[:, :, None], a_seq)[:, :, 0]
    assert rel_err(y_loop, y_conv) < 2e-5  # complex64 scan vs complex128 FFT
    y_ref = gl.gate_loop_reference(ones, ones, v[:, :, None], a_seq, dtype=np.complex128)[:, :, 0]
    assert rel_err(y_conv, y_ref) < 1e-12


def test_kernel_with_states_matches_recurrence(rng):
    N, L = 5, 64
    A = 0.9 * np.exp(1j * rng.uniform(-3, 3, N))
    B = rng.standard_normal(N) + 1j * rng.standard_normal(N)
    C = rng.standard_normal(N) + 1j * rng.standard_normal(N)
    x = rng.standard_normal(L)
    y_rec = run_recurrence(A, B, x) @ C
    y_conv = ssm.causal_convolution(ssm.kernel(A, B, C, L)[None, :], x[:, None])[:, 0]
    np.testing.assert_allclose(y_conv, y_rec, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- initializations
def test_log_spaced_delta():
    d = ssm.log_spaced_delta(5)
    np.testing.assert_allclose(d, [1e-3, 10**-2.5, 1e-2, 10**-1.5, 1e-1], rtol=1e-12)
    np.testing.assert_allclose(np.diff(np.log(d)), np.log(10) / 2, rtol=1e-12)


def test_init_log_delta_range():
    log_d = ssm.init_log_delta(jax.random.key(0), (2000,))
    d = np.exp(np.asarray(log_d))
    assert d.min() >= 1e-3 * (1 - 1e-6) and d.max() <= 1e-1 * (1 + 1e-6)
    # log-uniform: each decade holds about half the samples (binomial sd ≈ 0.011)
    assert abs(np.mean(d < 1e-2) - 0.5) < 0.05


def test_s4d_initializations():
    np.testing.assert_allclose(ssm.init_s4d_lin(4), -0.5 + 1j * np.pi * np.arange(4))
    np.testing.assert_allclose(ssm.init_s4d_inv(3), [-0.5 + 1j * np.pi, -0.5 + 0.5j * np.pi, -0.5 + 1j * np.pi / 3])


@pytest.mark.parametrize("r_min, r_max, max_phase", [(0.0, 1.0, 2 * np.pi), (0.9, 0.999, np.pi / 10), (0.4, 0.5, 1.0)])
def test_init_lru_ring(r_min, r_max, max_phase):
    alpha, theta = ssm.init_lru(jax.random.key(3), 4000, r_min, r_max, max_phase)
    a = np.asarray(ssm.lru_transition(alpha, theta))
    r = np.abs(a)
    assert r.min() >= r_min - 1e-5 and r.max() <= r_max + 1e-5 and r.max() < 1.0
    phase = np.asarray(jnp.exp(theta))
    assert phase.min() >= 0 and phase.max() <= max_phase * (1 + 1e-6)
    # uniform in area: |a|² is uniform on [r_min², r_max²], so its mean is the midpoint
    assert abs(np.mean(r**2) - (r_min**2 + r_max**2) / 2) < 0.02 * (r_max**2 - r_min**2) + 1e-6


def test_init_retnet():
    g = ssm.init_retnet(8)
    np.testing.assert_allclose(g[:3], [1 - 1 / 32, 1 - 1 / 64, 1 - 1 / 128])
    assert np.all(np.diff(g) > 0) and g.max() < 1 and g.min() == 1 - 2.0**-5


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "call, exc, words",
    [
        (lambda: ssm.discretize_zoh(np.ones(3), np.ones(4), 0.1), ValueError, "B_bar"),
        (lambda: ssm.discretize_zoh(np.ones(3), np.ones(3), -0.1), ValueError, "delta"),
        (lambda: ssm.discretize_zoh(np.ones(3), np.ones(3), 0.1j), TypeError, "delta"),
        (lambda: ssm.discretize_zoh(np.ones(3), np.ones(3), np.ones(4)), ValueError, "delta"),
        (lambda: ssm.discretize_bilinear("abc", np.ones(3), 0.1), TypeError, "Lambda"),
        (lambda: ssm.discretize_euler(np.ones(3), np.ones(3), 0.1, kind="midpoint"), ValueError, "kind"),
        (lambda: ssm.discretize_zoh(np.float64(1.0), np.ones(3), 0.1), ValueError, "Lambda"),
        (lambda: ssm.log_spaced_delta(0), ValueError, "n"),
        (lambda: ssm.log_spaced_delta(3, 0.1, 0.01), ValueError, "dt_max"),
        (lambda: ssm.log_spaced_delta(3.5), TypeError, "n"),
        (lambda: ssm.init_s4d_lin(-1), ValueError, "n"),
        (lambda: ssm.init_lru(jax.random.key(0), 4, r_min=0.5, r_max=0.4), ValueError, "r_min"),
        (lambda: ssm.init_lru(jax.random.key(0), 4, r_max=1.5), ValueError, "r_max"),
        (lambda: ssm.init_lru(jax.random.key(0), 4, max_phase=0.0), ValueError, "max_phase"),
        (lambda: ssm.init_retnet(0), ValueError, "n_heads"),
        (lambda: ssm.kernel(np.ones(3), np.ones(2), 1.0, 4), ValueError, "B, C"),
        (lambda: ssm.kernel(np.ones(3), 1.0, 1.0, 0), ValueError, "L"),
        (lambda: ssm.causal_convolution(np.ones((2, 5)), np.ones((5, 3))), ValueError, "x"),
    ],
)
def test_bad_input(call, exc, words):
    with pytest.raises(exc, match=words):
        call()
