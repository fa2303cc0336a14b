"""Surrogate attention (eq. 14-23): the stable relative decay, the naive Π⁻¹ form and its overflow,
and the softmax generalization.

Tolerances: complex128 products, relative 1e-12; float32/complex64 against a complex128
reference, relative 2e-5.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gl
from gl.attention import causal_mask, segment_sum
from conftest import random_inputs, rel_err


def test_segment_sum_matches_definition(rng):
    x = rng.standard_normal(7)
    S = np.asarray(segment_sum(jnp.asarray(x)))
    for n in range(7):
        for m in range(7):
            want = x[m + 1:n + 1].sum() if n >= m else 0.0
            assert abs(S[n, m] - want) < 1e-5, (n, m)


@pytest.mark.parametrize("complex_a", [True, False])
def test_relative_decay_is_the_product(rng, complex_a):
    """D[n, m] = prod_{j=m+1..n} a_j for n >= m and 0 above the diagonal, real a with signs too."""
    with jax.enable_x64(True):
        _, _, _, a = random_inputs(rng, (), 9, 1, 2, 1, mag=(0.1, 1.0), complex_a=complex_a,
                                   dtype=np.float64)
        D = np.asarray(gl.relative_decay(a))  # (H, d_k, L, L)
    for c in range(2):
        for n in range(9):
            for m in range(9):
                want = np.prod(a[m + 1:n + 1, 0, c]) if n >= m else 0.0
                assert abs(D[0, c, n, m] - want) < 1e-12, (c, n, m)


def test_relative_decay_checks_its_input():
    """``gl.relative_decay`` is public: an integer ``a`` used to give integer products and a 1-D one
    NumPy's "axis -3 is out of bounds"; both now name ``a`` as :func:`gl.gate_loop` does."""
    with pytest.raises(TypeError, match=r"^a: expected a float or complex dtype .*got int64"):
        gl.relative_decay(np.ones((4, 1, 1), np.int64))
    with pytest.raises(ValueError, match=r"^a: expected at least 3 dimensions, got shape \(4,\)"):
        gl.relative_decay(np.ones(4, np.float32))
    assert gl.relative_decay([[[0.5]], [[0.5]]]).shape == (1, 1, 2, 2)  # a nested list is fine


def test_relative_decay_handles_zero_transitions():
    """a_j = 0 (a full reset) cuts every product that spans j and nothing else."""
    a = jnp.asarray([0.5, 0.0, 0.5, 0.5], jnp.complex64)[:, None, None]
    D = np.asarray(gl.relative_decay(a))[0, 0]
    assert D[3, 0] == 0 and D[3, 1] == 0.25 and D[1, 0] == 0 and D[2, 1] == 0.5
    assert np.all(np.isfinite(D))


def _overflow_length(mag, dtype):
    """The first L at which the naive form returns a non-finite value."""
    for L in (2 ** p for p in range(3, 14)):
        q, k, v = (jnp.ones((L, 1, 1), dtype) for _ in range(3))
        a = jnp.full((L, 1, 1), mag, dtype)
        if not np.all(np.isfinite(np.asarray(gl.surrogate_attention_naive(q, k, v, a)))):
            return L
    return None


def test_naive_form_overflows_and_stable_form_does_not(rng):
    """With |a| = 0.9, Π_n = 0.9^n underflows in float32 near n ≈ 830 (0.9^n < 1e-45), so Π⁻¹ = inf.

    The test finds the length where the literal eq. 16-21 first breaks and checks that the
    stable form (and every mode) is finite and correct there.
    """
    L_bad = _overflow_length(0.9, jnp.float32)
    assert L_bad is not None and 512 <= L_bad <= 2048, L_bad
    q, k, v, _ = random_inputs(rng, (), L_bad, 1, 1, 1, complex_a=False)
    a = np.full((L_bad, 1, 1), 0.9, np.float32)
    y_naive = np.asarray(gl.surrogate_attention_naive(q, k, v, a))
    assert not np.all(np.isfinite(y_naive))
    y_ref = gl.gate_loop_reference(q, k, v, a, dtype=np.float64)
    for mode in ("attention", "parallel", "recurrent"):
        y = np.asarray(gl.gate_loop(q, k, v, a, mode=mode))
        assert np.all(np.isfinite(y)), mode
        assert rel_err(y, y_ref) < 2e-5, mode


