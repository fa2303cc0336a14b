"""Checkers for chapter 9, "Making it fast"."""
from __future__ import annotations

import numpy as np

from ._common import call, complex_normal, expect_shape, first_index, random_gates, unit_phase

__all__ = ["check_segmented_scan", "check_reverse_scan", "check_chunk_decay"]


def _sequential(a, x, h0):
    """``h_n = a_n h_{n-1} + x_n`` (eq. 7 with ``x_n = k_n v_n``) over axis 0, complex128."""
    h, out = np.asarray(h0, np.complex128), np.empty(a.shape, np.complex128)
    for n in range(a.shape[0]):
        h = a[n] * h + x[n]
        out[n] = h
    return out


def _agree(got, want, what, hint, name="h", tol=None, atol=None):
    """Compare ``got`` with ``want`` entrywise at relative ``tol`` (default: 1e-10, or 1e-5 if
    ``got`` is single precision) and absolute ``atol`` (default ``tol``). The report names the
    first wrong entry ``name[n, .., d]`` and adds ``hint(n, ..)``, called with its index
    without the last axis (the channel ``d``): a step, a segment, or a pair ``n, m``."""
    got = np.asarray(got)
    expect_shape(got, want.shape, what, name)
    if tol is None:
        tol = 1e-5 if got.dtype in (np.complex64, np.float32) else 1e-10
    idx = first_index(~np.isclose(got, want, rtol=tol, atol=tol if atol is None else atol))
    if idx is not None:
        raise AssertionError(f"{what}: {name}[{', '.join(map(str, idx))}] = {np.round(got[idx], 6)}, "
                             f"expected {np.round(want[idx], 6)}{hint(*idx[:-1])}")


def _compare(fn, args, want, what, hint, name="h"):
    """Run ``fn(*args)`` and compare with ``want`` (rtol 1e-10); ``hint(n)`` explains step ``n``."""
    _agree(call(fn, args, what), want, what, hint, name, tol=1e-10)


def _summaries(a, x, segments):
    """``(A_s, S_s)`` of each segment: the product of its ``a`` and its final state from 0."""
    Ls = a.shape[0] // segments
    A = np.prod(a.reshape(segments, Ls, -1), axis=1)
    segs = [slice(s * Ls, (s + 1) * Ls) for s in range(segments)]
    S = np.stack([_sequential(a[g], x[g], np.zeros(a.shape[1:]))[-1] for g in segs])
    return A.astype(np.complex128), S


def _second_pass(a, x, h0, A, S):
    """Each segment scanned from ``h_in_s``: ``h_in_0 = h0``, ``h_in_{s+1} = A_s h_in_s + S_s``."""
    G = A.shape[0]
    Ls = a.shape[0] // G
    out, h_in = np.empty(a.shape, np.complex128), np.asarray(h0, np.complex128)
    for s in range(G):
        seg = slice(s * Ls, (s + 1) * Ls)
        out[seg] = _sequential(a[seg], x[seg], h_in)
        h_in = A[s] * h_in + S[s]
    return out


def _steps(s, Ls):
    return f"steps {s * Ls}..{(s + 1) * Ls - 1}"


