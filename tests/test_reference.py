"""The Numba loop against the tests' plain-Python loop of eq. 7-8 (conftest.loop_gate_loop,
complex128), in every dtype it takes.

Tolerances: the same arithmetic in the same order, so complex128/float64 agree to 1e-12
relative and complex64/float32 to 1e-5; loops that do the same operations in the same order
(planar vs complex, any number of channel blocks) agree exactly.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import gl
from conftest import examples, loop_gate_loop, random_inputs, rel_err


@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-5), (np.float64, 1e-12)])
@pytest.mark.parametrize("complex_a", [True, False])
@pytest.mark.parametrize("batch", [(), (3,), (2, 2)])
def test_matches_python_loop(rng, dtype, tol, complex_a, batch):
    q, k, v, a, h0 = random_inputs(rng, batch, 13, 2, 3, 2, complex_a=complex_a, dtype=dtype, h0=True)
    y, h = gl.gate_loop_reference(q, k, v, a, h0=h0, return_state=True)
    y_py, h_py = loop_gate_loop(q, k, v, a, h0)
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


# The loops the wrapper picks: planar (real q, k, v with complex a) or generic, SISO or multi-head,
# parallel (from PARALLEL_MIN_WORK multiply-adds) or serial. Each is checked against the Python loop.
KINDS = ["planar", "complex", "real"]  # real q, k, v + complex a; complex q too; all real


def inputs_of_kind(rng, kind, batch, L, H, d_k, d_v, dtype, h0=True):
    q, k, v, a, h = random_inputs(rng, batch, L, H, d_k, d_v, complex_a=kind != "real", dtype=dtype, h0=True)
    if kind == "complex":
        q = (q * np.exp(0.5j)).astype(a.dtype)
    return q, k, v, a, (h if h0 else None)


def loops_for(q, k, v, a, h0=None):
    """The (parallel, serial) pair of loops that gate_loop_reference runs for these inputs."""
    specs = [x for x in (q, k, v, a, h0) if x is not None]
    return gl.reference._plan(None, *(s for x in specs for s in (x.shape, x.dtype)))[-1]


def check_against_python_loop(q, k, v, a, h0, tol):
    y, h = gl.gate_loop_reference(q, k, v, a, h0=h0, return_state=True)
    y_py, h_py = loop_gate_loop(q, k, v, a, h0)
    assert y.dtype == h.dtype == np.result_type(*(x for x in (q, k, v, a, h0) if x is not None))
    assert y.shape == y_py.shape and h.shape == h_py.shape
    assert rel_err(y, y_py) < tol and rel_err(h, h_py) < tol


@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-5), (np.float64, 1e-12)])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("batch", [(), (3,), (2, 2)])
def test_siso_matches_python_loop(rng, dtype, tol, kind, batch):
    """d_k = d_v = 1 with H = 33 channels (odd: not a multiple of any vector width or block)."""
    q, k, v, a, h0 = inputs_of_kind(rng, kind, batch, 13, 33, 1, 1, dtype)
    planar = gl.reference._LOOPS[True, True]
    assert (loops_for(q, k, v, a, h0) == planar) == (kind == "planar")
    check_against_python_loop(q, k, v, a, h0, tol)


@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-5), (np.float64, 1e-12)])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("L, H, d_k, d_v", [(1, 1, 1, 1), (1, 3, 2, 5), (4, 1, 1, 1), (5, 2, 5, 3), (6, 1, 1, 17)])
@pytest.mark.parametrize("with_h0", [False, True])
def test_edge_shapes_match_python_loop(rng, dtype, tol, kind, L, H, d_k, d_v, with_h0):
    """L = 1, one channel, d_v = 17 (a vector and a remainder), d_k > d_v; with and without h0."""
    q, k, v, a, h0 = inputs_of_kind(rng, kind, (2,), L, H, d_k, d_v, dtype, h0=with_h0)
    check_against_python_loop(q, k, v, a, h0, tol)


@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-5), (np.float64, 1e-12)])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("batch, H, d", [((), 7, 1), ((3,), 5, 1), ((), 2, 3), ((2,), 3, 2)])
def test_parallel_loops_match_python_loop(rng, monkeypatch, dtype, tol, kind, batch, H, d):
    """With PARALLEL_MIN_WORK = 0 every call runs the threaded loops (batch () splits channels)."""
    monkeypatch.setattr(gl.reference, "PARALLEL_MIN_WORK", 0)
    q, k, v, a, h0 = inputs_of_kind(rng, kind, batch, 9, H, d, d, dtype)
    check_against_python_loop(q, k, v, a, h0, tol)


@pytest.mark.parametrize("loop", ["_loop_siso", "_loop_siso_planar"])
@pytest.mark.parametrize("threads", [False, True])
def test_channel_blocks_are_bitwise_equal(rng, loop, threads):
    """Any number of channel blocks, even more than channels (empty blocks), gives the same bits:
    each channel's arithmetic does not depend on the blocks. Tolerance: exact."""
    q, k, v, a = (x[..., 0] for x in random_inputs(rng, (2,), 11, 7, 1, 1))
    fn = getattr(gl.reference, loop if threads else loop + "_serial")
    outs = []
    for nblk in (1, 2, 3, 4, 7, 9):
        h, y = np.zeros((2, 7), np.complex64), np.empty((2, 11, 7), np.complex64)
        fn(q, k, v, a, h, y, nblk)
        outs.append((y, h))
    for y, h in outs[1:]:
        np.testing.assert_array_equal(y, outs[0][0])
        np.testing.assert_array_equal(h, outs[0][1])


