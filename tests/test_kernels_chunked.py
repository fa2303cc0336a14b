"""The fused multi-head kernels (gl.kernels.chunked), run by the Pallas interpreter on the CPU.

Tolerances (relative, ‖x − ref‖/‖ref‖): 1e-6 for ``y`` and ``h_L`` in float32 against the
complex128 Numba loop (measured 0.7-1.0e-7 at these sizes); 1e-5 for gradients against autodiff
through :func:`gl.chunked.gate_loop_chunked` (the custom VJP recomputes it, so the two agree to
rounding). On a GPU the same kernels run compiled (``gl/assets/bench``).
"""
from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gl
from gl.kernels import chunked as P
from gl.kernels.chunked_kernel import dot_f16x3
from conftest import random_inputs, rel_err, sweep


def inputs(rng, B=1, L=37, H=2, d_k=16, d_v=32, complex_a=True, h0=False, mag=(0.0, 1.0)):
    x = [jnp.asarray(t) for t in random_inputs(rng, (B,), L, H, d_k, d_v, mag=mag, complex_a=complex_a, h0=h0)]
    return x if h0 else x + [None]


def reference(q, k, v, a, h0, complex_y):
    y, h = gl.gate_loop_reference(*(np.asarray(t) for t in (q, k, v, a)), h0=None if h0 is None else np.asarray(h0),
                                  dtype=np.complex128, return_state=True)
    return (y if complex_y else y.real), h


# sub-blocks per chunk (1: 16 sequential steps; 8: two steps, most scores by matmuls) x time
# segments (1: one pass; 3: the summary kernel and the fold, L padded to 3 x 16-step chunks)
@pytest.mark.parametrize("blocks, segments", sweep([(1, 1), (4, 1), (8, 1), (2, 3), (4, 2)], fast=(1, 3)))
def test_matches_reference(rng, blocks, segments):
    q, k, v, a, _ = inputs(rng)
    y, h = P.gate_loop_mh(q, k, v, a, interpret=True, blocks=blocks, segments=segments, block_v=16)
    y_ref, h_ref = reference(q, k, v, a, None, False)
    assert y.dtype == jnp.float32 and h.dtype == jnp.complex64
    assert rel_err(y, y_ref) < 1e-6 and rel_err(h, h_ref) < 1e-6


@pytest.mark.parametrize("precision", sweep(["f16x3", "fp32"]))
@pytest.mark.parametrize("scale_q, scale_v, gate", sweep([(1.0, 1.0, 1.0), (1e-6, 1.0, 1.0), (1.0, 1e6, 1.0),
                                                          (1e5, 1e5, 1.0), (1.0, 1.0, 2.5)], fast=(3, 4)))
def test_float16_products_keep_float32_error(rng, precision, scale_q, scale_v, gate):
    """``"f16x3"`` (the default) scales every matmul operand by its largest magnitude once per
    chunk, so inputs of any size keep float32-level error (1e-6, as above; float16 alone would
    overflow at 65504 and lose digits below 6e-5); gates that grow (|a| up to 2.5 here, decays of
    2.5^16 per chunk) hand the call to the other precision instead of overflowing."""
    q, k, v, a, _ = inputs(rng, d_k=32, mag=(0.5, 1.0))
    q, v, a = q * scale_q, v * scale_v, a * gate
    y, h = P.gate_loop_mh(q, k, v, a, interpret=True, precision=precision, segments=2, block_v=16)
    y_ref, h_ref = reference(q, k, v, a, None, False)
    assert np.all(np.isfinite(np.asarray(y))) and np.all(np.isfinite(np.asarray(h)))
    assert rel_err(y, y_ref) < 1e-6 and rel_err(h, h_ref) < 1e-6


