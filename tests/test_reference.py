"""The Numba loop against a plain-Python loop of eq. 7-8, in every dtype it takes.

Tolerances: the same arithmetic in the same order, so complex128/float64 agree to 1e-12
relative and complex64/float32 to 1e-5.
"""
from __future__ import annotations

import numpy as np
import pytest

import gl
from conftest import random_inputs, rel_err


def python_loop(q, k, v, a, h0=None):
    """eq. 7-8 literally, one head and one batch element at a time, in complex128."""
    *batch, L, H, d_k = q.shape
    d_v = v.shape[-1]
    q, k, v, a = (x.reshape((-1, L, H, x.shape[-1])).astype(np.complex128) for x in (q, k, v, a))
    y = np.zeros(q.shape[:-1] + (d_v,), np.complex128)
    hs = np.zeros((q.shape[0], H, d_k, d_v), np.complex128)
    for b in range(q.shape[0]):
        for i in range(H):
            h = np.zeros((d_k, d_v)) if h0 is None else h0.reshape(hs.shape)[b, i].astype(np.complex128)
            for n in range(L):
                h = a[b, n, i][:, None] * h + np.outer(k[b, n, i], v[b, n, i])  # eq. 7
                y[b, n, i] = q[b, n, i] @ h  # eq. 8
            hs[b, i] = h
    return y.reshape(tuple(batch) + (L, H, d_v)), hs.reshape(tuple(batch) + (H, d_k, d_v))


@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-5), (np.float64, 1e-12)])
@pytest.mark.parametrize("complex_a", [True, False])
@pytest.mark.parametrize("batch", [(), (3,), (2, 2)])
def test_matches_python_loop(rng, dtype, tol, complex_a, batch):
    q, k, v, a, h0 = random_inputs(rng, batch, 13, 2, 3, 2, complex_a=complex_a, dtype=dtype, h0=True)
    y, h = gl.gate_loop_reference(q, k, v, a, h0=h0, return_state=True)
    y_py, h_py = python_loop(q, k, v, a, h0)
    assert y.dtype == np.result_type(q, a, h0)  # computes in the inputs' common dtype
    assert rel_err(y, y_py) < tol and rel_err(h, h_py) < tol


def test_no_silent_float64_promotion(rng):
    """float32/complex64 in gives float32/complex64 out (Numba literals must not promote)."""
    q, k, v, a = random_inputs(rng, (2,), 7, 2, 1, 1)
    assert gl.gate_loop_reference(q, k, v, a).dtype == np.complex64
    assert gl.gate_loop_reference(q, k, v, a.real.copy()).dtype == np.float32
    assert gl.gate_loop_reference(q, k, v, a, dtype=np.complex128).dtype == np.complex128


def test_does_not_modify_inputs(rng):
    q, k, v, a, h0 = random_inputs(rng, (2,), 7, 2, 2, 2, h0=True)
    copies = [x.copy() for x in (q, k, v, a, h0)]
    gl.gate_loop_reference(q, k, v, a, h0=h0, return_state=True)
    for x, c in zip((q, k, v, a, h0), copies):
        np.testing.assert_array_equal(x, c)


def test_long_sequence_stays_finite(rng):
    """L = 100 000 with |a| ≤ 1: the state stays bounded (no overflow in a long loop)."""
    q, k, v, a = random_inputs(rng, (), 100_000, 2, 1, 1, mag=(0.99, 1.0))
    y = gl.gate_loop_reference(q, k, v, a)
    assert np.all(np.isfinite(y))
