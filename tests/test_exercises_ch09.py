"""The chapter 9 checker accepts a correct segmented scan and rejects wrong ones."""
from __future__ import annotations

import numpy as np
import pytest

from gl.exercises import check_segmented_scan
from gl.exercises import ch09


def segmented(a, x, h0, segments):
    L = a.shape[0]
    Ls = L // segments
    A, S = [], []
    for s in range(segments):  # summaries from a zero state
        A.append(np.prod(a[s * Ls:(s + 1) * Ls], axis=0))
        h = np.zeros_like(h0)
        for n in range(s * Ls, (s + 1) * Ls):
            h = a[n] * h + x[n]
        S.append(h)
    out, h_start = np.empty_like(a), h0
    for s in range(segments):
        h = h_start
        for n in range(s * Ls, (s + 1) * Ls):
            h = a[n] * h + x[n]
            out[n] = h
        h_start = A[s] * h_start + S[s]
    return out


def test_correct(capsys):
    check_segmented_scan(segmented, seed=0)
    assert "agree" in capsys.readouterr().out


def test_forgets_initial_state():
    def wrong(a, x, h0, segments):
        return segmented(a, x, np.zeros_like(h0), segments)

    with pytest.raises(AssertionError, match="h0"):
        check_segmented_scan(wrong, seed=0)


def test_segments_restart_from_zero():
    def wrong(a, x, h0, segments):  # every segment but the first starts from zero
        L, out = a.shape[0], []
        Ls = L // segments
        for s in range(segments):
            h = h0 if s == 0 else np.zeros_like(h0)
            for n in range(s * Ls, (s + 1) * Ls):
                h = a[n] * h + x[n]
                out.append(h)
        return np.array(out)

    with pytest.raises(AssertionError, match="segments=2.*segment 1"):
        check_segmented_scan(wrong, seed=0)


def test_crash_and_shape_are_reported():
    with pytest.raises(AssertionError, match="raised ZeroDivisionError"):
        check_segmented_scan(lambda a, x, h0, s: 1 / 0, seed=0)
    with pytest.raises(AssertionError, match="shape"):
        check_segmented_scan(lambda a, x, h0, s: a[:-1], seed=0)


def _reverse_right(a, w):
    g, out = np.zeros(a.shape[1:], complex), np.empty_like(w)
    for n in reversed(range(len(a))):
        g = w[n] + (np.conj(a[n + 1]) * g if n + 1 < len(a) else 0)
        out[n] = g
    return out


def test_reverse_scan_checker_accepts_right_rejects_wrong(capsys):
    ch09.check_reverse_scan(_reverse_right)
    assert "all 4 cases" in capsys.readouterr().out
    no_conj = lambda a, w: _reverse_right(np.conj(a), w)
    with pytest.raises(AssertionError, match="conj"):
        ch09.check_reverse_scan(no_conj)

    def same_step(a, w):  # a_n instead of a_{n+1}
        g, out = np.zeros(a.shape[1:], complex), np.empty_like(w)
        for n in reversed(range(len(a))):
            g = w[n] + np.conj(a[n]) * g
            out[n] = g
        return out
    with pytest.raises(AssertionError):
        ch09.check_reverse_scan(same_step)
    with pytest.raises(TypeError, match="fn"):
        ch09.check_reverse_scan(3)


