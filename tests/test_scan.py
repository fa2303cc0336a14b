"""The associative operator of eq. 13, the scan against the fold, and the paper's listing.

Tolerances: complex128 arithmetic, relative 1e-12 (associativity only reorders a few
products and sums); complex64 scans against the complex128 Numba loop, relative 2e-5.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import gl
from gl.scan import outer_kv
from conftest import loop_scan, random_inputs, rel_err

finite = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False)
cplx = st.builds(complex, finite, finite)
leaf = st.tuples(cplx, cplx)


def op(x, y):
    """eq. 13 on Python complex pairs, through gl.binary_operator."""
    a, kv = gl.binary_operator((np.complex128(x[0]), np.complex128(x[1])),
                               (np.complex128(y[0]), np.complex128(y[1])))
    return complex(a), complex(kv)


@given(leaf, leaf, leaf)
def test_binary_operator_is_associative(x, y, z):
    """(x • y) • z = x • (y • z) for all complex leaves (appendix B)."""
    left, right = op(op(x, y), z), op(x, op(y, z))
    scale = 1 + max(abs(t) for t in x + y + z) ** 3
    np.testing.assert_allclose(left, right, rtol=0, atol=1e-12 * scale)


@given(leaf)
def test_identity_element(x):
    """(1, 0) is a two-sided identity: the scan may pad with it."""
    e = (1.0 + 0j, 0j)
    assert op(e, x) == x and op(x, e) == x


def test_binary_operator_is_not_commutative():
    """Order matters: the earlier element is on the left."""
    x, y = (0.5 + 0j, 1 + 0j), (0.25 + 0j, 2 + 0j)
    assert op(x, y) != op(y, x)


@given(hnp.arrays(np.complex128, st.integers(1, 40),
                  elements=st.builds(complex, st.floats(-1, 1), st.floats(-1, 1))),
       hnp.arrays(np.complex128, 40, elements=st.builds(complex, st.floats(-2, 2), st.floats(-2, 2))))
def test_scan_equals_fold(a, kv):
    """lax.associative_scan with eq. 13 equals the left fold h_n = a_n h_{n-1} + kv_n (eq. 7)."""
    kv = kv[: a.shape[0]]
    with jax.enable_x64(True):
        _, h = jax.lax.associative_scan(gl.binary_operator, (jnp.asarray(a), jnp.asarray(kv)))
        h = np.asarray(h)
    folded = loop_scan(a, kv)
    np.testing.assert_allclose(h, folded, rtol=1e-12, atol=1e-12)


def test_outer_kv_shape_and_values(rng):
    q, k, v, a = random_inputs(rng, (2,), 5, 3, 4, 2)
    kv = np.asarray(outer_kv(k, v))
    assert kv.shape == (2, 5, 3, 4, 2)
    np.testing.assert_allclose(kv[1, 2, 0], np.outer(k[1, 2, 0], v[1, 2, 0]), rtol=1e-6)


def test_paper_listing_matches_gate_loop(rng):
    """Section 3.2's listing (with kv cast to a's dtype) equals gl.gate_loop on its shapes."""
    B, L, H, d_k, d_v = 2, 33, 3, 2, 2
    q, k, v, a = random_inputs(rng, (B,), L, H, d_k, d_v)
    y = gl.paper_gate_loop_operator(k[..., :, None], v[..., None, :], q[..., None, :], a[..., :, None])
    assert y.shape == (B, L, H, 1, d_v)
    assert rel_err(y[..., 0, :], gl.gate_loop_reference(q, k, v, a, dtype=np.complex128)) < 2e-5


def test_paper_listing_as_printed_fails_with_real_kv():
    """Without the cast, associative_scan rejects leaves of different dtypes (complex a, real kv)."""
    a = jnp.full((1, 4, 1), 0.5 + 0.1j, jnp.complex64)
    kv = jnp.ones((1, 4, 1), jnp.float32)
    try:
        jax.lax.associative_scan(gl.binary_operator, (a, kv), axis=1)
    except (TypeError, ValueError):
        return
    raise AssertionError("expected a dtype error from the uncast listing")
