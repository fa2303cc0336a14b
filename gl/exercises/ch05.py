"""Checkers for chapter 5, "Surrogate attention" (eq. 14-21).

Each checker runs the student's function on fresh random inputs (``seed=None``) against
``gl``'s own implementation, raises ``AssertionError`` saying what is wrong (which input,
expected vs got, and, where it recognises it, the likely mistake), and prints one line on
success.

Both try gates on which dividing prefix products, ``Π_n / Π_m`` (eq. 19's ``Π⁻¹``), fails in
*every* precision, so computing the naive form in complex128 does not pass: a closed gate
(``a_j = 0`` exactly, after which ``Π`` is 0) and ``|a| ≈ 0.05`` over 300 steps (``Π``
underflows to 0 even in float64, whose smallest positive number, about ``5e-324``, lies
between ``0.05^249`` and ``0.05^248``). The attention checker also draws complex ``q, k``
(chapter 3: ``q_n, k_n ∈ C^{d_k}``), on which a conjugated query or key is wrong.
"""
from __future__ import annotations

import numpy as np
import jax.numpy as jnp

from ..attention import relative_decay
from ..reference import gate_loop_reference
from ._common import complex_normal, expect_shape, first_index, likely_mistake, random_gates, rel_err

__all__ = ["check_relative_decay", "check_surrogate_attention"]

_HOW = ("Build it without dividing: sum log|a_j| and arg a_j over j = m+1..n (segment_sum), "
        "or multiply only the factors a_j with m < j <= n (a masked cumulative product).")


def _random_a(rng, L, H, d_k, mag):
    """Complex transitions ``(L, H, d_k)`` with ``|a|`` uniform in ``mag`` and any phase (complex64)."""
    return random_gates(rng, (L, H, d_k), *mag).astype(np.complex64)


def _gate_cases(rng, d_v=None):
    """``(label, why, a)`` per case, ``a``: ``(L, H, d_k)`` complex64. ``why``: why ``Π_n / Π_m``
    fails on this case ("" where it does not). ``d_v`` (attention) only enters the labels."""
    dv = "" if d_v is None else f", d_v={d_v}"
    L = 16  # the short cases share one shape: a student's JAX code compiles once for both
    a_closed = _random_a(rng, L, 2, 3, (0.5, 1.0))
    shut = np.sort(rng.choice(np.arange(3, L - 3), size=2, replace=False))
    a_closed[shut] = 0  # every head and channel: Π is 0 from the first on
    j0, j1 = (int(j) for j in shut)
    return [
        (f"short sequence, L={L}, H=2, d_k=3{dv}, |a| in (0.5, 1)", "", _random_a(rng, L, 2, 3, (0.5, 1.0))),
        (f"long sequence, L=300, H=1, d_k=2{dv}, |a| in (0.55, 0.65)",
         "Here Π_m = prod_(j<=m) a_j underflows to 0 in float32 (0.6^m < 1e-45 from m ≈ 200), "
         "so Π_n / Π_m is 0/0.", _random_a(rng, 300, 1, 2, (0.55, 0.65))),
        (f"closed gate, L={L}, H=2, d_k=3{dv}, |a| in (0.5, 1) except a_j = 0 at steps j = {j0} "
         f"and {j1}",
         f"Here a_{j0} = 0 (a closed gate), so Π_m = 0 exactly for every m >= {j0} in any dtype, "
         f"and Π_n / Π_m is 0/0 = NaN there, while the true D[n, m] for m >= {j0} does not "
         f"contain a_{j0}: casting to complex128 does not help.", a_closed),
        (f"tiny gates, L=300, H=1, d_k=2{dv}, |a| in (0.045, 0.055)",
         "Here Π_m underflows to 0 after about 250 steps even in float64 (0.05^250 ≈ 6e-326, "
         "below the smallest positive float64, 5e-324), so Π_n / Π_m is 0/0: casting to "
         "complex128 does not help.", _random_a(rng, 300, 1, 2, (0.045, 0.055))),
    ]


