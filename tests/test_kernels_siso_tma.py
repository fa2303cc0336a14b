"""The TMA forward (:mod:`gl.kernels.siso_tma`): the Mosaic GPU interpreter on the CPU, the kernel itself
on a Hopper GPU, both against the complex128 Numba loop.

Tolerances (relative, ‖x − ref‖/‖ref‖): 1e-5 for float32 inputs (float32 accumulation over at
most 256 steps); bfloat16 inputs between 1e-4 and 3e-2 (their rounding, 2^-8 = 3.9e-3 per input).
"""
from __future__ import annotations

import numpy as np
import jax
import jax.numpy as jnp
import pytest

from gl import gate_loop_reference
from gl.kernels import siso_scan
from gl.kernels import siso_tma
from conftest import sweep
from tests.test_kernels_siso_scan import reference, rel, siso

ON_HOPPER = siso_tma.available()
RUN = dict(interpret=not ON_HOPPER, backend="tma")  # the interpreter on a CPU, the kernel on a Hopper GPU


@pytest.mark.parametrize("chunk, stages", sweep([(8, 2), (4, 3)]))
def test_matches_reference(rng, chunk, stages):
    """Complex ``a``, an initial state, two programs along D, 4-8 tiles along L per program."""
    q, k, v, a, h0 = siso(rng, 2, 32, 256)
    y_ref, h_ref = reference(q, k, v, a, h0)
    y, h = siso_scan.gate_loop_siso(q, k, v, a, h0, chunk=chunk, stages=stages, **RUN)
    assert y.shape == q.shape and y.dtype == jnp.float32 and h.shape == (2, 256)
    assert rel(y, y_ref) < 1e-5, rel(y, y_ref)
    assert rel(h, h_ref) < 1e-5, rel(h, h_ref)


def test_complex_y_real_a_planar(rng):
    """``complex_y`` writes ``Im(q h)`` too; a real ``a`` (no imaginary plane) keeps ``h0``'s phase."""
    q, k, v, a, h0 = siso(rng, 1, 16, 128)
    y, h = siso_scan.gate_loop_siso(q, k, v, (a.real, a.imag), h0, complex_y=True, chunk=8, stages=2, **RUN)
    e = lambda x: x[..., None]
    y_ref, h_ref = gate_loop_reference(e(q), e(k), e(v), e(a), h0=h0[..., None, None], return_state=True,
                                       dtype=np.complex128)
    assert y.dtype == jnp.complex64 and rel(y, y_ref[..., 0]) < 1e-5 and rel(h, h_ref[..., 0, 0]) < 1e-5
    ar = np.abs(a).astype(np.float32)  # a real, positive a
    y, h = siso_scan.gate_loop_siso(q, k, v, ar, h0, complex_y=True, chunk=8, stages=2, **RUN)
    y_ref, h_ref = gate_loop_reference(e(q), e(k), e(v), e(ar.astype(np.complex64)), h0=h0[..., None, None],
                                       return_state=True, dtype=np.complex128)
    assert rel(y, y_ref[..., 0]) < 1e-5 and rel(h, h_ref[..., 0, 0]) < 1e-5


def test_bf16_inputs_fp32_accumulation(rng):
    q, k, v, a, _ = siso(rng, 1, 64, 128)
    bf = lambda x: jnp.asarray(x, jnp.bfloat16)
    y, _ = siso_scan.gate_loop_siso(bf(q), bf(k), bf(v), (bf(a.real), bf(a.imag)), chunk=16, stages=2, **RUN)
    assert y.dtype == jnp.bfloat16
    err = rel(np.asarray(y, np.float32), reference(q, k, v, a)[0])
    assert 1e-4 < err < 3e-2, err


