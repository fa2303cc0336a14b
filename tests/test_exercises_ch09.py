"""The chapter 9 checker accepts a correct segmented scan and rejects wrong ones."""
from __future__ import annotations

import numpy as np
import pytest

from gl.exercises import check_segmented_scan
from gl.exercises import ch09

from conftest import book_solution, loop_scan


# the book's solution, read from its cell in chapter 9 (not a copy that could drift from it)
first_pass, second_pass = book_solution("09_making_it_fast.ipynb", "first_pass", "second_pass",
                                        np=np)


def plain_loop(a, x, h0, *_):  # the reviewer's loop: ignores segments and summaries
    return loop_scan(a, x, h0)


def test_correct(capsys):
    check_segmented_scan(first_pass, second_pass, seed=0)
    assert "agree" in capsys.readouterr().out


def test_correct_with_other_seeds_and_the_books_jax_summaries():
    import jax
    import jax.numpy as jnp

    import gl  # the cell that defines chapter 9's first pass in JAX also checks it
    (summaries,) = book_solution("09_making_it_fast.ipynb", "summaries", np=np, jax=jax,
                                 jnp=jnp, gl=gl)

    for seed in (1, 2, 3):
        check_segmented_scan(first_pass, second_pass, seed=seed)
    check_segmented_scan(summaries, second_pass, seed=0)


def test_the_reviewers_loop_is_rejected():
    with pytest.raises(TypeError, match="two functions"):  # as written: one function
        check_segmented_scan(plain_loop, seed=0)
    # as the first pass: it returns states, not the summaries
    with pytest.raises(AssertionError, match="first_pass, segments=1: expected a pair"):
        check_segmented_scan(plain_loop, second_pass, seed=0)
    # as the second pass, with a correct first pass: right values, but it ignores A, S
    with pytest.raises(AssertionError, match="do not come from a, x.*ignores A and S"):
        check_segmented_scan(first_pass, plain_loop, seed=0)

    def recomputes(a, x, h0, A, S):  # folds summaries it computes itself, not those given
        return second_pass(a, x, h0, *first_pass(a, x, len(A)))
    with pytest.raises(AssertionError, match="do not come from a, x.*ignores A and S"):
        check_segmented_scan(first_pass, recomputes, seed=0)


def test_wrong_summaries_are_rejected():
    def from_step_0(a, x, segments):  # S_s = the state after segment s of a scan from step 0
        A, _ = first_pass(a, x, segments)
        Ls = a.shape[0] // segments
        return A, plain_loop(a, x, np.zeros_like(x[0]))[Ls - 1::Ls]
    with pytest.raises(AssertionError, match=r"first_pass, segments=2: S\[1, 0\].*"
                                             r"segment 1: that is the state after step 63"):
        check_segmented_scan(from_step_0, second_pass, seed=0)

    def one_gate_too_many(a, x, segments):  # A_s includes the gate before the segment
        A, S = first_pass(a, x, segments)
        Ls = a.shape[0] // segments
        return A * np.roll(a, 1, axis=0)[::Ls], S
    with pytest.raises(AssertionError, match=r"first_pass, segments=1: A\[0, 0\].*"
                                             r"product of its gates, a_0 ... a_63"):
        check_segmented_scan(one_gate_too_many, second_pass, seed=0)

    def swapped(a, x, segments):
        return first_pass(a, x, segments)[::-1]
    with pytest.raises(AssertionError, match="first_pass, segments=1: A"):
        check_segmented_scan(swapped, second_pass, seed=0)

    def wrong_shape(a, x, segments):
        A, S = first_pass(a, x, segments)
        return A, S[:, :1]
    with pytest.raises(AssertionError, match=r"expected S of shape \(1, 3\), got \(1, 1\)"):
        check_segmented_scan(wrong_shape, second_pass, seed=0)


def test_forgets_initial_state():
    def wrong(a, x, h0, A, S):
        return second_pass(a, x, np.zeros_like(h0), A, S)

    with pytest.raises(AssertionError, match="second_pass, segments=1.*h0"):
        check_segmented_scan(first_pass, wrong, seed=0)


def test_segments_restart_from_zero():
    def wrong(a, x, h0, A, S):  # every segment but the first starts from zero
        Ls, out = a.shape[0] // len(A), []
        for s in range(len(A)):
            h = h0 if s == 0 else np.zeros_like(h0)
            for n in range(s * Ls, (s + 1) * Ls):
                h = a[n] * h + x[n]
                out.append(h)
        return np.array(out)

    with pytest.raises(AssertionError, match="second_pass, segments=2.*segment 1"):
        check_segmented_scan(first_pass, wrong, seed=0)


def test_crash_shape_and_misuse_are_reported():
    with pytest.raises(AssertionError, match="first_pass.*raised ZeroDivisionError"):
        check_segmented_scan(lambda a, x, s: 1 / 0, second_pass, seed=0)
    with pytest.raises(AssertionError, match="second_pass.*raised ZeroDivisionError"):
        check_segmented_scan(first_pass, lambda a, x, h0, A, S: 1 / 0, seed=0)
    with pytest.raises(AssertionError, match="shape"):
        check_segmented_scan(first_pass, lambda a, x, h0, A, S: a[:-1], seed=0)
    with pytest.raises(TypeError, match="second_pass: expected a function"):
        check_segmented_scan(first_pass, "h", seed=0)


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
