"""mode="chunked" (gl/chunked.py) against the Numba loop in complex128.

Tolerances: relative error ‖y − y_ref‖/‖y_ref‖ (and the same for the final state).
float32/complex64: 2e-5 up to L = 1000, 1e-4 at L = 10 000 (the same as the other modes);
float64/complex128: 1e-11. The score tree (:func:`gl.chunked.block_scores`) against the
explicit relative decay in float64: 1e-12. Gradients: 1e-4 relative against autodiff through
the recurrent mode (float32); ``check_grads`` (float64 finite differences) at 1e-5.
Causality: outputs before a changed step are equal to 1e-6 (on a CPU they are bit-equal).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import gl
from gl import chunked
from conftest import examples, random_inputs, rel_err


def reference(q, k, v, a, h0=None):
    return gl.gate_loop_reference(q, k, v, a, h0=h0, return_state=True, dtype=np.complex128)


# d_k d_v > 256 gets the default chunk of 64 (three levels of the score tree); smaller ones 16.
DIMS = [(1, 1), (2, 3), (4, 4), (8, 2), (16, 20)]
MAGS = [(0.0, 1e-30), (0.0, 0.05), (0.3, 0.9), (0.95, 1.0), (0.999, 1.0)]


@settings(max_examples=examples(20))  # each new shape is a new XLA compile (0.1-2 s)
@given(
    seed=st.integers(0, 2**31 - 1),
    batch=st.sampled_from([(), (2,), (2, 1)]),
    L=st.sampled_from([1, 2, 3, 7, 16, 17, 63, 65, 300]),
    H=st.sampled_from([1, 3]),
    dims=st.sampled_from(DIMS),
    mag=st.sampled_from(MAGS),
    zeros=st.booleans(),
    complex_a=st.booleans(),
    with_h0=st.booleans(),
    chunk_size=st.sampled_from([None, 1, 4, 16, 64, 48]),
    x64=st.booleans(),
)
def test_matches_reference(seed, batch, L, H, dims, mag, zeros, complex_a, with_h0, chunk_size,
                           x64):
    """Shapes (L = 1, L below a block, L not a multiple of the chunk), dtypes, |a| from
    exact zeros through 1e-30 to (0.999, 1), real a of either sign, h0."""
    rng = np.random.default_rng(seed)
    d_k, d_v = dims
    args = random_inputs(rng, batch, L, H, d_k, d_v, mag=mag, complex_a=complex_a, h0=with_h0,
                         dtype=np.float64 if x64 else np.float32)
    if zeros:  # exact zeros at random steps and channels (resets of the state)
        args[3][rng.random(args[3].shape) < 0.1] = 0
    y_ref, h_ref = reference(*args[:4], args[4] if with_h0 else None)
    with jax.enable_x64(x64):
        q, k, v, a = (jnp.asarray(x) for x in args[:4])
        h0 = jnp.asarray(args[4]) if with_h0 else None
        y, h = chunked.gate_loop_chunked(q, k, v, a, h0, chunk_size=chunk_size)
        assert y.shape == batch + (L, H, d_v) and h.shape == batch + (H, d_k, d_v)
        assert jnp.iscomplexobj(y) == complex_a and jnp.iscomplexobj(h) == complex_a
        assert (y.dtype == (jnp.complex128 if complex_a else jnp.float64)) == x64
    tol = 1e-11 if x64 else 2e-5
    assert rel_err(y, y_ref) < tol, rel_err(y, y_ref)
    assert rel_err(h, h_ref) < tol, rel_err(h, h_ref)


def _explicit_scores(q, k, a):
    """``S[n, m] = sum_k q_n D_k(n, m) k_m`` with ``D`` by a plain double loop (complex128)."""
    C = q.shape[-2]
    S = np.zeros(q.shape[:-2] + (C, C), np.complex128)
    for n in range(C):
        D = np.ones(q.shape[:-2] + q.shape[-1:], np.complex128)  # D(n, n)
        for m in range(n, -1, -1):
            S[..., n, m] = np.sum(q[..., n, :] * D * k[..., m, :], axis=-1)
            D = D * a[..., m, :]  # D(n, m-1) = D(n, m) a_m
    return S


@pytest.mark.parametrize("C, radix", [(64, 4), (64, 2), (64, 8), (48, 4), (27, 3), (7, 4), (1, 4)])
def test_block_scores_match_explicit_decay(rng, C, radix):
    """The score tree equals the explicit relative decay, with zeros and 1e-30 among the a."""
    q, k, _, a = random_inputs(rng, (3,), C, 1, 5, 1, mag=(0.3, 1.0), dtype=np.float64)
    a[0, ::5] = 0
    a[1, ::3] *= 1e-30
    q, k, a = (x[:, :, 0] for x in (q, k, a))  # (3, C, d_k): the tree takes (..., b, d_k)
    with jax.enable_x64(True):
        tree = jax.jit(chunked.block_scores, static_argnums=3)
        S, qP, kR, T = tree(*(jnp.asarray(x) for x in (q, k, a)), chunked._radices(C, radix))
    P, R = np.cumprod(a, axis=-2), np.cumprod(a[..., ::-1, :], axis=-2)[..., ::-1, :]
    R = np.concatenate([R[..., 1:, :], np.ones_like(R[..., :1, :])], axis=-2)  # exclusive
    np.testing.assert_allclose(S, _explicit_scores(q, k, a), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(qP, q * P, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(kR, k * R, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(T, P[..., -1, :], rtol=1e-12, atol=1e-300)


def test_chunk_length_and_radices():
    assert chunked.chunk_length(4096, 64, 64) == 64 and chunked.chunk_length(4096, 32, 32) == 64
    assert chunked.chunk_length(4096, 1, 1) == 16 and chunked.chunk_length(4096, 16, 16) == 16
    assert chunked.chunk_length(7, 64, 64) == 16 and chunked.chunk_length(1, 64, 64) == 1
    assert chunked.chunk_length(10, 1, 1, chunk_size=64) == 16  # explicit, cut to the sequence
    assert chunked.chunk_length(5000, 1, 1, chunk_size=64) == 64  # explicit: as given
    assert chunked._radices(64) == (4, 4, 4) and chunked._radices(48) == (4, 4, 3)
    assert chunked._radices(64, 2) == (2,) * 6 and chunked._radices(1) == ()
    with pytest.raises(ValueError, match="chunk_size"):
        chunked.gate_loop_chunked(*random_inputs(np.random.default_rng(0), (), 200, 1, 2, 2),
                                  chunk_size=97)


@pytest.mark.parametrize("bad", [0, -2, 2.5, True, "16"])
def test_chunk_size_not_a_positive_int_is_refused(bad):
    """``chunk_size`` is "used as given": 0 and -2 used to become 1 and 2.5 became 2, silently."""
    with pytest.raises(ValueError, match=r"chunk_size: expected None or an int >= 1 \(steps per "
                                         rf"chunk\), got {bad!r}"):
        chunked.gate_loop_chunked(*random_inputs(np.random.default_rng(0), (), 8, 1, 2, 2),
                                  chunk_size=bad)
    assert chunked.chunk_length(5000, 1, 1, chunk_size=np.int64(16)) == 16  # NumPy ints are ints


def test_gate_loop_mode(rng):
    q, k, v, a, h0 = random_inputs(rng, (2,), 50, 2, 4, 3, h0=True)
    y_ref, h_ref = reference(q, k, v, a, h0)
    y, h = gl.gate_loop(q, k, v, a, mode="chunked", h0=h0, return_state=True)
    assert y.dtype == jnp.complex64 and h.dtype == jnp.complex64
    assert rel_err(y, y_ref) < 2e-5 and rel_err(h, h_ref) < 2e-5


@pytest.mark.parametrize("complex_a", [True, False])
@pytest.mark.parametrize("dims", [(2, 2), (16, 20)])
def test_long_sequence(rng, complex_a, dims):
    """L = 10 001 (not a multiple of the chunk) with |a| close to 1: long memory, no overflow.
    (16, 20) runs chunks of 64, (2, 2) chunks of 16."""
    q, k, v, a = random_inputs(rng, (), 10_001, 1, *dims, mag=(0.999, 1.0), complex_a=complex_a)
    y_ref, h_ref = reference(q, k, v, a)
    y, h = gl.gate_loop(q, k, v, a, mode="chunked", return_state=True)
    assert np.all(np.isfinite(np.asarray(y)))
    assert rel_err(y, y_ref) < 1e-4 and rel_err(h, h_ref) < 1e-4


@pytest.mark.parametrize("chunk_size", [None, 64])
def test_tiny_and_zero_transitions(rng, chunk_size):
    """|a| ≤ 1e-30 and exact zeros, at block and chunk boundaries: 1/Π would overflow."""
    q, k, v, a = random_inputs(rng, (1,), 140, 2, 3, 2, mag=(0.0, 1e-30))
    a[:, [0, 7, 15, 16, 63, 64, 65, 139]] = 0
    y_ref, h_ref = reference(q, k, v, a)
    y, h = chunked.gate_loop_chunked(*(jnp.asarray(x) for x in (q, k, v, a)), chunk_size=chunk_size)
    assert np.all(np.isfinite(np.asarray(y))) and rel_err(y, y_ref) < 2e-5
    assert rel_err(h, h_ref) < 2e-5


def test_zeros_reset_the_state(rng):
    """a = 0 at step t forgets everything before t: the output from t on ignores earlier inputs."""
    q, k, v, a = random_inputs(rng, (1,), 130, 2, 16, 20, mag=(0.9, 1.0))
    a[:, 70] = 0
    y = np.asarray(gl.gate_loop(q, k, v, a, mode="chunked"))
    v2 = v.copy()
    v2[:, :70] = rng.standard_normal(v2[:, :70].shape)
    y2 = np.asarray(gl.gate_loop(q, k, v2, a, mode="chunked"))
    np.testing.assert_array_equal(y2[:, 70:], y[:, 70:])


def test_real_negative_a(rng):
    """Real a < 0 everywhere: the signs alternate through every product of the tree."""
    q, k, v, a = random_inputs(rng, (2,), 300, 2, 16, 20, mag=(0.95, 1.0), complex_a=False)
    a = -np.abs(a)
    y_ref, h_ref = reference(q, k, v, a)
    y, h = gl.gate_loop(q, k, v, a, mode="chunked", return_state=True)
    assert y.dtype == jnp.float32 and rel_err(y, y_ref) < 2e-5 and rel_err(h, h_ref) < 2e-5


def test_real_a_complex_h0_called_directly(rng):
    """gate_loop_chunked without ``dtype``: a real ``a`` with a complex ``h0`` keeps a complex
    state (it once cast ``h0`` to the real dtype of ``q, k, v, a``, dropping ``Im h0``)."""
    q, k, v, a = random_inputs(rng, (2,), 40, 2, 4, 4, complex_a=False)
    h0 = (rng.standard_normal((2, 2, 4, 4)) + 1j * rng.standard_normal((2, 2, 4, 4))).astype(np.complex64)
    y_ref, h_ref = reference(q, k, v, a, h0)
    y, h = chunked.gate_loop_chunked(q, k, v, a, h0)
    assert y.dtype == jnp.complex64 and h.dtype == jnp.complex64
    assert rel_err(y, y_ref) < 2e-5 and rel_err(h, h_ref) < 2e-5


def test_float64(rng):
    with jax.enable_x64(True):
        q, k, v, a, h0 = random_inputs(rng, (2,), 150, 2, 16, 20, dtype=np.float64, h0=True)
        y_ref, h_ref = reference(q, k, v, a, h0)
        y, h = gl.gate_loop(q, k, v, a, mode="chunked", h0=h0, return_state=True)
        assert y.dtype == jnp.complex128
        assert rel_err(y, y_ref) < 1e-11 and rel_err(h, h_ref) < 1e-11


def test_bfloat16_computes_in_float32(rng):
    """bfloat16 q, k, v, a: float32 result equal to the reference on the bf16-rounded inputs."""
    q, k, v, a = random_inputs(rng, (2,), 30, 2, 4, 4, complex_a=False)
    qb, kb, vb, ab = (jnp.asarray(x, jnp.bfloat16) for x in (q, k, v, a))
    y = gl.gate_loop(qb, kb, vb, ab, mode="chunked")
    assert y.dtype == jnp.float32
    ref = gl.gate_loop_reference(*(np.asarray(x, np.float32) for x in (qb, kb, vb, ab)))
    assert rel_err(y, ref) < 2e-5


def test_streaming_in_two_halves(rng):
    q, k, v, a = random_inputs(rng, (2,), 140, 2, 16, 20)
    y_full, h_full = gl.gate_loop(q, k, v, a, mode="chunked", return_state=True)
    m = 67
    y1, h1 = gl.gate_loop(q[:, :m], k[:, :m], v[:, :m], a[:, :m], mode="chunked", return_state=True)
    y2, h2 = gl.gate_loop(q[:, m:], k[:, m:], v[:, m:], a[:, m:], mode="chunked", h0=h1,
                          return_state=True)
    assert rel_err(np.concatenate([y1, y2], axis=1), y_full) < 1e-5
    assert rel_err(h2, h_full) < 1e-5


@pytest.mark.parametrize("dims", [(2, 2), (16, 20)])
def test_causality(rng, dims):
    """Changing step m changes no output before m, also across block and chunk boundaries."""
    L = 200
    q, k, v, a = random_inputs(rng, (1,), L, 2, *dims)
    y = np.asarray(gl.gate_loop(q, k, v, a, mode="chunked"))
    for m in [0, 3, 4, 15, 16, 17, 63, 64, 65, 130, L - 1]:
        q2, k2, v2, a2 = (x.copy() for x in (q, k, v, a))
        for x in (q2, k2, v2):
            x[:, m] += 3.0
        a2[:, m] *= 0.5
        y2 = np.asarray(gl.gate_loop(q2, k2, v2, a2, mode="chunked"))
        np.testing.assert_allclose(y2[:, :m], y[:, :m], rtol=1e-6, atol=1e-6)
        assert np.abs(y2[:, m:] - y[:, m:]).max() > 1e-3


def _walk_avals(jaxpr):
    """Every value a jaxpr (with its sub-jaxprs: scan bodies, jit calls) defines."""
    for eqn in jaxpr.eqns:
        yield from (v.aval for v in eqn.outvars)
        for p in eqn.params.values():
            for sub in p if isinstance(p, (list, tuple)) else [p]:
                sub = getattr(sub, "jaxpr", sub)
                if hasattr(sub, "eqns"):
                    yield from _walk_avals(sub)


def _largest(f, *args):
    """Elements of the largest intermediate in ``f``'s jaxpr and its compiled temporary bytes."""
    biggest = max(int(np.prod(x.shape)) for x in _walk_avals(jax.make_jaxpr(f)(*args).jaxpr)
                  if hasattr(x, "shape"))
    temp = jax.jit(f).lower(*args).compile().memory_analysis().temp_size_in_bytes
    return biggest, temp


