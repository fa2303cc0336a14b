"""The Pallas SISO kernels, run by the Pallas interpreter on the CPU, against the Numba loop.

Tolerances (relative, ‖x − ref‖/‖ref‖): 1e-5 for values in float32 against the complex128 loop;
1e-5 for gradients against autodiff through ``gl.gate_loop(mode="recurrent")`` in float32.
"""
from __future__ import annotations

import numpy as np
import jax
import jax.numpy as jnp
import pytest

import gl
from gl import gate_loop_reference
from gl.kernels import siso_scan
from conftest import sweep


def siso(rng, B, L, D, mag=(0.8, 1.0)):
    q, k, v = (rng.standard_normal((B, L, D)).astype(np.float32) for _ in range(3))
    a = rng.uniform(*mag, (B, L, D)) * np.exp(1j * rng.uniform(-np.pi, np.pi, (B, L, D)))
    h0 = (rng.standard_normal((B, D)) + 1j * rng.standard_normal((B, D))).astype(np.complex64)
    return q, k, v, a.astype(np.complex64), h0


def reference(q, k, v, a, h0=None):
    e = lambda x: x[..., None]
    y, h = gate_loop_reference(e(q), e(k), e(v), e(a), h0=None if h0 is None else h0[..., None, None],
                               return_state=True, dtype=np.complex128)
    return y[..., 0].real, h[..., 0, 0]


def rel(x, ref):
    return np.linalg.norm(np.asarray(x) - ref) / np.linalg.norm(ref)


# Tile options for the interpreter tests: one pass; many channel blocks and an odd number of
# segments without prefetch; a block wider than D with segments. L and D are never multiples
# of the tiles, so the masks (padding in interpret mode) are exercised.
TILES = [
    dict(block_d=16, chunk=4, segments=1, prefetch=True),
    dict(block_d=8, chunk=2, segments=5, prefetch=False),
    dict(block_d=32, chunk=2, segments=4, prefetch=True),
]


@pytest.mark.parametrize("cfg", sweep(TILES, fast=(1,)))
def test_matches_reference(rng, cfg):
    q, k, v, a, h0 = siso(rng, 2, 37, 21)
    y_ref, h_ref = reference(q, k, v, a, h0)
    y, h = siso_scan.gate_loop_siso(q, k, v, a, h0, interpret=True, **cfg)
    assert y.shape == q.shape and y.dtype == jnp.float32 and h.shape == (2, 21)
    assert rel(y, y_ref) < 1e-5, rel(y, y_ref)  # float32 accumulation over 37 steps
    assert rel(h, h_ref) < 1e-5, rel(h, h_ref)


@pytest.mark.parametrize("masked", sweep([False, True]))
@pytest.mark.parametrize("segments", sweep([1, 3], fast=(1,)))
def test_exact_tiles_without_masks(rng, segments, masked):
    """Where the tiles cover L and D exactly the forward kernels run without masks (the default)."""
    q, k, v, a, h0 = siso(rng, 2, 48, 32)
    y_ref, h_ref = reference(q, k, v, a, h0)
    y, h = siso_scan.gate_loop_siso(q, k, v, a, h0, interpret=True, block_d=16, chunk=4, segments=segments,
                                      masked=masked)
    assert rel(y, y_ref) < 1e-5 and rel(h, h_ref) < 1e-5, (rel(y, y_ref), rel(h, h_ref))


@pytest.mark.parametrize("cfg", sweep(TILES))
def test_complex_y_and_real_a(rng, cfg):
    """``complex_y`` writes ``Im(q h)`` too; a real ``a`` skips the imaginary plane."""
    q, k, v, a, h0 = siso(rng, 2, 29, 13)
    e = lambda x: x[..., None]
    y_ref, h_ref = gate_loop_reference(e(q), e(k), e(v), e(a), h0=h0[..., None, None], return_state=True,
                                       dtype=np.complex128)
    y, h = siso_scan.gate_loop_siso(q, k, v, a, h0, interpret=True, complex_y=True, **cfg)
    assert y.dtype == jnp.complex64
    assert rel(y, y_ref[..., 0]) < 1e-5 and rel(h, h_ref[..., 0, 0]) < 1e-5
    ar = a.real * np.sign(rng.standard_normal(a.shape)).astype(np.float32)  # real, both signs
    y_ref, h_ref = gate_loop_reference(e(q), e(k), e(v), e(ar), h0=h0.real[..., None, None], return_state=True,
                                       dtype=np.float64)
    y, h = siso_scan.gate_loop_siso(q, k, v, ar, h0.real, interpret=True, **cfg)
    assert y.dtype == jnp.float32
    assert rel(y, y_ref[..., 0]) < 1e-5 and rel(h, h_ref[..., 0, 0]) < 1e-5


def _loss(f, w, wh):
    """A scalar that uses Re and Im of ``y`` and of ``h_L``, so every cotangent plane is non-zero."""
    def scalar(q, k, v, ar, ai, h0r, h0i):
        y, hL = f(q, k, v, ar, ai, jax.lax.complex(h0r, h0i))
        return (jnp.sum(jnp.real(y) * w) + 0.5 * jnp.sum(jnp.imag(y) * w ** 2)
                + jnp.sum(jnp.real(hL) * wh) - jnp.sum(jnp.imag(hL) * wh))
    return scalar