def test_reverse_scan_is_the_gradient():
    """The reverse recurrence is jax.grad of l = sum Re(conj(w) h) with respect to x (planes)."""
    import jax
    import jax.numpy as jnp
    rng = np.random.default_rng(0)
    L, D = 30, 2
    a = rng.uniform(0.3, 1, (L, D)) * np.exp(1j * rng.uniform(-3, 3, (L, D)))
    w = rng.standard_normal((L, D)) + 1j * rng.standard_normal((L, D))
    x = rng.standard_normal((L, D)) + 1j * rng.standard_normal((L, D))

    def loss(xr, xi):
        def step(h, inp):
            a_n, x_n = inp
            h = a_n * h + x_n
            return h, h
        _, h = jax.lax.scan(step, jnp.zeros(D, jnp.complex64), (jnp.asarray(a, jnp.complex64), xr + 1j * xi))
        return jnp.sum(jnp.real(jnp.conj(jnp.asarray(w, jnp.complex64)) * h))
    gr, gi = jax.grad(loss, argnums=(0, 1))(jnp.asarray(x.real, jnp.float32), jnp.asarray(x.imag, jnp.float32))
    got = np.asarray(gr) + 1j * np.asarray(gi)
    np.testing.assert_allclose(got, ch09._reverse(a, w), rtol=1e-5, atol=1e-5)


def _decay_products(a):
    C = a.shape[0]
    D = np.zeros((C, C) + a.shape[1:], complex)
    for m in range(C):
        D[m:, m] = np.cumprod(np.concatenate([np.ones((1,) + a.shape[1:]), a[m + 1:]]), axis=0)
    return D


def _decay_quotient(a):  # P_n / P_m: right for |a| near 1, nan after a zero, 0/0 when tiny
    P = np.cumprod(a, axis=0)
    with np.errstate(all="ignore"):
        D = P[:, None] / P[None, :]
    return np.where(np.tril(np.ones((a.shape[0],) * 2, bool))[..., None], D, 0)


def test_chunk_decay_checker_accepts_products(capsys):
    ch09.check_chunk_decay(_decay_products, seed=0)
    assert "all 4 cases" in capsys.readouterr().out


def test_chunk_decay_checker_accepts_jax_single_precision():
    import jax.numpy as jnp
    ch09.check_chunk_decay(lambda a: jnp.asarray(_decay_products(a), jnp.complex64), seed=1)


def test_chunk_decay_checker_rejects_quotients_and_off_by_one():
    with pytest.raises(AssertionError, match="a_5 = 0.*nan: did you divide"):
        ch09.check_chunk_decay(_decay_quotient, seed=0)

    def includes_a_m(a):  # a_m ... a_n: one factor too many
        return _decay_products(a) * a[None, :, :]
    with pytest.raises(AssertionError, match="on the diagonal"):
        ch09.check_chunk_decay(includes_a_m, seed=0)

    def upper_ones(a):
        D = _decay_products(a)
        return D + np.triu(np.ones(D.shape[:2]), 1)[..., None]
    with pytest.raises(AssertionError, match="above the diagonal"):
        ch09.check_chunk_decay(upper_ones, seed=0)

    def starts_at_m(a):  # D[n, m] = a_m ... a_{n-1}
        D = np.zeros((a.shape[0],) * 2 + a.shape[1:], complex)
        for m in range(a.shape[0]):
            D[m:, m] = np.cumprod(np.concatenate([np.ones((1,) + a.shape[1:]), a[m:-1]]), axis=0)
        return D
    with pytest.raises(AssertionError, match="starts after a_m"):
        ch09.check_chunk_decay(starts_at_m, seed=0)
    with pytest.raises(AssertionError, match="shape"):
        ch09.check_chunk_decay(lambda a: a, seed=0)
    with pytest.raises(TypeError, match="fn"):
        ch09.check_chunk_decay("D")


def test_chunk_decay_reference_matches_the_recurrence():
    """D[n, m] v is what step m leaves in h_n: compare with running h_n = a_n h_{n-1} + x_n."""
    rng = np.random.default_rng(3)
    a = rng.uniform(0.3, 1, (12, 2)) * np.exp(1j * rng.uniform(-3, 3, (12, 2)))
    x = rng.standard_normal((12, 2)) + 1j * rng.standard_normal((12, 2))
    h_from_D = np.einsum("nmd,md->nd", ch09._decay(a), x)
    np.testing.assert_allclose(h_from_D, ch09._sequential(a, x, np.zeros(2)), rtol=1e-12)
