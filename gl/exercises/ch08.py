"""Checkers for chapter 8, "Making it fast"."""
from __future__ import annotations

import numpy as np

__all__ = ["check_segmented_scan"]


def _sequential(a, x, h0):
    """``h_n = a_n h_{n-1} + x_n`` (eq. 7 with ``x_n = k_n v_n``) over axis 0, complex128."""
    h, out = np.asarray(h0, np.complex128), np.empty(a.shape, np.complex128)
    for n in range(a.shape[0]):
        h = a[n] * h + x[n]
        out[n] = h
    return out


def check_segmented_scan(fn, seed=None):
    """Check ``fn(a, x, h0, segments) -> h``: the recurrence ``h_n = a_n h_{n-1} + x_n`` computed
    by splitting time into ``segments`` equal parts (the two-kernel scheme of :mod:`gl.pallas_scan`).

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
        want = _sequential(a_, x_, h0_)
        try:
            got = np.asarray(fn(a_.copy(), x_.copy(), h0_.copy(), s))
        except Exception as e:  # noqa: BLE001 - a crash is reported as what it is
            raise AssertionError(f"{what}: your function raised {type(e).__name__}: {e}") from e
        if got.shape != want.shape:
            raise AssertionError(f"{what}: expected h of shape {want.shape}, got {got.shape}")
        bad = ~np.isclose(got, want, rtol=1e-10, atol=1e-10)
        if bad.any():
            n, d = np.argwhere(bad)[0]
            hint = (" (step 0: did you apply h0?)" if n == 0 else
                    f" (step {n} is in segment {n // (L // s)}: is the initial state of each segment "
                    "the fold of all earlier summaries, h_start = A_s h_prev + S_s?)")
            raise AssertionError(
                f"{what}: h[{n}, {d}] = {np.round(got[n, d], 6)}, expected {np.round(want[n, d], 6)}{hint}"
            )
    print("check_segmented_scan: all 5 cases agree with the sequential loop (rtol 1e-10).")
