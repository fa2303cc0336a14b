"""The matmul-form Pallas backward (experiments/pallas_mh_bwd_mm.py), in the interpreter.

Ground truths as ``tests/test_experiments_pallas_mh_bwd.py`` (whose helpers are reused): autodiff
through :func:`gl.chunked.gate_loop_chunked` in float64, the float64 NumPy loop of (B1)-(B6), and
``check_grads`` in float64. Tolerances (relative, norm over each gradient): float64 kernel
``1e-12``, float32 kernel ``2e-6`` against float64 autodiff on the same (rounded) inputs.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from conftest import sweep
from experiments import pallas_mh_bwd_mm as mb
from test_experiments_pallas_mh_bwd import NAMES, assert_close, autodiff, inputs, loop_vjp

# kernel research in experiments/, not gl: `make test-all` runs it, `make test` does not
pytestmark = pytest.mark.slow


def run(args, dtype, **kw):
    out = mb.gate_loop_mh_bwd_mm(*(np.asarray(x, dtype) for x in args), interpret=True, **kw)
    return [np.asarray(x) for x in out]


@pytest.mark.parametrize("shape, block_v, per_head, blocks", sweep([
    ((2, 37, 2, 16, 32), 16, False, 4),  # L not a multiple of 16, two heads, d_v = 2 block_v
    ((1, 16, 1, 32, 16), None, True, 2),  # one chunk exactly, one gate per head
    ((1, 50, 3, 16, 64), 32, False, 1),  # one sub-block: all pairs by the step rule
    ((1, 33, 1, 16, 16), 16, False, 8)], fast=(0, 2)))
def test_matches_autodiff(rng, shape, block_v, per_head, blocks):
    args = inputs(rng, *shape, per_head=per_head)
    with jax.enable_x64(True):
        assert_close(run(args, np.float64, block_v=block_v, blocks=blocks), autodiff(*args), 1e-12)
    f32 = [np.asarray(x, np.float32) for x in args]  # the same inputs, rounded, for both
    assert_close(run(f32, np.float32, block_v=block_v, blocks=blocks), autodiff(*f32), 2e-6)


@pytest.mark.parametrize("segments, blocks", [(2, 4), (3, 2)])
def test_time_segments(rng, segments, blocks):
    """Segments walked by separate programs, ``Γ`` entering each from the later ones' summaries
    (3 segments of 2 chunks for 50 steps: a whole segment of padding)."""
    args = inputs(rng, 1, 50, 2, 16, 32)
    with jax.enable_x64(True):
        got = run(args, np.float64, block_v=16, segments=segments, blocks=blocks)
    assert_close(got, loop_vjp(*args)[1:], 1e-12)


@pytest.mark.parametrize("dtype, tol, blocks", [(np.float64, 1e-12, 4), (np.float32, 2e-6, 4), (np.float32, 2e-6, 1)])
def test_zero_and_tiny_gates(rng, dtype, tol, blocks):
    """``a = 0`` and ``|a| = 1e-30``: finite gradients equal to the loop's, nothing divided."""
    args = list(inputs(rng, 1, 40, 1, 16, 16))
    a = args[3]
    a[0, 5] = 0.0  # a whole step of zeros (inside a sub-block)
    a[0, 20, 0, ::2] = 0.0  # some keys only, at a sub-block start
    a[0, 33, 0, :] = 1e-30 * np.sign(a[0, 33, 0, :])
    a[0, 34, 0, 1::3] = -1e-30
    ref = loop_vjp(*args)[1:]
    with jax.enable_x64(dtype == np.float64):
        got = run(args, dtype, block_v=16, blocks=blocks)
    assert_close(got, ref, tol)
    da = got[3][0, :, 0]
    assert np.all(da[5] != 0) and np.all(da[33] != 0)  # the gradient at a zero gate is not lost
    assert_close(got, autodiff(*args), tol)


def test_long_slow_gates(rng):
    """L = 256 with gates in (0.9, 1): memory over 16 chunks, float32 against the float64 loop."""
    args = inputs(rng, 1, 256, 1, 16, 16, mag=(0.9, 1.0))
    args[3][:] = np.abs(args[3])
    assert_close(run(args, np.float32), loop_vjp(*args)[1:], 1e-5)


def test_check_grads_float64(rng):
    """Numerical differences of the forward against the VJP (the matmul-form backward), float64."""
    q, k, v, a, h0, _, _ = inputs(rng, 1, 20, 1, 16, 16)
    with jax.enable_x64(True):
        f = lambda *x: mb.gate_loop_mh_mm(*x, interpret=True)
        check_grads(f, tuple(jnp.asarray(x) for x in (q, k, v, a, h0)), order=1, modes=["rev"])


def test_grad_through_the_forward_kernel(rng):
    """float32 through gl.kernels.chunked.gate_loop_mh (interpreter) and this backward."""
    q, k, v, a, h0, w, W = (np.float32(x) for x in inputs(rng, 1, 19, 2, 16, 16))
    loss = lambda fn: lambda *x: jnp.sum(fn(*x)[0] * w) + jnp.sum(fn(*x)[1] * W)
    got = jax.grad(loss(lambda *x: mb.gate_loop_mh_mm(*x, interpret=True)), argnums=range(5))(q, k, v, a, h0)
    assert_close([np.asarray(g) for g in got], autodiff(q, k, v, a, h0, w, W), 2e-6)