def test_planar_loops_equal_complex_loops_bitwise(rng):
    """The planar loops write out Numba's complex product, in the same order: same bits as the
    complex loops on finite inputs. Tolerance: exact."""
    for d_k, d_v in [(1, 1), (3, 5)]:
        q, k, v, a, h0 = random_inputs(rng, (2,), 9, 4, d_k, d_v, h0=True)
        y1, h1 = np.empty((2, 9, 4, d_v), np.complex64), h0.copy()
        y2, h2 = y1.copy(), h0.copy()
        if d_k == 1:
            sq = lambda x: x[..., 0]
            gl.reference._loop_siso_serial(*map(sq, (q, k, v, a)), h1[..., 0, 0], sq(y1), 1)
            gl.reference._loop_siso_planar_serial(*map(sq, (q, k, v, a)), h2[..., 0, 0], sq(y2), 1)
        else:
            gl.reference._loop_serial(q, k, v, a, h1, y1)
            gl.reference._loop_planar_serial(q, k, v, a, h2, y2)
        np.testing.assert_array_equal(y1, y2)
        np.testing.assert_array_equal(h1, h2)


def test_non_numpy_inputs(rng):
    """Lists and JAX arrays are checked as given, then converted: same result as NumPy arrays (exact)."""
    import jax.numpy as jnp
    q, k, v, a = random_inputs(rng, (2,), 5, 3, 1, 1)
    y = gl.gate_loop_reference(q, k, v, a)
    np.testing.assert_array_equal(gl.gate_loop_reference(jnp.asarray(q), list(k), v, jnp.asarray(a)), y)


@settings(max_examples=examples(40))
@given(
    seed=st.integers(0, 2**31 - 1),
    batch=st.sampled_from([(), (1,), (3,), (2, 1)]),
    L=st.integers(1, 9),
    H=st.integers(1, 9),
    dims=st.sampled_from([(1, 1), (1, 2), (2, 1), (3, 4)]),
    dtype=st.sampled_from([np.float32, np.float64]),
    kind=st.sampled_from(KINDS),
    with_h0=st.booleans(),
    threads=st.booleans(),
)
def test_property_matches_python_loop(seed, batch, L, H, dims, dtype, kind, with_h0, threads):
    """Every branch (SISO or not, planar or not, threads or not, h0 or not) against the Python loop:
    1e-5 in single precision, 1e-12 in double."""
    rng = np.random.default_rng(seed)
    q, k, v, a, h0 = inputs_of_kind(rng, kind, batch, L, H, *dims, dtype, h0=with_h0)
    old = gl.reference.PARALLEL_MIN_WORK
    gl.reference.PARALLEL_MIN_WORK = 0 if threads else old
    try:
        check_against_python_loop(q, k, v, a, h0, 1e-5 if dtype == np.float32 else 1e-12)
    finally:
        gl.reference.PARALLEL_MIN_WORK = old


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, "float32"])
@pytest.mark.parametrize("complex_arg", ["a", "q", "h0"])
def test_real_dtype_with_complex_inputs_is_an_error(rng, dtype, complex_arg):
    """dtype=float32 used to drop the imaginary part silently (issue 24, item 4): now a
    TypeError that names the argument and the complex dtype to use."""
    q, k, v, a, h0 = random_inputs(rng, (2,), 5, 3, 2, 2, complex_a=False, h0=True)
    args = dict(q=q, k=k, v=v, a=a, h0=h0)
    args[complex_arg] = args[complex_arg] * (1 + 0.5j)
    with pytest.raises(TypeError, match=rf"dtype: .*complex.*{complex_arg}.*got {np.dtype(dtype)}"):
        gl.gate_loop_reference(args.pop("q"), args.pop("k"), args.pop("v"), args.pop("a"),
                               dtype=dtype, **args)