@pytest.mark.parametrize("cfg", sweep(TILES, fast=(2,)))
def test_gradients_match_autodiff(rng, cfg):
    """The reverse-scan kernels (segments folded backwards, states recomputed per chunk from the
    forward's checkpoints) against autodiff through the lax.scan recurrence."""
    q, k, v, a, h0 = siso(rng, 2, 37, 21, mag=(0.6, 1.0))
    w = rng.standard_normal(q.shape).astype(np.float32)
    wh = rng.standard_normal(h0.shape).astype(np.float32)
    e = lambda x: x[..., None]
    kernel = lambda q, k, v, ar, ai, h0: siso_scan.gate_loop_siso(q, k, v, (ar, ai), h0, interpret=True,
                                                                     complex_y=True, **cfg)

    def scan(q, k, v, ar, ai, h0):
        y, h = gl.gate_loop(e(q), e(k), e(v), e(jax.lax.complex(ar, ai)), h0=h0[..., None, None],
                            mode="recurrent", return_state=True)
        return y[..., 0], h[..., 0, 0]

    args = (q, k, v, a.real, a.imag, h0.real, h0.imag)
    g = jax.jit(jax.grad(_loss(kernel, w, wh), argnums=range(7)))(*args)
    g_ref = jax.jit(jax.grad(_loss(scan, w, wh), argnums=range(7)))(*args)
    for name, x, x_ref in zip(["q", "k", "v", "a_re", "a_im", "h0_re", "h0_im"], g, g_ref):
        assert x.shape == x_ref.shape and x.dtype == x_ref.dtype, name
        assert rel(x, np.asarray(x_ref)) < 1e-5, (name, rel(x, np.asarray(x_ref)))


def test_gradients_real_y_real_a(rng):
    """Real ``a`` and ``y = Re(q h)`` only: the kernels skip the imaginary planes of ``a`` and ``ȳ``."""
    q, k, v, a, h0 = siso(rng, 1, 30, 9)
    ar = a.real
    w = rng.standard_normal(q.shape).astype(np.float32)
    f = lambda q, k, v, ar: jnp.sum(siso_scan.gate_loop_siso(q, k, v, ar, interpret=True, block_d=8, chunk=4,
                                                               segments=2)[0] * w)
    e = lambda x: x[..., None]
    g_ref_f = lambda q, k, v, ar: jnp.sum(gl.gate_loop(e(q), e(k), e(v), e(ar), mode="recurrent")[..., 0] * w)
    g = jax.grad(f, argnums=range(4))(q, k, v, ar)
    g_ref = jax.grad(g_ref_f, argnums=range(4))(q, k, v, ar)
    for x, x_ref in zip(g, g_ref):
        assert rel(x, np.asarray(x_ref)) < 1e-5


def test_head_layout_planar_and_no_h0(rng):
    """``(..., L, H, 1)`` inputs, ``a`` as ``(a_re, a_im)``, zero initial state."""
    q, k, v, a, _ = siso(rng, 3, 20, 8)
    y_ref, h_ref = reference(q, k, v, a)
    e = lambda x: x[..., None]
    y, h = siso_scan.gate_loop_siso(e(q), e(k), e(v), (e(a.real), e(a.imag)), interpret=True,
                                      block_d=8, chunk=4, segments=2, layout="heads")
    assert y.shape == (3, 20, 8, 1) and h.shape == (3, 8, 1, 1)
    assert rel(y[..., 0], y_ref) < 1e-5
    assert rel(h[..., 0, 0], h_ref) < 1e-5


def test_one_channel_is_not_read_as_heads(rng):
    """``(B, L, 1)`` is one channel or ``(L, H, 1)`` heads: the layout must be named. Once it
    silently took the head layout and scanned over the batch axis (error 3.2 against the loop,
    ``h`` of shape ``(L, 1, 1)``). With ``layout="channels"`` it matches the loop (1e-5)."""
    q, k, v, a, h0 = siso(rng, 2, 8, 1)
    with pytest.raises(ValueError, match=r"q: shape \(2, 8, 1\) .*layout='channels'.*layout='heads'"):
        siso_scan.gate_loop_siso(q, k, v, a, interpret=True)
    y, h = siso_scan.gate_loop_siso(q, k, v, a, h0, interpret=True, layout="channels")
    y_ref, h_ref = reference(q, k, v, a, h0)
    assert y.shape == (2, 8, 1) and h.shape == (2, 1)
    assert rel(y, y_ref) < 1e-5 and rel(h, h_ref) < 1e-5
    with pytest.raises(ValueError, match=r"q: expected shape \(\.\.\., L, H, 1\) for layout='heads'"):
        siso_scan.gate_loop_siso(q[..., 0], k[..., 0], v[..., 0], a[..., 0], layout="heads", interpret=True)
    with pytest.raises(ValueError, match="layout: expected None, 'channels' or 'heads', got 'rows'"):
        siso_scan.gate_loop_siso(q, k, v, a, layout="rows", interpret=True)


