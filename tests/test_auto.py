"""mode="auto" / impl="auto": the decision (a pure function, every branch) and the paths it picks.

Tolerances: 2e-5 relative to the complex128 Numba reference (float32/complex64);
gradients of the Pallas path 1e-4 relative to autodiff through the associative scan.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gl
from gl import kernels, operator
from conftest import random_inputs, rel_err

F32, C64 = np.dtype(np.float32), np.dtype(np.complex64)
SISO = ((4, 100, 8, 1), (4, 100, 8, 1))
MULTI = ((4, 100, 8, 64), (4, 100, 8, 64))


PS, PC, CX, PX = ("parallel", "pallas"), ("chunked", "pallas"), ("chunked", "xla"), ("parallel", "xla")


@pytest.mark.parametrize(
    "backend, shapes, dtype, has_pallas, qkv_complex, want",
    [
        ("gpu", SISO, F32, True, False, PS),  # the GPU kernels for SISO
        ("gpu", SISO, C64, True, False, PS),  # complex a, real q, k, v: complex y
        ("gpu", SISO, C64, True, True, PX),  # complex q: not the kernels' case
        ("gpu", SISO, F32, False, False, PX),  # kernels not importable
        ("gpu", SISO, np.dtype(np.float64), True, False, PX),  # kernels are float32
        ("cpu", SISO, F32, True, False, PX),  # no Triton on a CPU
        ("gpu", MULTI, C64, True, False, PC),  # the fused chunked kernels: d_k, d_v powers of two
        ("gpu", MULTI, C64, False, False, CX),  # kernels not importable
        ("gpu", MULTI, np.dtype(np.complex128), True, False, CX),  # kernels are single precision
        ("gpu", ((4, 100, 8, 48), (4, 100, 8, 64)), C64, True, False, CX),  # d_k = 48: not a kernel tile
        ("gpu", ((4, 100, 8, 8), (4, 100, 8, 8)), C64, True, False, CX),  # below the 16-wide tiles
        ("cpu", MULTI, F32, True, False, CX),
        ("cpu", ((2, 10, 3, 4), (2, 10, 3, 4)), C64, False, False, CX),  # d_k d_v = 16
        ("cpu", ((2, 10, 3, 2), (2, 10, 3, 4)), C64, False, False, PX),  # d_k d_v = 8
    ],
)
def test_pick_both_auto(backend, shapes, dtype, has_pallas, qkv_complex, want):
    got = operator.pick(backend, *shapes, dtype, has_pallas=has_pallas, qkv_complex=qkv_complex)
    assert got == want


@pytest.mark.parametrize(
    "backend, shapes, mode, impl, want",
    [
        ("gpu", SISO, "parallel", "auto", PS),  # the pair exists and runs here
        ("cpu", SISO, "parallel", "auto", PX),  # ... but not on a CPU
        ("gpu", SISO, "chunked", "auto", CX),  # the SISO kernel is a scan, not chunks
        ("gpu", MULTI, "chunked", "auto", PC),
        ("gpu", MULTI, "parallel", "auto", PX),  # no multi-head scan kernel
        ("gpu", SISO, "recurrent", "auto", ("recurrent", "xla")),
        ("gpu", MULTI, "attention", "auto", ("attention", "xla")),
        ("gpu", SISO, "auto", "xla", PX),
        ("gpu", MULTI, "auto", "xla", CX),
        ("gpu", SISO, "auto", "pallas", PS),  # the kernel's mode for the shape
        ("cpu", MULTI, "auto", "pallas", PC),  # chosen here; gate_loop then says it needs a GPU
        ("cpu", SISO, "attention", "xla", ("attention", "xla")),  # both given: kept
    ],
)
def test_pick_one_given(backend, shapes, mode, impl, want):
    assert operator.pick(backend, *shapes, C64, has_pallas=True, mode=mode, impl=impl) == want


@pytest.mark.parametrize("dims", [(1, 1), (4, 4)])
@pytest.mark.parametrize("complex_a", [True, False])
def test_auto_matches_reference(rng, dims, complex_a):
    q, k, v, a, h0 = random_inputs(rng, (2,), 37, 3, *dims, complex_a=complex_a, h0=True)
    y_ref, h_ref = gl.gate_loop_reference(q, k, v, a, h0=h0, return_state=True, dtype=np.complex128)
    y, h = gl.gate_loop(q, k, v, a, h0=h0, return_state=True)
    assert jnp.iscomplexobj(y) == complex_a
    assert rel_err(y, y_ref) < 2e-5 and rel_err(h, h_ref) < 2e-5


def test_auto_accepts_bfloat16(rng):
    """bfloat16 in, float32 out (accumulated in float32), equal to the reference on the rounded inputs."""
    q, k, v, a = random_inputs(rng, (2,), 50, 3, 1, 1, complex_a=False)
    xb = [jnp.asarray(x, jnp.bfloat16) for x in (q, k, v, a)]
    y = gl.gate_loop(*xb)
    assert y.dtype == jnp.float32
    ref = gl.gate_loop_reference(*(np.asarray(x, np.float32) for x in xb))
    assert rel_err(y, ref) < 2e-5
    yc = gl.gate_loop(*xb[:3], jnp.asarray(a, jnp.complex64))  # bf16 gates, complex a
    assert yc.dtype == jnp.complex64


@pytest.mark.skipif(not kernels.available(), reason="gl.kernels not importable")
@pytest.mark.parametrize("complex_a", [pytest.param(False, marks=pytest.mark.slow), True])
def test_pallas_branch_in_interpret_mode(rng, complex_a):
    """The path auto takes on a GPU for SISO inputs (gl.kernels.gate_loop_pallas, what
    impl="pallas" runs after its checks), run by the Pallas interpreter on the CPU:
    values against the Numba loop, gradients (the Pallas reverse scan) against autodiff through
    the associative scan."""
    q, k, v, a, h0 = (jnp.asarray(x) for x in random_inputs(rng, (2,), 20, 3, 1, 1, complex_a=complex_a, h0=True))
    dt = C64 if complex_a else F32
    y_ref, h_ref = gl.gate_loop_reference(q, k, v, a, h0=h0, return_state=True, dtype=np.complex128)
    y, h = kernels.gate_loop_pallas(q, k, v, a, h0, dt, interpret=True)
    assert y.dtype == dt and h.shape == h0.shape and h.dtype == dt
    assert rel_err(y, y_ref) < 2e-5 and rel_err(h, h_ref) < 2e-5

    w = jnp.asarray(rng.standard_normal(y.shape), jnp.float32)

    def loss(f):  # uses Re and Im of y and h_L
        def scalar(*x):
            y, h = f(*x)
            return jnp.sum(jnp.real(y) * w) + jnp.sum(jnp.imag(y) ** 2) + jnp.sum(jnp.real(h) - 2 * jnp.imag(h))
        return scalar
    pallas = lambda *x: kernels.gate_loop_pallas(*x, dt, interpret=True)
    scan = lambda *x: gl.scan.gate_loop_parallel(*x[:4], x[4], dt)  # autodiff through the scan
    g = jax.jit(jax.grad(loss(pallas), argnums=range(5)))(q, k, v, a, h0)
    g_ref = jax.jit(jax.grad(loss(scan), argnums=range(5)))(q, k, v, a, h0)
    for x, x_ref in zip(g, g_ref):
        assert x.dtype == x_ref.dtype
        assert rel_err(x, x_ref) < 1e-4, rel_err(x, x_ref)


@pytest.mark.skipif(not kernels.available(), reason="gl.kernels not importable")
@pytest.mark.parametrize("complex_a", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_pallas_multihead_branch_in_interpret_mode(rng, complex_a):
    """The path auto takes on a GPU for a multi-head state (two batch dimensions, flattened for
    the kernels), run by the Pallas interpreter: values and final state against the Numba loop,
    gradients against autodiff through the chunked mode."""
    q, k, v, a, h0 = (jnp.asarray(x) for x in random_inputs(rng, (2, 1), 21, 2, 16, 16, complex_a=complex_a,
                                                             h0=True))
    dt = C64 if complex_a else F32
    y_ref, h_ref = gl.gate_loop_reference(q, k, v, a, h0=h0, return_state=True, dtype=np.complex128)
    y, h = kernels.gate_loop_pallas(q, k, v, a, h0, dt, interpret=True)
    assert y.dtype == dt and y.shape == y_ref.shape and h.shape == h0.shape and h.dtype == dt
    assert rel_err(y, y_ref) < 2e-5 and rel_err(h, h_ref) < 2e-5
    loss = lambda f: lambda *x: jnp.sum(jnp.abs(f(*x)[0]) ** 2) + jnp.sum(jnp.real(f(*x)[1]))
    pallas = lambda *x: kernels.gate_loop_pallas(*x, dt, interpret=True)
    chunked = lambda *x: gl.gate_loop(*x[:4], h0=x[4], mode="chunked", return_state=True)
    g = jax.jit(jax.grad(loss(pallas), argnums=range(5)))(q, k, v, a, h0)
    g_ref = jax.jit(jax.grad(loss(chunked), argnums=range(5)))(q, k, v, a, h0)
    for x, x_ref in zip(g, g_ref):
        assert rel_err(x, x_ref) < 1e-4, rel_err(x, x_ref)


def test_impl_pallas_needs_a_kernel_shape_real_qkv_and_gpu(rng):
    q, k, v, a = (jnp.asarray(x) for x in random_inputs(rng, (1,), 8, 2, 1, 1))
    with pytest.raises(RuntimeError, match="need a GPU"):
        gl.gate_loop(q, k, v, a, impl="pallas")
    with pytest.raises(TypeError, match="expected a real q"):
        gl.gate_loop(q.astype(jnp.complex64), k, v, a, impl="pallas")
    with pytest.raises(ValueError, match="mode='chunked', impl='pallas': the Pallas kernel for .* implements "
                                         "mode='parallel'"):
        gl.gate_loop(q, k, v, a, mode="chunked", impl="pallas")
    q2, k2, v2, a2 = (jnp.asarray(x) for x in random_inputs(rng, (1,), 8, 2, 2, 1))
    with pytest.raises(ValueError, match="d_k = d_v = 1 .SISO. or d_k, d_v powers of two >= 16"):
        gl.gate_loop(q2, k2, v2, a2, impl="pallas")


def test_pallas_falls_back_on_cpu():
    """On a CPU, auto never picks the GPU kernel, whatever is importable."""
    assert jax.default_backend() == "cpu"
    rng = np.random.default_rng(0)
    q, k, v, a = random_inputs(rng, (1,), 8, 2, 1, 1, complex_a=False)
    y = gl.gate_loop(q, k, v, a, mode="auto")
    np.testing.assert_allclose(y, gl.gate_loop_reference(q, k, v, a), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("complex_a", [True, False])
@pytest.mark.parametrize("L, H", [(30, 5), (64, 300)])  # one and several channel blocks
def test_reference_siso_loop_equals_general_loop(complex_a, L, H):
    """The CPU fast path: gl.reference's SISO loop (channels innermost) and its serial twin give
    bit-identical results to the general (d_k, d_v) loop: same arithmetic, same order."""
    from gl import reference as R

    rng = np.random.default_rng(1)
    q, k, v, a, h0 = random_inputs(rng, (3,), L, H, 1, 1, complex_a=complex_a, h0=True)
    y, h = gl.gate_loop_reference(q, k, v, a, h0=h0, return_state=True)
    hh, yy = h0.astype(y.dtype), np.empty_like(y)
    R._loop(q, k, v, a, hh, yy)
    np.testing.assert_array_equal(y, yy)
    np.testing.assert_array_equal(h, hh)
    sq = lambda x: np.ascontiguousarray(x[..., 0])
    hs, ys = h0[..., 0, 0].astype(y.dtype), np.empty(y.shape[:-1], y.dtype)
    R._loop_siso(*(sq(x) for x in (q, k, v, a)), hs, ys, 3)  # three channel blocks
    np.testing.assert_array_equal(ys, y[..., 0])
    np.testing.assert_array_equal(hs, h[..., 0, 0])


@pytest.mark.parametrize("mode", ["recurrent", "parallel", "chunked", "attention", "auto"])
def test_real_output_is_re_y(rng, mode):
    """``real=True`` returns exactly ``Re y`` (float32 for complex64 work) in every CPU mode."""
    q, k, v, a = (jnp.asarray(x) for x in random_inputs(rng, (2,), 9, 2, 4, 3, complex_a=True))
    y = gl.gate_loop(q, k, v, a, mode=mode)
    yr, h = gl.gate_loop(q, k, v, a, mode=mode, real=True, return_state=True)
    assert y.dtype == C64 and yr.dtype == F32 and h.dtype == C64
    np.testing.assert_array_equal(np.asarray(yr), np.asarray(y.real))
    if mode == "auto":
        with pytest.raises(TypeError, match="real: expected a bool, got str"):
            gl.gate_loop(q, k, v, a, real="yes")


@pytest.mark.skipif(not kernels.available(), reason="gl.kernels not importable")
@pytest.mark.parametrize("d", [pytest.param(1, marks=pytest.mark.slow), 16])
def test_pallas_real_output_in_interpret_mode(rng, d):
    """``real=True`` on the Pallas path (SISO, d = 1, and the fused multi-head kernels, d = 16)
    skips ``Im y`` in the kernels: ``Re y`` against the Numba loop, and its gradient against
    autodiff through the associative scan (SISO) or the chunked mode (multi-head)."""
    q, k, v, a, h0 = (jnp.asarray(x) for x in random_inputs(rng, (2,), 21, 2, d, d, complex_a=True, h0=True))
    y_ref = gl.gate_loop_reference(q, k, v, a, h0=h0, dtype=np.complex128).real
    y, h = kernels.gate_loop_pallas(q, k, v, a, h0, C64, interpret=True, real=True)
    assert y.dtype == F32 and h.dtype == C64 and y.shape == y_ref.shape
    assert rel_err(y, y_ref) < 2e-5, rel_err(y, y_ref)
    w = jnp.asarray(rng.standard_normal(y.shape), jnp.float32)
    other = "parallel" if d == 1 else "chunked"
    loss = lambda f: lambda *x: jnp.sum(f(*x) * w)
    pallas = lambda *x: kernels.gate_loop_pallas(*x, C64, interpret=True, real=True)[0]
    ref = lambda *x: gl.gate_loop(*x[:4], h0=x[4], mode=other).real
    g = jax.jit(jax.grad(loss(pallas), argnums=range(5)))(q, k, v, a, h0)
    g_ref = jax.jit(jax.grad(loss(ref), argnums=range(5)))(q, k, v, a, h0)
    for x, x_ref in zip(g, g_ref):
        assert x.dtype == x_ref.dtype and rel_err(x, x_ref) < 1e-4, rel_err(x, x_ref)