def test_naive_form_agrees_while_it_is_finite(rng):
    q, k, v, a = random_inputs(rng, (2,), 24, 2, 3, 2, mag=(0.7, 1.0))
    y_ref = gl.gate_loop_reference(q, k, v, a, dtype=np.complex128)
    assert rel_err(gl.surrogate_attention_naive(q, k, v, a), y_ref) < 1e-4


def test_causal_mask():
    M = np.asarray(causal_mask(4, jnp.float32))
    np.testing.assert_array_equal(M, np.tril(np.ones((4, 4))))


def test_softmax_form_matches_direct_computation(rng):
    """Eq. 22-23 against a direct loop: scores_nm = Re(sum_k q_nk Π_nk/Π_mk k_mk) / sqrt(d_k)."""
    with jax.enable_x64(True):
        q, k, v, a = random_inputs(rng, (), 8, 2, 3, 2, mag=(0.5, 1.0), dtype=np.float64)
        y = np.asarray(gl.surrogate_softmax_attention(q, k, v, a))
    L, H, d_k = q.shape
    want = np.zeros((L, H, 2))
    for h in range(H):
        for n in range(L):
            s = np.array([np.real(np.sum(q[n, h] * np.prod(a[m + 1:n + 1, h], axis=0) * k[m, h]))
                          for m in range(n + 1)]) / np.sqrt(d_k)
            p = np.exp(s - s.max())
            p /= p.sum()
            want[n, h] = p @ v[: n + 1, h]
    np.testing.assert_allclose(y, want, rtol=1e-10, atol=1e-12)


def test_softmax_form_is_causal(rng):
    q, k, v, a = random_inputs(rng, (1,), 16, 2, 2, 2)
    y = np.asarray(gl.surrogate_softmax_attention(q, k, v, a))
    v2 = v.copy()
    v2[:, 9] += 5
    y2 = np.asarray(gl.surrogate_softmax_attention(q, k, v2, a))
    np.testing.assert_allclose(y2[:, :9], y[:, :9], rtol=1e-6, atol=1e-6)
    assert np.abs(y2[:, 9:] - y[:, 9:]).max() > 1e-3


def _grads(mode, q, k, v, a_re, a_im):
    def loss(q, k, v, a_re, a_im):
        y = gl.gate_loop(q, k, v, jax.lax.complex(a_re, a_im), mode=mode)
        return jnp.sum(jnp.real(y) ** 2 + jnp.imag(y) * 0.3)
    return jax.value_and_grad(loss, argnums=(0, 1, 2, 3, 4))(q, k, v, a_re, a_im)


@pytest.mark.parametrize("special", [0.0, 1e-30, 1e-41])
def test_zero_and_tiny_transitions_match_recurrent(rng, special):
    """a = 0 and tiny |a| (1e-30; 1e-41 is subnormal in float32) in the attention mode: the
    values and every gradient equal the recurrent mode's (issue 24, item 2).

    Before the fix the polar form ``exp(Σ log|a|)`` treated ``|a|² < tiny`` as 0 and gave
    ``a`` a zero gradient there (``∂y_n/∂a_t = q_n (Π_{t<j≤n} a_j) h_{t-1}`` is not 0).
    Tolerance: relative 1e-4 (float32 against float32).
    """
    q, k, v, a = random_inputs(rng, (1,), 12, 2, 2, 2, mag=(0.5, 1.0))
    a[:, 4, 0] = special
    a[:, 9, 1, 1] = special * 1j
    args = (q, k, v, a.real.copy(), a.imag.copy())
    (l_att, g_att), (l_rec, g_rec) = _grads("attention", *args), _grads("recurrent", *args)
    assert abs(l_att - l_rec) <= 1e-4 * abs(l_rec)
    for name, g, g_ref in zip(["q", "k", "v", "Re a", "Im a"], g_att, g_rec):
        assert np.all(np.isfinite(np.asarray(g))), name
        assert rel_err(g, g_ref) < 1e-4, name
    # the gradient at the special entry itself is not 0 (h_{t-1} != 0)
    assert np.abs(np.asarray(g_att[3])[0, 4, 0]).max() > 1e-3


