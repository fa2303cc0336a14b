"""Tests of gl.theory.prefix: three all-prefix-sum algorithms (eq. 12) and their work/depth counters."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gl
from gl.theory import prefix

from conftest import random_inputs, rel_err


def _add(x, y):
    return x + y


def _matmul(x, y):
    """A non-commutative associative operator: batched 2x2 matrix products, earlier on the left."""
    return x @ y


def _gl_op(e_i, e_j):
    return tuple(np.asarray(t) for t in gl.binary_operator(e_i, e_j))


SCANS = {
    "fold": prefix.fold_scan,
    "hillis_steele": prefix.hillis_steele_scan,
    "blelloch_add": lambda op, x: prefix.blelloch_scan(op, x, 0.0),
}


@pytest.mark.parametrize("name", ["fold", "hillis_steele", "blelloch_add"])
@given(L=st.integers(1, 70))
def test_sums_match_cumsum(name, L):
    x = np.random.default_rng(L).standard_normal(L)
    got = SCANS[name](_add, x).prefixes
    np.testing.assert_allclose(got, np.cumsum(x), rtol=1e-12, atol=1e-12)


@given(L=st.integers(1, 40))
def test_order_kept_with_a_noncommutative_operator(L):
    """Matrix products: a scan that swapped its arguments anywhere would fail this."""
    m = np.random.default_rng(L).standard_normal((L, 2, 2))
    want = np.empty_like(m)
    acc = np.eye(2)
    for n in range(L):
        acc = acc @ m[n]
        want[n] = acc
    for name, scan in (("fold", prefix.fold_scan), ("hs", prefix.hillis_steele_scan),
                       ("blelloch", lambda op, x: prefix.blelloch_scan(op, x, np.eye(2)))):
        got = scan(_matmul, m).prefixes
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10, err_msg=name)


@pytest.mark.parametrize("L", [1, 2, 7, 16, 33])
def test_gateloop_leaves_reproduce_gate_loop(rng, L):
    """Scanning (a, kᵀv) with eq. 13 and reading out y = q h gives gl.gate_loop's y (float32)."""
    q, k, v, a = (x[0] for x in random_inputs(rng, L=L))  # drop the batch axis
    leaves = (a[..., None], k[..., :, None] * v[..., None, :])  # (L, H, d_k, 1), (L, H, d_k, d_v)
    y_ref = np.asarray(gl.gate_loop(q, k, v, a, mode="recurrent"))
    identity = prefix.gateloop_identity(leaves)
    results = {
        "fold": prefix.fold_scan(_gl_op, leaves),
        "hillis_steele": prefix.hillis_steele_scan(_gl_op, leaves),
        "blelloch": prefix.blelloch_scan(_gl_op, leaves, identity),
    }
    for name, r in results.items():
        h = r.prefixes[1]
        assert h.shape == (L,) + leaves[1].shape[1:] and h.dtype == np.complex64, name
        y = np.sum(q[..., :, None] * h, axis=-2)
        assert rel_err(y, y_ref) < 1e-5, name


@pytest.mark.parametrize("k", range(0, 9))
def test_counters_match_formulas(k):
    L = 2**k
    x = np.ones(L)
    f, hs, b = (s(_add, x) for s in SCANS.values())
    assert (f.work, f.depth) == (L - 1, L - 1)
    assert (hs.work, hs.depth) == (L * k - L + 1, k)
    assert (b.work, b.depth) == (2 * (L - 1), 2 * k)


@given(L=st.integers(2, 300))
def test_counters_for_any_length(L):
    """Non-powers of two: Hillis-Steele does Σ_d (L − 2^d); Blelloch pads to P = 2^⌈log2 L⌉."""
    x = np.ones(L)
    hs = prefix.hillis_steele_scan(_add, x)
    steps = math.ceil(math.log2(L))
    assert hs.depth == steps
    assert hs.work == sum(L - 2**d for d in range(steps))
    b = prefix.blelloch_scan(_add, x, 0.0)
    P = 2**steps
    assert (b.work, b.depth) == (2 * (P - 1), 2 * steps)


def test_identity_is_an_identity(rng):
    q, k, v, a = (x[0] for x in random_inputs(rng, L=4))
    leaves = (a[..., None], k[..., :, None] * v[..., None, :])
    e = prefix.gateloop_identity(leaves)
    x = tuple(t[0] for t in leaves)
    for got in (_gl_op(e, x), _gl_op(x, e)):
        np.testing.assert_allclose(got[0], x[0], rtol=0, atol=0)
        np.testing.assert_allclose(got[1], x[1], rtol=0, atol=0)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="L = 0"):
        prefix.fold_scan(_add, np.zeros(0))
    with pytest.raises(ValueError, match="leaves\\[1\\]: expected L = 3"):
        prefix.hillis_steele_scan(_gl_op, (np.ones(3), np.ones(4)))
    with pytest.raises(TypeError, match="op: expected a callable"):
        prefix.fold_scan("add", np.ones(3))
    with pytest.raises(TypeError, match="numeric array"):
        prefix.fold_scan(_add, np.array(["a", "b"]))
    with pytest.raises(ValueError, match="identity: expected one element"):
        prefix.blelloch_scan(_gl_op, (np.ones((3, 2)), np.ones((3, 2))), (1.0, 0.0))
