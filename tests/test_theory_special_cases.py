"""gl.theory.special_cases: eq. 10 (S4/S4D/LRU convolution) and eq. 11 (RetNet) against GateLoop.

Tolerances: relative error ‖y − y_ref‖/‖y_ref‖ against the complex128 Numba loop:
2e-5 for float32/complex64 arithmetic at L ≤ 300 with |A| ≤ 1 (the FFT's rounding is
of order log2(L)·ε relative to the largest term).
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import gl
from gl.theory import special_cases as sc
from conftest import examples, rel_err


def random_a(rng, shape, mag=(0.5, 1.0), complex_a=True):
    r = rng.uniform(*mag, size=shape)
    if complex_a:
        return (r * np.exp(1j * rng.uniform(-np.pi, np.pi, size=shape))).astype(np.complex64)
    return (r * rng.choice([-1.0, 1.0], size=shape)).astype(np.float32)


def test_decay_powers_values():
    a = np.array([[0.5, -2.0], [0.0, 1j]], np.complex64)
    p = np.asarray(sc.decay_powers(a, 4))
    assert p.shape == (4, 2, 2)
    want = np.stack([a**n for n in range(4)])
    want[0] = 1  # A^0 = 1, also for A = 0
    np.testing.assert_allclose(p, want, rtol=1e-6)


@settings(max_examples=examples(10))
@given(seed=st.integers(0, 2**31 - 1), batch=st.sampled_from([(), (2,)]),
       L=st.sampled_from([1, 5, 64, 300]), H=st.sampled_from([1, 3]), d=st.sampled_from([1, 2]),
       complex_a=st.booleans())
def test_lti_convolution_is_gate_loop_with_constant_a(seed, batch, L, H, d, complex_a):
    rng = np.random.default_rng(seed)
    v = rng.standard_normal(batch + (L, H, d)).astype(np.float32)
    a = random_a(rng, (H, d), complex_a=complex_a)
    y = np.asarray(sc.lti_convolution(v, a))
    # each of the H*d channels is its own SISO GateLoop with q = k = 1, a_n = A
    vs = v.reshape(batch + (L, H * d, 1))
    ones = np.ones_like(vs)
    a_n = np.broadcast_to(a.reshape(H * d, 1), batch + (L, H * d, 1))
    y_ref = gl.gate_loop_reference(ones, ones, vs, a_n, dtype=np.complex128).reshape(batch + (L, H, d))
    assert y.shape == v.shape
    assert np.iscomplexobj(y) == complex_a
    assert rel_err(y, y_ref) < 2e-5


def test_lti_convolution_matches_direct_sum(rng):
    L = 12
    v = rng.standard_normal((L, 1, 1)).astype(np.float32)
    A = np.float32(0.8)
    y = np.asarray(sc.lti_convolution(v, np.full((1, 1), A)))[:, 0, 0]
    want = [sum(v[m, 0, 0] * A ** (n - m) for m in range(n + 1)) for n in range(L)]
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)


@settings(max_examples=examples(10))
@given(seed=st.integers(0, 2**31 - 1), batch=st.sampled_from([(), (2,)]),
       L=st.sampled_from([1, 7, 64]), H=st.sampled_from([1, 3]),
       dims=st.sampled_from([(1, 1), (2, 3), (4, 1)]), complex_a=st.booleans())
def test_retnet_is_gate_loop_with_fixed_a(seed, batch, L, H, dims, complex_a):
    rng = np.random.default_rng(seed)
    d_k, d_v = dims
    q, k = (rng.standard_normal(batch + (L, H, d_k)).astype(np.float32) for _ in range(2))
    v = rng.standard_normal(batch + (L, H, d_v)).astype(np.float32)
    a = random_a(rng, (H, d_k), complex_a=complex_a)
    y = np.asarray(sc.retnet_retention(q, k, v, a))
    a_n = np.asarray(sc.constant_transition(a, L, batch))
    assert a_n.shape == q.shape
    y_ref = gl.gate_loop_reference(q, k, v, a_n, dtype=np.complex128)
    assert y.shape == v.shape
    assert rel_err(y, y_ref) < 2e-5


def test_gateloop_with_data_controlled_a_is_not_a_convolution(rng):
    # the point of section 3.1: a time-varying a_n gives a response no fixed filter reproduces
    L = 32
    v = np.zeros((L, 1, 1), np.float32)
    v[[3, 20]] = 1.0  # two identical impulses
    a = np.full((L, 1, 1), 0.9, np.float32)
    a[10] = 0.0  # forget between them
    ones = np.ones_like(v)
    y = np.asarray(gl.gate_loop_reference(ones, ones, v, a))[:, 0, 0]
    # a convolution is shift invariant: the response to the second impulse would repeat the first
    assert not np.allclose(y[3:3 + 10], y[20:20 + 10])
    assert y[10] == 0.0


@pytest.mark.parametrize("call, message", [
    (lambda: sc.lti_convolution(np.zeros((4, 2, 1)), np.zeros((2, 2))), r"a: expected .* \(2, 1\), got \(2, 2\)"),
    (lambda: sc.lti_convolution(np.zeros((4, 2)), np.zeros((2,))), "v: expected at least 3"),
    (lambda: sc.retnet_retention(np.zeros((4, 2, 3)), np.zeros((4, 2, 2)), np.zeros((4, 2, 1)),
                                 np.zeros((2, 3))), "k: expected the shape of q"),
    (lambda: sc.retnet_retention(np.zeros((4, 2, 3)), np.zeros((4, 2, 3)), np.zeros((5, 2, 1)),
                                 np.zeros((2, 3))), "v: expected leading"),
    (lambda: sc.retnet_retention(np.zeros((4, 2, 3)), np.zeros((4, 2, 3)), np.zeros((4, 2, 1)),
                                 np.zeros((3,))), "a: expected"),
    (lambda: sc.decay_powers(np.zeros((2, 1)), 0), "L: expected a positive integer"),
    (lambda: sc.constant_transition(np.zeros(3), 4), r"a: expected shape \(H, d_k\)"),
])
def test_bad_inputs_raise_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
