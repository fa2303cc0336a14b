"""The Pallas backward of the multi-head GateLoop (experiments/pallas_mh_bwd.py), in the interpreter.

Ground truths: autodiff through :func:`gl.chunked.gate_loop_chunked` in float64; a float64
NumPy loop of the backward recurrences (B1)-(B6) (:func:`loop_vjp`, whose forward is the tests'
loop ``conftest.loop_gate_loop``, checked against the Numba loop :func:`gl.gate_loop_reference`);
and ``jax.test_util.check_grads`` (numerical differences) in float64. Tolerances (relative,
norm over each gradient): float64 kernel ``1e-12``, float32 kernel ``2e-6`` against float64
(``1e-5`` at L = 256).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

import gl
import gl.chunked
from conftest import loop_gate_loop, rel_err, sweep
from experiments import pallas_mh_bwd as mb
from experiments import pallas_mh_states as ms

# kernel research in experiments/, not gl: `make test-all` runs it, `make test` does not
pytestmark = pytest.mark.slow

NAMES = ("dq", "dk", "dv", "da", "dh0")


def inputs(rng, B, L, H, d_k, d_v, mag=(0.5, 1.0), per_head=False):
    """float64 ``q, k, v, a, h0, dy, dhL``; ``a`` real of both signs, ``|a|`` uniform in ``mag``."""
    f = lambda *s: rng.standard_normal(s)
    ash = (B, L, H, 1 if per_head else d_k)
    a = rng.uniform(*mag, ash) * rng.choice([-1.0, 1.0], ash)
    return f(B, L, H, d_k), f(B, L, H, d_k), f(B, L, H, d_v), a, f(B, H, d_k, d_v), f(B, L, H, d_v), \
        f(B, H, d_k, d_v)


def autodiff(q, k, v, a, h0, dy, dhL):
    """The gradients by autodiff through gl.chunked, float64."""
    with jax.enable_x64(True):
        _, pull = jax.vjp(gl.chunked.gate_loop_chunked, *(jnp.asarray(x, jnp.float64) for x in (q, k, v, a, h0)))
        return [np.asarray(g) for g in pull((jnp.asarray(dy, jnp.float64), jnp.asarray(dhL, jnp.float64)))]


def loop_vjp(q, k, v, a, h0, dy, dhL):
    """(B1)-(B6) step by step in float64 NumPy: ``(y, dq, dk, dv, da, dh0)``."""
    q, k, v, a, h0, dy, dhL = (np.asarray(x, np.float64) for x in (q, k, v, a, h0, dy, dhL))
    a = np.broadcast_to(a, q.shape)
    L = q.shape[1]
    y, states = loop_gate_loop(q, k, v, a, h0, dtype=np.float64, return_states=True)  # eq. 7-8
    hs = [h0] + [states[:, t] for t in range(L)]  # hs[t + 1] = h_t, (B, H, d_k, d_v)
    grads = [np.zeros_like(x) for x in (q, k, v, a)]
    gam = dhL
    for t in reversed(range(L)):
        g = gam + q[:, t, :, :, None] * dy[:, t, :, None, :]  # (B1)
        grads[0][:, t] = np.einsum("bhij,bhj->bhi", hs[t + 1], dy[:, t])  # (B4)
        grads[1][:, t] = np.einsum("bhij,bhj->bhi", g, v[:, t])  # (B3)
        grads[2][:, t] = np.einsum("bhij,bhi->bhj", g, k[:, t])  # (B2)
        grads[3][:, t] = np.sum(hs[t] * g, axis=-1)  # (B5)
        gam = a[:, t, :, :, None] * g
    return [y] + grads + [gam]  # (B6)


def run(args, dtype, **kw):
    out = mb.gate_loop_mh_bwd_pallas(*(np.asarray(x, dtype) for x in args), interpret=True, **kw)
    return [np.asarray(x) for x in out]


def assert_close(got, ref, tol):
    errs = {n: rel_err(g, r) for n, g, r in zip(NAMES, got, ref)}
    assert all(np.all(np.isfinite(g)) for g in got), errs
    assert max(errs.values()) < tol, errs


@pytest.mark.parametrize("shape, block_v, per_head", sweep([
    ((2, 37, 2, 16, 32), 16, False),  # L not a multiple of 16, two heads, d_v = 2 block_v
    ((1, 16, 1, 32, 16), None, True),  # one chunk exactly, one gate per head
    ((1, 50, 3, 16, 64), 32, False)], fast=(0, 1)))
def test_matches_autodiff(rng, shape, block_v, per_head):
    args = inputs(rng, *shape, per_head=per_head)
    ref = autodiff(*args)
    with jax.enable_x64(True):
        assert_close(run(args, np.float64, block_v=block_v), ref, 1e-12)
    f32 = [np.asarray(x, np.float32) for x in args]  # the same inputs, rounded, for both
    assert_close(run(f32, np.float32, block_v=block_v), autodiff(*f32), 2e-6)


@pytest.mark.parametrize("segments, stride", [(2, 1), (3, 1), (1, 3), (2, 4)])
def test_time_segments_and_state_stride(rng, segments, stride):
    """Segments walked by separate programs, the cotangent entering each from the summaries of
    the later ones (3 segments of 2 chunks for 50 steps: a whole segment of padding steps);
    states saved every ``stride`` chunks, the others recomputed (3 does not divide 4 chunks)."""
    args = inputs(rng, 1, 50, 2, 16, 32)
    with jax.enable_x64(True):
        got = run(args, np.float64, block_v=16, segments=segments, state_stride=stride)
    assert_close(got, loop_vjp(*args)[1:], 1e-12)


def test_zero_h0_and_no_final_cotangent(rng):
    q, k, v, a, _, dy, _ = inputs(rng, 1, 21, 2, 16, 16)
    z = np.zeros((1, 2, 16, 16))
    got = mb.gate_loop_mh_bwd_pallas(*(np.float32(x) for x in (q, k, v, a)), None, np.float32(dy),
                                     interpret=True)
    assert_close([np.asarray(x) for x in got], loop_vjp(q, k, v, a, z, dy, z)[1:], 2e-6)


def test_loop_reference_is_the_forward(rng):
    """The NumPy loop's forward is the Numba loop's; kernel 1's states are the loop's, with
    and without segments and strides."""
    q, k, v, a, h0, dy, dhL = inputs(rng, 1, 37, 2, 16, 16)
    y_ref, h_ref = gl.gate_loop_reference(q, k, v, a, h0=h0, return_state=True, dtype=np.float64)
    assert rel_err(loop_vjp(q, k, v, a, h0, dy, dhL)[0], y_ref) < 1e-13
    with jax.enable_x64(True):
        hs, hL = ms.chunk_states(k, v, a, h0, block_v=16, interpret=True)
        hs2, _ = ms.chunk_states(k, v, a, h0, block_v=16, interpret=True, stride=2)
        np.testing.assert_array_equal(hs2, hs[:, :, ::2])
        hs3, hL3 = ms.chunk_states(k, v, a, h0, block_v=16, interpret=True, segments=3)  # 1 chunk each
        assert rel_err(hs3, hs) < 1e-13 and rel_err(hL3, h_ref) < 1e-13
        assert rel_err(hL, h_ref) < 1e-13
        for c in range(hs.shape[2]):  # the state entering chunk c: after 16 c steps
            _, h_c = gl.gate_loop_reference(q[:, :16 * c], k[:, :16 * c], v[:, :16 * c], a[:, :16 * c],
                                            h0=h0, return_state=True, dtype=np.float64)
            assert rel_err(hs[:, :, c], h_c) < 1e-13


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 2e-6)])
def test_zero_and_tiny_gates(rng, dtype, tol):
    """``a = 0`` and ``|a| = 1e-30``: finite gradients equal to the loop's, nothing divided."""
    args = list(inputs(rng, 1, 40, 1, 16, 16))
    a = args[3]
    a[0, 5] = 0.0  # a whole step of zeros: h_5 forgets h_4
    a[0, 20, 0, ::2] = 0.0  # some keys only
    a[0, 33, 0, :] = 1e-30 * np.sign(a[0, 33, 0, :])
    a[0, 34, 0, 1::3] = -1e-30
    ref = loop_vjp(*args)[1:]
    with jax.enable_x64(dtype == np.float64):
        got = run(args, dtype, block_v=16)
    assert_close(got, ref, tol)
    da = got[3][0, :, 0]
    assert np.all(da[5] != 0) and np.all(da[33] != 0)  # the gradient at a zero gate is not lost
    # autodiff through gl.chunked agrees there too (it also multiplies only)
    assert_close(got, autodiff(*args), tol)


