"""The chapter 5 checkers accept a correct solution and reject wrong ones with a useful message.

Tolerances are the checkers' own (relative 1e-4); the seeds make each run reproducible. The
book's own solutions are read from the notebook's solution cells. The wrong solutions include
the naive form computed in complex128 (which must fail on a closed gate and on |a| ≈ 0.05 over
300 steps, where Π is 0 in every dtype) and conjugated queries or keys (complex q, k).
"""
from __future__ import annotations

import re

import jax.numpy as jnp
import numpy as np
import pytest

import gl
import gl.exercises
from conftest import book_solution, loop_gate_loop
from gl.attention import causal_mask, segment_sum
from gl.exercises import ch05


@pytest.fixture(scope="module")
def book():
    """``my_relative_decay`` and ``my_surrogate_attention`` from the chapter's solution cells."""
    return book_solution("05_surrogate_attention.ipynb", "my_relative_decay", "my_surrogate_attention",
                         np=np, jnp=jnp, gl=gl, attention=gl.attention)


def good_decay(a):
    """The stable form: masked cumulative sums of log|a| and of the phase."""
    a = jnp.moveaxis(a, 0, -1)  # (H, d_k, L)
    L = a.shape[-1]
    logmag = jnp.where(causal_mask(L), segment_sum(jnp.log(jnp.abs(a))), -jnp.inf)
    return jnp.exp(logmag) * jnp.exp(1j * segment_sum(jnp.angle(a)))


def prefix_ratio_decay(a):
    """Π_n / Π_m: right on short inputs, inf/nan once Π underflows."""
    Pi = jnp.moveaxis(jnp.cumprod(a, axis=0), 0, -1)
    return Pi[..., :, None] / Pi[..., None, :] * causal_mask(a.shape[0], a.dtype)


def unmasked_decay(a):
    """Forgets the causal mask: upper triangle holds exp(segment_sum) = 1 where it should be 0."""
    a = jnp.moveaxis(a, 0, -1)
    return jnp.exp(segment_sum(jnp.log(jnp.abs(a)))) * jnp.exp(1j * segment_sum(jnp.angle(a)))


def off_by_one_decay(a):
    """Includes a_m in the product: prod_{j=m..n} instead of prod_{j=m+1..n}."""
    return good_decay(a) * jnp.moveaxis(a, 0, -1)[..., None, :] * causal_mask(a.shape[0])


def test_exported_as_gl_exercises():
    assert gl.exercises.check_relative_decay is not None
    assert gl.exercises.check_surrogate_attention is not None


@pytest.mark.parametrize("seed", [0, 1])
def test_relative_decay_checker_accepts_correct(seed, capsys):
    gl.exercises.check_relative_decay(good_decay, seed=seed)
    gl.exercises.check_relative_decay(lambda a: gl.relative_decay(a), seed=seed)
    assert "check_relative_decay: correct" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, words", [
    (prefix_ratio_decay, "Π_n / Π_m is not finite"),
    (unmasked_decay, "above the diagonal"),
    (off_by_one_decay, "should be prod_(j="),
    (lambda a: good_decay(a)[..., :-1], "expected D of shape"),
])
def test_relative_decay_checker_rejects_wrong(wrong, words):
    with pytest.raises(AssertionError, match=re.escape(words)):
        gl.exercises.check_relative_decay(wrong, seed=0)


def good_attention(q, k, v, a):
    W = jnp.sum(jnp.moveaxis(q, 0, -1)[..., :, None] * good_decay(a)
                * jnp.moveaxis(k, 0, -1)[..., None, :], axis=-3)  # (H, L, L)
    return jnp.einsum("hnm,mhv->nhv", W, v)


def naive_attention(q, k, v, a):
    return gl.surrogate_attention_naive(q, k, v, a)


def no_decay_attention(q, k, v, a):
    """Linear attention without the relative positions: drops the a_j entirely."""
    return good_attention(q, k, v, jnp.ones_like(a))