def test_gradients_run_the_triton_backward(rng):
    """Under ``jax.grad`` the forward with checkpoints and the backward run Triton; the gradients
    equal those of the Triton default (same kernels), and the TMA primal equals the Triton one."""
    q, k, v, a, h0 = siso(rng, 1, 16, 128)
    w = rng.standard_normal(q.shape).astype(np.float32)
    interp = not ON_HOPPER

    def loss(backend):
        return lambda q, k, v: jnp.sum(w * siso_scan.gate_loop_siso(q, k, v, a, h0, interpret=interp,
                                                                      backend=backend, chunk=8)[0])

    g_tma = jax.grad(loss("tma"), argnums=(0, 1, 2))(q, k, v)
    g_tri = jax.grad(loss("triton"), argnums=(0, 1, 2))(q, k, v)
    for x, y in zip(g_tma, g_tri):
        assert rel(x, np.asarray(y)) < 1e-6
    assert abs(float(loss("tma")(q, k, v)) - float(loss("triton")(q, k, v))) < 1e-3


def test_default_config_picks_tma_where_it_runs():
    tma = lambda *s, **kw: siso_scan.default_config(*s, tma=True, **kw)
    for itemsize in (4, 2):
        c = tma(16, 4096, 640, itemsize=itemsize)
        assert c["backend"] == "tma" and (c["chunk"], c["stages"]) == siso_scan.TMA_TILES[itemsize == 2]
        assert c["block_d"] == siso_tma.BLOCK_D and c["segments"] == 1
    assert tma(8, 65536, 64)["backend"] == "triton"  # segments: two passes stay Triton
    assert tma(16, 4096, 624)["backend"] == "triton"  # D not a multiple of 128
    assert tma(16, 4096, 640, grad=True)["backend"] == "triton"  # checkpoints for the backward
    assert siso_scan.default_config(16, 4096, 640)["backend"] == "triton"  # not a Hopper GPU


def test_triton_options_select_triton():
    """On a Hopper GPU, callers that give Triton tile options keep getting the Triton kernels."""
    opts = lambda **kw: dict(siso_scan.options(16, 4096, 640, tma=True, **kw))
    assert opts()["backend"] == "tma" and opts(chunk=16)["chunk"] == 16 and opts(chunk=16)["backend"] == "tma"
    for kw in (dict(segments=4), dict(block_d=64), dict(masked=True), dict(num_warps=2), dict(prefetch=False)):
        assert opts(**kw)["backend"] == "triton", kw
    assert opts(segments=4, backend="triton")["segments"] == 4


def test_bad_options(rng):
    with pytest.raises(ValueError, match="backend: expected 'triton' or 'tma', got 'cuda'"):
        siso_scan.options(2, 32, 256, backend="cuda")
    with pytest.raises(ValueError, match="D: expected a multiple of 128, got 21"):
        siso_scan.options(2, 32, 21, backend="tma")
    with pytest.raises(ValueError, match="chunk: expected a positive divisor of L = 30, got 8"):
        siso_scan.options(2, 30, 128, backend="tma", chunk=8)
    with pytest.raises(ValueError, match="expected at most 230400 bytes of shared memory, got 393216"):
        siso_scan.options(2, 64, 128, backend="tma", chunk=32, stages=4)  # 6 float32 planes
    assert siso_scan.options(2, 64, 128, itemsize=2, backend="tma", chunk=32, stages=4)  # bfloat16: half
    with pytest.raises(ValueError, match="segments, block_d: expected 1 and 128, got 2 and 128"):
        siso_scan.options(2, 32, 128, backend="tma", segments=2)
    with pytest.raises(ValueError, match="D: expected a multiple of 128"):
        siso_tma.forward(*(jnp.zeros((1, 8, 64)),) * 5, *(jnp.zeros((1, 64)),) * 2, ctype="float32", chunk=8,
                           stages=2, interpret=True)
    if not ON_HOPPER:
        q, k, v, a, _ = siso(rng, 1, 8, 128)
        with pytest.raises(RuntimeError, match="backend='tma' needs a Hopper GPU"):
            siso_scan.gate_loop_siso(q, k, v, a, backend="tma")