def test_never_a_state_per_step(rng):
    """No intermediate of the forward or backward pass holds a (d_k, d_v) state per step, or a
    (C, C, d_k) decay per chunk: every value in the jaxpr has at most 2 L max(C, d_k, d_v)
    elements per (batch, head), and XLA's temporaries stay below one state per step.

    Here one state per step is L d_k d_v = 524 288 elements per head, the (C, C, d_k) decays
    N C C d_k = 1 048 576, the bound 65 536. The associative scan (mode="parallel") fails
    the same check, which shows it can fail."""
    B, L, H, d = 1, 512, 2, 32
    q, k, v, a = (jnp.asarray(x) for x in random_inputs(rng, (B,), L, H, d, d))
    assert chunked.chunk_length(L, d, d) == 64
    per_step_state = B * H * L * d * d
    bound = 2 * B * H * L * max(64, d)
    fwd = lambda mode: lambda q, k, v, a: gl.gate_loop(q, k, v, a, mode=mode)
    loss = lambda q, k, v, a: jnp.sum(jnp.abs(fwd("chunked")(q, k, v, a)) ** 2)
    for f in (fwd("chunked"), jax.grad(loss, argnums=(0, 1, 2, 3))):
        biggest, temp = _largest(f, q, k, v, a)
        assert biggest <= bound < per_step_state, (biggest, bound)
        assert temp < per_step_state * 8, (temp, per_step_state * 8)  # complex64: 8 bytes
    biggest, temp = _largest(fwd("parallel"), q, k, v, a)
    assert biggest >= per_step_state and temp >= per_step_state * 8