def test_float16_products_are_float16():
    """The split is what it claims: x = x_hi + 2^-11 x_lo with two float16 tiles, 22 bits kept
    (error about 2^-22 relative), where one float16 product keeps 11 (about 2^-11)."""
    rng = np.random.default_rng(3)
    x, y = (jnp.asarray(rng.uniform(-1, 1, (16, 64)), jnp.float32) for _ in range(2))
    exact = np.asarray(x, np.float64) @ np.asarray(y, np.float64).T
    dims = (((1,), (1,)), ((), ()))
    three = np.asarray(dot_f16x3(x, y, dims))
    one = np.asarray(jax.lax.dot_general(x.astype(jnp.float16), y.astype(jnp.float16), dims,
                                         preferred_element_type=jnp.float32))
    assert rel_err(three, exact) < 1e-6 < 1e-4 < rel_err(one, exact)


@pytest.mark.parametrize("complex_a, complex_h0, complex_y",
                         sweep([c for c in itertools.product([False, True], repeat=3) if c[2] <= (c[0] or c[1])],
                               fast=(0, 5)))
def test_dtype_combinations(rng, complex_a, complex_h0, complex_y):
    """Real or complex a and h0; Re y only or complex y. A real a with a complex h0 keeps a
    complex state (the case gl.chunked once dropped the imaginary part of)."""
    q, k, v, a, _ = inputs(rng, complex_a=complex_a)
    h0 = jnp.asarray(rng.standard_normal((1, 2, 16, 32)), jnp.float32)
    if complex_h0:
        h0 = h0 + 1j * jnp.asarray(rng.standard_normal(h0.shape), jnp.float32)
    y, h = P.gate_loop_mh(q, k, v, a, h0, complex_y=complex_y, interpret=True, segments=2, block_v=16)
    y_ref, h_ref = reference(q, k, v, a, h0, complex_y)
    assert jnp.iscomplexobj(y) == complex_y and jnp.iscomplexobj(h) == (complex_a or complex_h0)
    assert rel_err(y, y_ref) < 1e-6 and rel_err(h, h_ref) < 1e-6
    # the same numbers as the XLA chunked mode (gl.gate_loop's complex y)
    yc, hc = gl.gate_loop(q, k, v, a, h0=h0, mode="chunked", return_state=True)
    assert rel_err(y, yc if complex_y else jnp.real(yc)) < 1e-6


@pytest.mark.parametrize("precision", sweep(["f16x3", "fp32"]))
@pytest.mark.parametrize("gate", sweep(["decaying", "growing"], fast=(1,)))
def test_complex_y_keeps_float32_error(rng, precision, gate):
    """Complex y (its extra scores Im S and products with Im h) within the same tolerance (1e-6),
    also with gates at the largest that "f16x3" runs (max(|Re a|, |Im a|) just under F16_A_MAX:
    decays up to 1.98^16 per chunk), with four sub-blocks (scores at distances 1-3)."""
    q, k, v, a, _ = inputs(rng, L=40, mag=(0.5, 1.0))
    if gate == "growing":
        a = a * (0.999 * P.F16_A_MAX / jnp.maximum(jnp.abs(a.real), jnp.abs(a.imag)).max())
    h0 = (jnp.asarray(rng.standard_normal((1, 2, 16, 32)), jnp.float32)
          + 1j * jnp.asarray(rng.standard_normal((1, 2, 16, 32)), jnp.float32)).astype(jnp.complex64)
    y, h = P.gate_loop_mh(q, k, v, a, h0, complex_y=True, interpret=True, precision=precision, segments=2,
                          blocks=4, block_v=16)
    y_ref, h_ref = reference(q, k, v, a, h0, True)
    assert np.all(np.isfinite(np.asarray(y)))
    assert rel_err(y, y_ref) < 1e-6 and rel_err(h, h_ref) < 1e-6
    assert rel_err(y.imag, y_ref.imag) < 1e-6


