"""gl.gate_loop in every mode against the Numba loop (the ground truth).

Tolerances: relative error ‖y − y_ref‖/‖y_ref‖ against a complex128 reference.
float32/complex64 arithmetic: 2e-5 up to L = 1000 (rounding grows like √L·ε with |a| ≤ 1),
1e-4 at L = 10 000; float64/complex128: 1e-11.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import gl
from conftest import examples, random_inputs, rel_err

MODES = ["recurrent", "parallel", "attention", "auto"]


def reference(q, k, v, a, h0=None):
    return gl.gate_loop_reference(q, k, v, a, h0=h0, return_state=True, dtype=np.complex128)


@pytest.mark.parametrize("mode", MODES)
@settings(max_examples=examples(12))  # each new shape is a new XLA compile
@given(
    seed=st.integers(0, 2**31 - 1),
    batch=st.sampled_from([(), (1,), (2,), (2, 1)]),
    L=st.sampled_from([1, 2, 7, 64, 300]),
    H=st.sampled_from([1, 3]),
    dims=st.sampled_from([(1, 1), (2, 3), (4, 1)]),
    mag=st.sampled_from([(0.0, 0.05), (0.3, 0.9), (0.95, 1.0)]),
    complex_a=st.booleans(),
    with_h0=st.booleans(),
)
def test_modes_match_reference(mode, seed, batch, L, H, dims, mag, complex_a, with_h0):
    rng = np.random.default_rng(seed)
    d_k, d_v = dims
    args = random_inputs(rng, batch, L, H, d_k, d_v, mag=mag, complex_a=complex_a, h0=with_h0)
    q, k, v, a = args[:4]
    h0 = args[4] if with_h0 else None
    y_ref, h_ref = reference(q, k, v, a, h0)
    y, h = gl.gate_loop(q, k, v, a, mode=mode, h0=h0, return_state=True)
    assert y.shape == batch + (L, H, d_v) and h.shape == batch + (H, d_k, d_v)
    assert jnp.iscomplexobj(y) == complex_a, y.dtype
    assert rel_err(y, y_ref) < 2e-5
    assert rel_err(h, h_ref) < 2e-5


@pytest.mark.parametrize("mode", ["recurrent", "parallel", "chunked",
                                  pytest.param("attention", marks=pytest.mark.slow)])
def test_long_sequence(mode, rng):
    """L = 10 000 with |a| close to 1 (long memory) and complex phases. The attention mode
    builds a 10 000 x 10 000 matrix (about 27 s on 2 cores): ``make test-all`` runs it."""
    q, k, v, a = random_inputs(rng, (), 10_000, 1, 1, 1, mag=(0.999, 1.0))
    y_ref, h_ref = reference(q, k, v, a)
    y, h = gl.gate_loop(q, k, v, a, mode=mode, return_state=True)
    assert np.all(np.isfinite(np.asarray(y)))
    assert rel_err(y, y_ref) < 1e-4
    assert rel_err(h, h_ref) < 1e-4


@pytest.mark.parametrize("mode", ["recurrent", "parallel", "attention"])
def test_float64(mode, rng):
    with jax.enable_x64(True):
        q, k, v, a, h0 = random_inputs(rng, (2,), 50, 2, 3, 2, dtype=np.float64, h0=True)
        y_ref, h_ref = reference(q, k, v, a, h0)
        y, h = gl.gate_loop(q, k, v, a, mode=mode, h0=h0, return_state=True)
        assert y.dtype == jnp.complex128
        assert rel_err(y, y_ref) < 1e-11 and rel_err(h, h_ref) < 1e-11


def test_real_inputs_stay_real(rng):
    q, k, v, a = random_inputs(rng, (2,), 20, 2, 2, 2, complex_a=False)
    for mode in MODES:
        y = gl.gate_loop(q, k, v, a, mode=mode)
        assert y.dtype == jnp.float32, (mode, y.dtype)
        np.testing.assert_allclose(y, gl.gate_loop_reference(q, k, v, a), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("mode", ["recurrent", "parallel", "attention"])
def test_streaming_in_two_halves(mode, rng):
    """Running [0, m) then [m, L) from the carried state equals one run over [0, L)."""
    q, k, v, a = random_inputs(rng, (2,), 40, 2, 2, 3)
    y_full, h_full = gl.gate_loop(q, k, v, a, mode=mode, return_state=True)
    m = 20  # two halves of one shape: one compile for both
    y1, h1 = gl.gate_loop(q[:, :m], k[:, :m], v[:, :m], a[:, :m], mode=mode, return_state=True)
    y2, h2 = gl.gate_loop(q[:, m:], k[:, m:], v[:, m:], a[:, m:], mode=mode, h0=h1, return_state=True)
    assert rel_err(np.concatenate([y1, y2], axis=1), y_full) < 1e-5
    assert rel_err(h2, h_full) < 1e-5


@pytest.mark.parametrize("mode", ["recurrent", "parallel", "attention"])
def test_causality(mode, rng):
    """Changing token m changes no output before m, in every mode."""
    q, k, v, a = random_inputs(rng, (1,), 32, 2, 2, 2)
    y = np.asarray(gl.gate_loop(q, k, v, a, mode=mode))
    for m in [0, 5, 31]:
        q2, k2, v2, a2 = (x.copy() for x in (q, k, v, a))
        for x in (q2, k2, v2):
            x[:, m] += 3.0
        a2[:, m] *= 0.5
        y2 = np.asarray(gl.gate_loop(q2, k2, v2, a2, mode=mode))
        np.testing.assert_array_equal(y2[:, :m], y[:, :m]) if mode != "attention" else \
            np.testing.assert_allclose(y2[:, :m], y[:, :m], rtol=1e-6, atol=1e-6)
        assert np.abs(y2[:, m:] - y[:, m:]).max() > 1e-3  # and the change is seen from m on


def test_jit_and_vmap(rng):
    q, k, v, a = random_inputs(rng, (3,), 16, 2, 2, 2)
    f = jax.jit(lambda *x: gl.gate_loop(*x, mode="parallel"))
    y = f(q, k, v, a)
    yv = jax.vmap(lambda *x: gl.gate_loop(*x, mode="recurrent"))(q, k, v, a)
    assert rel_err(y, yv) < 1e-5
    assert rel_err(y, reference(q, k, v, a)[0]) < 1e-5


def _loss(mode):
    def loss(q, k, v, a_re, a_im):
        y = gl.gate_loop(q, k, v, jax.lax.complex(a_re, a_im), mode=mode)
        return jnp.sum(jnp.real(y) ** 2 + jnp.imag(y) * 0.3)
    return loss


def test_gradients_agree_across_modes(rng):
    q, k, v, a = random_inputs(rng, (2,), 24, 2, 2, 2, mag=(0.3, 0.95))
    args = (q, k, v, a.real.copy(), a.imag.copy())
    grads = {m: jax.jit(jax.grad(_loss(m), argnums=(0, 1, 2, 3, 4)))(*args)
             for m in ["recurrent", "parallel", "attention"]}
    for m in ["parallel", "attention"]:
        for g, g_ref in zip(grads[m], grads["recurrent"]):
            assert rel_err(g, g_ref) < 1e-4, m


@pytest.mark.parametrize("mode", ["recurrent", "parallel", "attention"])
def test_check_grads(mode, rng):
    """Finite differences against reverse- and forward-mode derivatives, in float64 (mode
    "parallel" differentiates by its reverse-scan VJP: reverse mode only, tested in test_vjp)."""
    from jax.test_util import check_grads

    q, k, v, a = random_inputs(rng, (1,), 6, 1, 2, 2, mag=(0.4, 0.9), dtype=np.float64)
    with jax.enable_x64(True):
        check_grads(jax.jit(_loss(mode)), (q, k, v, a.real.copy(), a.imag.copy()), order=2,
                    modes=("rev",) if mode == "parallel" else ("rev", "fwd"), atol=1e-5, rtol=1e-5)


def test_zero_transition_has_finite_gradients(rng):
    """|a| = 0 exactly (a full reset) gives finite values and gradients in every mode."""
    q, k, v, a = random_inputs(rng, (1,), 12, 1, 2, 2)
    a[:, 4] = 0
    for mode in ["recurrent", "parallel", "attention"]:
        g = jax.jit(jax.grad(_loss(mode), argnums=(3, 4)))(q, k, v, a.real.copy(), a.imag.copy())
        assert all(np.all(np.isfinite(np.asarray(x))) for x in g), mode


ALL_MODES = ["recurrent", "parallel", "attention", "chunked"]


@pytest.mark.parametrize("mode", ALL_MODES)
@pytest.mark.parametrize("arg", ["q", "k", "v", "a"])
@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_non_finite_input_does_not_leak_backwards(mode, arg, bad, rng):
    """A NaN or inf in q, k, v or a at step t changes no output before t (issue 24, item 1).

    L = 40 spans three chunks of the chunked mode (16 steps), t = 21 sits inside the second.
    Before the fix the attention mode leaked into every earlier output (0 · inf in the masked
    upper triangle) and the chunked mode into the earlier outputs of t's chunk.
    """
    q, k, v, a = random_inputs(rng, (2,), 40, 2, 2, 3, complex_a=False)
    y = np.asarray(gl.gate_loop(q, k, v, a, mode=mode))
    t = 21
    args = dict(q=q.copy(), k=k.copy(), v=v.copy(), a=a.copy())
    args[arg][1, t, 0, 0] = bad
    y2 = np.asarray(gl.gate_loop(args["q"], args["k"], args["v"], args["a"], mode=mode))
    np.testing.assert_allclose(y2[:, :t], y[:, :t], rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(y2[0], y[0])  # the other batch element is untouched
    assert not np.all(np.isfinite(y2[1, t:])), "the non-finite input is seen from t on"


@pytest.mark.parametrize("mode", ALL_MODES + ["auto"])
@pytest.mark.parametrize("with_h0", [False, True])
@pytest.mark.parametrize("batch, dims", [((), (1, 1)), ((2, 3), (2, 3))])
def test_empty_sequence(mode, with_h0, batch, dims, rng):
    """L = 0: an empty output of shape (..., 0, H, d_v) and h0 (or zeros) as the state, in
    every mode (issue 24, item 3; before the fix auto, parallel, parallel_vjp and attention
    raised IndexError)."""
    d_k, d_v = dims
    q, k, v, a, h0 = random_inputs(rng, batch, 0, 3, d_k, d_v, h0=True)
    y, h = gl.gate_loop(q, k, v, a, mode=mode, h0=h0 if with_h0 else None, return_state=True)
    assert y.shape == batch + (0, 3, d_v) and y.dtype == np.complex64
    assert h.shape == batch + (3, d_k, d_v) and h.dtype == np.complex64
    np.testing.assert_array_equal(h, h0 if with_h0 else np.zeros_like(h0))
    y = gl.gate_loop(q, k, v, a.real.copy(), mode=mode, real=True)
    assert y.shape == batch + (0, 3, d_v) and y.dtype == np.float32


def test_empty_sequence_pallas_mode(rng, monkeypatch):
    """impl="pallas" with L = 0 returns the empty result without launching a kernel (the
    backend check is faked: no GPU here)."""
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    monkeypatch.setattr(gl.kernels, "available", lambda: True)
    q, k, v, a, h0 = random_inputs(rng, (2,), 0, 3, 1, 1, h0=True)
    y, h = gl.gate_loop(q, k, v, a, mode="parallel", impl="pallas", h0=h0,
                        return_state=True)
    assert y.shape == (2, 0, 3, 1) and y.dtype == np.complex64
    np.testing.assert_array_equal(h, h0)