def test_nan_transition_matches_recurrent(rng):
    """A NaN in a at step t: the attention mode gives NaN exactly where the recurrence does
    (from t on, in that channel's outputs), not the values of a = 0 (issue 24, item 2)."""
    q, k, v, a = random_inputs(rng, (1,), 12, 2, 2, 2, mag=(0.5, 1.0))
    a[0, 6, 1, 0] = np.nan
    y_att = np.asarray(gl.gate_loop(q, k, v, a, mode="attention"))
    y_rec = np.asarray(gl.gate_loop(q, k, v, a, mode="recurrent"))
    np.testing.assert_array_equal(np.isnan(y_att), np.isnan(y_rec))
    assert np.isnan(y_rec[0, 6:, 1]).all() and not np.isnan(y_rec[0, :6]).any()
    np.testing.assert_allclose(y_att[~np.isnan(y_rec)], y_rec[~np.isnan(y_rec)], rtol=1e-4,
                               atol=1e-5)


def test_attention_refuses_over_the_memory_limit(rng, monkeypatch):
    """Issue 24, item 5: over the limit the attention mode raises before allocating, and the
    error names the mode to use; the limit is a settable module constant."""
    q, k, v, a = random_inputs(rng, (2,), 64, 2, 2, 3)
    monkeypatch.setattr(gl.attention, "MAX_BYTES", 10_000, raising=False)
    with pytest.raises(ValueError, match=r"mode='attention'.*MAX_BYTES.*mode='chunked'"):
        gl.gate_loop(q, k, v, a, mode="attention")
    y_ref = gl.gate_loop_reference(q, k, v, a, dtype=np.complex128)
    for mode in ("chunked", "recurrent", "auto"):  # the others are not limited
        assert rel_err(gl.gate_loop(q, k, v, a, mode=mode), y_ref) < 2e-5, mode


def test_attention_memory_keyword_and_estimate(rng):
    """max_bytes= overrides the constant; the estimate is exact at the boundary."""
    q, k, v, a = random_inputs(rng, (2,), 32, 2, 2, 3)
    need = gl.attention.attention_bytes(q.shape, np.complex64)
    assert need == 8 * 2 * 2 * 32 * 32 * (2 * 2 + 1)
    gl.surrogate_attention(q, k, v, a, max_bytes=need)
    with pytest.raises(ValueError, match="mode='chunked'"):
        gl.surrogate_attention(q, k, v, a, max_bytes=need - 1)
    with pytest.raises(ValueError, match="max_bytes: expected an int"):
        gl.surrogate_attention(q, k, v, a, max_bytes=1.5)


def test_attention_at_long_L_errors_without_allocating():
    """L = 100 000 (the issue's case: tens of GB) fails at once with the default limit."""
    x = np.zeros((100_000, 1, 1), np.float32)
    with pytest.raises(ValueError, match=r"needs about 120 GB.*mode='chunked'"):
        gl.gate_loop(x, x, x, x, mode="attention")
    assert gl.operator.pick("cpu", x.shape, x.shape, np.float32, has_pallas=False)[0] != \
        "attention"


@pytest.mark.parametrize("shape, dtype", [((1, 256, 2, 2), np.complex64), ((2, 128, 2, 1),
                                          np.float32), ((1, 256, 1, 8), np.complex64)])