def test_long_slow_gates(rng):
    """L = 256 with gates in (0.9, 1): memory over 16 chunks, float32 against the float64 loop."""
    args = inputs(rng, 1, 256, 1, 16, 16, mag=(0.9, 1.0))
    args[3][:] = np.abs(args[3])
    assert_close(run(args, np.float32), loop_vjp(*args)[1:], 1e-5)


def test_check_grads_float64(rng):
    """Numerical differences of the forward against the VJP (the Pallas backward), float64."""
    q, k, v, a, h0, _, _ = inputs(rng, 1, 20, 1, 16, 16)
    with jax.enable_x64(True):
        f = lambda *x: mb.gate_loop_mh_fused(*x, interpret=True)
        check_grads(f, tuple(jnp.asarray(x) for x in (q, k, v, a, h0)), order=1, modes=["rev"])


def test_fused_grad_through_the_forward_kernel(rng):
    """float32 through gl.kernels.chunked.gate_loop_mh (interpreter) and the Pallas backward."""
    q, k, v, a, h0, w, W = (np.float32(x) for x in inputs(rng, 1, 19, 2, 16, 16))
    loss = lambda fn: lambda *x: jnp.sum(fn(*x)[0] * w) + jnp.sum(fn(*x)[1] * W)
    got = jax.grad(loss(lambda *x: mb.gate_loop_mh_fused(*x, interpret=True)), argnums=range(5))(q, k, v, a, h0)
    assert_close([np.asarray(g) for g in got], autodiff(q, k, v, a, h0, w, W), 2e-6)


