"""The hand-written backward pass (gl/vjp.py: how mode="parallel" differentiates) against autodiff.

Tolerances: gradients 1e-4 relative to autodiff through ``lax.associative_scan``
(:func:`gl.scan.gate_loop_parallel`) in float32/complex64; finite differences in float64 at 1e-5.
Forward values as the other modes: 2e-5 relative to the complex128 reference.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import gl
from gl import vjp
from conftest import examples, random_inputs, rel_err


def close(x, ref, tol=1e-4):
    """``‖x − ref‖ ≤ tol ‖ref‖`` (also when both are exactly 0, e.g. ∂y/∂a at L = 1)."""
    x, ref = np.asarray(x), np.asarray(ref)
    return np.linalg.norm((x - ref).ravel()) <= tol * np.linalg.norm(ref.ravel())


def _run(how, q, k, v, a, h0=None):
    """``(y, h_L)`` of mode="parallel": by its reverse-scan VJP (``"vjp"``, :func:`gl.gate_loop`)
    or by autodiff through ``lax.associative_scan`` (``"autodiff"``, :mod:`gl.scan`)."""
    if how == "autodiff":
        q, k, v, a = (jnp.asarray(x) for x in (q, k, v, a))
        dt = jnp.result_type(q, k, v, a, *([] if h0 is None else [jnp.asarray(h0)]))
        return gl.scan.gate_loop_parallel(q, k, v, a, h0, dt)
    assert how == "vjp", how
    return gl.gate_loop(q, k, v, a, mode="parallel", h0=h0, return_state=True)


def _loss(how):
    """A real loss of the complex output and final state, differentiable in every input."""
    def loss(q, k, v, a_re, a_im, h0):
        a = jax.lax.complex(a_re, a_im)
        y, h = _run(how, q, k, v, a, h0)
        return (jnp.sum(jnp.real(y) ** 2 + 0.3 * jnp.imag(y) * jnp.real(y))
                + jnp.sum(jnp.real(h * jnp.conj(h))) + jnp.sum(jnp.imag(h)))
    return jax.jit(loss)


@settings(max_examples=examples(8))
@given(
    seed=st.integers(0, 2**31 - 1),
    batch=st.sampled_from([(), (2,)]),
    L=st.sampled_from([1, 2, 9, 64]),
    dims=st.sampled_from([(1, 1), (2, 3)]),
    mag=st.sampled_from([(0.0, 0.05), (0.3, 0.9), (0.95, 1.0)]),
    with_h0=st.booleans(),
)
def test_gradients_match_autodiff(seed, batch, L, dims, mag, with_h0):
    rng = np.random.default_rng(seed)
    q, k, v, a, h0 = random_inputs(rng, batch, L, 2, *dims, mag=mag, h0=True)
    h0 = h0 if with_h0 else None
    args = (q, k, v, a.real.copy(), a.imag.copy(), h0)
    argnums = range(6) if with_h0 else range(5)
    g = jax.grad(_loss("vjp"), argnums=argnums)(*args)
    g_ref = jax.grad(_loss("autodiff"), argnums=argnums)(*args)
    for x, x_ref in zip(g, g_ref):
        assert x.dtype == x_ref.dtype
        assert close(x, x_ref)


def test_complex_gates_and_real_transitions(rng):
    """Complex q, k, v with real a, and all-real inputs: the cotangents keep each input's dtype."""
    q, k, v, a, h0 = random_inputs(rng, (2,), 20, 2, 2, 2, complex_a=False, h0=True)
    qc = (q + 1j * k).astype(np.complex64)
    for args in [(qc, k, v, a, h0), (q, k, v, a, h0)]:
        f = lambda how: jax.jit(lambda *x: jnp.sum(jnp.abs(_run(how, *x)[0]) ** 2))
        g = jax.grad(f("vjp"), argnums=range(5))(*args)
        g_ref = jax.grad(f("autodiff"), argnums=range(5))(*args)
        for x, x_ref in zip(g, g_ref):
            assert x.dtype == x_ref.dtype and close(x, x_ref)


def test_forward_matches_reference(rng):
    q, k, v, a, h0 = random_inputs(rng, (2,), 300, 3, 2, 3, h0=True)
    y_ref, h_ref = gl.gate_loop_reference(q, k, v, a, h0=h0, return_state=True, dtype=np.complex128)
    y, h = gl.gate_loop(q, k, v, a, mode="parallel", h0=h0, return_state=True)
    assert rel_err(y, y_ref) < 2e-5 and rel_err(h, h_ref) < 2e-5


def test_check_grads_reverse(rng):
    """Finite differences against the custom VJP, and against its own derivative (order 2)."""
    from jax.test_util import check_grads

    q, k, v, a, h0 = random_inputs(rng, (1,), 6, 1, 2, 2, mag=(0.4, 0.9), dtype=np.float64, h0=True)
    with jax.enable_x64(True):
        check_grads(_loss("vjp"), (q, k, v, a.real.copy(), a.imag.copy(), h0), order=2,
                    modes=("rev",), atol=1e-5, rtol=1e-5)


def test_forward_mode_is_not_defined(rng):
    """A custom VJP has no JVP: jax.jvp raises (forward mode: mode="recurrent" or gl.scan)."""
    q, k, v, a = random_inputs(rng, (1,), 5, 1, 1, 1)
    f = lambda q: gl.gate_loop(q, k, v, a, mode="parallel")
    with pytest.raises(TypeError, match="custom_vjp"):
        jax.jvp(f, (q,), (q,))


def test_zero_transition_has_finite_gradients(rng):
    q, k, v, a = random_inputs(rng, (1,), 12, 1, 2, 2)
    a[:, 4] = 0
    g = jax.grad(_loss("vjp"), argnums=(3, 4))(q, k, v, a.real.copy(), a.imag.copy(), None)
    g_ref = jax.grad(_loss("autodiff"), argnums=(3, 4))(q, k, v, a.real.copy(), a.imag.copy(), None)
    assert all(np.all(np.isfinite(np.asarray(x))) for x in g)
    assert all(close(x, x_ref) for x, x_ref in zip(g, g_ref))
