"""The chapter 8 checker accepts a correct segmented scan and rejects wrong ones."""
from __future__ import annotations

import numpy as np
import pytest

from gl.exercises import check_segmented_scan
from gl.exercises import ch08


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
    ch08.check_reverse_scan(_reverse_right)
    assert "all 4 cases" in capsys.readouterr().out
    no_conj = lambda a, w: _reverse_right(np.conj(a), w)
    with pytest.raises(AssertionError, match="conj"):
        ch08.check_reverse_scan(no_conj)

    def same_step(a, w):  # a_n instead of a_{n+1}
        g, out = np.zeros(a.shape[1:], complex), np.empty_like(w)
        for n in reversed(range(len(a))):
            g = w[n] + np.conj(a[n]) * g
            out[n] = g
        return out
    with pytest.raises(AssertionError):
        ch08.check_reverse_scan(same_step)
    with pytest.raises(TypeError, match="fn"):
        ch08.check_reverse_scan(3)


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
    np.testing.assert_allclose(got, ch08._reverse(a, w), rtol=1e-5, atol=1e-5)