def test_causality_in_reverse_time(rng):
    """A backward is causal in reverse time: the gradients at step s use dy_t for t >= s only.
    A change of dy at step t leaves every gradient at steps s > t bit for bit; so does a NaN."""
    args = [np.float32(x) for x in inputs(rng, 1, 40, 2, 16, 16)]
    base = run(args, np.float32, block_v=16)
    for t in (3, 17, 31):  # inside the first, second and last chunk
        for bad in (1.0, np.nan):
            dy = args[5].copy()
            dy[0, t, 1, 4] += bad
            got = run(args[:5] + [dy, args[6]], np.float32, block_v=16)
            for name, x, x0 in zip(NAMES[:4], got[:4], base[:4]):
                np.testing.assert_array_equal(x[:, t + 1:], x0[:, t + 1:], err_msg=f"{name}, t = {t}")
            if np.isfinite(bad):
                assert not np.array_equal(got[0][:, t], base[0][:, t])  # dq_t = h_t dy_t moves
                assert not np.array_equal(got[3][:, t], base[3][:, t])  # da_t through g_t


def test_bad_input(rng):
    q, k, v, a, h0, dy, dhL = (np.float32(x) for x in inputs(rng, 1, 16, 1, 16, 16))
    call = lambda *x, **kw: mb.gate_loop_mh_bwd_pallas(*x, interpret=True, **kw)
    with pytest.raises(NotImplementedError, match="complex a"):
        call(q, k, v, a.astype(np.complex64), h0, dy)
    with pytest.raises(ValueError, match="block_v"):
        call(q, k, v, a, h0, dy, block_v=8)
    with pytest.raises(ValueError, match="d_k = 8"):
        call(q[..., :8], k[..., :8], v, a[..., :8], h0[:, :, :8], dy)
    with pytest.raises(ValueError, match="dy"):
        call(q, k, v, a, h0, dy[:, :15])
    with pytest.raises(ValueError, match="segments"):
        call(q, k, v, a, h0, dy, segments=2)  # one chunk
    with pytest.raises(ValueError, match="state_stride"):
        call(q, k, v, a, h0, dy, state_stride=0)
    with pytest.raises(ValueError, match="a: expected"):
        call(q, k, v, a[..., :2], h0, dy)
    with jax.enable_x64(True), pytest.raises(ValueError, match="float64 only with interpret"):
        mb.gate_loop_mh_bwd_pallas(q, k, v, a, h0, np.float64(dy))


@pytest.mark.parametrize("block_v, segments, stride", [(16, 1, 1), (64, 2, 2)])
def test_lowers_to_triton_for_cuda(block_v, segments, stride):
    """Both kernels lower to Triton's IR for CUDA on this CPU (``jax.export``): the Pallas-to-
    Triton rules accept every operation. Triton's own compilation (to PTX) is not run here."""
    from jax import export

    x, hh = jax.ShapeDtypeStruct((1, 40, 2, 16), jnp.float32), jax.ShapeDtypeStruct((1, 2, 16, 64), jnp.float32)
    v = jax.ShapeDtypeStruct((1, 40, 2, 64), jnp.float32)
    f = jax.jit(lambda *xs: mb.gate_loop_mh_bwd_pallas(*xs, block_v=block_v, segments=segments,
                                                             state_stride=stride))
    target = "__gpu$xla.gpu.triton"
    e = export.export(f, platforms=["cuda"], disabled_checks=[export.DisabledSafetyCheck.custom_call(target)])(
        x, x, v, x, hh, v, hh)
    # the states kernel and the backward kernel, each with its segments' summaries (if several)
    assert e.mlir_module().count(f"@{target}(") == 2 + 2 * (segments > 1)


@pytest.mark.slow
def test_bench_rows_agree():
    """experiments/mh_bwd_bench.py on a tiny shape: every row's gradients agree (fla absent)."""
    from experiments import mh_bwd_bench

    rows = mh_bwd_bench.run((1, 32, 1, 16), repeats=1, fla=True, log=lambda *a: None)
    timed = [r for r in rows if "ms" in r]
    assert len(timed) == 5 and all(r["agrees"] for r in timed), rows
    assert all("ms" in r or r["method"].startswith("fla") for r in rows)
