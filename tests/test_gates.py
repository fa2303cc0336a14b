"""gl.gates (eq. 24): the magnitude and phase activations and ``transition``.

Tolerances: float32 arithmetic, so values are compared at rtol 1e-6 / atol 1e-6
(the activations are single elementwise functions).
"""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra.numpy import arrays

from gl import gates

finite = st.floats(-30, 30, width=32)


@given(arrays(np.float32, st.integers(1, 20), elements=finite))
def test_magnitudes_lie_in_unit_interval(alpha):
    for f in gates.MAGNITUDES.values():
        m = np.asarray(f(alpha))
        assert np.all((m >= 0) & (m <= 1)), f.__name__


@given(arrays(np.float32, st.integers(2, 20), elements=st.floats(-8, 8, width=32), unique=True))
def test_sigmoid_increases_and_stable_exp_decreases(alpha):
    alpha = np.sort(alpha)
    assert np.all(np.diff(np.asarray(gates.sigmoid_magnitude(alpha))) >= 0)
    assert np.all(np.diff(np.asarray(gates.stable_exp_magnitude(alpha))) <= 0)


def test_known_values():
    np.testing.assert_allclose(gates.sigmoid_magnitude(0.0), 0.5, rtol=1e-6)
    np.testing.assert_allclose(gates.stable_exp_magnitude(0.0), np.exp(-1.0), rtol=1e-6)
    np.testing.assert_allclose(gates.exp_phase(0.0), 1.0, rtol=1e-6)
    np.testing.assert_allclose(gates.identity_phase(1.25), 1.25, rtol=1e-6)
    np.testing.assert_array_equal(gates.zero_phase(np.ones(3, np.float32)), np.zeros(3))


def test_sigmoid_is_symmetric_about_one_half():
    alpha = np.linspace(-6, 6, 101, dtype=np.float32)
    np.testing.assert_allclose(gates.sigmoid_magnitude(alpha) + gates.sigmoid_magnitude(-alpha), 1.0,
                               atol=1e-6)


@pytest.mark.parametrize("magnitude", sorted(gates.MAGNITUDES))
@pytest.mark.parametrize("phase", sorted(gates.PHASES))
def test_transition_is_polar_form(rng, magnitude, phase):
    alpha = rng.standard_normal((4, 3, 2)).astype(np.float32)
    beta = rng.uniform(-1, 1, (4, 3, 2)).astype(np.float32)
    a = np.asarray(gates.transition(alpha, beta, magnitude, phase))
    assert a.shape == alpha.shape and a.dtype == np.complex64
    f, g = gates.MAGNITUDES[magnitude], gates.PHASES[phase]
    want = np.asarray(f(alpha)) * np.exp(1j * np.asarray(g(beta)))
    np.testing.assert_allclose(a, want, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(np.abs(a), f(alpha), rtol=1e-6, atol=1e-6)


def test_transition_defaults_are_the_papers_choice(rng):
    alpha, beta = (rng.standard_normal(5).astype(np.float32) for _ in range(2))
    a = np.asarray(gates.transition(alpha, beta))
    np.testing.assert_allclose(a, 1 / (1 + np.exp(-alpha)) * np.exp(1j * beta), rtol=1e-6, atol=1e-6)


def test_transition_float64_inputs_under_default_x32():
    a = gates.transition(np.zeros(3), np.zeros(3))
    assert jnp.iscomplexobj(a)
    np.testing.assert_allclose(a, 0.5, rtol=1e-6)


@pytest.mark.parametrize("half", [jnp.bfloat16, jnp.float16])
def test_transition_half_precision_computes_in_float32(rng, half):
    """bfloat16/float16 (a model's parameters in half precision) give complex64, computed from the
    rounded inputs in float32, as gl.gate_loop does; it was JAX's own TypeError from
    ``lax.complex``, naming neither argument. Tolerance: float32 (1e-6)."""
    alpha, beta = (jnp.asarray(rng.standard_normal(6), half) for _ in range(2))
    a = gates.transition(alpha, beta)
    assert a.dtype == jnp.complex64
    al, be = (np.asarray(x, np.float64) for x in (alpha, beta))
    np.testing.assert_allclose(a, 1 / (1 + np.exp(-al)) * np.exp(1j * be), rtol=1e-6, atol=1e-6)


def test_transition_rejects_unknown_names():
    with pytest.raises(ValueError, match="magnitude/phase"):
        gates.transition(np.zeros(2), np.zeros(2), magnitude="tanh")
    with pytest.raises(ValueError, match="magnitude/phase"):
        gates.transition(np.zeros(2), np.zeros(2), phase="sin")


def test_transition_rejects_shape_mismatch():
    with pytest.raises(ValueError, match=r"beta: expected the shape of alpha \(2,\), got \(3,\)"):
        gates.transition(np.zeros(2), np.zeros(3))


def test_transition_names_the_bad_argument():
    with pytest.raises(ValueError, match="magnitude/phase"):
        gates.transition(np.zeros(2), np.zeros(2), magnitude=["sigmoid"])  # unhashable
    with pytest.raises(TypeError, match=r"^alpha: expected a real floating-point array, got complex"):
        gates.transition(np.zeros(2, np.complex64), np.zeros(2))
    with pytest.raises(TypeError, match=r"^beta: expected a real floating-point array, got int"):
        gates.transition(np.zeros(2), np.zeros(2, np.int32))


def test_exp_phase_is_finite_in_its_documented_range():
    """The docstring's bounds: finite up to beta = 88.7 in float32, NaN beyond (exp overflows)."""
    a = gates.transition(np.zeros(2, np.float32), np.array([88.0, 89.0], np.float32), phase="exp")
    assert np.isfinite(a[0]) and np.isnan(a[1])