@pytest.mark.parametrize("seed", [0, 3])
def test_surrogate_attention_checker_accepts_correct(seed, capsys):
    gl.exercises.check_surrogate_attention(good_attention, seed=seed)
    gl.exercises.check_surrogate_attention(lambda *x: gl.gate_loop(*x, mode="attention"), seed=seed)
    assert "matches the loop" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, words", [
    (naive_attention, "not finite"),
    (no_decay_attention, "relative error"),
    (lambda q, k, v, a: good_attention(q, k, v, a)[:, :, :1], "expected y of shape"),
])
def test_surrogate_attention_checker_rejects_wrong(wrong, words):
    with pytest.raises(AssertionError, match=words):
        gl.exercises.check_surrogate_attention(wrong, seed=0)


# The naive form in double precision: passes wherever Π only underflows in float32.

def division_decay_c128(a):
    """Π_n / Π_m in complex128 (NumPy): NaN where Π_m is 0 (a closed gate, or underflow in float64)."""
    a = np.asarray(a, np.complex128)
    Pi = np.moveaxis(np.cumprod(a, axis=0), 0, -1)  # (H, d_k, L)
    with np.errstate(all="ignore"):
        D = Pi[..., :, None] / Pi[..., None, :]
    return np.where(np.tril(np.ones((a.shape[0],) * 2, bool)), D, 0)


def division_decay_c128_zeroed(a):
    """The same with its NaN and inf replaced by 0: finite, but loses every D[n, m] with Π_m = 0."""
    D = division_decay_c128(a)
    return np.where(np.isfinite(D), D, 0)


def division_attention_c128(q, k, v, a):
    """Eq. 19-21 literally, Q ⊙ Π and K ⊙ Π⁻¹, in complex128 (NumPy)."""
    q, k, v, a = (np.asarray(x, np.complex128) for x in (q, k, v, a))
    Pi = np.cumprod(a, axis=0)
    with np.errstate(all="ignore"):
        W = np.einsum("nhc,mhc->hnm", q * Pi, k / Pi) * np.tril(np.ones((q.shape[0],) * 2))
        return np.einsum("hnm,mhv->nhv", W, v)


def division_attention_c128_zeroed(q, k, v, a):
    """The same, masking with ``where`` and replacing non-finite weights by 0: finite but wrong."""
    q, k, v, a = (np.asarray(x, np.complex128) for x in (q, k, v, a))
    Pi = np.cumprod(a, axis=0)
    with np.errstate(all="ignore"):
        W = np.einsum("nhc,mhc->hnm", q * Pi, k / Pi)
    W = np.where(np.tril(np.ones((q.shape[0],) * 2, bool)) & np.isfinite(W), W, 0)
    return np.einsum("hnm,mhv->nhv", W, v)


def conj_q_attention(q, k, v, a):
    return good_attention(jnp.conj(q), k, v, a)


def conj_k_attention(q, k, v, a):
    return good_attention(q, jnp.conj(k), v, a)


def vdot_attention(q, k, v, a):
    """Reads out with a Hermitian product, as np.vdot / q.conj() @ h would: conjugates q."""
    W = jnp.einsum("nhc,hcnm,mhc->hnm", q.conj(), good_decay(a), k)
    return jnp.einsum("hnm,mhv->nhv", W, v)


def conj_a_attention(q, k, v, a):
    return good_attention(q, k, v, jnp.conj(a))


@pytest.mark.parametrize("seed", [0, 1, None])
def test_book_solutions_pass(book, seed, capsys):
    my_relative_decay, my_surrogate_attention = book
    gl.exercises.check_relative_decay(my_relative_decay, seed=seed)
    gl.exercises.check_surrogate_attention(my_surrogate_attention, seed=seed)
    out = capsys.readouterr().out
    assert "check_relative_decay: correct" in out and "matches the loop" in out


def loop_decay(a):
    """D[h, c, n, m] = prod_(j=m+1..n) a[j, h, c] by a plain complex128 loop."""
    a = np.asarray(a, np.complex128)
    L, H, d_k = a.shape
    D = np.zeros((H, d_k, L, L), np.complex128)
    for m in range(L):
        p = np.ones((H, d_k), np.complex128)
        for n in range(m, L):
            if n > m:
                p = p * a[n]
            D[..., n, m] = p
    return D