def test_attention_estimate_bounds_xla_temporaries(shape, dtype):
    """The estimate is at least the temporaries XLA's CPU compiler reserves (forward pass)."""
    q = jax.ShapeDtypeStruct(shape, dtype)
    f = jax.jit(lambda q, k, v, a: gl.surrogate_attention(q, k, v, a))
    mem = f.lower(q, q, q, q).compile().memory_analysis()
    est = gl.attention.attention_bytes(shape, dtype)
    assert mem.temp_size_in_bytes <= est, (mem.temp_size_in_bytes, est)
    assert mem.temp_size_in_bytes >= est / 3  # and not a gross overestimate


@pytest.mark.parametrize("fn", [gl.surrogate_attention, gl.surrogate_attention_naive,
                                gl.surrogate_softmax_attention])
def test_public_attention_functions_name_the_bad_argument(fn):
    """The attention functions exported by ``gl`` check their inputs as ``gl.gate_loop`` does,
    instead of failing deep inside a broadcast."""
    rng = np.random.default_rng(0)
    q = rng.standard_normal((2, 12, 2, 4)).astype(np.float32)
    v = rng.standard_normal((2, 12, 2, 3)).astype(np.float32)
    a = np.full(q.shape, 0.9, np.float32)
    with pytest.raises(ValueError, match=r"^k: expected the shape of q"):
        fn(q, q[:, :3], v, a)
    with pytest.raises(ValueError, match=r"^v: expected shape"):
        fn(q, q, v[:, :5], a)
    with pytest.raises(TypeError, match=r"\ba\b"):
        fn(q, q, v, a.astype(np.int32))


def test_surrogate_attention_computes_bfloat16_in_float32(rng):
    """bfloat16 inputs compute in float32, as gl.gate_loop does (the reviewer's case: L = 200,
    a = 0.99 gave a relative error of 4.5e-2 in bfloat16); it still returns the pair (y, h_L).
    Against the float64 loop on the rounded inputs, float32's 2e-5."""
    L = 200
    q, k, v = (jnp.asarray(rng.standard_normal((L, 1, 1)), jnp.bfloat16) for _ in range(3))
    a = jnp.full((L, 1, 1), 0.99, jnp.bfloat16)
    y, h = gl.surrogate_attention(q, k, v, a)
    assert y.dtype == h.dtype == jnp.float32 and y.shape == (L, 1, 1) and h.shape == (1, 1, 1)
    y_ref, h_ref = gl.gate_loop_reference(*(np.asarray(x, np.float64) for x in (q, k, v, a)),
                                          return_state=True)
    assert rel_err(y, y_ref) < 2e-5 and rel_err(h, h_ref) < 2e-5
    np.testing.assert_array_equal(y, gl.gate_loop(q, k, v, a, mode="attention"))
    y16, _ = gl.surrogate_attention(*(x.astype(jnp.float16) for x in (q, k, v, a)))
    assert y16.dtype == jnp.float32


@pytest.mark.parametrize("fn", [gl.surrogate_attention, gl.gate_loop_reference])
def test_dtype_argument_is_checked_alike(fn):
    """``dtype=``: both refuse, naming ``dtype``, a dtype that is not float or complex, a long
    double, and a real one for a complex input (the cast would drop its imaginary part, as
    surrogate_attention once did silently); a complex one keeps the complex result."""
    q = np.ones((4, 2, 3), np.float32)
    a = np.full((4, 2, 3), 0.5 + 0.1j, np.complex64)
    for dtype, says in ((np.float32, "expected a complex dtype, since a is complex"),
                        (np.int32, "expected a float or complex dtype"),
                        (np.longdouble, "long double")):
        with pytest.raises(TypeError, match=f"^dtype: {says}" if "since" in says else says):
            fn(q, q, q, a, dtype=dtype)
    y = fn(q, q, q, a, dtype=np.complex64)
    y = y[0] if isinstance(y, tuple) else y
    assert np.dtype(y.dtype) == np.complex64 and np.abs(np.imag(y)).max() > 0