def test_jit_and_vmap(rng):
    q, k, v, a = random_inputs(rng, (3,), 20, 2, 2, 2)
    y = jax.jit(lambda *x: gl.gate_loop(*x, mode="chunked"))(q, k, v, a)
    yv = jax.vmap(lambda *x: gl.gate_loop(*x, mode="chunked"))(q, k, v, a)
    y_ref = reference(q, k, v, a)[0]
    assert rel_err(y, y_ref) < 2e-5 and rel_err(yv, y_ref) < 2e-5


def _loss(mode, chunk_size=None):
    """A real loss of the complex output and final state (jitted: eager autodiff is slow)."""
    def loss(q, k, v, a_re, a_im, h0):
        a = jax.lax.complex(a_re, a_im)
        if chunk_size is not None:
            y, h = chunked.gate_loop_chunked(q, k, v, a, h0, chunk_size=chunk_size)
        else:
            y, h = gl.gate_loop(q, k, v, a, mode=mode, h0=h0, return_state=True)
        return jnp.sum(jnp.real(y) ** 2 + jnp.imag(y) * 0.3) + jnp.sum(jnp.abs(h) ** 2)
    return jax.jit(loss)


@pytest.mark.parametrize("chunk_size", [None, 64])
def test_gradients_match_recurrent(rng, chunk_size):
    """Against autodiff through lax.scan, with zeros in a at a block and a chunk boundary."""
    q, k, v, a, h0 = random_inputs(rng, (2,), 77, 2, 3, 2, mag=(0.3, 0.95), h0=True)
    a[:, [16, 64]] = 0
    args = (q, k, v, a.real.copy(), a.imag.copy(), jnp.asarray(h0))
    g = jax.grad(_loss("chunked", chunk_size), argnums=range(6))(*args)
    g_ref = jax.grad(_loss("recurrent"), argnums=range(6))(*args)
    for x, x_ref in zip(g, g_ref):
        assert np.all(np.isfinite(np.asarray(x)))
        assert rel_err(x, x_ref) < 1e-4, rel_err(x, x_ref)