@pytest.mark.parametrize("blocks", [4, 1])
def test_causality_in_reverse_time(rng, blocks):
    """The gradients at step s use dy_t for t >= s only: a change of dy at step t leaves every
    gradient at steps s > t bit for bit (finite changes; a NaN is not tested: products with the
    exact zeros of the masked decay tiles would spread it, as in any matmul form)."""
    args = [np.float32(x) for x in inputs(rng, 1, 40, 2, 16, 16)]
    base = run(args, np.float32, block_v=16, blocks=blocks)
    for t in (3, 17, 31):  # inside the first, second and last chunk
        dy = args[5].copy()
        dy[0, t, 1, 4] += 1.0
        got = run(args[:5] + [dy, args[6]], np.float32, block_v=16, blocks=blocks)
        for name, x, x0 in zip(NAMES[:4], got[:4], base[:4]):
            np.testing.assert_array_equal(x[:, t + 1:], x0[:, t + 1:], err_msg=f"{name}, t = {t}")
        assert not np.array_equal(got[0][:, t], base[0][:, t])  # dq_t = h_t dy_t moves
        assert not np.array_equal(got[3][:, t], base[3][:, t])  # da_t through g_t


def test_bad_input(rng):
    q, k, v, a, h0, dy, dhL = (np.float32(x) for x in inputs(rng, 1, 16, 1, 16, 16))
    call = lambda *x, **kw: mb.gate_loop_mh_bwd_mm(*x, interpret=True, **kw)
    with pytest.raises(NotImplementedError, match="complex a"):
        call(q, k, v, a.astype(np.complex64), h0, dy)
    with pytest.raises(NotImplementedError, match="complex a"):
        mb.gate_loop_mh_mm(q, k, v, a.astype(np.complex64), h0, interpret=True)
    with pytest.raises(ValueError, match="block_v"):
        call(q, k, v, a, h0, dy, block_v=8)
    with pytest.raises(ValueError, match="d_k = 8"):
        call(q[..., :8], k[..., :8], v, a[..., :8], h0[:, :, :8], dy)
    with pytest.raises(ValueError, match="blocks"):
        call(q, k, v, a, h0, dy, blocks=3)
    with pytest.raises(ValueError, match="precision"):
        call(q, k, v, a, h0, dy, precision="f16x3")
    with pytest.raises(ValueError, match="dy"):
        call(q, k, v, a, h0, dy[:, :15])
    with jax.enable_x64(True), pytest.raises(ValueError, match="float64 only with interpret"):
        mb.gate_loop_mh_bwd_mm(q, k, v, a, h0, np.float64(dy))


@pytest.mark.parametrize("block_v, segments, blocks, precision", [
    (16, 1, 4, "fp32"), (64, 2, 2, "tf32x3"), (16, 1, 1, "fp32"), (32, 1, 8, "bf16x3")])
def test_lowers_to_triton_for_cuda(block_v, segments, blocks, precision):
    """All kernels lower to Triton's IR for CUDA on this CPU (``jax.export``). Triton's own
    compilation (to PTX) is not run here."""
    from jax import export

    x, hh = jax.ShapeDtypeStruct((1, 40, 2, 16), jnp.float32), jax.ShapeDtypeStruct((1, 2, 16, 64), jnp.float32)
    v = jax.ShapeDtypeStruct((1, 40, 2, 64), jnp.float32)
    f = jax.jit(lambda *xs: mb.gate_loop_mh_bwd_mm(*xs, block_v=block_v, segments=segments, blocks=blocks,
                                                   precision=precision))
    target = "__gpu$xla.gpu.triton"
    e = export.export(f, platforms=["cuda"], disabled_checks=[export.DisabledSafetyCheck.custom_call(target)])(
        x, x, v, x, hh, v, hh)
    # the states kernel and the backward kernel, each with its segments' summaries (if several)
    assert e.mlir_module().count(f"@{target}(") == 2 + 2 * (segments > 1)


def test_bench_flag_rows_agree(tmp_path, capsys):
    """``experiments/mh_bwd_bench.py --mm-bwd`` on a tiny shape (CPU: the interpreter): the flag
    parses, and every row's gradients agree with gate_loop_mh's before timing."""
    import json

    from experiments import mh_bwd_bench

    out = tmp_path / "rows.json"
    mh_bwd_bench.main(["--mm-bwd", "--shape", "1,32,1,16", "--repeats", "1", "--json", str(out)])
    rows = json.loads(out.read_text())["rows"]
    names = {r["method"] for r in rows}
    assert {"bwd xla", "fwd+bwd gate_loop_mh_mm", "bwd pallas mm", "bwd pallas mm, tf32x3",
            "bwd pallas mm, blocks 2, tf32x3",
            "bwd pallas per-step, num_warps 8"} <= names, names
    assert all(r["agrees"] for r in rows), rows
    assert "DISAGREES" not in capsys.readouterr().out


def test_bench_once_is_the_kernels_dq(capsys):
    """``--once BLOCKS,PRECISION`` (for a profiler) makes one call of the matmul-form backward:
    the max |dq| it prints is the one autodiff through gl.chunked gives."""
    import jax.numpy as jnp
    import numpy as np

    from experiments import mh_bwd_bench

    shape = (1, 32, 1, 16)
    mh_bwd_bench.main(["--once", "2,tf32x3", "--shape", ",".join(map(str, shape))])
    printed = float(capsys.readouterr().out.rsplit("=", 1)[1])
    x = tuple(jnp.asarray(h) for h in mh_bwd_bench.host_inputs(shape))
    f, args = mh_bwd_bench.gl_methods(*x, True, False)["bwd xla"]
    want = float(np.abs(np.asarray(f(*args)[0])).max())
    assert abs(printed - want) <= 1e-3 * want, (printed, want)