def test_zero_and_tiny_gates_are_exact(rng):
    """Products only, nothing divided: a = 0 cuts the past exactly, |a| = 1e-30 does not overflow."""
    q, k, v, a, _ = inputs(rng, L=48)
    a = a.at[0, 5].set(0).at[0, 20:24].set(1e-30)
    y, h = P.gate_loop_mh(q, k, v, a, interpret=True, blocks=4, block_v=16)
    y_ref, h_ref = reference(q, k, v, a, None, False)
    assert np.all(np.isfinite(np.asarray(y)))
    assert rel_err(y, y_ref) < 1e-6 and rel_err(h, h_ref) < 1e-6


@pytest.mark.parametrize("precision", sweep(["fp32", "f16x3"], fast=(1,)))
def test_causal(rng, precision):
    """Changing step t changes no output before t: bit for bit with fp32 products; with "f16x3"
    to rounding only (1e-6 relative), since a chunk's operand scales are its largest entries,
    and step t may change the rounding of the earlier steps of its own chunk (16-22 here)."""
    q, k, v, a, _ = inputs(rng, L=40)
    y0, _ = P.gate_loop_mh(q, k, v, a, interpret=True, block_v=16, precision=precision)
    y1, _ = P.gate_loop_mh(q, k, v.at[0, 23].add(5.0), a.at[0, 23].set(0.3), interpret=True, block_v=16,
                           precision=precision)
    before0, before1 = np.asarray(y0[0, :23]), np.asarray(y1[0, :23])
    if precision == "fp32":
        np.testing.assert_array_equal(before0, before1)
    else:
        np.testing.assert_array_equal(before0[:16], before1[:16])  # earlier chunks: bit for bit
        assert rel_err(before1, before0) < 1e-6
    assert np.abs(np.asarray(y0[0, 23:] - y1[0, 23:])).max() > 1e-3


def test_gradients_match_chunked_autodiff(rng):
    q, k, v, a, h0 = inputs(rng, L=20, h0=True, mag=(0.5, 1.0))
    w = jnp.asarray(rng.standard_normal((1, 20, 2, 32)), jnp.float32)

    def loss(f):
        def scalar(q, k, v, a, h0):
            y, h = f(q, k, v, a, h0)
            return jnp.sum(y * w) + jnp.sum(jnp.real(h) * jnp.imag(h))
        return scalar

    kern = lambda *x: P.gate_loop_mh(*x, interpret=True, block_v=16)
    ref = lambda *x: (lambda y, h: (jnp.real(y), h))(*gl.chunked.gate_loop_chunked(*x))
    g = jax.jit(jax.grad(loss(kern), argnums=range(5)))(q, k, v, a, h0)
    g_ref = jax.jit(jax.grad(loss(ref), argnums=range(5)))(q, k, v, a, h0)
    for x, x_ref in zip(g, g_ref):
        assert x.dtype == x_ref.dtype and rel_err(x, x_ref) < 1e-5


@pytest.mark.parametrize("change, match", [
    (dict(v=np.zeros((1, 37, 2, 24), np.float32)), "expected d_k and d_v powers of two >= 16"),
    (dict(k=np.zeros((1, 36, 2, 16), np.float32)), "k: expected the shape of q"),
    (dict(v=np.zeros((1, 37, 3, 32), np.float32)), "v: expected shape"),
    (dict(h0=np.zeros((1, 2, 16, 16), np.float32)), "h0: expected shape"),
    (dict(q=np.zeros((37, 2, 16), np.float32), k=np.zeros((37, 2, 16), np.float32),
          a=np.zeros((37, 2, 16), np.float32), v=np.zeros((37, 2, 32), np.float32)), "4 dimensions"),
    (dict(q=np.zeros((1, 37, 2, 16), np.complex64)), "q: expected a real array"),
    (dict(a=np.zeros((1, 37, 2, 16), np.complex128)), "a: expected float32 or complex64"),
    (dict(block_v=24), "block_v: expected a power of two"),
    (dict(blocks=16), "blocks: expected 1, 2, 4 or 8"),
    (dict(segments=0), "segments: expected a positive integer"),
    (dict(split=0), "split: expected a positive integer"),
    (dict(split=1.5), "split: expected a positive integer"),
    (dict(precision="tf16"), "precision: expected one of"),
])
def test_clear_errors(rng, change, match):
    q, k, v, a, _ = inputs(rng)
    kw = dict(q=q, k=k, v=v, a=a)
    kw.update(change)  # NumPy arrays as given: a complex128 stays complex128
    with pytest.raises(ValueError, match=match):
        P.gate_loop_mh(kw.pop("q"), kw.pop("k"), kw.pop("v"), kw.pop("a"), interpret=True, **kw)