def test_check_grads(rng):
    from jax.test_util import check_grads

    q, k, v, a, h0 = random_inputs(rng, (1,), 6, 1, 2, 2, mag=(0.4, 0.9), dtype=np.float64, h0=True)
    with jax.enable_x64(True):
        check_grads(_loss("chunked", 4), (q, k, v, a.real.copy(), a.imag.copy(), h0), order=1,
                    modes=("rev", "fwd"), atol=1e-5, rtol=1e-5)


def test_zero_transition_has_finite_gradients(rng):
    q, k, v, a = random_inputs(rng, (1,), 12, 1, 2, 2)
    a[:, 4] = 0
    g = jax.grad(_loss("chunked"), argnums=(3, 4))(q, k, v, a.real.copy(), a.imag.copy(), None)
    assert all(np.all(np.isfinite(np.asarray(x))) for x in g)


def test_complex_by_real_matmul_is_split():
    """``_mm`` of complex by real equals the complex matmul (it runs two real ones)."""
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((3, 4, 5)) + 1j * rng.standard_normal((3, 4, 5))).astype(np.complex64)
    y = rng.standard_normal((3, 5, 2)).astype(np.float32)
    np.testing.assert_allclose(chunked._mm(x, y), x @ y, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(chunked._mm(np.swapaxes(y, 1, 2), np.swapaxes(x, 1, 2)),
                               np.swapaxes(y, 1, 2) @ np.swapaxes(x, 1, 2), rtol=1e-5, atol=1e-5)
