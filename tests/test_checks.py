"""Each documented bad input of gl.gate_loop (and the reference) gives its documented error,
naming the argument and the expected vs received shape or dtype."""
from __future__ import annotations

import numpy as np
import pytest

import gl
from conftest import random_inputs

ENTRY_POINTS = {
    "gate_loop": lambda *x, **kw: gl.gate_loop(*x, **kw),
    "reference": lambda *x, **kw: gl.gate_loop_reference(*x, **kw),
}


@pytest.fixture
def good(rng):
    return random_inputs(rng, (2,), 5, 3, 4, 2, h0=True)


@pytest.mark.parametrize("fn", ENTRY_POINTS)
@pytest.mark.parametrize("which, bad_shape, match", [
    (1, (2, 5, 3, 3), r"k: expected the shape of q .* got \(2, 5, 3, 3\)"),  # d_k
    (3, (2, 6, 3, 4), r"a: expected the shape of q .* got \(2, 6, 3, 4\)"),  # L
    (2, (2, 5, 2, 2), r"v: expected shape .* got \(2, 5, 2, 2\)"),  # H
    (2, (2, 4, 3, 2), r"v: expected shape .* got \(2, 4, 3, 2\)"),  # L
    (0, (5, 3), r"q: expected at least 3 dimensions, got shape \(5, 3\)"),
])
def test_shape_errors(fn, good, which, bad_shape, match):
    args = list(good[:4])
    args[which] = np.zeros(bad_shape, args[which].dtype)
    with pytest.raises(ValueError, match=match):
        ENTRY_POINTS[fn](*args)


@pytest.mark.parametrize("fn", ENTRY_POINTS)
def test_h0_shape_error(fn, good):
    q, k, v, a, h0 = good
    with pytest.raises(ValueError, match=r"h0: expected shape \(\.\.\., H, d_k, d_v\) = \(2, 3, 4, 2\), got \(2, 3, 2, 4\)"):
        ENTRY_POINTS[fn](q, k, v, a, h0=np.swapaxes(h0, -1, -2))


@pytest.mark.parametrize("fn", ENTRY_POINTS)
@pytest.mark.parametrize("bad", [np.int32, np.bool_, object, str])
def test_non_numeric_dtype(fn, good, bad):
    q, k, v, a, _ = good
    with pytest.raises(TypeError, match=r"v: expected a float or complex dtype"):
        ENTRY_POINTS[fn](q, k, v.astype(bad), a)


@pytest.mark.parametrize("mode", ["fast", "Parallel", None, 3])
def test_unknown_mode(good, mode):
    q, k, v, a, _ = good
    with pytest.raises(ValueError, match=r"mode: expected one of .*got"):
        gl.gate_loop(q, k, v, a, mode=mode)


@pytest.mark.parametrize("impl", ["triton", "XLA", None, 1])
def test_unknown_impl(good, impl):
    q, k, v, a, _ = good
    with pytest.raises(ValueError, match=r"impl: expected one of \('auto', 'xla', 'pallas'\), got"):
        gl.gate_loop(q, k, v, a, impl=impl)


@pytest.mark.parametrize("old, says", [("parallel_vjp", "write mode='parallel'"),
                                       ("pallas", "write impl='pallas'")])
def test_removed_modes_say_what_to_write(good, old, says):
    q, k, v, a, _ = good
    with pytest.raises(ValueError, match=f"mode: {old!r} was removed; {says}"):
        gl.gate_loop(q, k, v, a, mode=old)


@pytest.mark.parametrize("mode", ["recurrent", "attention"])
def test_pairs_without_a_kernel(good, mode):
    """No Pallas kernel implements these algorithms: the error names both arguments."""
    q, k, v, a, _ = good
    with pytest.raises(ValueError, match=f"mode={mode!r}, impl='pallas': no Pallas kernel"):
        gl.gate_loop(q, k, v, a, mode=mode, impl="pallas")


def test_real_a_is_accepted(good):
    """A real a where a complex one could be used is fine: the output stays real."""
    q, k, v, a, _ = good
    y = gl.gate_loop(q, k, v, np.abs(a))
    assert not np.iscomplexobj(y)


def test_errors_also_under_jit(good):
    import jax
    q, k, v, a, _ = good
    with pytest.raises(ValueError, match="k: expected the shape of q"):
        jax.jit(lambda *x: gl.gate_loop(*x))(q, k[..., :2], v, a)


@pytest.mark.skipif(np.dtype(np.longdouble).itemsize <= 8, reason="long double is float64 here")
@pytest.mark.parametrize("fn", ENTRY_POINTS)
@pytest.mark.parametrize("which, name", [(0, "q"), (3, "a")])
@pytest.mark.parametrize("long", [np.longdouble, np.clongdouble])
def test_long_double_is_refused_by_name(fn, good, which, name, long):
    """NumPy's float128/complex256 used to reach JAX's "not a valid JAX array type", naming
    no argument: now the dtype check refuses it, with the accepted dtypes."""
    args = list(good[:4])
    args[which] = np.real(args[which]).astype(long)
    with pytest.raises(TypeError, match=rf"^{name}: expected a float or complex dtype "
                                        rf"\(float32, .*\), got {np.dtype(long)} \(long double"):
        ENTRY_POINTS[fn](*args)


@pytest.mark.parametrize("fn", ENTRY_POINTS)
@pytest.mark.parametrize("bad", ["no", 1, None])
def test_return_state_must_be_a_bool(fn, good, bad):
    """return_state="no" used to return a tuple (a truthy string); it is checked as real is."""
    q, k, v, a, _ = good
    with pytest.raises(TypeError, match=rf"^return_state: expected a bool, got {type(bad).__name__}"):
        ENTRY_POINTS[fn](q, k, v, a, return_state=bad)
    assert isinstance(ENTRY_POINTS[fn](q, k, v, a, return_state=np.bool_(True)), tuple)
