"""mode="chunked" (gl/chunked.py) against the Numba loop in complex128.

Tolerances: relative error ‖y − y_ref‖/‖y_ref‖. float32/complex64: 2e-5 up to L = 1000,
1e-4 at L = 10 000 (the same as the other modes); float64/complex128: 1e-11.
Gradients: 1e-4 relative against autodiff through the recurrent mode (float32).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import gl
from gl import chunked
from conftest import random_inputs, rel_err


def reference(q, k, v, a, h0=None):
    return gl.gate_loop_reference(q, k, v, a, h0=h0, return_state=True, dtype=np.complex128)


@settings(max_examples=10)  # each new shape is a new XLA compile
@given(
    seed=st.integers(0, 2**31 - 1),
    batch=st.sampled_from([(), (2,), (2, 1)]),
    L=st.sampled_from([1, 2, 7, 16, 17, 64, 300]),
    H=st.sampled_from([1, 3]),
    dims=st.sampled_from([(1, 1), (2, 3), (4, 4), (8, 2)]),
    mag=st.sampled_from([(0.0, 0.05), (0.3, 0.9), (0.95, 1.0)]),
    complex_a=st.booleans(),
    with_h0=st.booleans(),
    chunk_size=st.sampled_from([1, 4, 16, 64]),
)
def test_matches_reference(seed, batch, L, H, dims, mag, complex_a, with_h0, chunk_size):
    rng = np.random.default_rng(seed)
    d_k, d_v = dims
    args = random_inputs(rng, batch, L, H, d_k, d_v, mag=mag, complex_a=complex_a, h0=with_h0)
    q, k, v, a = (jnp.asarray(x) for x in args[:4])
    h0 = jnp.asarray(args[4]) if with_h0 else None
    y_ref, h_ref = reference(*args[:4], args[4] if with_h0 else None)
    y, h = chunked.gate_loop_chunked(q, k, v, a, h0, chunk_size=chunk_size)
    assert y.shape == batch + (L, H, d_v) and h.shape == batch + (H, d_k, d_v)
    assert jnp.iscomplexobj(y) == complex_a and jnp.iscomplexobj(h) == complex_a
    assert rel_err(y, y_ref) < 2e-5, rel_err(y, y_ref)
    assert rel_err(h, h_ref) < 2e-5, rel_err(h, h_ref)


def test_gate_loop_mode(rng):
    q, k, v, a, h0 = random_inputs(rng, (2,), 50, 2, 4, 3, h0=True)
    y_ref, h_ref = reference(q, k, v, a, h0)
    y, h = gl.gate_loop(q, k, v, a, mode="chunked", h0=h0, return_state=True)
    assert y.dtype == jnp.complex64 and h.dtype == jnp.complex64
    assert rel_err(y, y_ref) < 2e-5 and rel_err(h, h_ref) < 2e-5


@pytest.mark.parametrize("complex_a", [True, False])
def test_long_sequence(rng, complex_a):
    """L = 10 000 (not a multiple of the chunk) with |a| close to 1: long memory, no overflow."""
    q, k, v, a = random_inputs(rng, (), 10_001, 1, 2, 2, mag=(0.999, 1.0), complex_a=complex_a)
    y_ref, h_ref = reference(q, k, v, a)
    y, h = gl.gate_loop(q, k, v, a, mode="chunked", return_state=True)
    assert np.all(np.isfinite(np.asarray(y)))
    assert rel_err(y, y_ref) < 1e-4 and rel_err(h, h_ref) < 1e-4


def test_tiny_and_zero_transitions(rng):
    """|a| ≤ 1e-30 and exact zeros: 1/Π would overflow; the chunked form stays exact."""
    q, k, v, a = random_inputs(rng, (1,), 40, 2, 3, 2, mag=(0.0, 1e-30))
    a[:, 7] = 0
    y_ref, _ = reference(q, k, v, a)
    y = gl.gate_loop(q, k, v, a, mode="chunked")
    assert np.all(np.isfinite(np.asarray(y))) and rel_err(y, y_ref) < 2e-5


def test_float64(rng):
    with jax.enable_x64(True):
        q, k, v, a, h0 = random_inputs(rng, (2,), 50, 2, 3, 2, dtype=np.float64, h0=True)
        y_ref, h_ref = reference(q, k, v, a, h0)
        y, h = gl.gate_loop(q, k, v, a, mode="chunked", h0=h0, return_state=True)
        assert y.dtype == jnp.complex128
        assert rel_err(y, y_ref) < 1e-11 and rel_err(h, h_ref) < 1e-11


def test_bfloat16_computes_in_float32(rng):
    """bfloat16 q, k, v, a: float32 result equal to the reference on the bf16-rounded inputs."""
    q, k, v, a = random_inputs(rng, (2,), 30, 2, 4, 4, complex_a=False)
    qb, kb, vb, ab = (jnp.asarray(x, jnp.bfloat16) for x in (q, k, v, a))
    y = gl.gate_loop(qb, kb, vb, ab, mode="chunked")
    assert y.dtype == jnp.float32
    ref = gl.gate_loop_reference(*(np.asarray(x, np.float32) for x in (qb, kb, vb, ab)))
    assert rel_err(y, ref) < 2e-5


def test_streaming_in_two_halves(rng):
    q, k, v, a = random_inputs(rng, (2,), 40, 2, 2, 3)
    y_full, h_full = gl.gate_loop(q, k, v, a, mode="chunked", return_state=True)
    m = 19
    y1, h1 = gl.gate_loop(q[:, :m], k[:, :m], v[:, :m], a[:, :m], mode="chunked", return_state=True)
    y2, h2 = gl.gate_loop(q[:, m:], k[:, m:], v[:, m:], a[:, m:], mode="chunked", h0=h1,
                          return_state=True)
    assert rel_err(np.concatenate([y1, y2], axis=1), y_full) < 1e-5
    assert rel_err(h2, h_full) < 1e-5


def test_causality(rng):
    """Changing token m changes no output before m (to rounding: chunks mix by matmuls)."""
    q, k, v, a = random_inputs(rng, (1,), 40, 2, 2, 2)
    y = np.asarray(gl.gate_loop(q, k, v, a, mode="chunked"))
    for m in [0, 5, 16, 39]:
        q2, k2, v2, a2 = (x.copy() for x in (q, k, v, a))
        for x in (q2, k2, v2):
            x[:, m] += 3.0
        a2[:, m] *= 0.5
        y2 = np.asarray(gl.gate_loop(q2, k2, v2, a2, mode="chunked"))
        np.testing.assert_allclose(y2[:, :m], y[:, :m], rtol=1e-6, atol=1e-6)
        assert np.abs(y2[:, m:] - y[:, m:]).max() > 1e-3


def test_jit_and_vmap(rng):
    q, k, v, a = random_inputs(rng, (3,), 20, 2, 2, 2)
    y = jax.jit(lambda *x: gl.gate_loop(*x, mode="chunked"))(q, k, v, a)
    yv = jax.vmap(lambda *x: gl.gate_loop(*x, mode="chunked"))(q, k, v, a)
    y_ref = reference(q, k, v, a)[0]
    assert rel_err(y, y_ref) < 2e-5 and rel_err(yv, y_ref) < 2e-5


def _loss(mode):
    """A real loss of the complex output and final state (jitted: eager autodiff is slow)."""
    def loss(q, k, v, a_re, a_im, h0):
        y, h = gl.gate_loop(q, k, v, jax.lax.complex(a_re, a_im), mode=mode, h0=h0, return_state=True)
        return jnp.sum(jnp.real(y) ** 2 + jnp.imag(y) * 0.3) + jnp.sum(jnp.abs(h) ** 2)
    return jax.jit(loss)


def test_gradients_match_recurrent(rng):
    q, k, v, a, h0 = random_inputs(rng, (2,), 37, 2, 3, 2, mag=(0.3, 0.95), h0=True)
    args = (q, k, v, a.real.copy(), a.imag.copy(), h0)
    g = jax.grad(_loss("chunked"), argnums=range(6))(*args)
    g_ref = jax.grad(_loss("recurrent"), argnums=range(6))(*args)
    for x, x_ref in zip(g, g_ref):
        assert rel_err(x, x_ref) < 1e-4


def test_check_grads(rng):
    from jax.test_util import check_grads

    q, k, v, a, h0 = random_inputs(rng, (1,), 6, 1, 2, 2, mag=(0.4, 0.9), dtype=np.float64, h0=True)
    with jax.enable_x64(True):
        check_grads(_loss("chunked"), (q, k, v, a.real.copy(), a.imag.copy(), h0), order=1,
                    modes=("rev", "fwd"), atol=1e-5, rtol=1e-5)


def test_zero_transition_has_finite_gradients(rng):
    q, k, v, a = random_inputs(rng, (1,), 12, 1, 2, 2)
    a[:, 4] = 0
    g = jax.grad(_loss("chunked"), argnums=(3, 4))(q, k, v, a.real.copy(), a.imag.copy(), None)
    assert all(np.all(np.isfinite(np.asarray(x))) for x in g)


def test_complex_by_real_matmul_is_split():
    """``_mm`` of complex by real equals the complex matmul (it runs two real ones)."""
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((3, 4, 5)) + 1j * rng.standard_normal((3, 4, 5))).astype(np.complex64)
    y = rng.standard_normal((3, 5, 2)).astype(np.float32)
    np.testing.assert_allclose(chunked._mm(x, y), x @ y, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(chunked._mm(np.swapaxes(y, 1, 2), np.swapaxes(x, 1, 2)),
                               np.swapaxes(y, 1, 2) @ np.swapaxes(x, 1, 2), rtol=1e-5, atol=1e-5)
