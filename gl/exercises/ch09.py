"""Checkers for chapter 9, "Making it fast"."""
from __future__ import annotations

import numpy as np

__all__ = ["check_segmented_scan", "check_reverse_scan", "check_chunk_decay"]


def _sequential(a, x, h0):
    """``h_n = a_n h_{n-1} + x_n`` (eq. 7 with ``x_n = k_n v_n``) over axis 0, complex128."""
    h, out = np.asarray(h0, np.complex128), np.empty(a.shape, np.complex128)
    for n in range(a.shape[0]):
        h = a[n] * h + x[n]
        out[n] = h
    return out


def _compare(fn, args, want, what, hint, name="h"):
    """Run ``fn(*args)`` and compare with ``want`` (rtol 1e-10); ``hint(n)`` explains step ``n``."""
    try:
        got = np.asarray(fn(*(x.copy() for x in args)))
    except Exception as e:  # noqa: BLE001 - a crash is reported as what it is
        raise AssertionError(f"{what}: your function raised {type(e).__name__}: {e}") from e
    if got.shape != want.shape:
        raise AssertionError(f"{what}: expected {name} of shape {want.shape}, got {got.shape}")
    bad = ~np.isclose(got, want, rtol=1e-10, atol=1e-10)
    if bad.any():
        n, d = np.argwhere(bad)[0]
        raise AssertionError(f"{what}: {name}[{n}, {d}] = {np.round(got[n, d], 6)}, "
                             f"expected {np.round(want[n, d], 6)}{hint(n)}")


def check_segmented_scan(fn, seed=None):
    """Check ``fn(a, x, h0, segments) -> h``: the recurrence ``h_n = a_n h_{n-1} + x_n`` computed
    by splitting time into ``segments`` equal parts (the two-pass reduce-then-scan of chapter 9,
    :mod:`gl.kernels.siso_scan`).

    ``a, x``: complex ``(L, D)``; ``h0``: complex ``(D,)``; ``h``: complex ``(L, D)``, all
    ``complex128``. Cases: ``L = 64`` with 1, 2, 4, 8 segments, ``D = 3``, random ``|a|`` in
    (0.5, 1) and random ``h0``; then a zero ``a`` inside a segment (the state must restart).
    Compared with a sequential loop at relative tolerance ``1e-10``. Raises ``AssertionError``
    saying which case fails (segments, expected vs got at the first wrong step); prints one line.
    """
    if not callable(fn):
        raise TypeError(f"fn: expected a function fn(a, x, h0, segments), got {type(fn).__name__}")
    rng = np.random.default_rng(seed)
    L, D = 64, 3
    a = rng.uniform(0.5, 1.0, (L, D)) * np.exp(1j * rng.uniform(-np.pi, np.pi, (L, D)))
    x = rng.standard_normal((L, D)) + 1j * rng.standard_normal((L, D))
    h0 = rng.standard_normal(D) + 1j * rng.standard_normal(D)
    a_zero = a.copy()
    a_zero[37] = 0.0
    cases = [(a, x, h0, s, f"segments={s}") for s in (1, 2, 4, 8)]
    cases.append((a_zero, x, h0, 4, "segments=4 with a_37 = 0"))
    for a_, x_, h0_, s, what in cases:
        hint = lambda n, s=s: (" (step 0: did you apply h0?)" if n == 0 else
                               f" (step {n} is in segment {n // (L // s)}: is the initial state of each segment "
                               "the fold of all earlier summaries, h_start = A_s h_prev + S_s?)")
        _compare(lambda a, x, h: fn(a, x, h, s), (a_, x_, h0_), _sequential(a_, x_, h0_), what, hint)
    print("check_segmented_scan: all 5 cases agree with the sequential loop (rtol 1e-10).")


def _reverse(a, w):
    """``g_n = w_n + conj(a_{n+1}) g_{n+1}`` for ``n = L-1 .. 0`` (``g_L = 0``), complex128."""
    g, out = np.zeros(a.shape[1:], np.complex128), np.empty(a.shape, np.complex128)
    for n in reversed(range(a.shape[0])):
        nxt = np.conj(a[n + 1]) if n + 1 < a.shape[0] else 0.0
        g = w[n] + nxt * g
        out[n] = g
    return out