def check_segmented_scan(first_pass, second_pass=None, seed=None):
    """Check the two passes of the segmented scan of ``h_n = a_n h_{n-1} + x_n`` (the
    reduce-then-scan of chapter 9, :mod:`gl.kernels.siso_scan`), time cut into ``segments``
    equal segments ``s = 0 .. G-1`` of ``L_s = L / G`` steps:

    - ``first_pass(a, x, segments) -> (A, S)``, each ``(segments, D)``: segment ``s`` scanned
      from a zero state, ``A_s = a_{sL_s} ⋯ a_{(s+1)L_s-1}`` and ``S_s`` its final state;
    - ``second_pass(a, x, h0, A, S) -> h``, ``(L, D)``: each segment scanned again from its
      entering state ``h_in_s``, the fold of the summaries before it (``h_in_0 = h0``,
      ``h_in_{s+1} = A_s h_in_s + S_s``).

    ``a, x``: complex ``(L, D)``; ``h0``: complex ``(D,)``, all ``complex128``. Cases:
    ``L = 64`` with 1, 2, 4, 8 segments, ``D = 3``, random ``|a|`` in (0.5, 1) and random
    ``h0``; then a zero ``a`` inside a segment (the state must restart). ``first_pass`` is
    compared with each segment scanned alone from ``h = 0``; ``second_pass``, given the true
    summaries, with a sequential loop; then ``second_pass`` is given 4 summaries that do not
    come from ``a, x`` (as a kernel that reads only them would see), and must follow them, so a
    loop that ignores ``A, S`` fails. Relative tolerance ``1e-10`` (``1e-5`` for single
    precision). Raises ``AssertionError`` saying which pass and case fail, which segment, and
    expected vs got; prints one line on success.
    """
    if second_pass is None:
        raise TypeError("check_segmented_scan(first_pass, second_pass): expected two functions, "
                        "first_pass(a, x, segments) -> (A, S) and "
                        "second_pass(a, x, h0, A, S) -> h; got one")
    for name, f in (("first_pass", first_pass), ("second_pass", second_pass)):
        if not callable(f):
            raise TypeError(f"{name}: expected a function, got {type(f).__name__}")
    rng = np.random.default_rng(seed)
    L, D = 64, 3
    a = random_gates(rng, (L, D))
    x = complex_normal(rng, (L, D))
    h0 = complex_normal(rng, D)
    a_zero = a.copy()
    a_zero[37] = 0.0
    cases = [(a, x, h0, s, f"segments={s}") for s in (1, 2, 4, 8)]
    cases.append((a_zero, x, h0, 4, "segments=4 with a_37 = 0"))

    for a_, x_, _, G, what in cases:  # pass 1: the summaries
        Ls, what = L // G, f"first_pass, {what}"
        A_want, S_want = _summaries(a_, x_, G)
        got = call(first_pass, (a_, x_, G), what)
        if not (isinstance(got, (tuple, list)) and len(got) == 2):
            kind = (f"an array of shape {np.shape(got)}" if isinstance(got, np.ndarray)
                    else type(got).__name__)
            raise AssertionError(f"{what}: expected a pair (A, S) of arrays of shape {(G, D)}, "
                                 f"got {kind}")
        A_got, S_got = np.asarray(got[0]), np.asarray(got[1])
        _agree(A_got, A_want, what, lambda s: f" (segment {s} is {_steps(s, Ls)}: A_{s} is "
               f"the product of its gates, a_{s * Ls} ... a_{(s + 1) * Ls - 1})", name="A")
        prefix = _sequential(a_, x_, np.zeros(D))[Ls - 1::Ls]  # h_{(s+1)L_s-1} from h_{-1} = 0

        def s_hint(s):
            if S_got.shape == prefix.shape and s > 0 and np.allclose(S_got[s], prefix[s]):
                return (f" (segment {s}: that is the state after step {(s + 1) * Ls - 1} of a "
                        f"scan from step 0; S_{s} scans {_steps(s, Ls)} alone, from h = 0)")
            return (f" (segment {s}: S_{s} is the final state of {_steps(s, Ls)} scanned "
                    "from h = 0)")
        _agree(S_got, S_want, what, s_hint, name="S")

    for a_, x_, h0_, G, what in cases:  # pass 2 with the true summaries
        Ls, what = L // G, f"second_pass, {what}"
        A_, S_ = _summaries(a_, x_, G)
        hint = lambda n, Ls=Ls: (" (step 0: did you start segment 0 from h0?)" if n == 0 else
                                 f" (step {n} is in segment {n // Ls}: does each segment start "
                                 "from h_in_s, with h_in_0 = h0 and "
                                 "h_in_{s+1} = A_s h_in_s + S_s?)")
        got = call(second_pass, (a_, x_, h0_, A_, S_), what)
        _agree(got, _sequential(a_, x_, h0_), what, hint)

    G, Ls = 4, L // 4  # pass 2 with summaries that do not come from a, x
    A_f = random_gates(rng, (G, D))
    S_f = 3 * complex_normal(rng, (G, D))
    what = "second_pass, segments=4 with summaries A, S that do not come from a, x"
    got = call(second_pass, (a, x, h0, A_f, S_f), what)
    loop = _sequential(a, x, h0)

    def f_hint(n):
        if np.shape(got) == loop.shape and np.allclose(got, loop):
            return (" (your h is the sequential loop's: it ignores A and S. The second pass "
                    "must take each segment's entering state from the summaries alone)")
        s = n // Ls
        return (f" (step {n} is in segment {s}, which must start from h_in_{s} = "
                f"A_{s - 1} h_in_{s - 1} + S_{s - 1}, folded from the A, S it is given)"
                if s > 0 else " (segment 0 starts from h0)")
    _agree(got, _second_pass(a, x, h0, A_f, S_f), what, f_hint)
    print("check_segmented_scan: first_pass's summaries agree in all 5 cases, second_pass "
          "agrees with the sequential loop and follows given summaries (rtol 1e-10).")


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
    cplx = lambda L: random_gates(rng, (L, D))
    wn = lambda L: complex_normal(rng, (L, D))
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
    a_zero = random_gates(rng, (16, 3))
    a_zero[5] = 0.0
    cases = [(random_gates(rng, (16, 3)), "C=16, |a| in (0.5, 1)"),
             (-rng.uniform(0.5, 1.0, (16, 3)) + 0j, "real negative a"),
             (a_zero, "a_5 = 0"), (1e-6 * unit_phase(rng, (64, 2)), "C=64, |a| = 1e-6")]
    for a, what in cases:
        got = call(fn, (a,), what, convert=np.asarray)
        tol = 1e-10 if got.dtype in (np.complex128, np.float64) else 1e-5
        _agree(got, _decay(a), what, lambda n, m: _decay_hint(got, a, n, m), name="D",
               tol=tol, atol=tol * 1e-3)
    print("check_chunk_decay: all 4 cases agree with the products a_{m+1} ... a_n.")