@pytest.mark.parametrize("dtype", [np.int32, np.bool_, "S3", "banana"])  # "banana": not a dtype
def test_non_float_dtype_is_an_error(rng, dtype):
    q, k, v, a = random_inputs(rng, (), 4, 1, 1, 1)
    with pytest.raises(TypeError, match="dtype: expected"):
        gl.gate_loop_reference(q, k, v, a, dtype=dtype)


@pytest.mark.parametrize("real, want", [(np.float32, np.complex64), (np.float64, np.complex128)])
def test_complex_inputs_compute_in_matching_complex_precision(rng, real, want):
    """Without dtype, complex inputs give the complex dtype of the inputs' precision; with a
    complex dtype, that one. The imaginary part is kept (checked against the Python loop)."""
    q, k, v, a = random_inputs(rng, (2,), 6, 2, 2, 3, dtype=real)
    y = gl.gate_loop_reference(q, k, v, a)
    assert y.dtype == want and np.abs(y.imag).max() > 0.1
    y_ref, _ = loop_gate_loop(q, k, v, a)
    assert rel_err(y, y_ref) < (1e-5 if real == np.float32 else 1e-12)
    assert gl.gate_loop_reference(q, k, v, a, dtype=np.complex128).dtype == np.complex128


@pytest.mark.parametrize("with_h0", [False, True])
def test_empty_sequence(rng, with_h0):
    """L = 0: an empty y and h0 (or zeros) as the state, as gl.gate_loop gives."""
    q, k, v, a, h0 = random_inputs(rng, (2,), 0, 3, 2, 4, h0=True)
    y, h = gl.gate_loop_reference(q, k, v, a, h0=h0 if with_h0 else None, return_state=True)
    assert y.shape == (2, 0, 3, 4) and y.dtype == np.complex64 and h.shape == (2, 3, 2, 4)
    np.testing.assert_array_equal(h, h0 if with_h0 else 0)


def test_bfloat16_computes_in_float32(rng):
    """bfloat16 inputs (JAX arrays, no dtype given) used to be refused ("dtype: expected a float
    ... got bfloat16"): they compute in float32, as gl.gate_loop does; the same numbers as the
    rounded inputs in float32 (exactly), and dtype=bfloat16 means float32 too."""
    import jax.numpy as jnp
    q, k, v, a = random_inputs(rng, (1,), 6, 2, 2, 3, complex_a=False)
    xs = [jnp.asarray(x, jnp.bfloat16) for x in (q, k, v, a)]
    y = gl.gate_loop_reference(*xs)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, gl.gate_loop_reference(*(np.asarray(x, np.float32) for x in xs)))
    assert gl.gate_loop_reference(q, k, v, a, dtype=jnp.bfloat16).dtype == np.float32
    y_c = gl.gate_loop_reference(*xs[:3], a.astype(np.complex64))  # with a complex gate
    assert y_c.dtype == np.complex64


@pytest.mark.skipif(np.dtype(np.longdouble).itemsize <= 8, reason="long double is float64 here")
@pytest.mark.parametrize("dtype", [np.longdouble, np.clongdouble])
def test_long_double_dtype_is_an_error(rng, dtype):
    """dtype=float128 used to compute in float32 silently: JAX has no long double, so neither
    does the reference."""
    q, k, v, a = random_inputs(rng, (), 4, 1, 1, 1)
    with pytest.raises(TypeError, match=rf"dtype: expected .*got {np.dtype(dtype)} \(long double"):
        gl.gate_loop_reference(q, k, v, a, dtype=dtype)