def test_the_truth_is_right_on_every_case():
    """The checkers' truth, gl.relative_decay (complex64) and gate_loop_reference, against plain
    complex128 loops (loop_decay; conftest.loop_gate_loop from h = 0) on each case, the closed
    gate and |a| ≈ 0.05 included."""
    rng = np.random.default_rng(0)
    labels = []
    for label, why, a in ch05._gate_cases(rng):
        labels.append(label)
        got, want = np.asarray(gl.relative_decay(jnp.asarray(a))), loop_decay(a)
        assert np.all(np.isfinite(got)), label
        assert np.all(np.abs(got - want) <= 1e-6 + 1e-5 * np.abs(want)), label
        closed = np.flatnonzero(np.all(a == 0, axis=(1, 2)))
        if closed.size:  # a closed gate: D[n, m] = 0 exactly where m < j <= n for a closed j, and only there
            L = a.shape[0]
            n, m = np.tril_indices(L)
            shut = np.any((m[:, None] < closed) & (closed <= n[:, None]), axis=1)
            assert np.all(got[..., n[shut], m[shut]] == 0) and np.all(want[..., n[shut], m[shut]] == 0), label
            assert np.all(got[..., n[~shut], m[~shut]] != 0), label
    assert any("closed gate" in s for s in labels) and any("tiny gates" in s for s in labels)
    for label, why, q, k, v, a in ch05._attention_cases(np.random.default_rng(0)):
        want, _ = loop_gate_loop(q, k, v, a)
        got = gl.gate_loop_reference(q, k, v, a, dtype=np.complex128)
        assert np.linalg.norm(got - want) <= 1e-12 * np.linalg.norm(want), label


def test_division_fails_in_complex128_on_the_new_cases_alone():
    """Each of the two new cases on its own breaks Π_n / Π_m in double precision (so neither
    depends on the other), while the float32 case alone does not."""
    for seed in range(3):
        cases = {label.split(",")[0]: a for label, _, a in ch05._gate_cases(np.random.default_rng(seed))}
        for name in ("closed gate", "tiny gates"):
            a = cases[name]
            D, want = division_decay_c128(a), np.asarray(gl.relative_decay(jnp.asarray(a)))
            assert not np.all(np.isfinite(D)), name
            Dz = division_decay_c128_zeroed(a)
            assert not np.all(np.abs(Dz - want) <= 1e-6 + 1e-4 * np.abs(want)), name
        assert np.all(np.isfinite(division_decay_c128(cases["long sequence"])))


@pytest.mark.parametrize("seed", [0, 1, None])
@pytest.mark.parametrize("check, wrong, words", [
    ("check_relative_decay", division_decay_c128, ("closed gate", "in any dtype")),
    ("check_relative_decay", division_decay_c128_zeroed, ("replace the NaN by 0", "in any dtype")),
    ("check_surrogate_attention", division_attention_c128, ("not finite", "closed gate")),
    ("check_surrogate_attention", division_attention_c128_zeroed,
     ("replace the NaN by 0", "closed gate")),
])
def test_checkers_reject_division_in_complex128(check, wrong, words, seed):
    with pytest.raises(AssertionError) as e:
        getattr(gl.exercises, check)(wrong, seed=seed)
    text = str(e.value)
    assert all(w in text for w in words) and "complex128 does not help" in text, text


@pytest.mark.parametrize("seed", [0, None])
@pytest.mark.parametrize("wrong, words", [
    (conj_q_attention, "you conjugate q:"),
    (vdot_attention, "you conjugate q:"),
    (conj_k_attention, "you conjugate k:"),
    (lambda q, k, v, a: good_attention(q.conj(), k.conj(), v, a), "both q and k"),
    (conj_a_attention, "complex conjugate of a"),
])
def test_surrogate_attention_checker_names_a_conjugate(wrong, words, seed):
    with pytest.raises(AssertionError) as e:
        gl.exercises.check_surrogate_attention(wrong, seed=seed)
    text = str(e.value)
    assert words in text, text
    if wrong is not conj_a_attention:  # real q, k pass: only the complex case catches it
        assert text.startswith("complex q and k"), text


def test_surrogate_attention_cases_draw_complex_q_and_k():
    cases = ch05._attention_cases(np.random.default_rng(0))
    kinds = {(q.dtype, k.dtype) for _, _, q, k, _, _ in cases}
    assert (np.dtype(np.complex64), np.dtype(np.complex64)) in kinds
    assert (np.dtype(np.float32), np.dtype(np.float32)) in kinds