def check_reverse_scan(fn, seed=None):
    """Check ``fn(a, w) -> g``: the gradient of ``ℓ = Σ_n Re(conj(w_n) h_n)`` with respect to
    ``x_n`` for ``h_n = a_n h_{n-1} + x_n`` (``h_{-1} = 0``), written as the complex number
    ``∂ℓ/∂Re x_n + i ∂ℓ/∂Im x_n``: the reverse recurrence ``g_n = w_n + conj(a_{n+1}) g_{n+1}``.

    ``a, w``: complex ``(L, D)``; ``g``: complex ``(L, D)``. Cases: ``L = 1``, ``L = 50`` with
    random ``|a|`` in (0.5, 1), real negative ``a``, and a zero ``a`` (no gradient flows back
    through it). Compared with a loop at relative tolerance ``1e-10``; the loop itself agrees with
    ``jax.grad`` (tests/test_exercises_ch09.py). Raises ``AssertionError`` with the first wrong
    step; prints one line on success.
    """
    if not callable(fn):
        raise TypeError(f"fn: expected a function fn(a, w), got {type(fn).__name__}")
    rng = np.random.default_rng(seed)
    D = 3
    cplx = lambda L, lo=0.5: rng.uniform(lo, 1.0, (L, D)) * np.exp(1j * rng.uniform(-np.pi, np.pi, (L, D)))
    wn = lambda L: rng.standard_normal((L, D)) + 1j * rng.standard_normal((L, D))
    a_zero = cplx(50)
    a_zero[20] = 0.0
    cases = [(cplx(1), wn(1), "L=1"), (cplx(50), wn(50), "L=50"),
             (-rng.uniform(0.5, 1.0, (50, D)) + 0j, wn(50), "real negative a"), (a_zero, wn(50), "a_20 = 0")]
    for a, w, what in cases:
        hint = lambda n, L=a.shape[0]: (" (the last step: g_{L-1} = w_{L-1})" if n == L - 1 else
                                        " (is it conj(a_{n+1}), the transition of the *next* step, conjugated?)")
        _compare(fn, (a, w), _reverse(a, w), what, hint, name="g")
    print("check_reverse_scan: all 4 cases agree with the reverse recurrence (rtol 1e-10).")


def _decay(a):
    """``D[n, m] = prod_{j=m+1..n} a_j`` for ``m <= n`` (1 on the diagonal), 0 above it."""
    C = a.shape[0]
    D = np.zeros((C, C) + a.shape[1:], np.complex128)
    for m in range(C):
        p = np.ones(a.shape[1:], np.complex128)
        D[m, m] = p
        for n in range(m + 1, C):
            p = p * a[n]
            D[n, m] = p
    return D


def _decay_hint(D_got, a, n, m):
    if np.isnan(D_got[n, m]).any():
        return (" (nan: did you divide cumulative products, P_n / P_m? a has a zero or tiny "
                "entries here; multiply the factors a_{m+1} ... a_n instead)")
    if m > n:
        return " (above the diagonal, m > n, the decay is 0: the future does not act on y_n)"
    if n == m:
        return " (on the diagonal the decay is the empty product, 1)"
    return f" (D[{n}, {m}] is a_{m + 1} ... a_{n}: the product starts after a_m)"


def check_chunk_decay(fn, seed=None):
    """Check ``fn(a) -> D``: the decay inside one chunk, ``D[n, m] = a_{m+1} ⋯ a_n`` for
    ``m <= n`` (``D[n, n] = 1``) and ``D[n, m] = 0`` for ``m > n``, computed stably.

    ``a``: complex ``(C, d)``; ``D``: ``(C, C, d)``. Cases: ``C = 16, d = 3`` with random
    ``|a|`` in (0.5, 1); real negative ``a``; an exact zero ``a_5`` (a reset: nothing before
    step 5 reaches later steps); ``C = 64`` with ``|a| = 1e-6``, where ``P_n / P_m`` of
    cumulative products underflows to ``0 / 0``. Compared with a loop of products at relative
    tolerance ``1e-10`` (``1e-5`` if ``fn`` returns single precision). Raises
    ``AssertionError`` with the first wrong entry and a hint; prints one line on success.
    """
    if not callable(fn):
        raise TypeError(f"fn: expected a function fn(a) -> D, got {type(fn).__name__}")
    rng = np.random.default_rng(seed)
    unit = lambda C, d: np.exp(1j * rng.uniform(-np.pi, np.pi, (C, d)))
    a_zero = rng.uniform(0.5, 1.0, (16, 3)) * unit(16, 3)
    a_zero[5] = 0.0
    cases = [(rng.uniform(0.5, 1.0, (16, 3)) * unit(16, 3), "C=16, |a| in (0.5, 1)"),
             (-rng.uniform(0.5, 1.0, (16, 3)) + 0j, "real negative a"),
             (a_zero, "a_5 = 0"), (1e-6 * unit(64, 2), "C=64, |a| = 1e-6")]
    for a, what in cases:
        want = _decay(a)
        try:
            got = np.asarray(fn(a.copy()))
        except Exception as e:  # noqa: BLE001 - a crash is reported as what it is
            raise AssertionError(f"{what}: your function raised {type(e).__name__}: {e}") from e
        if got.shape != want.shape:
            raise AssertionError(f"{what}: expected D of shape {want.shape}, got {got.shape}")
        tol = 1e-10 if got.dtype in (np.complex128, np.float64) else 1e-5
        bad = ~np.isclose(got, want, rtol=tol, atol=tol * 1e-3)
        if bad.any():
            n, m, k = np.argwhere(bad)[0]
            raise AssertionError(f"{what}: D[{n}, {m}, {k}] = {np.round(got[n, m, k], 6)}, "
                                 f"expected {np.round(want[n, m, k], 6)}"
                                 f"{_decay_hint(got, a, n, m)}")
    print("check_chunk_decay: all 4 cases agree with the products a_{m+1} ... a_n.")