def test_h0_of_another_shape_with_the_same_size_is_refused(rng):
    """A transposed ``h0`` ``(D, B)`` has the size of ``(B, D)``: it used to be reshaped and give
    a wrong ``y`` (relative error 1.5) without an error."""
    q, k, v, a, h0 = siso(rng, 2, 8, 3)
    with pytest.raises(ValueError, match=r"h0: expected shape \(2, 3\) or \(2, 3, 1, 1\), got \(3, 2\)"):
        siso_scan.gate_loop_siso(q, k, v, a, h0.T, interpret=True)
    y, _ = siso_scan.gate_loop_siso(q, k, v, a, h0[..., None, None], interpret=True)
    assert rel(y, reference(q, k, v, a, h0)[0]) < 1e-5  # (B, D, 1, 1) is the same h0


def test_float64_inputs_are_refused(rng):
    """With x64 on, float64 stays float64; the kernel computes in float32 and returns ``y`` in the
    inputs' dtype, so float64 used to come back as float32 without a word."""
    q, k, v, a, _ = siso(rng, 1, 8, 4)
    with jax.enable_x64(True):
        with pytest.raises(TypeError, match="q: expected float32 or bfloat16 .*got float64; use gl.gate_loop"):
            siso_scan.gate_loop_siso(q.astype(np.float64), k, v, a, interpret=True)


def test_bf16_inputs_fp32_accumulation(rng):
    """bfloat16 inputs (8-bit mantissa): the error is the inputs' rounding, not growing with L."""
    q, k, v, a, _ = siso(rng, 1, 64, 16)
    bf = lambda x: jnp.asarray(x, jnp.bfloat16)
    y, _ = siso_scan.gate_loop_siso(bf(q), bf(k), bf(v), (bf(a.real), bf(a.imag)), interpret=True,
                                      block_d=16, chunk=8, segments=2)
    assert y.dtype == jnp.bfloat16
    err = rel(np.asarray(y, np.float32), reference(q, k, v, a)[0])
    assert 1e-4 < err < 3e-2, err  # above float32 error, within a few bf16 ulps (2^-8 = 3.9e-3)


def test_no_gpu_raises_clear_error(rng):
    if jax.default_backend() == "gpu":
        pytest.skip("runs the kernel on a GPU")
    q, k, v, a, _ = siso(rng, 1, 8, 4)
    with pytest.raises(RuntimeError, match="interpret=True"):
        siso_scan.gate_loop_siso(q, k, v, a)


def test_bad_input(rng):
    q, k, v, a, _ = siso(rng, 1, 8, 4)
    with pytest.raises(ValueError, match="k: expected the shape of q"):
        siso_scan.gate_loop_siso(q, k[:, :4], v, a, interpret=True)
    with pytest.raises(TypeError, match="q: expected a real float"):
        siso_scan.gate_loop_siso(q.astype(np.complex64), k, v, a, interpret=True)
    with pytest.raises(ValueError, match="pair"):
        siso_scan.gate_loop_siso(q, k, v, (a.real,), interpret=True)
    with pytest.raises(ValueError, match="h0: expected"):
        siso_scan.gate_loop_siso(q, k, v, a, np.zeros((1, 5), np.complex64), interpret=True)
    with pytest.raises(ValueError, match="positive integers"):
        siso_scan.gate_loop_siso(q, k, v, a, interpret=True, chunk=0)


def test_default_config_fills_the_gpu():
    """Few channels (B·D = 512) split time into segments; many channels need none; the
    differentiated pass (checkpoints, backward) uses chunks of 8 and splits earlier."""
    assert siso_scan.default_config(8, 65536, 64)["segments"] == 128
    assert siso_scan.default_config(32, 2048, 1024)["segments"] == 1
    assert siso_scan.default_config(16, 4096, 624)["segments"] == 1
    assert siso_scan.default_config(16, 4096, 624, grad=True) == dict(
        backend="triton", block_d=128, chunk=8, segments=4, prefetch=True, num_warps=4, masked=True, stages=1)
    assert not siso_scan.default_config(16, 4096, 640)["masked"]  # no masks where tiles fit (notes)
    assert siso_scan.default_config(32, 2048, 1024)["masked"]
    assert siso_scan.default_config(1, 300, 8)["segments"] == 1  # too short to split (< 2 x 256 steps)
    bf16 = siso_scan.default_config(8, 65536, 64, itemsize=2)  # two channels per thread (notes, item 14)
    assert (bf16["block_d"], bf16["num_warps"], bf16["chunk"]) == (64, 1, 8)


def test_options_share_tile_overrides():
    """Tile options given by the caller hold for the forward and the backward pass."""
    o = dict(siso_scan.options(2, 37, 21, block_d=16, chunk=4, segments=3))
    assert (o["block_d"], o["chunk"], o["segments"]) == (16, 4, 3)
    assert dict(o["grad"])["chunk"] == 4 and dict(o["grad"])["segments"] == 3
    o = dict(siso_scan.options(8, 65536, 64))
    assert dict(o["grad"])["chunk"] == 8 and o["chunk"] == 8