def _lower(text):
    """``text`` with its first letter in lower case (to follow a colon)."""
    return text[:1].lower() + text[1:]


def check_relative_decay(fn, seed=None):
    """Check ``fn(a) -> D`` against :func:`gl.relative_decay`.

    ``a``: ``(L, H, d_k)`` complex64; ``D``: ``(H, d_k, L, L)`` with
    ``D[h, c, n, m] = prod_{j=m+1..n} a[j, h, c]`` for ``n >= m`` and 0 above the diagonal.
    Cases: a short sequence, ``Π`` underflowing in float32 (L = 300, ``|a| ≈ 0.6``), a closed
    gate (``a_j = 0`` at two steps) and ``Π`` underflowing in float64 (L = 300, ``|a| ≈ 0.05``).
    Tolerance: ``|got - want| <= 1e-6 + 1e-4 |want|`` entrywise.
    """
    rng = np.random.default_rng(seed)
    for label, why, a in _gate_cases(rng):
        L = a.shape[0]
        want = np.asarray(relative_decay(jnp.asarray(a)))
        got = np.asarray(fn(jnp.asarray(a)))
        expect_shape(got, want.shape, label, "D", shown=f"(H, d_k, L, L) = {want.shape}")
        if not np.all(np.isfinite(got)):
            h, c, n, m = first_index(~np.isfinite(got))
            raise AssertionError(
                f"{label}: D[{h}, {c}, {n}, {m}] is {got[h, c, n, m]}, expected "
                f"{want[h, c, n, m]:.3g}. Dividing prefix products Π_n / Π_m is not finite once "
                f"Π_m is 0. {why + ' ' if why else ''}{_HOW}")
        upper = np.triu(np.ones((L, L), bool), 1)
        if np.any(got[..., upper] != 0):
            h, c, n, m = first_index((got != 0) & upper)
            raise AssertionError(
                f"{label}: D[{h}, {c}, {n}, {m}] (n < m, above the diagonal) should be 0 "
                f"(the causal mask, eq. 20), got {got[h, c, n, m]:.3g}")
        idx = first_index(~(np.abs(got - want) <= 1e-6 + 1e-4 * np.abs(want)))
        if idx is not None:
            h, c, n, m = idx
            zeroed = got[idx] == 0 and why  # e.g. Π_n / Π_m with its NaN replaced by 0
            raise AssertionError(
                f"{label}: D[{h}, {c}, {n}, {m}] should be prod_(j={m + 1}..{n}) a[j, {h}, {c}] "
                f"= {want[idx]:.6g}, got {got[idx]:.6g}"
                + (" (the diagonal n = m is the empty product, 1)" if n == m else "")
                + (f". If you divide prefix products and replace the NaN by 0: {_lower(why)} {_HOW}"
                   if zeroed else ""))
    print("check_relative_decay: correct on 4 sequences (short; L=300 with |a| ≈ 0.6; "
          "a closed gate; L=300 with |a| ≈ 0.05).")


_CONJ_HINTS = {  # variant of the loop -> the likely mistake
    "q": "you conjugate q: eq. 8 is y_n = q_n h_n and eq. 21 uses Q̄ = Q ⊙ Π, with no complex "
         "conjugate (np.vdot, jnp.vdot and .conj() conjugate; use einsum, or multiply and sum)",
    "k": "you conjugate k: eq. 7 writes k_nᵀ v_n and eq. 21 uses K̄ᵀ, the plain transpose, not the "
         "conjugate transpose (no .conj().T, .H or vdot)",
    "qk": "you conjugate both q and k: eq. 7-8 and 21 use plain products and transposes, with no "
          "complex conjugate (no .conj(), .H or vdot)",
    "a": "you use the complex conjugate of a: D[n, m] = prod_(j=m+1..n) a_j, not its conjugate "
         "(check the sign of the phase sum)",
}