def test_plan():
    """Segments and summary parts by the count of step times (waves of SLOTS = 264 programs)."""
    assert P.step_times(264, 100) == 100 and P.step_times(265, 100) == 200 and P.step_times(1, 7) == 7
    # the bench shape: 128 (batch, head) pairs; 2 segments, summaries in 2 parts: 2048 + 1024 step
    # times, against 4096 in one pass and 2048 + 2048 for 4 segments (call 49's runs, in that order)
    assert P.plan(16, 8, 1, 4096) == (2, 2)
    t = lambda G, s: P.step_times(128 * G, 4096 // G) + P.step_times(128 * (G - 1) * s, 4096 // G // s)
    assert t(2, 2) == 3072 < t(4, 2) == 3584 < t(4, 1) == 4096 == P.step_times(128, 4096)
    assert P.plan(16, 8, 1, 4096, segments=4) == (4, 2)  # given segments: the parts only
    assert P.plan(4, 8, 1, 16384) == (8, 1)  # 224 summary programs already fill a wave: no parts
    assert P.plan(64, 8, 1, 4096) == (1, 1)  # 512 programs fill two waves without segments
    assert P.plan(1, 1, 1, 300) == (1, 1)  # too short to split (>= 256 steps per segment)
    assert P.plan(1, 2, 1, 1000, segments=3) == (3, 1)  # parts must divide a segment's 21 chunks


@pytest.mark.parametrize("complex_a, complex_h0, L, segments, split", sweep([
    (True, True, 512, 4, 2), (False, True, 300, 2, 2), (False, False, 256, 2, 8),
    (True, False, 520, 2, 1)]))
def test_split_summaries_match(rng, complex_a, complex_h0, L, segments, split):
    """Summaries of parts of segments (the summary kernel's split) give the outputs and final state
    of whole segments, within float32 rounding, and match the complex128 loop; padded lengths too."""
    q, k, v, a, h0 = inputs(rng, L=L, complex_a=complex_a, h0=True)
    h0 = (h0.real + 1j * h0.real[..., ::-1]).astype(jnp.complex64) if complex_h0 else h0.real
    kw = dict(interpret=True, complex_y=True, segments=segments, block_v=16)
    y1, h1 = P.gate_loop_mh(q, k, v, a, h0, split=1, **kw)
    y2, h2 = P.gate_loop_mh(q, k, v, a, h0, split=split, **kw)
    y_ref, h_ref = gl.gate_loop_reference(q, k, v, a, h0=h0, return_state=True, dtype=np.complex128)
    for x1, x2, ref in ((y1, y2, y_ref), (h1, h2, h_ref)):
        assert rel_err(x2, x1) < 1e-6 and rel_err(x2, ref) < 1e-6


@pytest.mark.parametrize("L, segments, split, match", [
    (520, 2, 4, "divisor of a segment's 17 chunks, .* got 4 parts of 2 segment"),
    (256, 1, 2, "got 2 parts of 1 segment")])
def test_split_that_does_not_fit(rng, L, segments, split, match):
    """An explicit split must divide a segment's chunks, and needs segments to split."""
    q, k, v, a, _ = inputs(rng, L=L, complex_a=True)
    with pytest.raises(ValueError, match=match):
        P.gate_loop_mh(q, k, v, a, interpret=True, segments=segments, split=split, block_v=16)