def test_softmax_form_computes_bfloat16_in_float32(rng):
    """The softmax form promotes as gl.gate_loop does: bfloat16 inputs give the float32
    result of the same (rounded) inputs, not a bfloat16 one."""
    L = 64
    q, k, v = (jnp.asarray(rng.standard_normal((L, 2, 3)), jnp.bfloat16) for _ in range(3))
    a = jnp.full((L, 2, 3), 0.95, jnp.bfloat16)
    y = gl.surrogate_softmax_attention(q, k, v, a)
    assert y.dtype == jnp.float32
    want = gl.surrogate_softmax_attention(*(x.astype(jnp.float32) for x in (q, k, v, a)))
    np.testing.assert_array_equal(y, want)


def test_attention_memory_guard_sees_one_vmapped_slice(monkeypatch):
    """The documented limit of the guard: it reads the shapes it is given, so under jax.vmap
    it counts one vmapped slice (gate_loop's docstring and the README say so); the same batch
    as a leading dimension is counted."""
    x = jnp.full((64, 100, 1, 1), 0.5, jnp.float32)
    one = gl.attention.attention_bytes(x.shape[1:], np.float32)
    f = jax.vmap(lambda z: gl.gate_loop(z, z, z, z, mode="attention"))
    monkeypatch.setattr(gl.attention, "MAX_BYTES", one)  # 64 slices: 64 times over the limit
    assert f(x).shape == x.shape
    with pytest.raises(ValueError, match="mode='attention'"):
        gl.gate_loop(x, x, x, x, mode="attention")
    monkeypatch.setattr(gl.attention, "MAX_BYTES", one - 1)  # one slice over: refused
    with pytest.raises(ValueError, match="mode='attention'"):
        f(x)
    assert "one vmapped slice" in " ".join(gl.gate_loop.__doc__.split())


def test_memory_errors_say_how_the_limit_is_set(monkeypatch):
    """gl.gate_loop takes no max_bytes=: its error names gl.attention.MAX_BYTES; max_bytes= is
    named only where it was passed."""
    x = np.zeros((2, 64, 1, 2), np.float32)
    monkeypatch.setattr(gl.attention, "MAX_BYTES", 10_000)
    with pytest.raises(ValueError) as e:
        gl.gate_loop(x, x, x, x, mode="attention")
    assert "gl.attention.MAX_BYTES = <bytes>" in str(e.value), e.value
    assert "max_bytes" not in str(e.value) and "use mode='chunked'" in str(e.value)
    with pytest.raises(ValueError, match=r"\(max_bytes=\); use mode='chunked'"):
        gl.surrogate_attention(x, x, x, x, max_bytes=10)


def test_softmax_memory_error_is_its_own():
    """At L = 40 000 the softmax form refuses with its own name; mode='chunked' computes no
    softmax, so the error does not propose it."""
    x = np.zeros((40_000, 1, 1), np.float32)
    with pytest.raises(ValueError) as e:
        gl.surrogate_softmax_attention(x, x, x, x)
    msg = str(e.value)
    assert msg.startswith("gl.surrogate_softmax_attention: q of shape (40000, 1, 1)"), msg
    assert "chunked" not in msg and "mode=" not in msg and "no linear-memory form" in msg


@pytest.mark.parametrize("q_shape", [(4, 1, 1), (40_000, 1, 1)])
def test_memory_check_refuses_an_unknown_caller(q_shape):
    """check_attention_memory's ``what`` must be a key of INSTEAD: another is a ValueError that
    names the argument and the keys (not a bare KeyError), under the limit as over it."""
    with pytest.raises(ValueError) as e:
        gl.attention.check_attention_memory(q_shape, np.float32, what="gl.attention.scores")
    msg = str(e.value)
    assert msg.startswith("what: expected a key of gl.attention.INSTEAD"), msg
    assert "'gl.attention.scores'" in msg and all(repr(key) in msg for key in gl.attention.INSTEAD), msg
    for key in gl.attention.INSTEAD:  # the known callers still pass under the limit
        gl.attention.check_attention_memory((4, 1, 1), np.float32, what=key)