def _conj_variant(q, k, v, a, which):
    """The loop of eq. 7-8 with ``which`` (a key of :data:`_CONJ_HINTS`) conjugated (complex128)."""
    q, k, a = (np.conj(x) if name in which else x for name, x in (("q", q), ("k", k), ("a", a)))
    return gate_loop_reference(q, k, v, a, dtype=np.complex128)


def _attention_cases(rng):
    """``(label, why, q, k, v, a)``: the gate cases with real ``q, k`` (float32), then complex
    ``q, k`` (complex64), on which conjugating either is wrong."""
    cases = []
    for label, why, a in _gate_cases(rng, d_v=2):
        L, H, d_k = a.shape
        q, k = (rng.standard_normal((L, H, d_k)).astype(np.float32) for _ in range(2))
        cases.append((label, why, q, k, rng.standard_normal((L, H, 2)).astype(np.float32), a))
    L, H, d_k, d_v = 16, 2, 3, 2
    q, k = (complex_normal(rng, (L, H, d_k)).astype(np.complex64) for _ in range(2))
    v = rng.standard_normal((L, H, d_v)).astype(np.float32)
    cases.insert(1, (f"complex q and k (complex64), L={L}, H={H}, d_k={d_k}, d_v={d_v}, "
                     f"|a| in (0.5, 1)", "", q, k, v, _random_a(rng, L, H, d_k, (0.5, 1.0))))
    return cases


def check_surrogate_attention(fn, seed=None):
    """Check ``fn(q, k, v, a) -> y`` (eq. 17-21) against the reference loop :func:`gl.gate_loop_reference`.

    ``q, k``: ``(L, H, d_k)``, float32 or complex64 (chapter 3: ``q_n, k_n ∈ C^{d_k}``; one case
    draws them complex); ``v``: ``(L, H, d_v)`` float32; ``a``: ``(L, H, d_k)`` complex64;
    ``y``: ``(L, H, d_v)``. Cases as :func:`check_relative_decay`'s (on which ``Π⁻¹`` of eq. 19
    fails, in float32 or in any dtype), plus complex ``q, k``. Tolerance: relative error
    ``‖y - y_ref‖ / ‖y_ref‖ < 1e-4`` against a complex128 loop.
    """
    rng = np.random.default_rng(seed)
    for label, why, q, k, v, a in _attention_cases(rng):
        L = q.shape[0]
        want = gate_loop_reference(q, k, v, a, dtype=np.complex128)
        got = np.asarray(fn(*(jnp.asarray(x) for x in (q, k, v, a))))
        expect_shape(got, want.shape, label, "y", shown=f"(L, H, d_v) = {want.shape}")
        if not np.all(np.isfinite(got)):
            n = first_index(~np.isfinite(got))[0]
            raise AssertionError(
                f"{label}: y is not finite (first at step n={n}). Did you use Q ⊙ Π and K ⊙ Π⁻¹? "
                f"{why + ' ' if why else ''}Build the weights from the relative decay "
                f"prod_(j=m+1..n) a_j instead.")
        err = rel_err(got, want)
        if err >= 1e-4:
            n = int(np.argmax(np.abs(got - want).reshape(L, -1).max(axis=1)))
            hint = likely_mistake((text, np.linalg.norm(got - _conj_variant(q, k, v, a, which))
                                   < 1e-4 * np.linalg.norm(want)) for which, text in _CONJ_HINTS.items())
            if not hint and why:
                hint = (f"\nIf you divide prefix products (Q ⊙ Π, K ⊙ Π⁻¹) and replace the NaN "
                        f"by 0: {_lower(why)}")
            raise AssertionError(
                f"{label}: relative error {err:.2e} against the loop of eq. 7-8 (tolerance 1e-4); "
                f"worst at step n={n}: expected y[{n}, 0] = {want[n, 0]}, got {got[n, 0]}{hint}")
    print("check_surrogate_attention: matches the loop of eq. 7-8 on 5 sequences (short; complex "
          "q and k; L=300 with |a| ≈ 0.6; a closed gate; L=300 with |a| ≈ 0.05).")
